import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import * as Digest from "../../src/domain/Digest.js"
import type * as Image from "../../src/domain/Image.js"
import * as Random from "../../src/domain/Random.js"
import * as Reference from "../../src/domain/Reference.js"
import * as Tarball from "../../src/formats/Tarball.js"
import { ensurePolicy, hasSkopeo, type OciDescriptor, readLayout, skopeo, withTempDir as tempDirs } from "./skopeoSupport.js"

const fixtures = fileURLToPath(new URL("../../../shared/fixtures/", import.meta.url))

const withTempDir = tempDirs("tarball-interop-")

const diffIdsOf = <E>(image: Image.Image<E>) => Effect.map(image.configFile, ConfigFile.diffIds)

const uncompressedDigests = <E>(image: Image.Image<E>) =>
  Effect.flatMap(image.layers, (layers) =>
    Effect.forEach(layers, (layer) => Effect.map(Digest.ofStream(layer.uncompressed), (m) => m.digest))
  )

describe("tarball interop with skopeo", () => {
  beforeAll(ensurePolicy)

  it.effect.skipIf(!hasSkopeo)("skopeo inspects a tarball we wrote and finds our config and diff ids", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const image = yield* Random.image({ layerSize: 20_000, layers: 3, seed: "interop-inspect" })
        const file = join(dir, "image.tar")
        yield* Tarball.writeToFile(file, [[yield* Reference.parseTag("example.com/interop/image:v1"), image]])
        const diffIds = yield* diffIdsOf(image)
        // containers/image lists a docker-archive's layers by their uncompressed digests.
        const inspected = JSON.parse(yield* skopeo("inspect", `docker-archive:${file}`)) as { Layers: Array<string> }
        expect(inspected.Layers).toEqual(diffIds)
        const raw = JSON.parse(yield* skopeo("inspect", "--raw", `docker-archive:${file}`)) as { config: OciDescriptor }
        expect(raw.config.digest).toBe(yield* image.configName)
        const config = JSON.parse(yield* skopeo("inspect", "--config", `docker-archive:${file}`)) as {
          rootfs: { diff_ids: ReadonlyArray<string> }
        }
        expect(config.rootfs.diff_ids).toEqual(diffIds)
      })
    )
  )

  it.effect.skipIf(!hasSkopeo)("skopeo copies a tarball we wrote to an OCI layout, keeping config and diff ids", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const image = yield* Random.image({ layerSize: 20_000, layers: 2, seed: "interop-copy" })
        const file = join(dir, "image.tar")
        yield* Tarball.writeToFile(file, [[yield* Reference.parseTag("example.com/interop/image:v1"), image]])
        const layout = join(dir, "layout")
        yield* skopeo("copy", "--preserve-digests", `docker-archive:${file}`, `oci:${layout}:v1`)
        const copied = readLayout(layout)
        const diffIds = yield* diffIdsOf(image)
        expect(copied.manifest.config.digest).toBe(yield* image.configName)
        expect(copied.config.rootfs.diff_ids).toEqual(diffIds)
        // The layers arrive uncompressed: each blob is the tar whose digest is the diff id.
        expect(copied.manifest.layers.map((l) => l.digest)).toEqual(diffIds)
        for (const layer of copied.manifest.layers) {
          expect(Digest.fromBytes(copied.blob(layer.digest))).toBe(layer.digest)
        }
      })
    )
  )

  it.effect.skipIf(!hasSkopeo)("skopeo reads each image of a multi-image tarball we wrote by its tag", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const one = yield* Random.image({ layerSize: 5_000, layers: 1, seed: "interop-one" })
        const two = yield* Random.image({ layerSize: 5_000, layers: 2, seed: "interop-two" })
        const file = join(dir, "images.tar")
        yield* Tarball.writeToFile(file, [
          [yield* Reference.parseTag("example.com/interop/one:v1"), one],
          [yield* Reference.parseTag("example.com/interop/two:v2"), two]
        ])
        for (const [name, image] of [["example.com/interop/one:v1", one], ["example.com/interop/two:v2", two]] as const) {
          const inspected = JSON.parse(yield* skopeo("inspect", `docker-archive:${file}:${name}`)) as {
            Layers: Array<string>
          }
          expect(inspected.Layers).toEqual(yield* diffIdsOf(image))
        }
      })
    )
  )

  it.effect.skipIf(!hasSkopeo)("reads a tarball skopeo wrote from an OCI layout, with the layout's diff ids", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const source = join(fixtures, "ggcr/layout/test_index_one_image")
        const file = join(dir, "skopeo.tar")
        yield* skopeo("copy", `oci:${source}`, `docker-archive:${file}:example/one:v1`)
        const expected = readLayout(source)
        const image = yield* Tarball.imageFromFile(file, { tag: yield* Reference.parseTag("example/one:v1") })
        expect(yield* image.configName).toBe(expected.manifest.config.digest)
        expect(yield* diffIdsOf(image)).toEqual(expected.config.rootfs.diff_ids)
        expect(yield* uncompressedDigests(image)).toEqual(expected.config.rootfs.diff_ids)
      })
    )
  )

  it.effect.skipIf(!hasSkopeo)("reads back a tarball skopeo rewrote from ours, with the same config and diff ids", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const image = yield* Random.image({ layerSize: 20_000, layers: 2, seed: "interop-rewrite" })
        const ours = join(dir, "ours.tar")
        const theirs = join(dir, "theirs.tar")
        yield* Tarball.writeToFile(ours, [[yield* Reference.parseTag("example.com/interop/image:v1"), image]])
        yield* skopeo("copy", `docker-archive:${ours}`, `docker-archive:${theirs}:example.com/interop/copy:v2`)
        const copy = yield* Tarball.imageFromFile(theirs, { tag: yield* Reference.parseTag("example.com/interop/copy:v2") })
        expect(yield* copy.configName).toBe(yield* image.configName)
        expect(yield* uncompressedDigests(copy)).toEqual(yield* diffIdsOf(image))
      })
    )
  )
})

describe("tarball written by Docker", () => {
  it.effect("reads containers/image's almostempty.tar: its config and its layer's diff id", () =>
    Effect.gen(function* () {
      const image = yield* Tarball.imageFromFile(join(fixtures, "containers-image/docker-archive/almostempty.tar"), {
        tag: yield* Reference.parseTag("emptyimage:latest")
      })
      expect(yield* image.configName).toBe(
        "sha256:9d7f147c0d0c4d4538a04c7ef385809e56eb1aac7bf800fbe976612188025b68"
      )
      expect((yield* image.configFile).docker_version).toBe("1.10.3")
      expect(yield* uncompressedDigests(image)).toEqual([
        "sha256:0b916d257bd406111a3fced53f81b47de9a30f7c7d514a89769b3483aaddca7e"
      ])
      const [layer] = yield* image.layers
      expect((yield* Stream.runCollect(layer!.uncompressed)).length).toBeGreaterThan(0)
    }).pipe(Effect.provide(NodeFileSystem.layer))
  )
})
