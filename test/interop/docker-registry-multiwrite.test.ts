/**
 * `Remote.multiWrite` against the CNCF distribution registry 2.8 (Debian's docker-registry):
 * two images that share their base layers, written to two repositories at once, send each
 * shared blob's bytes once and mount it into the other repository.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Mutate from "../../src/domain/Mutate.js"
import * as Random from "../../src/domain/Random.js"
import * as Remote from "../../src/services/Remote.js"
import { hasDockerRegistry } from "../registry/peers.js"
import { digestsOf, dockerRegistry, freshRepository, recordFromNow, requests, tagOf } from "../services/remote/support.js"

describe.skipIf(!hasDockerRegistry)("Remote.multiWrite against docker-registry", () => {
  layer(dockerRegistry(), { excludeTestServices: true })((it) => {
    it.effect("sends each shared blob once and mounts it into the second repository", () =>
      Effect.gen(function*() {
        const first = yield* freshRepository("multi-first")
        const second = yield* freshRepository("multi-second")
        const base = yield* Random.image({ layers: 2, layerSize: 20_000, seed: "dr-multi", mediaType: MediaType.OCI_MANIFEST })
        const own = (seed: string) => Random.layer({ size: 5_000, seed, mediaType: MediaType.OCI_LAYER })
        const one = Mutate.appendLayers(base, [yield* own("dr-multi-one")])
        const two = Mutate.appendLayers(base, [yield* own("dr-multi-two")])
        const sent = yield* recordFromNow
        yield* Remote.multiWrite([[tagOf(first, "v1"), one], [tagOf(second, "v1"), two]])
        const uploaded = requests(sent(), "PUT", "/blobs/uploads/").map((s) => s.query.get("digest"))
        const mounts = requests(sent(), "POST", "/blobs/uploads/").filter((s) => s.query.get("mount") !== null)
        for (const digest of (yield* digestsOf(base)).layers) {
          expect(uploaded.filter((d) => d === digest)).toHaveLength(1)
          expect(mounts.filter((m) => m.query.get("mount") === digest)).toHaveLength(1)
        }
        expect(yield* digestsOf(yield* Remote.image(tagOf(first, "v1")))).toEqual(yield* digestsOf(one))
        expect(yield* digestsOf(yield* Remote.image(tagOf(second, "v1")))).toEqual(yield* digestsOf(two))
      }))
  })
})
