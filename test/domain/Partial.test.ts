import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { readFileSync } from "node:fs"
import { gunzipSync } from "node:zlib"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import type * as Descriptor from "../../src/domain/Descriptor.js"
import * as Digest from "../../src/domain/Digest.js"
import * as ImageLayer from "../../src/domain/ImageLayer.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Partial from "../../src/domain/Partial.js"

const text = new TextEncoder()
const layoutDir = new URL("../../../shared/fixtures/ggcr/layout/test_index/", import.meta.url)
const layoutBlob = (digest: string) => readFileSync(new URL(`blobs/sha256/${digest.slice(7)}`, layoutDir))

const bytesOf = <E>(s: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(s), (c) => Buffer.concat(Chunk.toReadonlyArray(c)))

const configFor = (diffIds: ReadonlyArray<string>) =>
  text.encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: diffIds } }))

describe("Partial.fromLayers", () => {
  const tarA = text.encode("pretend this is a tar: A")
  const tarB = text.encode("pretend this is a tar: B")
  const layers = [tarA, tarB].map((t) => ImageLayer.fromUncompressed(Stream.succeed(t)))
  const config = configFor([Digest.fromBytes(tarA), Digest.fromBytes(tarB)])
  const image = Partial.fromLayers(Effect.succeed(config), Effect.succeed(layers))

  it.effect("generates a manifest whose digest is over its bytes", () =>
    Effect.gen(function* () {
      const raw = yield* image.rawManifest
      expect(yield* image.digest).toBe(Digest.fromBytes(raw))
      expect(yield* image.size).toBe(raw.byteLength)
      expect(yield* image.mediaType).toBe(MediaType.OCI_MANIFEST)
    })
  )

  it.effect("lists the config by the digest of the bytes given", () =>
    Effect.gen(function* () {
      const manifest = yield* image.manifest
      expect(manifest.config.digest).toBe(Digest.fromBytes(config))
      expect(manifest.config.size).toBe(config.byteLength)
      expect(yield* image.configName).toBe(Digest.fromBytes(config))
      expect((yield* image.configFile).rootfs.diff_ids).toEqual([Digest.fromBytes(tarA), Digest.fromBytes(tarB)])
    })
  )

  it.effect("describes each layer by its gzipped bytes", () =>
    Effect.gen(function* () {
      const manifest = yield* image.manifest
      const all = yield* image.layers
      for (const [i, layer] of all.entries()) {
        const gz = yield* bytesOf(layer.compressed)
        const d = manifest.layers[i] as Descriptor.Descriptor
        expect(d.digest).toBe(Digest.fromBytes(gz))
        expect(d.size).toBe(gz.byteLength)
        expect(Buffer.compare(gunzipSync(gz), Buffer.from(i === 0 ? tarA : tarB))).toBe(0)
      }
    })
  )

  it.effect("finds layers by digest and diff id, and the config blob by its digest", () =>
    Effect.gen(function* () {
      const byDiff = yield* image.layerByDiffId(Digest.fromBytes(tarB))
      const byDigest = yield* image.layerByDigest(yield* byDiff.digest)
      expect(yield* byDigest.diffId).toBe(Digest.fromBytes(tarB))
      const configBlob = yield* image.layerByDigest(yield* image.configName)
      expect(Buffer.from(yield* bytesOf(configBlob.compressed)).toString()).toBe(Buffer.from(config).toString())
      const missing = yield* Effect.flip(image.layerByDiffId(Digest.fromBytes("nope")))
      expect(missing._tag).toBe("BlobNotFound")
    })
  )
})

describe("Partial.fromCompressed", () => {
  const manifestDigest = "sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650"
  const blob = (d: Descriptor.Descriptor) => Stream.succeed(new Uint8Array(layoutBlob(d.digest)))
  const image = Partial.fromCompressed({ rawManifest: Effect.succeed(new Uint8Array(layoutBlob(manifestDigest))), blob })

  it.effect("keeps the manifest bytes and their digest", () =>
    Effect.gen(function* () {
      expect(yield* image.digest).toBe(manifestDigest)
      expect(yield* image.mediaType).toBe(MediaType.DOCKER_MANIFEST)
    })
  )

  it.effect("reads the config through the blob reader and decodes it", () =>
    Effect.gen(function* () {
      const raw = yield* image.rawConfigFile
      expect(Digest.fromBytes(raw)).toBe(yield* image.configName)
      const config = yield* image.configFile
      expect(ConfigFile.diffIds(config).length).toBe((yield* image.layers).length)
    })
  )

  it.effect("takes diff ids from the config and they match the uncompressed bytes", () =>
    Effect.gen(function* () {
      for (const layer of yield* image.layers) {
        const measured = yield* Digest.ofStream(layer.uncompressed)
        expect(measured.digest).toBe(yield* layer.diffId)
      }
    })
  )

  it.effect("fails with DigestMismatch when a blob's bytes are not the ones described", () =>
    Effect.gen(function* () {
      const corrupt = Partial.fromCompressed({
        rawManifest: Effect.succeed(new Uint8Array(layoutBlob(manifestDigest))),
        blob: (d) => Stream.map(blob(d), (b) => b.map((x) => x ^ 1))
      })
      const error = yield* Effect.flip(corrupt.rawConfigFile)
      expect(error._tag).toBe("DigestMismatch")
    })
  )
})

describe("Partial.indexFromCore", () => {
  const core = {
    rawManifest: Effect.succeed(new Uint8Array(readFileSync(new URL("index.json", layoutDir)))),
    manifest: (d: Descriptor.Descriptor) => Effect.succeed(new Uint8Array(layoutBlob(d.digest))),
    blob: (d: Descriptor.Descriptor) => Stream.succeed(new Uint8Array(layoutBlob(d.digest)))
  }
  const index = Partial.indexFromCore(core)

  it.effect("reaches child images and nested indexes by digest", () =>
    Effect.gen(function* () {
      const manifest = yield* index.indexManifest
      expect(manifest.manifests.length).toBe(4)
      const image = yield* index.image(manifest.manifests[0]!.digest)
      expect(yield* image.digest).toBe(manifest.manifests[0]!.digest)
      const nested = yield* index.imageIndex(manifest.manifests[2]!.digest)
      expect((yield* nested.indexManifest).manifests.length).toBeGreaterThan(0)
    })
  )

  it.effect("hands other media types over as raw bytes", () =>
    Effect.gen(function* () {
      const manifest = yield* index.indexManifest
      const child = yield* index.child(manifest.manifests[1]!.digest)
      expect(child._tag).toBe("Other")
    })
  )

  it.effect("refuses a child manifest whose bytes do not match the index", () =>
    Effect.gen(function* () {
      const bad = Partial.indexFromCore({ ...core, manifest: () => Effect.succeed(text.encode("{}")) })
      const manifest = yield* bad.indexManifest
      const error = yield* Effect.flip(bad.image(manifest.manifests[0]!.digest))
      expect(error._tag).toBe("SizeMismatch")
    })
  )
})
