import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import type * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import * as Digest from "../../src/domain/Digest.js"
import type * as Image from "../../src/domain/Image.js"
import * as ImageLayer from "../../src/domain/ImageLayer.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Mutate from "../../src/domain/Mutate.js"
import * as Partial from "../../src/domain/Partial.js"
import * as Random from "../../src/domain/Random.js"
import * as Reference from "../../src/domain/Reference.js"
import * as LegacyTarball from "../../src/formats/LegacyTarball.js"
import * as Tarball from "../../src/formats/Tarball.js"
import { readTarFiles, type TarBytesEntry } from "../domain/fixtures/tars.js"

const sha256hex = (...parts: ReadonlyArray<Uint8Array | string>): string => {
  const h = createHash("sha256")
  for (const part of parts) h.update(part)
  return h.digest("hex")
}

const bytesOf = <E>(s: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(s), (c) => new Uint8Array(Buffer.concat(Chunk.toReadonlyArray(c))))

const withTempDir = <A, E>(use: (dir: string) => Effect.Effect<A, E, FileSystem.FileSystem>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "legacy-tarball-"))),
    (dir) => use(dir),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.provide(NodeFileSystem.layer))

const tag = (s: string) => Reference.parseTag(s)

interface ManifestJson {
  readonly Config: string
  readonly RepoTags: ReadonlyArray<string> | null
  readonly Layers: ReadonlyArray<string>
  readonly LayerSources?: Readonly<Record<string, { readonly mediaType: string; readonly urls?: ReadonlyArray<string> }>>
}

const json = (entries: ReadonlyArray<TarBytesEntry>, name: string): unknown => {
  const entry = entries.find((e) => e.name === name)
  if (entry === undefined) throw new Error(`no ${name} in the tarball`)
  return JSON.parse(entry.content.toString("utf8"))
}

/** The v1 ids ggcr gives an image's layers, computed here from its formula alone. */
const expectedIds = <E>(image: Image.Image<E>) =>
  Effect.gen(function* () {
    const manifest = yield* image.manifest
    const rawConfig = yield* image.rawConfigFile
    const ids: Array<string> = []
    let parent = ""
    manifest.layers.forEach((layer, i) => {
      const hex = layer.digest.slice("sha256:".length)
      const id =
        i === manifest.layers.length - 1
          ? sha256hex(`${hex} ${parent} `, rawConfig)
          : sha256hex(`${hex} ${parent}`)
      ids.push(id)
      parent = id
    })
    return ids
  })

