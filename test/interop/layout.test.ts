import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { beforeAll, describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import * as Digest from "../../src/domain/Digest.js"
import type * as Image from "../../src/domain/Image.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Random from "../../src/domain/Random.js"
import * as Layout from "../../src/formats/Layout.js"

const skopeo = "/usr/bin/skopeo"
const umoci = "/usr/bin/umoci"
const hasSkopeo = existsSync(skopeo)
const hasUmoci = existsSync(umoci)
const policy = "/etc/containers/policy.json"

beforeAll(() => {
  if (!hasSkopeo || existsSync(policy)) return
  mkdirSync("/etc/containers", { recursive: true })
  writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }))
})

const exec = promisify(execFile)

/** Runs a program; fails with its stderr when it exits with another status than 0. */
const run = (program: string, ...args: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: () => exec(program, args, { maxBuffer: 64 * 1024 * 1024 }),
    catch: (e) => new Error(`${program} ${args.join(" ")} failed: ${String((e as { stderr?: unknown }).stderr ?? e)}`)
  }).pipe(Effect.map((r) => r.stdout))

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "layout-interop-" }))

/** A generated image with OCI media types (umoci accepts nothing else). */
const ociImage = (seed: string) =>
  Random.image({ layerSize: 4096, layers: 2, seed, mediaType: MediaType.OCI_MANIFEST })

/** A layout in a fresh directory holding the image under a ref name. */
const layoutWith = <E>(image: Image.Image<E>, name: string) =>
  Effect.gen(function* () {
    const dir = join(yield* tempDir, "layout")
    yield* Layout.appendImage(dir, image, { annotations: { [Layout.refNameAnnotation]: name } })
    return dir
  })

const imageNamed = (dir: string, name: string) =>
  Effect.flatMap(Layout.findByRefName(dir, name), (found) =>
    Option.isSome(found) && found.value._tag === "Image"
      ? Effect.succeed(found.value.image)
      : Effect.fail(new Error(`no image named ${name} in ${dir}`))
  )

const blobsOf = <E>(image: Image.Image<E>) =>
  Effect.gen(function* () {
    const layers = yield* Effect.forEach(yield* image.layers, (l) => l.digest)
    return { manifest: yield* image.digest, config: yield* image.configName, layers }
  })

/** Reads every layer through the layout (verified against its name) and checks its diff id. */
const checkLayers = <E>(image: Image.Image<E>) =>
  Effect.gen(function* () {
    const diffIds = ConfigFile.diffIds(yield* image.configFile)
    const layers = yield* image.layers
    expect(layers.length).toBe(diffIds.length)
    for (const [i, layer] of layers.entries()) {
      expect((yield* Digest.ofStream(layer.compressed)).digest).toBe(yield* layer.digest)
      expect((yield* Digest.ofStream(layer.uncompressed)).digest).toBe(diffIds[i])
    }
  })

