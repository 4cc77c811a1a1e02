import { describe, expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { fileURLToPath } from "node:url"
import * as Inspect from "../../src/crane/Inspect.js"
import * as Digest from "../../src/domain/Digest.js"
import * as Reference from "../../src/domain/Reference.js"
import { amd64, arm64, env, host, pushImage, pushIndex, randomImage, text } from "./support.js"

const tarball = fileURLToPath(new URL("../../../shared/fixtures/ggcr/tarball/test_image_1.tar", import.meta.url))
const bundle = fileURLToPath(new URL("../../../shared/fixtures/ggcr/tarball/test_bundle.tar", import.meta.url))

layer(env)("crane Inspect", (it) => {
  describe("digest", () => {
    it.effect("gives the digest of the manifest a tag names", () =>
      Effect.gen(function* () {
        const pushed = yield* pushImage("inspect/digest:v1")
        expect(yield* Inspect.digest(`${host}/inspect/digest:v1`)).toBe(pushed)
      }))

    it.effect("gives the digest of the index itself without a platform", () =>
      Effect.gen(function* () {
        const index = yield* pushIndex("inspect/index:v1")
        expect(yield* Inspect.digest(`${host}/inspect/index:v1`)).toBe(yield* index.digest)
      }))

    it.effect("gives the digest of the platform's image with a platform", () =>
      Effect.gen(function* () {
        const index = yield* pushIndex("inspect/platform:v1")
        const manifest = yield* index.indexManifest
        const arm = manifest.manifests.find((d) => d.platform?.architecture === "arm64")
        expect(yield* Inspect.digest(`${host}/inspect/platform:v1`, { platform: arm64 })).toBe(arm?.digest)
      }))

    it.effect("fails with the registry's MANIFEST_UNKNOWN for a tag that does not exist", () =>
      Effect.gen(function* () {
        yield* pushImage("inspect/missing:v1")
        const error = yield* Effect.flip(Inspect.digest(`${host}/inspect/missing:nope`))
        expect(error._tag).toBe("RegistryError")
        expect(error._tag === "RegistryError" ? error.code : undefined).toBe("MANIFEST_UNKNOWN")
      }))

    it.effect("reads the digest of the image in a docker save tarball", () =>
      Effect.gen(function* () {
        expect(yield* Inspect.tarballDigest(tarball)).toBe(
          "sha256:7bbe1646a8b49bad2ce7c8581f0835f8107db83a16d11aaccdddad09c2d23519"
        )
      }))

    it.effect("needs a tag to pick an image from a tarball holding several", () =>
      Effect.gen(function* () {
        const untagged = yield* Effect.either(Inspect.tarballDigest(bundle))
        const one = yield* Inspect.tarballDigest(bundle, "test_image_1")
        const two = yield* Inspect.tarballDigest(bundle, "test_image_2")
        expect(untagged._tag).toBe("Left")
        expect(Digest.isDigest(one)).toBe(true)
        expect(one).not.toBe(two)
      }))
  })

  describe("manifest and config", () => {
    it.effect("gives the manifest's exact bytes", () =>
      Effect.gen(function* () {
        yield* pushImage("inspect/manifest:v1", "manifest")
        const image = yield* randomImage("manifest")
        expect(text(yield* Inspect.manifest(`${host}/inspect/manifest:v1`))).toBe(text(yield* image.rawManifest))
      }))

    it.effect("gives the platform's image manifest from an index with a platform", () =>
      Effect.gen(function* () {
        const index = yield* pushIndex("inspect/manifest-index:v1")
        const amd = (yield* index.indexManifest).manifests.find((d) => d.platform?.architecture === "amd64")
        const bytes = yield* Inspect.manifest(`${host}/inspect/manifest-index:v1`, { platform: amd64 })
        expect(Digest.fromBytes(bytes)).toBe(amd?.digest)
      }))

    it.effect("gives the config file's exact bytes", () =>
      Effect.gen(function* () {
        yield* pushImage("inspect/config:v1", "config")
        const image = yield* randomImage("config")
        expect(text(yield* Inspect.config(`${host}/inspect/config:v1`))).toBe(text(yield* image.rawConfigFile))
      }))
  })

  describe("blob", () => {
    it.effect("streams a layer's stored bytes by digest", () =>
      Effect.gen(function* () {
        yield* pushImage("inspect/blob:v1", "blob")
        const image = yield* randomImage("blob")
        const [layer] = yield* image.layers
        const digest = yield* layer!.digest
        const stream = yield* Inspect.blob(`${host}/inspect/blob@${digest}`)
        const chunks = yield* Stream.runCollect(stream)
        const bytes = Buffer.concat(Chunk.toReadonlyArray(chunks))
        expect(Digest.fromBytes(bytes)).toBe(digest)
      }))

    it.effect("refuses a reference that names no digest", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Inspect.blob(`${host}/inspect/blob:v1`))
        expect(error._tag).toBe("InvalidReference")
      }))
  })

  it.effect("accepts parsed references as well as strings", () =>
    Effect.gen(function* () {
      const pushed = yield* pushImage("inspect/head:v1")
      const fetched = yield* Inspect.get(yield* Reference.parse(`${host}/inspect/head:v1`))
      expect((yield* Inspect.head(`${host}/inspect/head:v1`)).digest).toBe(pushed)
      expect(fetched.descriptor.digest).toBe(pushed)
    }))
})
