import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { fileURLToPath } from "node:url"
import * as Validate from "../../src/crane/Validate.js"
import * as Reference from "../../src/domain/Reference.js"
import * as Remote from "../../src/services/Remote.js"
import * as BlobStore from "../../src/services/BlobStore.js"
import { env, host, pushImage, pushIndex, randomImage } from "./support.js"

const fixture = (path: string) => fileURLToPath(new URL(`../../../shared/fixtures/ggcr/${path}`, import.meta.url))

layer(env)("crane Validate", (it) => {
  it.effect("passes an image whose blobs are what its manifest says", () =>
    Effect.gen(function* () {
      yield* pushImage("validate/good:v1")
      yield* Validate.validateRemote(`${host}/validate/good:v1`)
    }))

  it.effect("passes an index with all its children", () =>
    Effect.gen(function* () {
      yield* pushIndex("validate/index:v1")
      yield* Validate.validateRemote(`${host}/validate/index:v1`)
    }))

  it.effect("passes the image in a docker save tarball", () => Validate.validateTarball(fixture("tarball/test_image_1.tar")))

  it.effect("fails with a ValidationError when a layer cannot be read from the registry", () =>
    Effect.gen(function* () {
      const image = yield* randomImage("validate-bad")
      yield* Remote.write(yield* Reference.parse(`${host}/validate/bad:v1`), image)
      const [layer] = yield* image.layers
      const digest = yield* layer!.digest
      // the registry no longer has the layer
      const store = yield* BlobStore.BlobStore
      yield* store.delete(digest).pipe(Effect.ignore)
      const error = yield* Effect.flip(Validate.validateRemote(`${host}/validate/bad:v1`))
      expect(error._tag).toBe("ValidationError")
      expect(error.message).toContain(digest)
    }))

  it.effect("reads no layer with fast", () =>
    Effect.gen(function* () {
      const image = yield* randomImage("validate-fast")
      yield* Remote.write(yield* Reference.parse(`${host}/validate/fast:v1`), image)
      const [layer] = yield* image.layers
      const store = yield* BlobStore.BlobStore
      yield* store.delete(yield* layer!.digest).pipe(Effect.ignore)
      yield* Validate.validateRemote(`${host}/validate/fast:v1`, { fast: true })
    }))
})
