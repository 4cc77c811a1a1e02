/**
 * A tour of effect-containerregistry (`npm start`): it starts the embedded registry on a free
 * loopback port, then walks through what crane does, printing each step: push a generated
 * image, copy it, mutate it, list tags, flatten, export the filesystem, pull to an OCI layout,
 * validate, delete. Everything is the library's own code; nothing but the loopback registry
 * and a temporary directory is touched.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Copy from "../src/crane/Copy.js"
import * as Export from "../src/crane/Export.js"
import * as Flatten from "../src/crane/Flatten.js"
import * as Inspect from "../src/crane/Inspect.js"
import * as List from "../src/crane/List.js"
import * as Mutate from "../src/crane/Mutate.js"
import * as Pull from "../src/crane/Pull.js"
import * as Push from "../src/crane/Push.js"
import * as Serve from "../src/crane/Serve.js"
import * as Tag from "../src/crane/Tag.js"
import * as Transport from "../src/crane/Transport.js"
import * as Validate from "../src/crane/Validate.js"
import * as Random from "../src/domain/Random.js"
import * as Keychain from "../src/services/Keychain.js"

const step = (n: number, text: string) => Console.log(`\n${n}. ${text}`)
const show = (text: string) => Console.log(`   ${text}`)

/** The number of entries in a tar stream, counted from its 512-byte headers as it flows. */
const countEntries = <E, R>(tar: Stream.Stream<Uint8Array, E, R>): Effect.Effect<number, E, R> =>
  Effect.suspend(() => {
    let pending = new Uint8Array(0)
    let skip = 0
    let entries = 0
    let ended = false
    return Stream.runForEach(tar, (chunk) =>
      Effect.sync(() => {
        const data = new Uint8Array(pending.byteLength + chunk.byteLength)
        data.set(pending)
        data.set(chunk, pending.byteLength)
        let offset = 0
        while (!ended) {
          if (skip > 0) {
            const n = Math.min(skip, data.byteLength - offset)
            skip -= n
            offset += n
            if (skip > 0) break
          }
          if (data.byteLength - offset < 512) break
          const header = data.subarray(offset, offset + 512)
          offset += 512
          if (header.every((b) => b === 0)) {
            ended = true
            break
          }
          const size = parseInt(new TextDecoder().decode(header.subarray(124, 136)).replace(/\0/g, "").trim() || "0", 8)
          const type = String.fromCharCode(header[156] ?? 0)
          // PAX and GNU long-name records describe the next entry; they are not entries.
          if (type !== "x" && type !== "g" && type !== "L" && type !== "K") entries++
          skip = Math.ceil(size / 512) * 512
        }
        pending = data.slice(offset)
      })).pipe(Effect.map(() => entries))
  })

const tour = Effect.gen(function* () {
  yield* Console.log("effect-containerregistry: a tour of crane, against the embedded registry")

  yield* step(1, "Start the embedded registry on a free loopback port")
  const host = yield* Serve.address
  yield* show(`listening on ${host} (plain HTTP: a loopback registry needs no TLS)`)
  const repo = `${host}/tour/random`

  yield* step(2, "Push a generated image (3 layers of 256 KiB of random data)")
  const image = yield* Random.image({ layerSize: 256 * 1024, layers: 3, seed: "tour" })
  const pushed = yield* Push.pushItem(image, `${repo}:v1`)
  yield* show(`pushed ${pushed.repository.path}@${pushed.digest}`)

  yield* step(3, "Copy it to another repository (blobs are mounted, the digest stays)")
  yield* Copy.copy(`${repo}:v1`, `${host}/tour/copy:v1`)
  const copied = yield* Inspect.digest(`${host}/tour/copy:v1`)
  yield* show(`copy has digest ${copied} (${copied === pushed.digest ? "same" : "different"} as the original)`)

  yield* step(4, "Mutate it: a label, an environment variable and an entrypoint")
  const mutated = yield* Mutate.mutate(`${repo}:v1`, {
    tag: `${repo}:mutated`,
    labels: [["org.example.tour", "yes"]],
    env: [["GREETING", "hello"]],
    entrypoint: ["/bin/sh", "-c"]
  })
  const config = JSON.parse(new TextDecoder().decode(yield* Inspect.config(`${repo}:mutated`))) as {
    readonly config?: { readonly Labels?: Record<string, string>; readonly Env?: ReadonlyArray<string> }
  }
  yield* show(`mutated image ${mutated.digest}`)
  yield* show(`labels ${JSON.stringify(config.config?.Labels)}, env ${JSON.stringify(config.config?.Env)}`)

  yield* step(5, "Flatten it into a single layer")
  const flat = yield* Flatten.flatten(`${repo}:v1`, { tag: `${repo}:flat` })
  const flatManifest = JSON.parse(new TextDecoder().decode(yield* Inspect.manifest(`${repo}:flat`))) as {
    readonly layers: ReadonlyArray<unknown>
  }
  yield* show(`flattened image ${flat.digest} has ${flatManifest.layers.length} layer`)

  yield* step(6, "List the tags of the repository")
  const tags = yield* List.listTags(repo)
  yield* show(tags.join(", "))

  yield* step(7, "Export the filesystem of the flattened image as a tar")
  const files = yield* countEntries(Export.fromReference(`${repo}:flat`))
  yield* show(`${files} files in the exported filesystem`)

  yield* step(8, "Pull the mutated image to an OCI image layout")
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "crane-tour-" })
  yield* Pull.pull([`${repo}:mutated`], dir, { format: "oci" })
  const blobs = yield* fs.readDirectory(`${dir}/blobs/sha256`)
  yield* show(`layout in ${dir}: index.json and ${blobs.length} blobs`)

  yield* step(9, "Validate the pushed image: every blob against its digest")
  yield* Validate.validateRemote(`${repo}:v1`)
  yield* show("PASS")

  yield* step(10, "Delete the mutated image by digest")
  yield* Tag.remove(`${repo}@${mutated.digest}`)
  const gone = yield* Inspect.digest(`${repo}:mutated`).pipe(
    Effect.as("still there"),
    Effect.catchAll((e) => Effect.succeed(`gone (${e._tag})`))
  )
  yield* show(`${repo}:mutated is ${gone}`)

  yield* Console.log("\nDone.")
})

const services = Layer.mergeAll(
  Serve.layer(),
  Transport.layer({ keychain: Keychain.alwaysAnonymous, userAgent: "crane-tour" })
).pipe(Layer.provideMerge(NodeContext.layer))

NodeRuntime.runMain(Effect.scoped(tour).pipe(Effect.provide(services)))
