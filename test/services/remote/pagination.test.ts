/**
 * Tag listings longer than a page, against our registry over HTTP: `Remote.list` follows the
 * `Link` headers page by page to the last tag. (The same listing against docker-registry is in
 * test/interop/docker-registry-tags.test.ts.)
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as MediaType from "../../../src/domain/MediaType.js"
import * as Random from "../../../src/domain/Random.js"
import * as Remote from "../../../src/services/Remote.js"
import { freshRepository, oursOverHttp, recordFromNow, requests, tagOf } from "./support.js"

/** `t000` ... `t249`: 250 tags whose lexical order is their number's. */
const tags = Array.from({ length: 250 }, (_, i) => `t${String(i).padStart(3, "0")}`)

// A repository holding one small image under each of `tags`.
const tagged = (name: string) =>
  Effect.gen(function*() {
    const repo = yield* freshRepository(name)
    const image = yield* Random.image({ layers: 1, layerSize: 1_000, seed: name, mediaType: MediaType.OCI_MANIFEST })
    yield* Remote.write(tagOf(repo, tags[0]!), image)
    yield* Effect.forEach(tags.slice(1), (tag) => Remote.tag(tagOf(repo, tag), image), { concurrency: 8, discard: true })
    return repo
  })

describe("Remote.list over many pages", () => {
  layer(oursOverHttp(), { excludeTestServices: true })("against our registry over HTTP", (it) => {
    it.effect("lists 250 tags in three pages of at most 100, in order", () =>
      Effect.gen(function*() {
        const repo = yield* tagged("pages")
        const sent = yield* recordFromNow
        const listed = yield* Remote.list(repo, { pageSize: 100 })
        expect(listed).toEqual(tags)
        const pages = requests(sent(), "GET", "/tags/list")
        expect(pages).toHaveLength(3)
        expect(pages.map((p) => p.query.get("n"))).toEqual(["100", "100", "100"])
        expect(pages.map((p) => p.query.get("last"))).toEqual([null, "t099", "t199"])
      }))

    it.effect("lists 250 tags in one request with the default page size", () =>
      Effect.gen(function*() {
        const repo = yield* tagged("one-page")
        const sent = yield* recordFromNow
        expect(yield* Remote.list(repo)).toEqual(tags)
        expect(requests(sent(), "GET", "/tags/list")).toHaveLength(1)
      }))

    it.effect("pages by hand with listPage until there is no next page", () =>
      Effect.gen(function*() {
        const repo = yield* tagged("by-hand")
        const sizes: Array<number> = []
        let page = yield* Remote.listPage(repo, { n: 100 })
        sizes.push(page.items.length)
        while (Option.isSome(page.next)) {
          page = yield* Remote.listPage(repo, page.next.value)
          sizes.push(page.items.length)
        }
        expect(sizes).toEqual([100, 100, 50])
        expect(page.items.at(-1)).toBe("t249")
      }))
  })
})
