/**
 * Long tag listings against the CNCF distribution registry 2.8 (Debian's docker-registry),
 * which answers a tags list whole whatever `n` asks for: every one of 250 tags is listed, with
 * or without a page size.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Random from "../../src/domain/Random.js"
import * as Remote from "../../src/services/Remote.js"
import { hasDockerRegistry } from "../registry/peers.js"
import { dockerRegistry, freshRepository, recordFromNow, requests, tagOf } from "../services/remote/support.js"

const tags = Array.from({ length: 250 }, (_, i) => `t${String(i).padStart(3, "0")}`)

describe.skipIf(!hasDockerRegistry)("Remote.list against docker-registry", () => {
  layer(dockerRegistry(), { excludeTestServices: true })((it) => {
    it.effect("lists all of 250 tags, with the default page size and with pages of 100", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("many-tags")
        const image = yield* Random.image({ layers: 1, layerSize: 1_000, seed: "many-tags", mediaType: MediaType.OCI_MANIFEST })
        yield* Remote.write(tagOf(repo, tags[0]!), image)
        yield* Effect.forEach(tags.slice(1), (tag) => Remote.tag(tagOf(repo, tag), image), { concurrency: 8, discard: true })
        expect([...(yield* Remote.list(repo))].sort()).toEqual(tags)
        const sent = yield* recordFromNow
        const paged = yield* Remote.list(repo, { pageSize: 100 })
        expect([...paged].sort()).toEqual(tags)
        expect(new Set(paged).size).toBe(250)
        // it sends all of them at once, with no Link to a next page
        expect(requests(sent(), "GET", "/tags/list")).toHaveLength(1)
      }), 60_000)
  })
})
