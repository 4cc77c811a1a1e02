import { expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { fileURLToPath } from "node:url"
import * as TarStream from "tar-stream"
import * as Export from "../../src/crane/Export.js"
import * as Flatten from "../../src/crane/Flatten.js"
import * as Inspect from "../../src/crane/Inspect.js"
import * as Push from "../../src/crane/Push.js"
import * as Empty from "../../src/domain/Empty.js"
import * as Mutate from "../../src/domain/Mutate.js"
import * as Partial from "../../src/domain/Partial.js"
import * as Random from "../../src/domain/Random.js"
import * as Reference from "../../src/domain/Reference.js"
import * as Remote from "../../src/services/Remote.js"
import { amd64, arm64, env, host, pushImage, pushIndex, text } from "./support.js"

const fixture = (path: string) => fileURLToPath(new URL(`../../../shared/fixtures/ggcr/${path}`, import.meta.url))

/** The names of the entries of a tar stream. */
const entries = <E, R>(tar: Stream.Stream<Uint8Array, E, R>) =>
  Effect.flatMap(Stream.runCollect(tar), (chunks) =>
    Effect.promise(
      () =>
        new Promise<ReadonlyArray<string>>((resolve, reject) => {
          const names: Array<string> = []
          const extract = TarStream.extract()
          extract.on("entry", (header, body, next) => {
            names.push(header.name)
            body.on("end", next)
            body.resume()
          })
          extract.on("finish", () => resolve(names))
          extract.on("error", reject)
          extract.end(Buffer.concat(Chunk.toReadonlyArray(chunks)))
        })
    ))

layer(env)("crane Export and Flatten", (it) => {
  it.effect("exports the filesystem of a tarball image, whiteouts applied", () =>
    Effect.gen(function* () {
      const names = yield* entries(Export.fromTarball(fixture("mutate/whiteout_image.tar")))
      expect(names.some((n) => n.includes(".wh."))).toBe(false)
      expect(names.length).toBeGreaterThan(0)
    }))

  it.effect("exports the filesystem of an image in a registry", () =>
    Effect.gen(function* () {
      yield* Push.push(fixture("tarball/test_image_1.tar"), `${host}/fs/export:v1`)
      const names = yield* entries(Export.fromReference(`${host}/fs/export:v1`))
      expect(names.filter((n) => !n.endsWith("/"))).toEqual(["bar", "foo"])
    }))

  it.effect("gives the bytes of a single blob that is not a layer as they are", () =>
    Effect.gen(function* () {
      const bytes = new TextEncoder().encode("just a file")
      const image = Mutate.appendLayers(Empty.image, [Partial.staticLayer(bytes, "application/octet-stream")])
      const out = yield* Stream.runCollect(Export.tar(image))
      expect(text(Buffer.concat(Chunk.toReadonlyArray(out)))).toBe("just a file")
    }))

  it.effect("flattens an image into one layer holding its filesystem", () =>
    Effect.gen(function* () {
      const original = yield* pushImage("fs/flatten:v1")
      const pushed = yield* Flatten.flatten(`${host}/fs/flatten:v1`, { tag: `${host}/fs/flatten:flat` })
      const flat = yield* Inspect.image(`${host}/fs/flatten:flat`)
      const config = yield* flat.configFile
      expect(pushed.digest).toBe(yield* flat.digest)
      expect((yield* flat.manifest).layers).toHaveLength(1)
      expect(config.history?.[0]?.created_by).toBe(`crane flatten ${original}`)
      const before = yield* entries(Export.fromReference(`${host}/fs/flatten:v1`))
      const after = yield* entries(Export.fromReference(`${host}/fs/flatten:flat`))
      expect([...after].sort()).toEqual([...before].sort())
    }))

  it.effect("pushes a flattened image by digest over a digest reference", () =>
    Effect.gen(function* () {
      const original = yield* pushImage("fs/flatten-digest:v1")
      const pushed = yield* Flatten.flatten(`${host}/fs/flatten-digest@${original}`)
      expect(pushed.repository.path).toBe("fs/flatten-digest")
      expect(pushed.digest).not.toBe(original)
      expect(yield* Inspect.digest(Reference.format(pushed))).toBe(pushed.digest)
    }))

  it.effect("flattens every image of an index, keeping platforms and dropping attestations", () =>
    Effect.gen(function* () {
      const index = yield* pushIndex("fs/flatten-index:v1")
      const attestation = yield* Random.image({ layerSize: 16, layers: 1, seed: "att" })
      const withAttestation = Mutate.appendManifests(index, [
        { add: attestation, platform: { os: "unknown", architecture: "unknown" } }
      ])
      yield* Remote.writeIndex(yield* Reference.parse(`${host}/fs/flatten-index:v2`), withAttestation)
      yield* Flatten.flatten(`${host}/fs/flatten-index:v2`, { tag: `${host}/fs/flatten-index:flat` })
      const flat = yield* Remote.index(yield* Reference.parse(`${host}/fs/flatten-index:flat`))
      const children = (yield* flat.indexManifest).manifests
      expect(children.map((d) => d.platform)).toEqual([amd64, arm64])
      for (const child of children) {
        const image = yield* flat.image(child.digest)
        expect((yield* image.manifest).layers).toHaveLength(1)
      }
    }))
})
