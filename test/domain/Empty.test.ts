import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import * as Digest from "../../src/domain/Digest.js"
import * as Empty from "../../src/domain/Empty.js"
import * as IndexManifest from "../../src/domain/IndexManifest.js"
import * as Manifest from "../../src/domain/Manifest.js"
import * as MediaType from "../../src/domain/MediaType.js"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

// ggcr's empty.Image config: json.Marshal of a zero ConfigFile with rootfs type "layers".
// Its size and digest appear in ggcr's mutate tests (pkg/v1/mutate/mutate_test.go).
const ggcrConfig =
  '{"architecture":"","created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers","diff_ids":null},"config":{}}'
const ggcrConfigDigest = "sha256:5b943e2b943f6c81dbbd4e2eca5121f4fcc39139e3d1219d6d89bd925b77d9fe"
const ggcrManifest =
  '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",' +
  '"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":115,' +
  `"digest":"${ggcrConfigDigest}"},"layers":[]}`

describe("Empty.image", () => {
  it.effect("has the exact config bytes of ggcr's empty image", () =>
    Effect.gen(function* () {
      const raw = yield* Empty.image.rawConfigFile
      expect(text(raw)).toBe(ggcrConfig)
      expect(raw.byteLength).toBe(115)
      expect(yield* Empty.image.configName).toBe(ggcrConfigDigest)
    })
  )

  it.effect("has the exact manifest bytes, and so the digest, of ggcr's empty image", () =>
    Effect.gen(function* () {
      const raw = yield* Empty.image.rawManifest
      expect(text(raw)).toBe(ggcrManifest)
      expect(yield* Empty.image.digest).toBe(Digest.fromBytes(ggcrManifest))
      expect(yield* Empty.image.digest).toBe(
        "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
      )
      expect(yield* Empty.image.size).toBe(raw.byteLength)
    })
  )

  it.effect("uses Docker's manifest and config media types, as ggcr", () =>
    Effect.gen(function* () {
      expect(yield* Empty.image.mediaType).toBe(MediaType.DOCKER_MANIFEST)
      expect((yield* Empty.image.manifest).config.mediaType).toBe(MediaType.DOCKER_CONFIG)
      const descriptor = yield* Empty.image.descriptor
      expect(descriptor.mediaType).toBe(MediaType.DOCKER_MANIFEST)
      expect(descriptor.digest).toBe(yield* Empty.image.digest)
    })
  )

  it.effect("has no layers and a config of rootfs type layers without diff ids", () =>
    Effect.gen(function* () {
      expect(yield* Empty.image.layers).toEqual([])
      expect((yield* Empty.image.manifest).layers).toEqual([])
      const config = yield* Empty.image.configFile
      expect(config.rootfs.type).toBe("layers")
      expect(ConfigFile.diffIds(config)).toEqual([])
    })
  )

  it.effect("serves its config blob by digest and no layer by any diff id", () =>
    Effect.gen(function* () {
      const blob = yield* Empty.image.layerByDigest(ggcrConfigDigest as Digest.Digest)
      expect(yield* blob.size).toBe(115)
      const missing = yield* Effect.flip(Empty.image.layerByDiffId(Digest.fromBytes("anything")))
      expect(missing._tag).toBe("BlobNotFound")
    })
  )

  it.effect("reads back with the manifest decoder as the same value", () =>
    Effect.gen(function* () {
      const decoded = yield* Manifest.decode(yield* Empty.image.rawManifest)
      expect(decoded.value).toEqual(yield* Empty.image.manifest)
      expect(decoded.digest).toBe(yield* Empty.image.digest)
    })
  )
})

describe("Empty.index", () => {
  const ggcrIndex = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'

  it.effect("has the exact bytes and digest of ggcr's empty index", () =>
    Effect.gen(function* () {
      expect(text(yield* Empty.index.rawManifest)).toBe(ggcrIndex)
      expect(yield* Empty.index.digest).toBe(
        "sha256:dff9de10919148711140d349bf03f1a99eb06f94b03e51715ccebfa7cdc518e2"
      )
      expect(yield* Empty.index.size).toBe(ggcrIndex.length)
    })
  )

  it.effect("is an OCI index with no children", () =>
    Effect.gen(function* () {
      expect(yield* Empty.index.mediaType).toBe(MediaType.OCI_INDEX)
      expect((yield* Empty.index.indexManifest).manifests).toEqual([])
      const descriptor = yield* Empty.index.descriptor
      expect(descriptor).toEqual({
        mediaType: MediaType.OCI_INDEX,
        digest: yield* Empty.index.digest,
        size: ggcrIndex.length
      })
    })
  )

  it.effect("fails every child lookup with BlobNotFound", () =>
    Effect.gen(function* () {
      const digest = Digest.fromBytes("x")
      expect((yield* Effect.flip(Empty.index.image(digest)))._tag).toBe("BlobNotFound")
      expect((yield* Effect.flip(Empty.index.imageIndex(digest)))._tag).toBe("BlobNotFound")
      expect((yield* Effect.flip(Empty.index.child(digest)))._tag).toBe("BlobNotFound")
    })
  )

  it("reads back with the index decoder", () => {
    const decoded = IndexManifest.decode(new TextEncoder().encode(ggcrIndex))
    expect(Either.isRight(decoded) && decoded.right.value).toEqual(Empty.indexManifest)
  })
})
