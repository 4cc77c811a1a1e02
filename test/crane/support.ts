/**
 * What the crane facade tests share: the embedded registry with fresh memory stores, reached
 * in-process (no socket) through the real registry transport, and generated images to push.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Transport from "../../src/crane/Transport.js"
import * as Platform from "../../src/domain/Platform.js"
import * as Random from "../../src/domain/Random.js"
import * as Reference from "../../src/domain/Reference.js"
import * as Registry from "../../src/registry/Registry.js"
import * as Remote from "../../src/services/Remote.js"

/** The host references name; the in-process client sends every request to the registry. */
export const host = "localhost:5000"

/** The registry transport over an in-process registry, plus Node's file system. */
export const env = Layer.mergeAll(
  Transport.layerWith({ retry: false }).pipe(Layer.provide(Registry.layerClient())),
  NodeContext.layer
).pipe(Layer.provideMerge(Registry.layerMemory))

/** A small generated image. */
export const randomImage = (seed: string, platform?: Platform.Platform) =>
  Random.image({ layerSize: 2048, layers: 2, seed, ...(platform !== undefined ? { platform } : {}) })

/** Pushes a generated image under `name` (`repo:tag`) and gives its digest. */
export const pushImage = (name: string, seed: string = name, platform?: Platform.Platform) =>
  Effect.gen(function* () {
    const image = yield* randomImage(seed, platform)
    const ref = yield* Reference.parse(`${host}/${name}`)
    yield* Remote.write(ref, image)
    return yield* image.digest
  })

/** The platforms of the generated indexes. */
export const amd64 = Platform.make({ os: "linux", architecture: "amd64" })
export const arm64 = Platform.make({ os: "linux", architecture: "arm64" })

/** Pushes a generated index of an amd64 and an arm64 image under `name` and gives its digest. */
export const pushIndex = (name: string, seed: string = name) =>
  Effect.gen(function* () {
    const index = yield* Random.index({ images: 2, layerSize: 1024, layers: 1, seed, platforms: [amd64, arm64] })
    const ref = yield* Reference.parse(`${host}/${name}`)
    yield* Remote.writeIndex(ref, index)
    return index
  })

/** The text of bytes. */
export const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
