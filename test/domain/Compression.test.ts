import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { randomFillSync } from "node:crypto"
import { readFileSync } from "node:fs"
import { gunzipSync, gzipSync } from "node:zlib"
import * as Compression from "../../src/domain/Compression.js"

const fixture = (p: string) => readFileSync(new URL(`../../../shared/fixtures/${p}`, import.meta.url))

const collect = <E>(s: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(s), (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))

/** Splits bytes into small pieces so transforms see many chunks. */
const pieces = (bytes: Uint8Array, size = 3) => {
  const out: Array<Uint8Array> = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size))
  return Stream.fromIterable(out)
}

describe("Compression", () => {
  const content = fixture("ggcr/crane/content.tar")

  it("detects gzip, zstd and plain bytes by magic", () => {
    expect(Compression.detect(gzipSync(content))).toBe("gzip")
    expect(Compression.detect(fixture("ggcr/crane/content.tar.zst"))).toBe("zstd")
    expect(Compression.detect(content)).toBe("none")
    expect(Compression.detect(new Uint8Array([0x1f]))).toBe("none")
  })

  it.effect("gzip output is real gzip of the input", () =>
    Effect.gen(function* () {
      const zipped = yield* collect(Compression.gzip(pieces(content, 1000)))
      expect(Buffer.compare(gunzipSync(zipped), content)).toBe(0)
    })
  )

  it.effect("gunzip restores the bytes", () =>
    Effect.gen(function* () {
      const out = yield* collect(Compression.gunzip(pieces(gzipSync(content), 7)))
      expect(Buffer.compare(out, content)).toBe(0)
    })
  )

  it.effect("decompressAuto gunzips gzip and passes plain tar through, even with 1-byte chunks", () =>
    Effect.gen(function* () {
      const a = yield* collect(Compression.decompressAuto(pieces(gzipSync(content), 1)))
      const b = yield* collect(Compression.decompressAuto(pieces(content, 1)))
      const empty = yield* collect(Compression.decompressAuto(Stream.empty))
      expect(Buffer.compare(a, content)).toBe(0)
      expect(Buffer.compare(b, content)).toBe(0)
      expect(empty.length).toBe(0)
    })
  )

  it.effect("corrupt gzip fails with a typed CompressionError", () =>
    Effect.gen(function* () {
      const bad = Buffer.from(gzipSync(content))
      bad.fill(0x55, 20, 60)
      const error = yield* Effect.flip(collect(Compression.gunzip(Stream.make(bad))))
      expect(error._tag).toBe("CompressionError")
      expect(error.reason).toBe("Corrupt")
    })
  )

  it.effect("zstd decodes where supported and fails as Unsupported elsewhere", () =>
    Effect.gen(function* () {
      const zst = fixture("ggcr/crane/content.tar.zst")
      const result = yield* Effect.either(collect(Compression.decompressAuto(Stream.make(zst))))
      if (Compression.zstdSupported) {
        expect(result._tag).toBe("Right")
        if (result._tag === "Right") expect(Buffer.compare(result.right, content)).toBe(0)
      } else {
        expect(result._tag === "Left" && result.left.reason).toBe("Unsupported")
      }
    })
  )

  it.effect("gzip holds back a fast producer instead of buffering its input", () =>
    Effect.gen(function* () {
      // Fresh random chunks come far faster than gzip consumes them. With backpressure on each
      // write the producer can run ahead of gzip's output by a few buffers at most; without it,
      // by most of the 96 MiB. (Random data does not shrink under gzip, so output bytes track
      // input bytes consumed.)
      const MiB = 1024 * 1024
      let produced = 0
      const producer = Stream.repeatEffect(
        Effect.sync(() => {
          produced += 256 * 1024
          return randomFillSync(Buffer.allocUnsafe(256 * 1024))
        })
      ).pipe(Stream.take(384))
      let aheadMax = 0
      const measured = yield* Stream.runFold(Compression.gzip(producer, 1), 0, (total, bytes) => {
        const out = total + bytes.byteLength
        aheadMax = Math.max(aheadMax, produced - out)
        return out
      })
      expect(measured).toBeGreaterThan(96 * MiB)
      expect(aheadMax / MiB).toBeLessThan(16)
    })
  )
})
