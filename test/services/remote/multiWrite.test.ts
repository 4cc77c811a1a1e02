/**
 * `Remote.multiWrite` (ggcr's `remote.MultiWrite`) against our registry in-process, through a
 * client that records every request and counts the blob uploads in flight.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Digest from "../../../src/domain/Digest.js"
import type * as Image from "../../../src/domain/Image.js"
import * as MediaType from "../../../src/domain/MediaType.js"
import * as Mutate from "../../../src/domain/Mutate.js"
import * as Platform from "../../../src/domain/Platform.js"
import * as Random from "../../../src/domain/Random.js"
import * as Registry from "../../../src/registry/Registry.js"
import * as Remote from "../../../src/services/Remote.js"
import {
  digestsOf,
  envOver,
  eventsFor,
  freshRepository,
  progressRecorder,
  recordFromNow,
  requests,
  type Sent,
  tagOf
} from "./support.js"

// Blob uploads (the PUTs and PATCHes of upload sessions) in flight now, and the most seen.
const inFlight = { now: 0, most: 0 }

const isUpload = (method: string, url: string) => (method === "PUT" || method === "PATCH") && url.includes("/blobs/uploads/")

// Our registry in-process behind a client that counts concurrent blob uploads.
const counted = Layer.effect(
  HttpClient.HttpClient,
  Effect.map(HttpClient.HttpClient, (client) =>
    HttpClient.transform(client, (effect, request) =>
      isUpload(request.method, request.url)
        ? Effect.acquireUseRelease(
          Effect.sync(() => {
            inFlight.now += 1
            inFlight.most = Math.max(inFlight.most, inFlight.now)
          }),
          // hold the slot a little, so that uploads that may overlap do
          () => Effect.zipLeft(effect, Effect.sleep("5 millis")),
          () => Effect.sync(() => void (inFlight.now -= 1))
        )
        : effect))
).pipe(Layer.provide(Registry.layerClient()), Layer.provide(Registry.layerMemory))

const env = envOver({ name: "ours (in-process, counted)", host: "localhost:5000", ours: true }, counted)

// Two images on the same three base layers, each with one layer of its own.
const siblings = (seed: string) =>
  Effect.gen(function*() {
    const base = yield* Random.image({ layers: 3, layerSize: 20_000, seed: `${seed}-base`, mediaType: MediaType.OCI_MANIFEST })
    const own = (name: string) => Random.layer({ size: 10_000, seed: `${seed}-${name}`, mediaType: MediaType.OCI_LAYER })
    const one = Mutate.appendLayers(base, [yield* own("one")])
    const two = Mutate.appendLayers(base, [yield* own("two")])
    return { base, one, two }
  })

const blobsOf = <E>(image: Image.Image<E>) =>
  Effect.map(digestsOf(image), (d) => [d.config, ...d.layers])

// The digests whose bytes were sent, one entry per completed upload.
const uploadedDigests = (sent: ReadonlyArray<Sent>) =>
  requests(sent, "PUT", "/blobs/uploads/").map((s) => s.query.get("digest") ?? "")

const countOf = (values: ReadonlyArray<string>, value: string) => values.filter((v) => v === value).length

describe("Remote.multiWrite", () => {
  layer(env, { excludeTestServices: true })("against our registry in-process", (it) => {
    it.effect("uploads each blob two images share once, and both pull back with equal digests", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("multi")
        const { base, one, two } = yield* siblings("multi")
        const sent = yield* recordFromNow
        yield* Remote.multiWrite([[tagOf(repo, "one"), one], [tagOf(repo, "two"), two]])
        const uploaded = uploadedDigests(sent())
        for (const digest of (yield* digestsOf(base)).layers) {
          expect(countOf(uploaded, digest)).toBe(1)
          expect(requests(sent(), "HEAD", `/blobs/${digest}`)).toHaveLength(1)
        }
        const all = new Set([...(yield* blobsOf(one)), ...(yield* blobsOf(two))])
        expect([...uploaded].sort()).toEqual([...all].sort())
        for (const [tag, image] of [["one", one], ["two", two]] as const) {
          const pulled = yield* Remote.image(tagOf(repo, tag))
          expect(yield* digestsOf(pulled)).toEqual(yield* digestsOf(image))
        }
      }))

    it.effect("reports each shared blob's upload once in Progress", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("multi-progress")
        const { base, one, two } = yield* siblings("multi-progress")
        const recorder = yield* progressRecorder
        yield* Remote.multiWrite([[tagOf(repo, "one"), one], [tagOf(repo, "two"), two]], { progress: recorder.progress })
        const events = yield* recorder.events
        for (const digest of (yield* digestsOf(base)).layers) {
          expect(eventsFor(events, digest).filter((e) => e._tag === "Start")).toHaveLength(1)
          expect(eventsFor(events, digest).filter((e) => e._tag === "Done")).toHaveLength(1)
        }
      }))

    it.effect("uploads a blob once per registry: other repositories mount it from the first", () =>
      Effect.gen(function*() {
        const first = yield* freshRepository("multi-a")
        const second = yield* freshRepository("multi-b")
        const { base, one, two } = yield* siblings("multi-repos")
        const sent = yield* recordFromNow
        yield* Remote.multiWrite([[tagOf(first, "v1"), one], [tagOf(second, "v1"), two]])
        const uploaded = uploadedDigests(sent())
        const mounts = requests(sent(), "POST", "/blobs/uploads/").filter((p) => p.query.get("mount") !== null)
        for (const digest of (yield* digestsOf(base)).layers) {
          expect(countOf(uploaded, digest)).toBe(1)
          const mounted = mounts.filter((p) => p.query.get("mount") === digest)
          expect(mounted).toHaveLength(1)
          const from = mounted[0]?.query.get("from")
          expect([first.path, second.path]).toContain(from)
          expect(mounted[0]?.path.startsWith(`/v2/${from}/`)).toBe(false)
        }
        expect(yield* digestsOf(yield* Remote.image(tagOf(first, "v1")))).toEqual(yield* digestsOf(one))
        expect(yield* digestsOf(yield* Remote.image(tagOf(second, "v1")))).toEqual(yield* digestsOf(two))
      }))

    it.effect("uploads at most `concurrency` blobs at once across all images", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("multi-jobs")
        const images = yield* Effect.forEach(["a", "b", "c"], (seed) =>
          Random.image({ layers: 4, layerSize: 5_000, seed: `multi-jobs-${seed}`, mediaType: MediaType.OCI_MANIFEST }))
        inFlight.most = 0
        yield* Remote.multiWrite(images.map((image, i) => [tagOf(repo, `t${i}`), image] as const), { concurrency: 2 })
        expect(inFlight.most).toBe(2)
        inFlight.most = 0
        const more = yield* Effect.forEach(["d", "e"], (seed) =>
          Random.image({ layers: 4, layerSize: 5_000, seed: `multi-jobs-${seed}`, mediaType: MediaType.OCI_MANIFEST }))
        yield* Remote.multiWrite(more.map((image, i) => [tagOf(repo, `u${i}`), image] as const), { concurrency: 1 })
        expect(inFlight.most).toBe(1)
      }))

    it.effect("writes an index and its child images given side by side, children before the index", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("multi-index")
        const index = yield* Random.index({
          images: 2,
          layers: 2,
          layerSize: 5_000,
          seed: "multi-index",
          platforms: [Platform.make({ os: "linux", architecture: "amd64" }), Platform.make({ os: "linux", architecture: "arm64" })]
        })
        const manifest = yield* index.indexManifest
        const children = yield* Effect.forEach(manifest.manifests, (d) => index.image(d.digest))
        const sent = yield* recordFromNow
        yield* Remote.multiWrite([
          [tagOf(repo, "all"), index],
          [tagOf(repo, "amd64"), children[0]!],
          [tagOf(repo, "arm64"), children[1]!]
        ])
        const puts = requests(sent(), "PUT", "/manifests/")
        const indexPut = puts.findIndex((p) => p.path.endsWith("/manifests/all"))
        expect(indexPut).toBeGreaterThanOrEqual(0)
        for (const [i, tag] of ["amd64", "arm64"].entries()) {
          const digest = manifest.manifests[i]!.digest
          const childPut = puts.findIndex((p) => p.path.endsWith(`/manifests/${digest}`) || p.path.endsWith(`/manifests/${tag}`))
          expect(childPut).toBeGreaterThanOrEqual(0)
          expect(childPut).toBeLessThan(indexPut)
        }
        const childBlobs = new Set((yield* Effect.forEach(children, blobsOf)).flat())
        const uploaded = uploadedDigests(sent())
        for (const digest of childBlobs) expect(countOf(uploaded, digest)).toBe(1)
        expect((yield* Remote.head(tagOf(repo, "all"))).digest).toBe(yield* index.digest)
        const pulled = yield* Remote.index(tagOf(repo, "all"))
        expect(yield* pulled.digest).toBe(yield* index.digest)
        for (const [tag, child] of [["amd64", children[0]!], ["arm64", children[1]!]] as const) {
          expect((yield* Remote.head(tagOf(repo, tag))).digest).toBe(yield* child.digest)
        }
      }))

    it.effect("writes the same image under several tags with one PUT of each blob", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("multi-tags")
        const { one } = yield* siblings("multi-tags")
        const sent = yield* recordFromNow
        yield* Remote.multiWrite(["a", "b", "c"].map((tag) => [tagOf(repo, tag), one] as const))
        const blobs = yield* blobsOf(one)
        const uploaded = uploadedDigests(sent())
        expect([...uploaded].sort()).toEqual([...blobs].sort())
        const tagPuts = requests(sent(), "PUT", "/manifests/").map((p) => p.path.split("/").at(-1))
        expect([...tagPuts].sort()).toEqual(["a", "b", "c"])
        const digest = yield* one.digest
        for (const tag of ["a", "b", "c"]) expect((yield* Remote.head(tagOf(repo, tag))).digest).toBe(digest)
        expect(Digest.fromBytes(yield* one.rawManifest)).toBe(digest)
      }))
  })
})
