/**
 * `crane pull --format legacy` and `crane pull --cache_path DIR` against the in-process
 * registry, whose requests are logged so a test can tell which blobs were fetched.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { createHash } from "node:crypto"
import { execFileSync } from "node:child_process"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Pull from "../../src/crane/Pull.js"
import * as Transport from "../../src/crane/Transport.js"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import type * as Digest from "../../src/domain/Digest.js"
import * as Tarball from "../../src/formats/Tarball.js"
import * as Registry from "../../src/registry/Registry.js"
import * as BlobStore from "../../src/services/BlobStore.js"
import { host, pushImage, randomImage } from "./support.js"

const requests: Array<Registry.RequestLog> = []

const env = Layer.mergeAll(
  Transport.layerWith({ retry: false }).pipe(
    Layer.provide(Registry.layerClient({ logger: (entry) => Effect.sync(() => requests.push(entry)) }))
  ),
  NodeContext.layer
).pipe(Layer.provideMerge(Registry.layerMemory))

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "crane-pull-" }))

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

/** The blob GETs the registry answered since `from`, by digest. */
const blobGets = (from: number): ReadonlyArray<string> =>
  requests
    .slice(from)
    .filter((r) => r.method === "GET" && r.url.includes("/blobs/sha256:"))
    .map((r) => r.url.slice(r.url.indexOf("/blobs/") + "/blobs/".length))

/** The entries of a tar file, listed by GNU tar, independently of the code under test. */
const tarNames = (file: string): ReadonlyArray<string> =>
  execFileSync("tar", ["tf", file], { encoding: "utf8" }).split("\n").filter((l) => l !== "")

const tarEntry = (file: string, name: string): Buffer => execFileSync("tar", ["xOf", file, name])

/** Pushes a generated image and gives its layer digests and diff ids. */
const pushed = (name: string) =>
  Effect.gen(function* () {
    const digest = yield* pushImage(name)
    const image = yield* randomImage(name)
    const layers = (yield* image.manifest).layers.map((l) => l.digest)
    return { digest, image, layers, diffIds: ConfigFile.diffIds(yield* image.configFile) }
  })