describe("LegacyTarball.write", () => {
  it.effect("chains layer ids as ggcr does, the top one over the config's bytes", () =>
    Effect.gen(function* () {
      const image = yield* Random.image({ layerSize: 3000, layers: 3, seed: "legacy-ids" })
      const ids = yield* expectedIds(image)
      const entries = yield* readTarFiles(yield* bytesOf(LegacyTarball.write([[yield* tag("example.com/legacy/image:v1"), image]])))
      const configHex = Digest.hex(yield* image.configName)
      expect(entries.map((e) => e.name)).toEqual([
        `${configHex}.json`,
        ...ids.flatMap((id) => [`${id}/layer.tar`, `${id}/json`, `${id}/VERSION`]),
        "manifest.json",
        "repositories"
      ])
      expect(entries.every((e) => e.mode === 0o644)).toBe(true)
      expect(json(entries, "manifest.json")).toEqual([
        { Config: `${configHex}.json`, RepoTags: ["example.com/legacy/image:v1"], Layers: ids.map((id) => `${id}/layer.tar`) }
      ])
      expect(json(entries, "repositories")).toEqual({ "example.com/legacy/image": { v1: ids[2] } })
      // The public helper agrees with the formula.
      const digests = (yield* image.manifest).layers.map((l) => l.digest)
      expect(LegacyTarball.layerId(digests[0]!, "")).toBe(ids[0])
      expect(LegacyTarball.layerId(digests[2]!, ids[1]!, yield* image.rawConfigFile)).toBe(ids[2])
    }))

  it.effect("stores each layer uncompressed, its tar hashing to the diff id, with json and VERSION", () =>
    Effect.gen(function* () {
      const image = yield* Random.image({ layerSize: 3000, layers: 3, seed: "legacy-layers" })
      const ids = yield* expectedIds(image)
      const diffIds = ConfigFile.diffIds(yield* image.configFile)
      const entries = yield* readTarFiles(yield* bytesOf(LegacyTarball.write([[yield* tag("example.com/legacy/image:v1"), image]])))
      const byName = new Map(entries.map((e) => [e.name, e.content]))
      ids.forEach((id, i) => {
        expect(`sha256:${sha256hex(byName.get(`${id}/layer.tar`)!)}`).toBe(diffIds[i])
        expect(byName.get(`${id}/VERSION`)?.toString()).toBe("1.0")
      })
      expect(byName.get(`${Digest.hex(yield* image.configName)}.json`)).toEqual(Buffer.from(yield* image.rawConfigFile))
      // Random images have one history entry per layer (author, zero time, "random", a comment):
      // the bytes Go's encoding/json gives ggcr's LayerConfigFile for them.
      const history = (i: number) => `"comment":"this is a random history ${i} of 3"`
      expect(byName.get(`${ids[0]}/json`)?.toString()).toBe(
        `{"architecture":"","author":"random.Image","created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"","diff_ids":null},"config":{},"container_config":{"Cmd":["random"]},"id":"${ids[0]}",${history(0)}}`
      )
      expect(byName.get(`${ids[1]}/json`)?.toString()).toBe(
        `{"architecture":"","author":"random.Image","created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"","diff_ids":null},"config":{},"container_config":{"Cmd":["random"]},"id":"${ids[1]}","parent":"${ids[0]}",${history(1)}}`
      )
      expect(byName.get(`${ids[2]}/json`)?.toString()).toBe(
        `{"architecture":"amd64","author":"random.Image","created":"0001-01-01T00:00:00Z","os":"linux","rootfs":{"type":"","diff_ids":null},"config":{},"container_config":{"Cmd":["random"]},"id":"${ids[2]}","parent":"${ids[1]}",${history(2)}}`
      )
    }))

  it.effect("gives the top layer the image's platform, run config and creation time, Go-normalised", () =>
    Effect.gen(function* () {
      const base = yield* Random.image({ layerSize: 1000, layers: 1, seed: "legacy-top" })
      const config = yield* base.configFile
      const image = Mutate.configFile(base, {
        ...config,
        created: "2024-05-06T07:08:09.120000000+00:00",
        container: "abc",
        docker_version: "24.0.0",
        config: { Env: ["A=1"], Cmd: [], Labels: { z: "1", a: "<2>" }, Healthcheck: { Test: ["NONE"] }, Tty: false }
      })
      const [id] = yield* expectedIds(image)
      const entries = yield* readTarFiles(yield* bytesOf(LegacyTarball.write([[yield* tag("example.com/legacy/top:v1"), image]])))
      expect(entries.find((e) => e.name === `${id}/json`)?.content.toString()).toBe(
        `{"architecture":"amd64","author":"random.Image","container":"abc","created":"2024-05-06T07:08:09.12Z","docker_version":"24.0.0","os":"linux","rootfs":{"type":"","diff_ids":null},"config":{"Healthcheck":{"Test":["NONE"]},"Env":["A=1"],"Labels":{"a":"\\u003c2\\u003e","z":"1"}},"container_config":{"Cmd":["random"]},"id":"${id}","comment":"this is a random history 0 of 1"}`
      )
    }))

  it.effect("skips empty-layer history and fills in blank history when there is none", () =>
    Effect.gen(function* () {
      const base = yield* Random.image({ layerSize: 1000, layers: 2, seed: "legacy-history" })
      const config = yield* base.configFile
      const interleaved = Mutate.configFile(base, {
        ...config,
        history: [
          { empty_layer: true, created_by: "ENV x" },
          { created_by: "one" },
          { empty_layer: true },
          { created_by: "two" },
          { empty_layer: true }
        ]
      })
      const ids = yield* expectedIds(interleaved)
      const entries = yield* readTarFiles(yield* bytesOf(LegacyTarball.write([[yield* tag("example.com/legacy/h:v1"), interleaved]])))
      expect((json(entries, `${ids[0]}/json`) as { container_config: unknown }).container_config).toEqual({ Cmd: ["one"] })
      expect((json(entries, `${ids[1]}/json`) as { container_config: unknown }).container_config).toEqual({ Cmd: ["two"] })

      const { history: _, ...withoutHistory } = config
      const bare = Mutate.configFile(base, withoutHistory)
      const bareIds = yield* expectedIds(bare)
      const bareEntries = yield* readTarFiles(yield* bytesOf(LegacyTarball.write([[yield* tag("example.com/legacy/h:v2"), bare]])))
      expect(bareEntries.find((e) => e.name === `${bareIds[0]}/json`)?.content.toString()).toBe(
        `{"architecture":"","created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"","diff_ids":null},"config":{},"container_config":{"Cmd":[""]},"id":"${bareIds[0]}"}`
      )
    }))

  it.effect("refuses a history that does not match the layers", () =>
    Effect.gen(function* () {
      const base = yield* Random.image({ layerSize: 1000, layers: 3, seed: "legacy-mismatch" })
      const image = Mutate.configFile(base, { ...(yield* base.configFile), history: [{ created_by: "only one" }] })
      const error = yield* Effect.flip(bytesOf(LegacyTarball.write([[yield* tag("example.com/legacy/m:v1"), image]])))
      expect(error._tag).toBe("LegacyTarballError")
      expect(error._tag === "LegacyTarballError" && error.reason).toBe("HistoryMismatch")
      expect(error.message).toContain("1 history entries")
    }))

  it.effect("fails with NoImages when given none", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(bytesOf(LegacyTarball.write([])))
      expect(error).toMatchObject({ _tag: "LegacyTarballError", reason: "NoImages" })
    }))

  it.effect("orders images by config digest, writes shared layers once, and leaves digest-only images untagged", () =>
    Effect.gen(function* () {
      const one = yield* Random.image({ layerSize: 1000, layers: 2, seed: "legacy-multi-one" })
      const two = yield* Random.image({ layerSize: 1000, layers: 1, seed: "legacy-multi-two" })
      const three = yield* Random.image({ layerSize: 1000, layers: 1, seed: "legacy-multi-three" })
      const images: ReadonlyArray<readonly [Reference.Reference, Image.Image<Random.RandomError>]> = [
        [yield* tag("example.com/b/one:v1"), one],
        [yield* tag("example.com/a/one:v2"), one],
        [yield* tag("example.com/b/one:v1"), one],
        [yield* tag("ubuntu:latest"), two],
        [yield* Reference.parse(`example.com/c/three@${yield* three.digest}`), three]
      ]
      const entries = yield* readTarFiles(yield* bytesOf(LegacyTarball.write(images)))
      const manifest = json(entries, "manifest.json") as ReadonlyArray<ManifestJson>
      const hexes = yield* Effect.forEach([one, two, three], (i) => Effect.map(i.configName, Digest.hex))
      expect(manifest.map((m) => m.Config)).toEqual([...hexes].sort().map((h) => `${h}.json`))
      const entryOf = (hex: string) => manifest.find((m) => m.Config === `${hex}.json`)
      expect(entryOf(hexes[0]!)?.RepoTags).toEqual(["example.com/a/one:v2", "example.com/b/one:v1"])
      expect(entryOf(hexes[1]!)?.RepoTags).toEqual(["ubuntu:latest"])
      expect(entryOf(hexes[2]!)?.RepoTags).toBeNull()
      const oneIds = yield* expectedIds(one)
      expect(json(entries, "repositories")).toEqual({
        "example.com/a/one": { v2: oneIds[1] },
        "example.com/b/one": { v1: oneIds[1] },
        ubuntu: { latest: (yield* expectedIds(two))[0] }
      })
      const names = entries.map((e) => e.name)
      expect(new Set(names).size).toBe(names.length)
    }))

  it.effect("records foreign layers in LayerSources, keyed by diff id", () =>
    Effect.gen(function* () {
      const base = yield* Random.image({ layerSize: 1000, layers: 1, seed: "legacy-foreign" })
      const foreign = ImageLayer.fromUncompressed(
        Stream.succeed(new Uint8Array(yield* bytesOf((yield* Random.layer({ size: 500, seed: "foreign" })).uncompressed))),
        { mediaType: MediaType.DOCKER_FOREIGN_LAYER, urls: ["https://example.com/layer"] }
      )
      const image = Mutate.append(base, [{ layer: foreign, history: { created_by: "foreign" } }])
      const diffId = yield* foreign.diffId
      const entries = yield* readTarFiles(yield* bytesOf(LegacyTarball.write([[yield* tag("example.com/legacy/f:v1"), image]])))
      const [entry] = json(entries, "manifest.json") as ReadonlyArray<ManifestJson>
      expect(Object.keys(entry?.LayerSources ?? {})).toEqual([diffId])
      expect(entry?.LayerSources?.[diffId]).toMatchObject({
        mediaType: MediaType.DOCKER_FOREIGN_LAYER,
        urls: ["https://example.com/layer"]
      })
    }))

  it.effect("fails with DigestMismatch when a layer's tar is not its diff id", () =>
    Effect.gen(function* () {
      const bytes = new TextEncoder().encode("not really a tar, but bytes")
      const liar = ImageLayer.fromUncompressed(Stream.succeed(bytes), { diffId: Digest.fromBytes("something else") })
      const config = ConfigFile.encode({
        architecture: "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: [yield* liar.diffId] }
      })
      const image = Partial.fromLayers(Effect.succeed(config), Effect.succeed([liar]))
      const error = yield* Effect.flip(bytesOf(LegacyTarball.write([[yield* tag("example.com/legacy/bad:v1"), image]])))
      expect(error._tag).toBe("DigestMismatch")
    }))
})