layer(NodeContext.layer, { excludeTestServices: true })("OCI layouts with skopeo and umoci", (it) => {
  describe("skopeo", () => {
    it.scoped.skipIf(!hasSkopeo)("inspects an image we wrote by its ref name, seeing our manifest bytes", () =>
      Effect.gen(function* () {
        const image = yield* ociImage("skopeo inspect")
        const dir = yield* layoutWith(image, "v1")
        const raw = yield* run(skopeo, "inspect", "--raw", `oci:${dir}:v1`)
        expect(Digest.fromBytes(raw)).toBe(yield* image.digest)
        const inspected = JSON.parse(yield* run(skopeo, "inspect", `oci:${dir}:v1`)) as { Digest: string; Layers: Array<string> }
        expect(inspected.Digest).toBe(yield* image.digest)
        expect(inspected.Layers).toEqual((yield* blobsOf(image)).layers)
      })
    )

    it.scoped.skipIf(!hasSkopeo)("copies an image from our layout into another OCI layout", () =>
      Effect.gen(function* () {
        const image = yield* ociImage("skopeo copy oci")
        const dir = yield* layoutWith(image, "v1")
        const target = join(yield* tempDir, "copy")
        yield* run(skopeo, "copy", "--quiet", `oci:${dir}:v1`, `oci:${target}:v1`)
        const raw = yield* run(skopeo, "inspect", "--raw", `oci:${target}:v1`)
        expect(Digest.fromBytes(raw)).toBe(yield* image.digest)
      })
    )

    it.scoped.skipIf(!hasSkopeo)("copies an image from our layout into a docker-archive", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const image = yield* ociImage("skopeo copy docker-archive")
        const dir = yield* layoutWith(image, "v1")
        const archive = join(yield* tempDir, "image.tar")
        yield* run(skopeo, "copy", "--quiet", `oci:${dir}:v1`, `docker-archive:${archive}`)
        const inspected = JSON.parse(yield* run(skopeo, "inspect", `docker-archive:${archive}`)) as { Layers: Array<string> }
        expect(inspected.Layers.length).toBe((yield* image.layers).length)
        expect(Number((yield* fs.stat(archive)).size)).toBeGreaterThan(2 * 4096)
      })
    )

    it.scoped.skipIf(!hasSkopeo)("reads back a layout skopeo wrote from ours, with every digest unchanged", () =>
      Effect.gen(function* () {
        const image = yield* ociImage("skopeo round trip")
        const dir = yield* layoutWith(image, "v1")
        const target = join(yield* tempDir, "skopeo")
        yield* run(skopeo, "copy", "--quiet", `oci:${dir}:v1`, `oci:${target}:tag2`)
        const back = yield* imageNamed(target, "tag2")
        expect(yield* blobsOf(back)).toEqual(yield* blobsOf(image))
        yield* checkLayers(back)
        expect(yield* Layout.garbageCollect(target)).toEqual([])
      })
    )

    it.scoped.skipIf(!hasSkopeo)("reads a layout skopeo converted from a docker-archive", () =>
      Effect.gen(function* () {
        const image = yield* ociImage("skopeo conversion")
        const dir = yield* layoutWith(image, "v1")
        const archive = join(yield* tempDir, "image.tar")
        const target = join(yield* tempDir, "converted")
        yield* run(skopeo, "copy", "--quiet", `oci:${dir}:v1`, `docker-archive:${archive}`)
        yield* run(skopeo, "copy", "--quiet", `docker-archive:${archive}`, `oci:${target}:converted`)
        const back = yield* imageNamed(target, "converted")
        expect(yield* back.mediaType).toBe(MediaType.OCI_MANIFEST)
        expect(ConfigFile.diffIds(yield* back.configFile)).toEqual(ConfigFile.diffIds(yield* image.configFile))
        yield* checkLayers(back)
      })
    )
  })

  describe("umoci", () => {
    it.scoped.skipIf(!hasUmoci)("stats an image we wrote, seeing its history", () =>
      Effect.gen(function* () {
        const image = yield* ociImage("umoci stat")
        const dir = yield* layoutWith(image, "v1")
        const stat = JSON.parse(yield* run(umoci, "stat", "--json", "--image", `${dir}:v1`)) as { history: Array<unknown> }
        expect(stat.history.length).toBe((yield* image.configFile).history?.length)
      })
    )

    it.scoped.skipIf(!hasUmoci)("adds an image to a layout umoci made, and umoci reads both", () =>
      Effect.gen(function* () {
        const dir = join(yield* tempDir, "umoci")
        yield* run(umoci, "init", "--layout", dir)
        yield* run(umoci, "new", "--image", `${dir}:base`)
        const base = yield* imageNamed(dir, "base")
        expect((yield* base.layers).length).toBe(0)
        const image = yield* ociImage("umoci append")
        yield* Layout.appendImage(dir, image, { annotations: { [Layout.refNameAnnotation]: "ours" } })
        yield* run(umoci, "stat", "--image", `${dir}:ours`)
        yield* run(umoci, "stat", "--image", `${dir}:base`)
        expect(yield* Layout.garbageCollect(dir)).toEqual([])
      })
    )
  })
})
