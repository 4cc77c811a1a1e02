/**
 * Images built on stream layers (ggcr's `stream.Layer`) pushed with `Remote.write`: the layers
 * are read, and uploaded, before the manifest that needs their digests is made.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Digest from "../../../src/domain/Digest.js"
import * as Empty from "../../../src/domain/Empty.js"
import * as MediaType from "../../../src/domain/MediaType.js"
import * as Mutate from "../../../src/domain/Mutate.js"
import * as Random from "../../../src/domain/Random.js"
import * as StreamLayer from "../../../src/domain/StreamLayer.js"
import * as Remote from "../../../src/services/Remote.js"
import { collect, digestsOf, freshRepository, oursInProcess, oursOverHttp, recordFromNow, requests, tagOf } from "./support.js"

// A tar that arrives in pieces, as from a pipe: readable once.
const pipedTar = (seed: string, size: number) =>
  Effect.map(collect(Random.tar(seed, size)), (tar) => {
    const pieces: Array<Uint8Array> = []
    for (let at = 0; at < tar.byteLength; at += 4096) pieces.push(new Uint8Array(tar.subarray(at, at + 4096)))
    return { tar, stream: Stream.fromIterable(pieces) }
  })

describe("Remote.write of images with stream layers", () => {
  layer(oursOverHttp(), { excludeTestServices: true })("against our registry over HTTP", (it) => {
    it.effect("pushes a random image with a stream layer appended and pulls it back with equal digests", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("stream-append")
        const base = yield* Random.image({ layers: 2, layerSize: 10_000, seed: "stream-base", mediaType: MediaType.OCI_MANIFEST })
        const { stream, tar } = yield* pipedTar("stream-top", 60_000)
        const top = StreamLayer.make(stream)
        const image = Mutate.appendLayers(base, [top])
        const ref = tagOf(repo, "v1")
        yield* Remote.write(ref, image)
        const pulled = yield* Remote.image(ref)
        expect(yield* digestsOf(pulled)).toEqual(yield* digestsOf(image))
        expect(Buffer.compare(yield* pulled.rawManifest, yield* image.rawManifest)).toBe(0)
        const layers = yield* pulled.layers
        expect(layers).toHaveLength(3)
        const last = layers[2]!
        expect(yield* last.digest).toBe(yield* top.digest)
        expect(Digest.fromBytes(yield* collect(last.uncompressed))).toBe(Digest.fromBytes(tar))
        const config = yield* pulled.configFile
        expect(config.rootfs.diff_ids?.at(-1)).toBe(Digest.fromBytes(tar))
      }))

    it.effect("uploads the stream layer's bytes once, in one streamed PATCH closed by its digest", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("stream-once")
        const { stream } = yield* pipedTar("stream-once", 30_000)
        const top = StreamLayer.make(stream)
        const image = Mutate.appendLayers(Empty.image, [top])
        const sent = yield* recordFromNow
        yield* Remote.write(tagOf(repo, "v1"), image)
        const digest = yield* top.digest
        expect(requests(sent(), "PATCH", "/blobs/uploads")).toHaveLength(1)
        const closing = requests(sent(), "PUT", "/blobs/uploads").map((p) => p.query.get("digest"))
        expect(closing).toContain(digest)
        // the config (known only after the layer was read) is the other upload
        expect(closing).toHaveLength(2)
        expect(requests(sent(), "PUT", "/manifests/")).toHaveLength(1)
      }))

    it.effect("pushes a stream layer under a config edit made on top of the append", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("stream-config")
        const { stream } = yield* pipedTar("stream-config", 20_000)
        const image = Mutate.appendLayers(Empty.image, [StreamLayer.make(stream)]).pipe(
          Mutate.config({ Env: ["STREAMED=1"] })
        )
        const ref = tagOf(repo, "v1")
        yield* Remote.write(ref, image)
        const pulled = yield* Remote.image(ref)
        expect(yield* pulled.digest).toBe(yield* image.digest)
        expect((yield* pulled.configFile).config?.Env).toEqual(["STREAMED=1"])
      }))
  })

  layer(oursInProcess(), { excludeTestServices: true })("against our registry in-process", (it) => {
    it.effect("lists the layers of a mutated image before its stream layer has been read", () =>
      Effect.gen(function*() {
        const { stream } = yield* pipedTar("stream-list", 10_000)
        const top = StreamLayer.make(stream)
        const image = Mutate.appendLayers(Empty.image, [top])
        const layers = yield* image.layers
        expect(layers).toEqual([top])
        const before = yield* Effect.flip(image.manifest)
        expect(before._tag).toBe("NotComputed")
        yield* collect(top.compressed)
        const after = yield* image.manifest
        expect(after.layers.map((l) => l.digest)).toEqual([yield* top.digest])
      }))
  })
})
