import * as FileSystem from "@effect/platform/FileSystem"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { join } from "node:path"
import * as Index from "../../src/crane/Index.js"
import * as Inspect from "../../src/crane/Inspect.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Platform from "../../src/domain/Platform.js"
import * as Reference from "../../src/domain/Reference.js"
import * as Layout from "../../src/formats/Layout.js"
import * as Remote from "../../src/services/Remote.js"
import { amd64, arm64, env, host, pushImage, pushIndex } from "./support.js"

layer(env)("crane Index", (it) => {
  it.effect("lists the children of an index", () =>
    Effect.gen(function* () {
      const index = yield* pushIndex("index/list:v1")
      const children = yield* Index.list(`${host}/index/list:v1`)
      expect(children).toEqual((yield* index.indexManifest).manifests)
    }))

  it.effect("refuses to list an image as an index", () =>
    Effect.gen(function* () {
      yield* pushImage("index/not-index:v1")
      const error = yield* Effect.flip(Index.list(`${host}/index/not-index:v1`))
      expect(error.message).toContain("to be an index")
    }))

  it.effect("keeps only the children for the platforms asked for", () =>
    Effect.gen(function* () {
      yield* pushIndex("index/filter:v1")
      const pushed = yield* Index.filter(`${host}/index/filter:v1`, [arm64], { tag: `${host}/index/filter:arm` })
      const children = yield* Index.list(`${host}/index/filter:arm`)
      expect(children.map((d) => d.platform)).toEqual([arm64])
      expect(yield* Inspect.digest(`${host}/index/filter:arm`)).toBe(pushed.digest)
    }))

  it.effect("keeps a child whose platform satisfies a platform without a variant", () =>
    Effect.gen(function* () {
      yield* pushIndex("index/filter-os:v1")
      yield* Index.filter(`${host}/index/filter-os:v1`, [Platform.make({ os: "linux", architecture: "" })], {
        tag: `${host}/index/filter-os:linux`
      })
      expect((yield* Index.list(`${host}/index/filter-os:linux`)).length).toBe(2)
    }))

  it.effect("builds an index from images, listing each with the platform of its config", () =>
    Effect.gen(function* () {
      const amd = yield* pushImage("index/append:amd", "amd", amd64)
      const arm = yield* pushImage("index/append:arm", "arm", arm64)
      const pushed = yield* Index.append(undefined, [`${host}/index/append:amd`, `${host}/index/append:arm`], {
        tag: `${host}/index/append:multi`
      })
      const fetched = yield* Inspect.get(`${host}/index/append:multi`)
      const children = yield* Index.list(`${host}/index/append:multi`)
      expect(Option.map(pushed, (r) => r.digest)).toEqual(Option.some(fetched.descriptor.digest))
      expect(fetched.mediaType).toBe(MediaType.OCI_INDEX)
      expect(children.map((d) => [d.digest, d.platform])).toEqual([[amd, amd64], [arm, arm64]])
    }))

  it.effect("appends the children of an index rather than the index itself", () =>
    Effect.gen(function* () {
      const index = yield* pushIndex("index/flatten:v1")
      yield* Index.append(undefined, [`${host}/index/flatten:v1`], { tag: `${host}/index/flatten:copy` })
      const children = yield* Index.list(`${host}/index/flatten:copy`)
      expect(children.map((d) => d.digest)).toEqual((yield* index.indexManifest).manifests.map((d) => d.digest))
    }))

  it.effect("builds a Docker manifest list with dockerEmptyBase", () =>
    Effect.gen(function* () {
      yield* pushImage("index/docker:amd", "docker-amd")
      yield* Index.append(undefined, [`${host}/index/docker:amd`], { tag: `${host}/index/docker:list`, dockerEmptyBase: true })
      expect((yield* Inspect.get(`${host}/index/docker:list`)).mediaType).toBe(MediaType.DOCKER_MANIFEST_LIST)
    }))

  it.effect("needs a base or a tag", () =>
    Effect.gen(function* () {
      yield* pushImage("index/none:v1")
      const error = yield* Effect.flip(Index.append(undefined, [`${host}/index/none:v1`]))
      expect(error.message).toBe("at least one of --base or --tag must be specified")
    }))

  it.scoped("adds manifests to a local layout given as the base", () =>
    Effect.gen(function* () {
      const digest = yield* pushImage("index/local:v1", "local", arm64)
      const fs = yield* FileSystem.FileSystem
      const dir = join(yield* fs.makeTempDirectoryScoped({ prefix: "crane-index-" }), "layout")
      const pushed = yield* Index.append(dir, [`${host}/index/local:v1`])
      expect(Option.isNone(pushed)).toBe(true)
      const entries = yield* Layout.descriptors(dir)
      expect(entries.map((d) => d.digest)).toEqual([digest])
      const image = yield* Remote.image(yield* Reference.parse(`${host}/index/local:v1`))
      expect(entries[0]?.size).toBe(yield* image.size)
    }))
})
