import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import { gunzipSync } from "node:zlib"
import * as Digest from "../../src/domain/Digest.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as StreamLayer from "../../src/domain/StreamLayer.js"

const bytesOf = <E>(s: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(s), (c) => Buffer.concat(Chunk.toReadonlyArray(c)))

/** Emits bytes in pieces, as a socket or pipe would. */
const pieces = (bytes: Uint8Array, size: number) => {
  const out: Array<Uint8Array> = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size))
  return Stream.fromIterable(out)
}

class InputBroke extends Data.TaggedError("InputBroke")<{}> {}

// ggcr's stream test input: 10000 bytes of 'a'. Its diff id is fixed; its digest depends on
// the gzip implementation (Go's and zlib's differ), so it is checked against the output.
const aaaa = Buffer.alloc(10000, "a")
const aaaaDiffId = "sha256:27dd1f61b867b6a0f6e9d8a41c43231de52107e53ae424de8f847b821db4b711"

describe("StreamLayer.make", () => {
  it.effect("does not know digest, diff id, size or descriptor before its stream is read", () =>
    Effect.gen(function* () {
      const layer = StreamLayer.make(Stream.succeed(aaaa))
      const values: ReadonlyArray<Effect.Effect<unknown, StreamLayer.StreamLayerError>> = [
        layer.digest,
        layer.diffId,
        layer.size,
        layer.descriptor
      ]
      for (const value of values) {
        const error = yield* Effect.flip(value)
        expect(error._tag).toBe("NotComputed")
      }
      const error = yield* Effect.flip(layer.digest)
      expect(error).toEqual(new StreamLayer.NotComputed({ value: "digest" }))
      expect(yield* layer.mediaType).toBe(MediaType.DOCKER_LAYER)
    })
  )

  it.effect("once read, has the digest and size of the gzip it produced", () =>
    Effect.gen(function* () {
      const layer = StreamLayer.make(pieces(aaaa, 777))
      const gz = yield* bytesOf(layer.compressed)
      expect(yield* layer.digest).toBe(Digest.fromBytes(gz))
      expect(yield* layer.size).toBe(gz.byteLength)
    })
  )

  it.effect("once read, has the diff id of its input (ggcr's test value)", () =>
    Effect.gen(function* () {
      const layer = StreamLayer.make(pieces(aaaa, 777))
      yield* Stream.runDrain(layer.compressed)
      expect(yield* layer.diffId).toBe(aaaaDiffId)
    })
  )

  it.effect("produces real gzip of its input", () =>
    Effect.gen(function* () {
      const input = randomBytes(3 * 1024 * 1024 + 5)
      const layer = StreamLayer.make(pieces(input, 64 * 1024))
      const gz = yield* bytesOf(layer.compressed)
      expect(Buffer.compare(gunzipSync(gz), input)).toBe(0)
      expect(yield* layer.diffId).toBe(Digest.fromBytes(input))
      expect(yield* layer.digest).toBe(Digest.fromBytes(gz))
    })
  )

  it.effect("describes itself with media type, digest, size and extras once read", () =>
    Effect.gen(function* () {
      const layer = StreamLayer.make(Stream.succeed(aaaa), {
        mediaType: MediaType.OCI_LAYER_GZIP,
        annotations: { "org.example": "streamed" }
      })
      const gz = yield* bytesOf(layer.compressed)
      expect(yield* layer.descriptor).toEqual({
        mediaType: MediaType.OCI_LAYER_GZIP,
        size: gz.byteLength,
        digest: Digest.fromBytes(gz),
        annotations: { "org.example": "streamed" }
      })
    })
  )

  it.effect("refuses a second read of its compressed stream with Consumed", () =>
    Effect.gen(function* () {
      const layer = StreamLayer.make(Stream.succeed(aaaa))
      yield* Stream.runDrain(layer.compressed)
      const error = yield* Effect.flip(Stream.runDrain(layer.compressed))
      expect(error).toEqual(new StreamLayer.Consumed({ stream: "compressed" }))
      expect(yield* layer.diffId).toBe(aaaaDiffId)
    })
  )

  it.effect("counts a failed read as the one read: values stay unknown and a retry is refused", () =>
    Effect.gen(function* () {
      const broken = Stream.concat(Stream.succeed(aaaa), Stream.fail(new InputBroke()))
      const layer = StreamLayer.make(broken)
      const first = yield* Effect.flip(Stream.runDrain(layer.compressed))
      expect(first._tag).toBe("InputBroke")
      expect((yield* Effect.flip(layer.digest))._tag).toBe("NotComputed")
      expect((yield* Effect.flip(Stream.runDrain(layer.compressed)))._tag).toBe("Consumed")
    })
  )

  it.effect("does not read its input until the compressed stream runs", () =>
    Effect.gen(function* () {
      let pulls = 0
      const input = Stream.suspend(() => {
        pulls++
        return Stream.succeed(aaaa)
      })
      const layer = StreamLayer.make(input)
      expect(pulls).toBe(0)
      yield* Stream.runDrain(layer.compressed)
      expect(pulls).toBe(1)
    })
  )

  it.effect("gzips at the level asked for: same diff id, different bytes", () =>
    Effect.gen(function* () {
      const input = Buffer.from(Array.from({ length: 4000 }, (_, i) => `line ${i % 97} of ${i % 13}\n`).join(""))
      const fast = StreamLayer.make(Stream.succeed(input))
      const best = StreamLayer.make(Stream.succeed(input), { gzipLevel: 9 })
      const fastGz = yield* bytesOf(fast.compressed)
      const bestGz = yield* bytesOf(best.compressed)
      expect(yield* fast.diffId).toBe(yield* best.diffId)
      expect(yield* fast.digest).not.toBe(yield* best.digest)
      expect(bestGz.byteLength).toBeLessThan(fastGz.byteLength)
    })
  )

  it.effect("passes the input through unchanged for an uncompressed media type", () =>
    Effect.gen(function* () {
      const layer = StreamLayer.make(pieces(aaaa, 1000), { mediaType: MediaType.OCI_LAYER })
      const out = yield* bytesOf(layer.compressed)
      expect(Buffer.compare(out, aaaa)).toBe(0)
      expect(yield* layer.digest).toBe(aaaaDiffId)
      expect(yield* layer.diffId).toBe(aaaaDiffId)
      expect(yield* layer.size).toBe(10000)
    })
  )

  it.effect("reading the uncompressed stream instead makes only the diff id known", () =>
    Effect.gen(function* () {
      const layer = StreamLayer.make(pieces(aaaa, 1000))
      const out = yield* bytesOf(layer.uncompressed)
      expect(Buffer.compare(out, aaaa)).toBe(0)
      expect(yield* layer.diffId).toBe(aaaaDiffId)
      expect((yield* Effect.flip(layer.digest))._tag).toBe("NotComputed")
      expect(yield* Effect.flip(Stream.runDrain(layer.compressed))).toEqual(
        new StreamLayer.Consumed({ stream: "compressed" })
      )
    })
  )

  it.effect("fails with a typed CompressionError for a zstd media type", () =>
    Effect.gen(function* () {
      const layer = StreamLayer.make(Stream.succeed(aaaa), { mediaType: MediaType.OCI_LAYER_ZSTD })
      const error = yield* Effect.flip(Stream.runDrain(layer.compressed))
      expect(error._tag).toBe("CompressionError")
    })
  )
})
