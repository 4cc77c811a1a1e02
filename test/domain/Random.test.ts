import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { gunzipSync, gzipSync } from "node:zlib"
import * as Compression from "../../src/domain/Compression.js"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import type * as Descriptor from "../../src/domain/Descriptor.js"
import * as Digest from "../../src/domain/Digest.js"
import * as Manifest from "../../src/domain/Manifest.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Platform from "../../src/domain/Platform.js"
import * as Random from "../../src/domain/Random.js"
import { readTarFiles } from "./fixtures/tars.js"

const bytesOf = <E>(s: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(s), (c) => Buffer.concat(Chunk.toReadonlyArray(c)))

describe("Random.layer", () => {
  it.effect("holds one regular file of exactly the requested size, named as ggcr names it", () =>
    Effect.gen(function* () {
      const layer = yield* Random.layer({ size: 1000, seed: 1 })
      const entries = yield* readTarFiles(yield* bytesOf(layer.uncompressed))
      expect(entries).toHaveLength(1)
      const [entry] = entries
      expect(entry?.type).toBe("file")
      expect(entry?.size).toBe(1000)
      expect(entry?.content.byteLength).toBe(1000)
      expect(entry?.name).toMatch(/^random_file_\d+\.txt$/)
      expect(entry?.name).toBe(Random.fileName(1))
    })
  )

  it.effect("has a tar of exactly header, padded content and end blocks", () =>
    Effect.gen(function* () {
      for (const size of [0, 1, 511, 512, 513, 300_000]) {
        const layer = yield* Random.layer({ size, seed: "sizes" })
        const tar = yield* bytesOf(layer.uncompressed)
        expect(tar.byteLength).toBe(Random.tarSize(size))
        expect(tar.byteLength % 512).toBe(0)
        expect(tar.subarray(tar.byteLength - 1024).every((b) => b === 0)).toBe(true)
      }
      expect(Random.tarSize(1000)).toBe(512 + 1024 + 1024)
    })
  )

  it.effect("keeps an empty file a valid tar", () =>
    Effect.gen(function* () {
      const layer = yield* Random.layer({ size: 0, seed: 0 })
      const entries = yield* readTarFiles(yield* bytesOf(layer.uncompressed))
      expect(entries.map((e) => [e.type, e.size])).toEqual([["file", 0]])
    })
  )

  it.effect("has as diff id the sha256 of its uncompressed tar", () =>
    Effect.gen(function* () {
      const layer = yield* Random.layer({ size: 5000, seed: 2 })
      expect(yield* layer.diffId).toBe(Digest.fromBytes(yield* bytesOf(layer.uncompressed)))
    })
  )

  it.effect("is gzip by default, with Docker's layer type, digest and size of the gzip bytes", () =>
    Effect.gen(function* () {
      const layer = yield* Random.layer({ size: 5000, seed: 3 })
      const gz = yield* bytesOf(layer.compressed)
      expect(yield* layer.mediaType).toBe(MediaType.DOCKER_LAYER)
      expect(Compression.detect(gz)).toBe("gzip")
      expect(yield* layer.digest).toBe(Digest.fromBytes(gz))
      expect(yield* layer.size).toBe(gz.byteLength)
      expect(Buffer.compare(gunzipSync(gz), yield* bytesOf(layer.uncompressed))).toBe(0)
    })
  )

  it.effect("stores the plain tar with the OCI tar type when compression is none", () =>
    Effect.gen(function* () {
      const layer = yield* Random.layer({ size: 5000, seed: 4, compression: "none" })
      const stored = yield* bytesOf(layer.compressed)
      expect(yield* layer.mediaType).toBe(MediaType.OCI_LAYER)
      expect(Buffer.compare(stored, yield* bytesOf(layer.uncompressed))).toBe(0)
      expect(yield* layer.digest).toBe(Digest.fromBytes(stored))
      expect(yield* layer.diffId).toBe(yield* layer.digest)
      expect(yield* layer.size).toBe(Random.tarSize(5000))
    })
  )

  it.effect("stores bytes as the media type given says", () =>
    Effect.gen(function* () {
      const plain = yield* Random.layer({ size: 100, seed: 5, mediaType: MediaType.DOCKER_UNCOMPRESSED_LAYER })
      const gzipped = yield* Random.layer({ size: 100, seed: 5, mediaType: MediaType.OCI_LAYER_GZIP, compression: "none" })
      expect(Compression.detect(yield* bytesOf(plain.compressed))).toBe("none")
      expect(Compression.detect(yield* bytesOf(gzipped.compressed))).toBe("gzip")
      expect(yield* gzipped.mediaType).toBe(MediaType.OCI_LAYER_GZIP)
      expect(yield* plain.diffId).toBe(yield* gzipped.diffId)
    })
  )

  it.effect("gives the same bytes and digests for the same seed", () =>
    Effect.gen(function* () {
      const a = yield* Random.layer({ size: 70_000, seed: "same" })
      const b = yield* Random.layer({ size: 70_000, seed: "same" })
      expect(yield* a.digest).toBe(yield* b.digest)
      expect(yield* a.diffId).toBe(yield* b.diffId)
      expect(Buffer.compare(yield* bytesOf(a.uncompressed), yield* bytesOf(b.uncompressed))).toBe(0)
    })
  )

  it.effect("gives the same bytes on every read of one layer", () =>
    Effect.gen(function* () {
      const layer = yield* Random.layer({ size: 70_000, seed: 6 })
      const first = yield* bytesOf(layer.compressed)
      const second = yield* bytesOf(layer.compressed)
      expect(Buffer.compare(first, second)).toBe(0)
    })
  )

  it.effect("gives different content for different seeds, and for no seed at all", () =>
    Effect.gen(function* () {
      const seeded = yield* Effect.forEach([7, 8], (seed) => Random.layer({ size: 1000, seed }))
      const unseeded = yield* Effect.forEach([0, 1], () => Random.layer({ size: 1000 }))
      const diffIds = yield* Effect.forEach([...seeded, ...unseeded], (l) => l.diffId)
      expect(new Set(diffIds).size).toBe(4)
    })
  )

  it.effect("is incompressible: its gzip is no smaller than its content", () =>
    Effect.gen(function* () {
      const layer = yield* Random.layer({ size: 200_000, seed: 9, compression: "none" })
      const tar = yield* bytesOf(layer.uncompressed)
      expect(gzipSync(tar).byteLength).toBeGreaterThan(200_000)
    })
  )

  it.effect("is generated in small chunks, never the whole content at once", () =>
    Effect.gen(function* () {
      const layer = yield* Random.layer({ size: 4 * 1024 * 1024 + 1, seed: 10, compression: "none" })
      const sizes = Chunk.toReadonlyArray(
        yield* Stream.runCollect(Stream.map(layer.uncompressed, (bytes) => bytes.byteLength))
      )
      expect(sizes.length).toBeGreaterThan(16)
      expect(Math.max(...sizes)).toBeLessThanOrEqual(256 * 1024)
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(Random.tarSize(4 * 1024 * 1024 + 1))
    })
  )

  it.effect("keeps a file longer than its 8 MiB repeat period whole and exact in size", () =>
    Effect.gen(function* () {
      const size = 8 * 1024 * 1024 + 300_001
      const layer = yield* Random.layer({ size, seed: 11, compression: "none" })
      const tar = yield* bytesOf(layer.uncompressed)
      expect(yield* layer.diffId).toBe(Digest.fromBytes(tar))
      const [entry] = yield* readTarFiles(tar)
      expect(entry?.content.byteLength).toBe(size)
      expect(Buffer.compare(entry!.content.subarray(8 * 1024 * 1024), entry!.content.subarray(0, 300_001))).toBe(0)
    })
  )

  it.effect("refuses a negative or fractional size as a defect", () =>
    Effect.gen(function* () {
      for (const size of [-1, 1.5]) {
        const exit = yield* Effect.exit(Random.layer({ size }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      }
    })
  )
})

describe("Random.image", () => {
  it.effect("has the requested number of layers, listed in order by the config's diff ids", () =>
    Effect.gen(function* () {
      const image = yield* Random.image({ layerSize: 1024, layers: 5, seed: 1 })
      const layers = yield* image.layers
      const config = yield* image.configFile
      const manifest = yield* image.manifest
      expect(layers).toHaveLength(5)
      expect(manifest.layers).toHaveLength(5)
      expect(ConfigFile.diffIds(config)).toEqual(yield* Effect.forEach(layers, (l) => l.diffId))
      for (const [i, layer] of layers.entries()) {
        const tar = yield* bytesOf(layer.uncompressed)
        expect(ConfigFile.diffIds(config)[i]).toBe(Digest.fromBytes(tar))
        const entries = yield* readTarFiles(tar)
        expect(entries.map((e) => e.size)).toEqual([1024])
      }
    })
  )

  it.effect("lists each layer by the digest and size of its stored bytes", () =>
    Effect.gen(function* () {
      const image = yield* Random.image({ layerSize: 2000, layers: 2, seed: 2 })
      const manifest = yield* image.manifest
      const layers = yield* image.layers
      for (const [i, layer] of layers.entries()) {
        const gz = yield* bytesOf(layer.compressed)
        const d = manifest.layers[i] as Descriptor.Descriptor
        expect(d.digest).toBe(Digest.fromBytes(gz))
        expect(d.size).toBe(gz.byteLength)
      }
    })
  )

  it.effect("is a Docker image with gzip layers by default, as ggcr", () =>
    Effect.gen(function* () {
      const image = yield* Random.image({ layerSize: 100, layers: 2, seed: 3 })
      const manifest = yield* image.manifest
      expect(yield* image.mediaType).toBe(MediaType.DOCKER_MANIFEST)
      expect(manifest.config.mediaType).toBe(MediaType.DOCKER_CONFIG)
      expect(manifest.layers.map((d) => d.mediaType)).toEqual([MediaType.DOCKER_LAYER, MediaType.DOCKER_LAYER])
    })
  )

  it.effect("is an OCI image of plain tar layers when asked", () =>
    Effect.gen(function* () {
      const image = yield* Random.image({
        layerSize: 100,
        layers: 1,
        seed: 3,
        mediaType: MediaType.OCI_MANIFEST,
        compression: "none"
      })
      const manifest = yield* image.manifest
      expect(manifest.mediaType).toBe(MediaType.OCI_MANIFEST)
      expect(manifest.config.mediaType).toBe(MediaType.OCI_CONFIG)
      expect(manifest.layers[0]?.mediaType).toBe(MediaType.OCI_LAYER)
      expect(manifest.layers[0]?.digest).toBe(ConfigFile.diffIds(yield* image.configFile)[0])
    })
  )

  it.effect("has a valid config: platform, ggcr's history entries, layers rootfs", () =>
    Effect.gen(function* () {
      const image = yield* Random.image({ layerSize: 10, layers: 2, seed: 4 })
      const raw = yield* image.rawConfigFile
      const config = yield* ConfigFile.decode(raw)
      expect(config.value.architecture).toBe("amd64")
      expect(config.value.os).toBe("linux")
      expect(config.value.rootfs.type).toBe("layers")
      expect(config.value.history).toEqual([
        { author: "random.Image", created: "0001-01-01T00:00:00Z", created_by: "random", comment: "this is a random history 0 of 2" },
        { author: "random.Image", created: "0001-01-01T00:00:00Z", created_by: "random", comment: "this is a random history 1 of 2" }
      ])
      expect(yield* image.configName).toBe(Digest.fromBytes(raw))
    })
  )

  it.effect("names the platform asked for in its config", () =>
    Effect.gen(function* () {
      const platform = Platform.make({ os: "linux", architecture: "arm64", variant: "v8" })
      const image = yield* Random.image({ layerSize: 10, layers: 1, seed: 5, platform })
      expect(ConfigFile.platform(yield* image.configFile)).toEqual(platform)
    })
  )

  it.effect("gives the same manifest digest for the same seed and a different one otherwise", () =>
    Effect.gen(function* () {
      const digestOf = (seed: Random.Seed) =>
        Effect.flatMap(Random.image({ layerSize: 3000, layers: 2, seed }), (image) => image.digest)
      const a = yield* digestOf("x")
      expect(yield* digestOf("x")).toBe(a)
      expect(yield* digestOf("y")).not.toBe(a)
    })
  )

  it.effect("has distinct layers", () =>
    Effect.gen(function* () {
      const image = yield* Random.image({ layerSize: 100, layers: 4, seed: 6 })
      const manifest = yield* image.manifest
      expect(new Set(manifest.layers.map((d) => d.digest)).size).toBe(4)
    })
  )

  it.effect("finds its layers by digest and by diff id", () =>
    Effect.gen(function* () {
      const image = yield* Random.image({ layerSize: 100, layers: 3, seed: 7 })
      const [, second] = yield* image.layers
      const diffId = yield* second!.diffId
      const byDiffId = yield* image.layerByDiffId(diffId)
      expect(yield* byDiffId.digest).toBe(yield* second!.digest)
      const byDigest = yield* image.layerByDigest(yield* second!.digest)
      expect(yield* byDigest.diffId).toBe(diffId)
    })
  )

  it.effect("reads back with the manifest decoder as the same value", () =>
    Effect.gen(function* () {
      const image = yield* Random.image({ layerSize: 100, layers: 2, seed: 8 })
      const decoded = yield* Manifest.decode(yield* image.rawManifest)
      expect(decoded.value).toEqual(yield* image.manifest)
    })
  )

  it.effect("may have no layers", () =>
    Effect.gen(function* () {
      const image = yield* Random.image({ layerSize: 100, layers: 0, seed: 9 })
      expect((yield* image.manifest).layers).toEqual([])
      expect(ConfigFile.diffIds(yield* image.configFile)).toEqual([])
    })
  )
})

describe("Random.index", () => {
  it.effect("is an OCI index listing each image by its manifest digest, size, type and platform", () =>
    Effect.gen(function* () {
      const index = yield* Random.index({ images: 3, layerSize: 100, layers: 2, seed: 1 })
      const manifest = yield* index.indexManifest
      expect(yield* index.mediaType).toBe(MediaType.OCI_INDEX)
      expect(manifest.manifests).toHaveLength(3)
      for (const d of manifest.manifests) {
        const image = yield* index.image(d.digest)
        const raw = yield* image.rawManifest
        expect(d.digest).toBe(Digest.fromBytes(raw))
        expect(d.size).toBe(raw.byteLength)
        expect(d.mediaType).toBe(MediaType.DOCKER_MANIFEST)
        expect(d.platform).toEqual(Platform.defaultPlatform)
      }
      expect(yield* index.digest).toBe(Digest.fromBytes(yield* index.rawManifest))
    })
  )

  it.effect("has distinct images", () =>
    Effect.gen(function* () {
      const index = yield* Random.index({ images: 3, layerSize: 100, layers: 1, seed: 2 })
      const manifest = yield* index.indexManifest
      expect(new Set(manifest.manifests.map((d) => d.digest)).size).toBe(3)
    })
  )

  it.effect("gives its children the platforms asked for, in turn", () =>
    Effect.gen(function* () {
      const amd64 = Platform.make({ os: "linux", architecture: "amd64" })
      const arm64 = Platform.make({ os: "linux", architecture: "arm64" })
      const index = yield* Random.index({ images: 3, layerSize: 10, layers: 1, seed: 3, platforms: [amd64, arm64] })
      const manifest = yield* index.indexManifest
      expect(manifest.manifests.map((d) => d.platform)).toEqual([amd64, arm64, amd64])
      const second = yield* index.image(manifest.manifests[1]!.digest)
      expect((yield* second.configFile).architecture).toBe("arm64")
    })
  )

  it.effect("gives the same digest for the same seed and a different one otherwise", () =>
    Effect.gen(function* () {
      const digestOf = (seed: Random.Seed) =>
        Effect.flatMap(Random.index({ images: 2, layerSize: 100, layers: 1, seed }), (index) => index.digest)
      const a = yield* digestOf(1)
      expect(yield* digestOf(1)).toBe(a)
      expect(yield* digestOf(2)).not.toBe(a)
    })
  )

  it.effect("fails with BlobNotFound for a digest it does not list, and for any child index", () =>
    Effect.gen(function* () {
      const index = yield* Random.index({ images: 1, layerSize: 10, layers: 1, seed: 4 })
      const missing = Digest.fromBytes("not a child")
      expect((yield* Effect.flip(index.image(missing)))._tag).toBe("BlobNotFound")
      expect((yield* Effect.flip(index.child(missing)))._tag).toBe("BlobNotFound")
      const [child] = (yield* index.indexManifest).manifests
      expect((yield* Effect.flip(index.imageIndex(child!.digest)))._tag).toBe("BlobNotFound")
      expect((yield* index.child(child!.digest))._tag).toBe("Image")
    })
  )
})
