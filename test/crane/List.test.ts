import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Inspect from "../../src/crane/Inspect.js"
import * as List from "../../src/crane/List.js"
import * as Tag from "../../src/crane/Tag.js"
import { env, host, pushImage } from "./support.js"

layer(env)("crane List, Tag and Delete", (it) => {
  it.effect("lists every tag of a repository", () =>
    Effect.gen(function* () {
      yield* pushImage("list/tags:a")
      yield* pushImage("list/tags:b")
      expect([...(yield* List.listTags(`${host}/list/tags`))].sort()).toEqual(["a", "b"])
    }))

  it.effect("leaves out sha256- tags with omitDigestTags", () =>
    Effect.gen(function* () {
      const digest = yield* pushImage("list/digest-tags:v1")
      yield* Tag.tag(`${host}/list/digest-tags:v1`, `sha256-${digest.slice(7)}.sig`)
      expect((yield* List.listTags(`${host}/list/digest-tags`)).length).toBe(2)
      expect(yield* List.listTags(`${host}/list/digest-tags`, { omitDigestTags: true })).toEqual(["v1"])
    }))

  it.effect("lists the repositories of a registry", () =>
    Effect.gen(function* () {
      yield* pushImage("list/catalog-a:v1")
      yield* pushImage("list/catalog-b:v1")
      const repositories = yield* List.catalog(host)
      expect(repositories).toContain("list/catalog-a")
      expect(repositories).toContain("list/catalog-b")
    }))

  it.effect("tags an image in its repository under the same digest", () =>
    Effect.gen(function* () {
      const digest = yield* pushImage("list/tag:v1")
      const tagged = yield* Tag.tag(`${host}/list/tag:v1`, "v2")
      expect(tagged.tag).toBe("v2")
      expect(tagged.repository.path).toBe("list/tag")
      expect([...(yield* List.listTags(`${host}/list/tag`))].sort()).toEqual(["v1", "v2"])
      expect(yield* Inspect.digest(`${host}/list/tag:v2`)).toBe(digest)
    }))

  it.effect("refuses a tag that is not a valid tag", () =>
    Effect.gen(function* () {
      yield* pushImage("list/bad-tag:v1")
      const error = yield* Effect.flip(Tag.tag(`${host}/list/bad-tag:v1`, "no/slashes"))
      expect(error._tag).toBe("InvalidReference")
    }))

  it.effect("deletes an image by digest", () =>
    Effect.gen(function* () {
      const digest = yield* pushImage("list/delete:v1")
      yield* Tag.remove(`${host}/list/delete@${digest}`)
      const error = yield* Effect.flip(Tag.remove(`${host}/list/delete@${digest}`))
      expect(error._tag).toBe("RegistryError")
      expect(error._tag === "RegistryError" ? error.status : undefined).toBe(404)
    }))
})
