/**
 * Gathered writes: every byte reaches the file in order, pieces are gathered into writes of
 * `ioSize`, large pieces go straight through, and the buffer is reused rather than allocated
 * per write.
 */
import { describe, expect, it } from "@effect/vitest"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import { randomBytes } from "node:crypto"
import * as GatherWrites from "../../src/services/internal/gatherWrites.js"

// A file that records the writes it is handed (copies, since the writer reuses its buffer).
const recordingFile = () => {
  const writes: Array<Uint8Array> = []
  const buffers = new Set<ArrayBufferLike>()
  const file = {
    writeAll: (bytes: Uint8Array) =>
      Effect.sync(() => {
        buffers.add(bytes.buffer)
        writes.push(Uint8Array.from(bytes))
      })
  } as unknown as FileSystem.File
  return { file, writes, buffers }
}

const pieces = (sizes: ReadonlyArray<number>) => sizes.map((n) => new Uint8Array(randomBytes(n)))
const joined = (parts: ReadonlyArray<Uint8Array>) => Buffer.concat(parts)

describe("gatherWrites", () => {
  const size = GatherWrites.ioSize
  const sizes = [100, 64 * 1024, size - 50, 3, size + 7, 1, 2 * size, 64 * 1024, 10]

  it.effect("writes every byte in order, gathered into writes of ioSize", () =>
    Effect.gen(function* () {
      const { buffers, file, writes } = recordingFile()
      const gathered = GatherWrites.make(file, (e) => e)
      const input = pieces(sizes)
      yield* gathered.writeEach(input)
      yield* gathered.flush
      expect(joined(writes).equals(joined(input))).toBe(true)
      // Small pieces were gathered: full buffers except where a large piece forced a flush,
      // and the last.
      expect(writes.length).toBeLessThan(sizes.length)
      expect(writes.filter((w) => w.byteLength === size).length).toBeGreaterThanOrEqual(1)
      // One gather buffer, reused, plus the two large pieces handed on as they were.
      expect(buffers.size).toBe(3)
    }))

  it.effect("write, one piece at a time, gives the same bytes as writeEach", () =>
    Effect.gen(function* () {
      const one = recordingFile()
      const each = recordingFile()
      const input = pieces(sizes)
      const a = GatherWrites.make(one.file, (e) => e)
      for (const piece of input) yield* a.write(piece)
      yield* a.flush
      const b = GatherWrites.make(each.file, (e) => e)
      yield* b.writeEach(input)
      yield* b.flush
      expect(joined(one.writes).equals(joined(input))).toBe(true)
      expect(one.writes.map((w) => w.byteLength)).toEqual(each.writes.map((w) => w.byteLength))
    }))

  it.effect("writes nothing until the buffer fills or is flushed", () =>
    Effect.gen(function* () {
      const { file, writes } = recordingFile()
      const gathered = GatherWrites.make(file, (e) => e)
      yield* gathered.writeEach(pieces([10, 20, 30]))
      expect(writes.length).toBe(0)
      yield* gathered.flush
      expect(writes.map((w) => w.byteLength)).toEqual([60])
      yield* gathered.flush
      expect(writes.length).toBe(1)
    }))

  it.effect("writeStream writes a stream whole, hashing it, and stops as soon as it is too long", () =>
    Effect.gen(function* () {
      const input = pieces(sizes)
      const { file, writes } = recordingFile()
      const hash = createHash("sha256")
      const written = yield* GatherWrites.writeStream(file, Stream.fromIterable(input), {
        onError: (e) => e,
        hasher: { update: (bytes) => void hash.update(bytes) }
      })
      expect(written).toBe(joined(input).byteLength)
      expect(joined(writes).equals(joined(input))).toBe(true)
      expect(hash.digest("hex")).toBe(createHash("sha256").update(joined(input)).digest("hex"))

      const limited = recordingFile()
      const refused = yield* GatherWrites.writeStream(limited.file, Stream.fromIterable(input), {
        onError: (e) => e,
        tooLong: (n) => (n > 200_000 ? `too long at ${n}` : undefined)
      }).pipe(Effect.either)
      expect(Either.isLeft(refused) && refused.left).toBe(`too long at ${100 + 64 * 1024 + size - 50}`)
    }))
})
