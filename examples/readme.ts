/**
 * The README's second example, kept compiling and running by test/examples.test.ts: push a
 * generated image to the embedded registry (in-process, no socket), pull it back by tag, and
 * read its digest, config and tags.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "../src/domain/Random.js"
import * as Reference from "../src/domain/Reference.js"
import * as Registry from "../src/registry/Registry.js"
import * as Keychain from "../src/services/Keychain.js"
import * as RegistryTransport from "../src/services/RegistryTransport.js"
import * as Remote from "../src/services/Remote.js"

export const program = Effect.gen(function* () {
  const ref = yield* Reference.parseTag("localhost:5000/demo/app:v1")
  const image = yield* Random.image({ layerSize: 64 * 1024, layers: 2, seed: "readme" })
  yield* Remote.write(ref, image) // HEAD-skips, uploads layers concurrently, manifest last
  const pulled = yield* Remote.image(ref)
  return {
    pushed: yield* image.digest,
    pulled: yield* pulled.digest,
    os: (yield* pulled.configFile).os,
    tags: yield* Remote.list(Reference.context(ref))
  }
})

// The remote client talks to the registry app in-process; swap in RegistryTransportNode.layer
// (a real HTTP client) and a docker-config keychain to talk to any registry.
export const layer = RegistryTransport.layer().pipe(
  Layer.provide(Registry.layerClient()),
  Layer.provide(Keychain.layerAnonymous),
  Layer.provide(Registry.layerMemory)
)

export const main = program.pipe(Effect.provide(layer))
