/**
 * Legacy tarballs we write, read by skopeo (containers/image's docker-archive transport).
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { join } from "node:path"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import * as Digest from "../../src/domain/Digest.js"
import * as Random from "../../src/domain/Random.js"
import * as Reference from "../../src/domain/Reference.js"
import * as LegacyTarball from "../../src/formats/LegacyTarball.js"
import { ensurePolicy, hasSkopeo, type OciDescriptor, readLayout, skopeo, withTempDir as tempDirs } from "./skopeoSupport.js"

const withTempDir = tempDirs("legacy-interop-")

describe("legacy tarball interop with skopeo", () => {
  beforeAll(ensurePolicy)

  it.effect.skipIf(!hasSkopeo)("skopeo copies a legacy tarball we wrote to an OCI layout with the same layers", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const image = yield* Random.image({ layerSize: 20_000, layers: 3, seed: "legacy-interop-copy" })
        const file = join(dir, "legacy.tar")
        yield* LegacyTarball.writeToFile(file, [[yield* Reference.parseTag("example.com/legacy/image:v1"), image]])
        const inspected = JSON.parse(yield* skopeo("inspect", `docker-archive:${file}`)) as { Layers: Array<string> }
        const diffIds = ConfigFile.diffIds(yield* image.configFile)
        expect(inspected.Layers).toEqual(diffIds)
        const layout = join(dir, "layout")
        yield* skopeo("copy", "--preserve-digests", `docker-archive:${file}`, `oci:${layout}:v1`)
        const copied = readLayout(layout)
        expect(copied.manifest.config.digest).toBe(yield* image.configName)
        // docker-archive layers arrive uncompressed: each blob is the tar whose digest is the diff id.
        expect(copied.manifest.layers.map((l) => l.digest)).toEqual(diffIds)
        for (const layer of copied.manifest.layers) {
          expect(Digest.fromBytes(copied.blob(layer.digest))).toBe(layer.digest)
        }
      })
    ))

  it.effect.skipIf(!hasSkopeo)("skopeo finds each image of a multi-image legacy tarball by its tag", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const one = yield* Random.image({ layerSize: 5_000, layers: 1, seed: "legacy-interop-one" })
        const two = yield* Random.image({ layerSize: 5_000, layers: 2, seed: "legacy-interop-two" })
        const file = join(dir, "images.tar")
        yield* LegacyTarball.writeToFile(file, [
          [yield* Reference.parseTag("example.com/interop/one:v1"), one],
          [yield* Reference.parseTag("example.com/interop/two:v2"), two]
        ])
        for (const [name, image] of [["example.com/interop/one:v1", one], ["example.com/interop/two:v2", two]] as const) {
          const raw = JSON.parse(yield* skopeo("inspect", "--raw", `docker-archive:${file}:${name}`)) as {
            config: OciDescriptor
          }
          expect(raw.config.digest).toBe(yield* image.configName)
          const inspected = JSON.parse(yield* skopeo("inspect", `docker-archive:${file}:${name}`)) as { Layers: Array<string> }
          expect(inspected.Layers).toEqual(ConfigFile.diffIds(yield* image.configFile))
        }
      })
    ))
})
