import * as FileSystem from "@effect/platform/FileSystem"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Inspect from "../../src/crane/Inspect.js"
import * as Pull from "../../src/crane/Pull.js"
import * as Push from "../../src/crane/Push.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Reference from "../../src/domain/Reference.js"
import * as Layout from "../../src/formats/Layout.js"
import * as Tarball from "../../src/formats/Tarball.js"
import { env, host, pushImage, pushIndex } from "./support.js"

const fixtures = new URL("../../../shared/fixtures/ggcr/", import.meta.url)
const fixture = (path: string) => fileURLToPath(new URL(path, fixtures))

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "crane-test-" }))

layer(env)("crane Pull and Push", (it) => {
  it.scoped("pulls an image to a docker save tarball that pushes back to the same digest", () =>
    Effect.gen(function* () {
      const pushed = yield* pushImage("transfer/tarball:v1")
      const path = join(yield* tempDir, "image.tar")
      yield* Pull.pull([`${host}/transfer/tarball:v1`], path)
      const back = yield* Push.push(path, `${host}/transfer/tarball-back:v1`)
      expect(back.digest).toBe(pushed)
      const manifest = yield* Tarball.loadManifest(yield* Tarball.fileOpener(path))
      expect(manifest[0]?.RepoTags).toEqual([`${host}/transfer/tarball:v1`])
    }))

  it.scoped("records an image pulled by digest under the i-was-a-digest tag", () =>
    Effect.gen(function* () {
      const digest = yield* pushImage("transfer/by-digest:v1")
      const path = join(yield* tempDir, "image.tar")
      yield* Pull.pull([`${host}/transfer/by-digest@${digest}`], path)
      const manifest = yield* Tarball.loadManifest(yield* Tarball.fileOpener(path))
      expect(manifest[0]?.RepoTags).toEqual([`${host}/transfer/by-digest:${Pull.digestTag}`])
    }))

  it.scoped("pulls a whole index to an OCI layout, named by its reference with annotateRef", () =>
    Effect.gen(function* () {
      const index = yield* pushIndex("transfer/layout-index:v1")
      const dir = join(yield* tempDir, "layout")
      yield* Pull.pull([`${host}/transfer/layout-index:v1`], dir, { format: "oci", annotateRef: true })
      const [entry] = yield* Layout.descriptors(dir)
      expect(entry?.digest).toBe(yield* index.digest)
      expect(MediaType.isIndex(entry?.mediaType ?? "")).toBe(true)
      expect(entry?.annotations?.[Layout.refNameAnnotation]).toBe(`${host}/transfer/layout-index:v1`)
    }))

  it.scoped("adds pulled images to an existing layout", () =>
    Effect.gen(function* () {
      const one = yield* pushImage("transfer/layout:one")
      const two = yield* pushImage("transfer/layout:two")
      const dir = join(yield* tempDir, "layout")
      yield* Pull.pull([`${host}/transfer/layout:one`], dir, { format: "oci" })
      yield* Pull.pull([`${host}/transfer/layout:two`], dir, { format: "oci" })
      expect((yield* Layout.descriptors(dir)).map((d) => d.digest)).toEqual([one, two])
    }))

  it.scoped("pushes the one image of a layout and gives its reference by digest", () =>
    Effect.gen(function* () {
      const digest = yield* pushImage("transfer/push-layout:v1")
      const dir = join(yield* tempDir, "layout")
      yield* Pull.pull([`${host}/transfer/push-layout:v1`], dir, { format: "oci" })
      const pushed = yield* Push.push(dir, `${host}/transfer/pushed-layout:v1`)
      expect(Reference.format(pushed)).toBe(`${host}/transfer/pushed-layout@${digest}`)
      expect(yield* Inspect.digest(`${host}/transfer/pushed-layout:v1`)).toBe(digest)
    }))

  it.effect("refuses a layout of several entries unless pushed as an index", () =>
    Effect.gen(function* () {
      const dir = fixture("layout/test_index")
      const error = yield* Effect.flip(Push.push(dir, `${host}/transfer/ambiguous:v1`))
      expect(error._tag).toBe("CraneError")
      expect(error.message).toContain("consider --index")
    }))

  it.effect("pushes a docker save tarball written by Docker", () =>
    Effect.gen(function* () {
      const pushed = yield* Push.push(fixture("tarball/test_image_1.tar"), `${host}/transfer/docker:v1`)
      expect(yield* Inspect.digest(`${host}/transfer/docker:v1`)).toBe(pushed.digest)
    }))
})