describe("LegacyTarball.writeToFile", () => {
  it.effect("writes the same bytes as the stream, reading each layer once", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const image = yield* Random.image({ layerSize: 200_000, layers: 3, seed: "legacy-file" })
        const ref = yield* tag("example.com/legacy/file:v1")
        const streamed = yield* bytesOf(LegacyTarball.write([[ref, image]]))
        // Count reads of each layer's uncompressed bytes, and the layers spooled when one starts.
        const reads = new Map<number, number>()
        const spooled: Array<number> = []
        const layers = (yield* image.layers).map((l, i) => ({
          ...l,
          uncompressed: Stream.suspend(() => {
            reads.set(i, (reads.get(i) ?? 0) + 1)
            const scratch = readdirSync(dir).find((name) => name.startsWith("out.tar.spool-"))
            spooled.push(scratch === undefined ? -1 : readdirSync(join(dir, scratch)).length)
            return l.uncompressed
          })
        }))
        const counted: Image.Image<Random.RandomError> = { ...image, layers: Effect.succeed(layers) }
        const file = join(dir, "out.tar")
        yield* LegacyTarball.writeToFile(file, [[ref, counted]])
        expect(readFileSync(file).equals(Buffer.from(streamed))).toBe(true)
        expect([...reads.values()]).toEqual([1, 1, 1])
        // One layer at a time: when a layer is read only its own spool file (opened just before)
        // exists; the previous one went once it was in the tarball.
        expect(spooled).toEqual([1, 1, 1])
        expect(readdirSync(dir)).toEqual(["out.tar"])
      })
    ))

  it.effect("leaves nothing behind when a layer is bad", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const good = yield* Random.image({ layerSize: 5000, layers: 2, seed: "legacy-bad-file" })
        const [first, second] = yield* good.layers
        const broken = { ...second!, diffId: Effect.succeed(Digest.fromBytes("wrong")) }
        const image: Image.Image<Random.RandomError> = { ...good, layers: Effect.succeed([first!, broken]) }
        const file = join(dir, "out.tar")
        const exit = yield* Effect.exit(LegacyTarball.writeToFile(file, [[yield* tag("example.com/legacy/bad:v1"), image]]))
        expect(Exit.isFailure(exit)).toBe(true)
        expect(existsSync(file)).toBe(false)
        expect(readdirSync(dir)).toEqual([])
      })
    ))

  it.effect("is read back by our Tarball reader, by tag, with the same config and diff ids", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const image = yield* Random.image({ layerSize: 5000, layers: 3, seed: "legacy-readback" })
        const other = yield* Random.image({ layerSize: 5000, layers: 1, seed: "legacy-readback-other" })
        const ref = yield* tag("example.com/legacy/read:v1")
        const file = join(dir, "out.tar")
        yield* LegacyTarball.writeToFile(file, [[ref, image], [yield* tag("example.com/legacy/other:v1"), other]])
        const read = yield* Tarball.imageFromFile(file, { tag: ref })
        expect(new Uint8Array(yield* read.rawConfigFile)).toEqual(new Uint8Array(yield* image.rawConfigFile))
        const diffIds = ConfigFile.diffIds(yield* image.configFile)
        const layers = yield* read.layers
        const uncompressed = yield* Effect.forEach(layers, (l) => Effect.map(Digest.ofStream(l.uncompressed), (m) => m.digest))
        expect(uncompressed).toEqual(diffIds)
        expect(yield* Effect.forEach(layers, (l) => l.diffId)).toEqual(diffIds)
      })
    ))
})