layer(env)("crane pull --format legacy and --cache_path", (it) => {
  it.scoped("pulls to a legacy tarball: a directory per layer, readable by our tarball reader", () =>
    Effect.gen(function* () {
      const { diffIds, image } = yield* pushed("legacy/pull:v1")
      const path = join(yield* tempDir, "legacy.tar")
      yield* Pull.pull([`${host}/legacy/pull:v1`], path, { format: "legacy" })
      const names = tarNames(path)
      const manifest = JSON.parse(tarEntry(path, "manifest.json").toString()) as ReadonlyArray<{
        Config: string
        RepoTags: ReadonlyArray<string> | null
        Layers: ReadonlyArray<string>
      }>
      expect(manifest).toHaveLength(1)
      expect(manifest[0]?.RepoTags).toEqual([`${host}/legacy/pull:v1`])
      expect(manifest[0]?.Config).toBe(`${(yield* image.configName).slice("sha256:".length)}.json`)
      const layerFiles = manifest[0]?.Layers ?? []
      expect(layerFiles.every((f) => /^[0-9a-f]{64}\/layer\.tar$/.test(f))).toBe(true)
      expect(layerFiles.map((f) => sha256(tarEntry(path, f)))).toEqual(diffIds)
      for (const f of layerFiles) {
        const id = f.slice(0, 64)
        expect(names).toContain(`${id}/json`)
        expect(tarEntry(path, `${id}/VERSION`).toString()).toBe("1.0")
      }
      const top = layerFiles[layerFiles.length - 1]?.slice(0, 64)
      expect(JSON.parse(tarEntry(path, "repositories").toString())).toEqual({ [`${host}/legacy/pull`]: { v1: top } })
      const read = yield* Tarball.imageFromFile(path)
      expect(ConfigFile.diffIds(yield* read.configFile)).toEqual(diffIds)
    }))

  it.scoped("leaves an image pulled by digest untagged in a legacy tarball, as ggcr does", () =>
    Effect.gen(function* () {
      const { digest } = yield* pushed("legacy/by-digest:v1")
      const path = join(yield* tempDir, "legacy.tar")
      yield* Pull.pull([`${host}/legacy/by-digest@${digest}`], path, { format: "legacy" })
      const manifest = JSON.parse(tarEntry(path, "manifest.json").toString()) as ReadonlyArray<{ RepoTags: unknown }>
      expect(manifest[0]?.RepoTags).toBeNull()
      expect(JSON.parse(tarEntry(path, "repositories").toString())).toEqual({})
    }))

  it.scoped("fills the cache on a first pull and reads no layer from the registry on the next", () =>
    Effect.gen(function* () {
      const { layers } = yield* pushed("cache/pull:v1")
      const dir = yield* tempDir
      const cache = join(dir, "cache")
      const first = requests.length
      yield* Pull.pull([`${host}/cache/pull:v1`], join(dir, "one.tar"), { cachePath: cache })
      expect(blobGets(first).filter((d) => layers.includes(d as Digest.Digest)).sort()).toEqual([...layers].sort())
      // Every entry is a layer's bytes, named by their digest.
      expect(readdirSync(cache).sort()).toEqual([...layers].sort())
      for (const name of readdirSync(cache)) expect(sha256(readFileSync(join(cache, name)))).toBe(name)

      const second = requests.length
      yield* Pull.pull([`${host}/cache/pull:v1`], join(dir, "two.tar"), { cachePath: cache })
      expect(blobGets(second).filter((d) => layers.includes(d as Digest.Digest))).toEqual([])
      expect(readFileSync(join(dir, "two.tar")).equals(readFileSync(join(dir, "one.tar")))).toBe(true)
    }))

  it.scoped("pulls from the cache when the registry no longer has the layers", () =>
    Effect.gen(function* () {
      const { layers } = yield* pushed("cache/gone:v1")
      const dir = yield* tempDir
      const cache = join(dir, "cache")
      yield* Pull.pull([`${host}/cache/gone:v1`], join(dir, "one.tar"), { cachePath: cache, format: "legacy" })
      const store = yield* BlobStore.BlobStore
      yield* Effect.forEach(layers, (d) => store.delete(d))
      const without = yield* Effect.exit(Pull.pull([`${host}/cache/gone:v1`], join(dir, "fails.tar")))
      expect(Exit.isFailure(without)).toBe(true)
      yield* Pull.pull([`${host}/cache/gone:v1`], join(dir, "two.tar"), { cachePath: cache, format: "legacy" })
      expect(readFileSync(join(dir, "two.tar")).equals(readFileSync(join(dir, "one.tar")))).toBe(true)
      yield* Pull.pull([`${host}/cache/gone:v1`], join(dir, "layout"), { cachePath: cache, format: "oci" })
      for (const d of layers) {
        expect(sha256(readFileSync(join(dir, "layout", "blobs", "sha256", d.slice("sha256:".length))))).toBe(d)
      }
    }))

  it.scoped("fetches a layer again when its cache entry is corrupt, and repairs the entry", () =>
    Effect.gen(function* () {
      const { layers } = yield* pushed("cache/corrupt:v1")
      const dir = yield* tempDir
      const cache = join(dir, "cache")
      yield* Pull.pull([`${host}/cache/corrupt:v1`], join(dir, "one.tar"), { cachePath: cache })
      const victim = layers[0]!
      const entry = join(cache, victim)
      const bytes = readFileSync(entry)
      bytes[10] = (bytes[10] ?? 0) ^ 0xff
      writeFileSync(entry, bytes)
      const before = requests.length
      yield* Pull.pull([`${host}/cache/corrupt:v1`], join(dir, "two.tar"), { cachePath: cache })
      expect(blobGets(before).filter((d) => layers.includes(d as Digest.Digest))).toEqual([victim])
      expect(sha256(readFileSync(entry))).toBe(victim)
      expect(readFileSync(join(dir, "two.tar")).equals(readFileSync(join(dir, "one.tar")))).toBe(true)
    }))
})
