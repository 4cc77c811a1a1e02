import { expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Copy from "../../src/crane/Copy.js"
import * as Inspect from "../../src/crane/Inspect.js"
import * as List from "../../src/crane/List.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Progress from "../../src/services/Progress.js"
import { arm64, env, host, pushImage, pushIndex, text } from "./support.js"

layer(env)("crane Copy", (it) => {
  it.effect("copies an image to another repository keeping its digest", () =>
    Effect.gen(function* () {
      const pushed = yield* pushImage("copy/src:v1")
      yield* Copy.copy(`${host}/copy/src:v1`, `${host}/copy/dst:v1`)
      expect(yield* Inspect.digest(`${host}/copy/dst:v1`)).toBe(pushed)
    }))

  it.effect("copies a whole index when no platform is asked for", () =>
    Effect.gen(function* () {
      const index = yield* pushIndex("copy/index-src:v1")
      yield* Copy.copy(`${host}/copy/index-src:v1`, `${host}/copy/index-dst:v1`)
      const copied = yield* Inspect.get(`${host}/copy/index-dst:v1`)
      expect(copied.descriptor.digest).toBe(yield* index.digest)
      expect(MediaType.isIndex(copied.mediaType)).toBe(true)
      for (const child of (yield* index.indexManifest).manifests) {
        expect(yield* Inspect.digest(`${host}/copy/index-dst@${child.digest}`)).toBe(child.digest)
      }
    }))

  it.effect("copies only the platform's image of an index when a platform is asked for", () =>
    Effect.gen(function* () {
      const index = yield* pushIndex("copy/platform-src:v1")
      const arm = (yield* index.indexManifest).manifests.find((d) => d.platform?.architecture === "arm64")
      yield* Copy.copy(`${host}/copy/platform-src:v1`, `${host}/copy/platform-dst:v1`, { platform: arm64 })
      const copied = yield* Inspect.get(`${host}/copy/platform-dst:v1`)
      expect(copied.descriptor.digest).toBe(arm?.digest)
      expect(MediaType.isImage(copied.mediaType)).toBe(true)
    }))

  it.effect("refuses to overwrite an existing tag with noClobber", () =>
    Effect.gen(function* () {
      yield* pushImage("copy/clobber-src:v1", "a")
      const existing = yield* pushImage("copy/clobber-dst:v1", "b")
      const error = yield* Effect.flip(
        Copy.copy(`${host}/copy/clobber-src:v1`, `${host}/copy/clobber-dst:v1`, { noClobber: true })
      )
      expect(error._tag).toBe("CraneError")
      expect(error.message).toContain("refusing to clobber existing tag")
      expect(yield* Inspect.digest(`${host}/copy/clobber-dst:v1`)).toBe(existing)
    }))

  it.effect("copies to a new tag with noClobber", () =>
    Effect.gen(function* () {
      const pushed = yield* pushImage("copy/fresh-src:v1")
      yield* Copy.copy(`${host}/copy/fresh-src:v1`, `${host}/copy/fresh-dst:v1`, { noClobber: true })
      expect(yield* Inspect.digest(`${host}/copy/fresh-dst:v1`)).toBe(pushed)
    }))

  it.effect("copies every tag of a repository", () =>
    Effect.gen(function* () {
      const one = yield* pushImage("copy/all-src:one")
      const two = yield* pushImage("copy/all-src:two")
      const copied = yield* Copy.copyRepository(`${host}/copy/all-src`, `${host}/copy/all-dst`, { jobs: 2 })
      expect([...copied].sort()).toEqual(["one", "two"])
      expect(yield* Inspect.digest(`${host}/copy/all-dst:one`)).toBe(one)
      expect(yield* Inspect.digest(`${host}/copy/all-dst:two`)).toBe(two)
    }))

  it.effect("skips the tags the destination has when copying a repository with noClobber", () =>
    Effect.gen(function* () {
      yield* pushImage("copy/keep-src:one", "src-one")
      yield* pushImage("copy/keep-src:two", "src-two")
      const kept = yield* pushImage("copy/keep-dst:one", "dst-one")
      const copied = yield* Copy.copyRepository(`${host}/copy/keep-src`, `${host}/copy/keep-dst`, { noClobber: true })
      expect(copied).toEqual(["two"])
      expect(yield* Inspect.digest(`${host}/copy/keep-dst:one`)).toBe(kept)
      expect([...(yield* List.listTags(`${host}/copy/keep-dst`))].sort()).toEqual(["one", "two"])
    }))

  it.effect("reports each blob it moves to the Progress in the context", () =>
    Effect.gen(function* () {
      yield* pushImage("copy/progress-src:v1")
      const events = yield* Ref.make(Chunk.empty<Progress.Event>())
      yield* Copy.copy(`${host}/copy/progress-src:v1`, `${host}/copy/progress-dst:v1`).pipe(
        Effect.provide(Progress.layerRef(events))
      )
      const seen = Chunk.toReadonlyArray(yield* Ref.get(events))
      expect(seen.length).toBeGreaterThan(0)
      expect(seen.every((e) => e.id.startsWith("sha256:"))).toBe(true)
      expect(text(yield* Inspect.manifest(`${host}/copy/progress-dst:v1`))).toBe(
        text(yield* Inspect.manifest(`${host}/copy/progress-src:v1`))
      )
    }))
})
