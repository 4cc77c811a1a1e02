import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Digest from "../../src/domain/Digest.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Static from "../../src/domain/Static.js"

const bytesOf = <E>(s: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(s), (c) => Buffer.concat(Chunk.toReadonlyArray(c)))

describe("Static.layer", () => {
  const dots = new TextEncoder().encode("..........")

  it.effect("has digest and diff id both the sha256 of the bytes (ggcr's static test value)", () =>
    Effect.gen(function* () {
      const layer = Static.layer(dots, MediaType.OCI_LAYER)
      const digest = yield* layer.digest
      expect(digest).toBe("sha256:537f3fb69ba01fc388a3a5c920c485b2873d5f327305c3dd2004d6a04451659b")
      expect(yield* layer.diffId).toBe(digest)
    })
  )

  it.effect("has the bytes' length as size and the media type given", () =>
    Effect.gen(function* () {
      const layer = Static.layer(dots, MediaType.OCI_LAYER)
      expect(yield* layer.size).toBe(10)
      expect(yield* layer.mediaType).toBe(MediaType.OCI_LAYER)
    })
  )

  it.effect("streams the bytes unchanged as both compressed and uncompressed, on every read", () =>
    Effect.gen(function* () {
      const layer = Static.layer(dots, MediaType.OCI_LAYER)
      for (let i = 0; i < 2; i++) {
        expect((yield* bytesOf(layer.compressed)).toString()).toBe("..........")
        expect((yield* bytesOf(layer.uncompressed)).toString()).toBe("..........")
      }
    })
  )

  it.effect("keeps its own copy, so changing the caller's buffer later changes nothing", () =>
    Effect.gen(function* () {
      const bytes = new TextEncoder().encode("original")
      const layer = Static.layer(bytes, MediaType.OCI_EMPTY_JSON)
      bytes.fill(0x21)
      const read = yield* bytesOf(layer.compressed)
      expect(read.toString()).toBe("original")
      expect(yield* layer.digest).toBe(Digest.fromBytes(read))
    })
  )

  it.effect("describes itself with the extras given", () =>
    Effect.gen(function* () {
      const layer = Static.layer(dots, MediaType.OCI_LAYER, {
        annotations: { "org.example": "yes" },
        urls: ["https://example.com/blob"]
      })
      expect(yield* layer.descriptor).toEqual({
        mediaType: MediaType.OCI_LAYER,
        size: 10,
        digest: Digest.fromBytes(dots),
        annotations: { "org.example": "yes" },
        urls: ["https://example.com/blob"]
      })
    })
  )

  it.effect("may be empty", () =>
    Effect.gen(function* () {
      const layer = Static.layer(new Uint8Array(0), MediaType.OCI_EMPTY_JSON)
      expect(yield* layer.size).toBe(0)
      expect(yield* layer.digest).toBe("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    })
  )
})
