import * as FileSystem from "@effect/platform/FileSystem"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { join } from "node:path"
import * as CraneLayout from "../../src/crane/Layout.js"
import * as Layout from "../../src/formats/Layout.js"
import { env, randomImage } from "./support.js"

/** The digests named by the files under `blobs/`, sorted. */
const blobs = (dir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const names = yield* fs.readDirectory(join(dir, "blobs", "sha256"))
    return names.map((n) => `sha256:${n}`).sort()
  })

/** Every blob of an image: manifest, config, layers. */
const blobsOf = (seed: string) =>
  Effect.gen(function* () {
    const image = yield* randomImage(seed)
    const manifest = yield* image.manifest
    return { image, digests: [yield* image.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)] }
  })

layer(env)("crane Layout", (it) => {
  it.scoped("removes exactly the blobs of an entry taken out of index.json, and reports them", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "crane-gc-" })
      const kept = yield* blobsOf("gc-kept")
      const dropped = yield* blobsOf("gc-dropped")
      yield* Layout.appendImage(dir, kept.image)
      yield* Layout.appendImage(dir, dropped.image)
      expect(yield* CraneLayout.gc(dir)).toEqual([])
      yield* Layout.removeDescriptors(dir, Layout.hasDigest(dropped.digests[0] as Parameters<typeof Layout.hasDigest>[0]))

      const reported = yield* CraneLayout.gc(dir, { dryRun: true })
      expect(reported).toEqual([...dropped.digests].sort())
      expect(yield* blobs(dir)).toEqual([...kept.digests, ...dropped.digests].sort())

      expect(yield* CraneLayout.gc(dir)).toEqual([...dropped.digests].sort())
      expect(yield* blobs(dir)).toEqual([...kept.digests].sort())
      expect(yield* CraneLayout.gc(dir)).toEqual([])
    }))

  it.scoped("fails on a directory that is not a layout", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ prefix: "crane-gc-" })
      const error = yield* Effect.flip(CraneLayout.gc(dir))
      expect(error._tag).toBe("LayoutError")
    }))
})
