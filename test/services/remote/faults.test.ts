/**
 * `Remote` when things go wrong between it and the registry: connections cut mid-blob,
 * corrupted bytes, registries that do not answer `HEAD` or that ask for chunked uploads,
 * uploads refused once, unsafe `Location` and `Link` headers, sources that fail while they
 * are uploaded. Run against our registry behind a misbehaving proxy on 127.0.0.1, or with
 * made-up answers in-process.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as Digest from "../../../src/domain/Digest.js"
import * as Empty from "../../../src/domain/Empty.js"
import * as ImageLayer from "../../../src/domain/ImageLayer.js"
import * as MediaType from "../../../src/domain/MediaType.js"
import * as Mutate from "../../../src/domain/Mutate.js"
import * as Partial from "../../../src/domain/Partial.js"
import * as Random from "../../../src/domain/Random.js"
import * as Reference from "../../../src/domain/Reference.js"
import * as StreamLayer from "../../../src/domain/StreamLayer.js"
import * as RegistryError from "../../../src/services/RegistryError.js"
import * as Remote from "../../../src/services/Remote.js"
import { behindProxy, once, Proxy, type Seen, withTweak } from "./proxy.js"
import {
  collect,
  digestsOf,
  eventsFor,
  freshRepository,
  oursInProcess,
  progressRecorder,
  readAll,
  recordFromNow,
  requests,
  tagOf
} from "./support.js"

const image = (seed: string) => Random.image({ layers: 2, layerSize: 30_000, seed, compression: "none" })

// A pushed image, its reference, and the digest and size of its first layer.
const pushed = (name: string) =>
  Effect.gen(function*() {
    const repo = yield* freshRepository(name)
    const img = yield* image(name)
    const ref = tagOf(repo, "v1")
    yield* Remote.write(ref, img)
    const [first] = yield* img.layers
    return { repo, ref, image: img, layer: yield* first!.digest, size: yield* first!.size }
  })

const blobGet = (digest: string) => (r: Seen) => r.method === "GET" && r.path.endsWith(`/blobs/${digest}`)

class SourceBroke extends Data.TaggedError("SourceBroke")<{}> {}

layer(behindProxy, { excludeTestServices: true })("Remote through a misbehaving proxy", (it) => {
  describe("downloads", () => {
    it.effect("resumes a blob cut off mid-way with a Range request from the byte it reached", () =>
      Effect.gen(function*() {
        const proxy = yield* Proxy
        const { image: img, layer, ref, size } = yield* pushed("resume")
        const start = proxy.seen.length
        const pulled = yield* Remote.image(ref)
        const read = yield* withTweak(once(blobGet(layer), { cutAfter: 10_000 }), readAll(pulled))
        expect(read.sizes[0]).toBe(size)
        expect(yield* digestsOf(pulled)).toEqual(yield* digestsOf(img))
        const gets = proxy.seen.slice(start).filter(blobGet(layer))
        expect(gets.map((g) => g.headers.range)).toEqual([undefined, "bytes=10000-"])
      }))

    it.effect("resumes from a registry that ignores the range by skipping what it already has", () =>
      Effect.gen(function*() {
        const { image: img, layer, ref, size } = yield* pushed("norange")
        const pulled = yield* Remote.image(ref)
        let cut = false
        const read = yield* withTweak((r) => {
          if (!blobGet(layer)(r)) return undefined
          if (!cut) {
            cut = true
            return { cutAfter: 7_000 }
          }
          return { dropRange: true }
        }, readAll(pulled))
        expect(read.sizes[0]).toBe(size)
        expect(yield* digestsOf(pulled)).toEqual(yield* digestsOf(img))
      }))

    it.effect("gives up on a blob whose connection breaks every time", () =>
      Effect.gen(function*() {
        const proxy = yield* Proxy
        const { layer, ref } = yield* pushed("always-cut")
        const pulled = yield* Remote.image(ref)
        const [first] = yield* pulled.layers
        const start = proxy.seen.length
        const result = yield* withTweak(
          (r) => (blobGet(layer)(r) ? { cutAfter: 1_000 + (r.headers.range === undefined ? 0 : 1_000) } : undefined),
          Effect.either(collect(first!.compressed))
        )
        expect(Either.isLeft(result)).toBe(true)
        const error = Either.isLeft(result) ? result.left : undefined
        expect(error?._tag === "RegistryError" ? error.reason : error?._tag).toBe("Transport")
        expect(proxy.seen.slice(start).filter(blobGet(layer)).length).toBe(5)
      }))

    it.effect("fails a corrupted blob with DigestMismatch and returns none of it", () =>
      Effect.gen(function*() {
        const { layer, ref } = yield* pushed("corrupt")
        const pulled = yield* Remote.image(ref)
        const [first] = yield* pulled.layers
        const result = yield* withTweak(
          (r) => (blobGet(layer)(r) ? { corruptAt: 20_000 } : undefined),
          Effect.either(collect(first!.compressed))
        )
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) {
          expect(result.left._tag).toBe("DigestMismatch")
          expect(result.left.message).toContain(layer)
        }
      }))

    it.effect("fails a corrupted config with DigestMismatch", () =>
      Effect.gen(function*() {
        const { image: img, ref } = yield* pushed("corrupt-config")
        const config = yield* img.configName
        const pulled = yield* Remote.image(ref)
        const error = yield* withTweak(
          (r) => (blobGet(config)(r) ? { corruptAt: 3 } : undefined),
          Effect.flip(pulled.configFile)
        )
        expect(error._tag).toBe("DigestMismatch")
      }))

    it.effect("fails a manifest fetched by digest whose bytes have another digest", () =>
      Effect.gen(function*() {
        const { image: img, repo } = yield* pushed("corrupt-manifest")
        const digest = yield* img.digest
        const error = yield* withTweak(
          (r) => (r.path.endsWith(`/manifests/${digest}`) ? { corruptAt: 10, headers: { "docker-content-digest": undefined } } : undefined),
          Effect.flip(Remote.get(Reference.withDigest(repo, digest)))
        )
        expect(error._tag).toBe("DigestMismatch")
      }))

    it.effect("fails a manifest whose Docker-Content-Digest names other bytes", () =>
      Effect.gen(function*() {
        const { ref } = yield* pushed("header-digest")
        const other = Digest.fromBytes("other bytes")
        const error = yield* withTweak(
          (r) => (r.path.endsWith("/manifests/v1") ? { headers: { "docker-content-digest": other } } : undefined),
          Effect.flip(Remote.image(ref))
        )
        expect(error._tag).toBe("DigestMismatch")
        if (error._tag === "DigestMismatch") expect(error.expected).toBe(other)
      }))

    it.effect("falls back to GET when a registry refuses HEAD", () =>
      Effect.gen(function*() {
        const { image: img, ref } = yield* pushed("no-head")
        const sent = yield* recordFromNow
        const descriptor = yield* withTweak(
          (r) => (r.method === "HEAD" ? { reply: { status: 405 } } : undefined),
          Remote.head(ref)
        )
        expect(descriptor.digest).toBe(yield* img.digest)
        expect(sent().map((s) => s.method)).toEqual(["HEAD", "GET"])
      }))

    it.effect("falls back to GET when HEAD does not name the digest", () =>
      Effect.gen(function*() {
        const { image: img, ref } = yield* pushed("head-no-digest")
        const descriptor = yield* withTweak(
          (r) => (r.method === "HEAD" ? { headers: { "docker-content-digest": undefined } } : undefined),
          Remote.head(ref)
        )
        expect(descriptor).toEqual({ mediaType: MediaType.DOCKER_MANIFEST, digest: yield* img.digest, size: yield* img.size })
      }))
  })

  describe("uploads", () => {
    it.effect("starts a blob upload again from its first byte when its PUT fails with 503", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("restart")
        const img = yield* image("restart")
        const [first] = yield* img.layers
        const digest = yield* first!.digest
        const recorder = yield* progressRecorder
        const sent = yield* recordFromNow
        yield* withTweak(
          once((r) => r.method === "PUT" && r.query.get("digest") === digest, { reply: { status: 503 } }),
          Remote.write(tagOf(repo, "v1"), img, { progress: recorder.progress })
        )
        expect(requests(sent(), "HEAD", `/blobs/${digest}`)).toHaveLength(2)
        expect(requests(sent(), "PUT", "/blobs/uploads").filter((s) => s.query.get("digest") === digest)).toHaveLength(2)
        const mine = eventsFor(yield* recorder.events, digest).map((e) => e._tag)
        expect(mine.filter((t) => t === "Start")).toHaveLength(2)
        expect(mine.at(-1)).toBe("Done")
        const pulled = yield* Remote.image(tagOf(repo, "v1"))
        expect(yield* digestsOf(pulled)).toEqual(yield* digestsOf(img))
      }))

    it.effect("does not retry an upload the registry refuses for good", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("refused")
        const img = yield* image("refused")
        const sent = yield* recordFromNow
        const error = yield* withTweak(
          (r) =>
            r.method === "PUT" && r.path.includes("/blobs/uploads")
              ? { reply: { status: 400, body: JSON.stringify({ errors: [{ code: "DIGEST_INVALID", message: "no" }] }) } }
              : undefined,
          Effect.flip(Remote.write(tagOf(repo, "v1"), img, { concurrency: 1 }))
        )
        expect(RegistryError.hasCode("DIGEST_INVALID")(error)).toBe(true)
        expect(requests(sent(), "PUT", "/blobs/uploads")).toHaveLength(1)
        expect(requests(sent(), "PUT", "/manifests/")).toEqual([])
      }))

    it.effect("uploads in chunks when the registry asks for them with OCI-Chunk-Min-Length", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("min-chunk")
        const img = yield* image("min-chunk")
        const sent = yield* recordFromNow
        yield* withTweak(
          (r) => (r.method === "POST" ? { headers: { "oci-chunk-min-length": "4096" } } : undefined),
          Remote.write(tagOf(repo, "v1"), img)
        )
        expect(requests(sent(), "PATCH", "/blobs/uploads")).toHaveLength(3)
        const puts = requests(sent(), "PUT", "/blobs/uploads")
        expect(puts.every((p) => p.headers["content-length"] === undefined || p.headers["content-length"] === "0")).toBe(true)
        yield* readAll(yield* Remote.image(tagOf(repo, "v1")))
      }))

    it.effect("follows an absolute upload Location on the same registry", () =>
      Effect.gen(function*() {
        const proxy = yield* Proxy
        const repo = yield* freshRepository("absolute")
        const img = yield* image("absolute")
        yield* withTweak(
          (r) => (r.method === "POST" ? { absoluteLocation: proxy.origin } : undefined),
          Remote.write(tagOf(repo, "v1"), img)
        )
        expect(yield* digestsOf(yield* Remote.image(tagOf(repo, "v1")))).toEqual(yield* digestsOf(img))
      }))

    it.effect("refuses an upload Location pointing at a link-local address", () =>
      Effect.gen(function*() {
        const repo = yield* freshRepository("ssrf")
        const img = yield* image("ssrf")
        const error = yield* withTweak(
          (r) => (r.method === "POST" ? { absoluteLocation: "http://169.254.169.254" } : undefined),
          Effect.flip(Remote.write(tagOf(repo, "v1"), img, { retry: false }))
        )
        expect(error._tag === "RegistryError" ? error.reason : error._tag).toBe("UnsafeUrl")
      }))
  })

  describe("listings", () => {
    it.effect("fails when Link headers go round in a circle", () =>
      Effect.gen(function*() {
        const { repo } = yield* pushed("loop")
        const error = yield* withTweak(
          (r) => (r.path.endsWith("/tags/list") ? { headers: { link: `</v2/${repo.path}/tags/list?n=1&last=a>; rel="next"` } } : undefined),
          Effect.flip(Remote.list(repo, { pageSize: 1 }))
        )
        expect(error.reason).toBe("Protocol")
      }))

    it.effect("refuses a next page on another host", () =>
      Effect.gen(function*() {
        const { repo } = yield* pushed("elsewhere")
        const error = yield* withTweak(
          (r) => (r.path.endsWith("/tags/list") ? { headers: { link: `<http://example.com/v2/x/tags/list>; rel="next"` } } : undefined),
          Effect.flip(Remote.list(repo))
        )
        expect(error.reason).toBe("UnsafeUrl")
      }))
  })
})

layer(oursInProcess(), { excludeTestServices: true })("Remote with unusual sources", (it) => {
  it.effect("asks for every manifest type ggcr accepts when getting a manifest", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("accept")
      yield* Remote.write(tagOf(repo, "v1"), yield* image("accept"))
      const sent = yield* recordFromNow
      yield* Remote.get(tagOf(repo, "v1"))
      expect(requests(sent(), "GET", "/manifests/v1")[0]?.headers["accept"]?.split(",")).toEqual([
        MediaType.DOCKER_MANIFEST_SCHEMA1,
        MediaType.DOCKER_MANIFEST_SCHEMA1_SIGNED,
        MediaType.DOCKER_MANIFEST,
        MediaType.OCI_MANIFEST,
        MediaType.DOCKER_MANIFEST_LIST,
        MediaType.OCI_INDEX
      ])
    }))

  it.effect("fails with the source's own error when a layer's stream breaks during its upload", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("broken-source")
      const bytes = new Uint8Array(50_000).fill(7)
      const broken = ImageLayer.make<SourceBroke>({
        digest: Effect.succeed(Digest.fromBytes(bytes)),
        diffId: Effect.succeed(Digest.fromBytes(bytes)),
        size: Effect.succeed(bytes.byteLength),
        mediaType: Effect.succeed(MediaType.OCI_LAYER),
        compressed: Stream.concat(Stream.succeed(bytes.subarray(0, 10_000)), Stream.fail(new SourceBroke())),
        uncompressed: Stream.fail(new SourceBroke())
      })
      const error = yield* Effect.flip(Remote.writeLayer(repo, broken))
      expect(error._tag).toBe("SourceBroke")
    }))

  it.effect("uploads a stream layer, whose digest is known only after its bytes, with PATCH then PUT", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("stream-layer")
      const tar = yield* collect(Random.tar("stream", 40_000))
      const layer = StreamLayer.make(Stream.fromChunk(Chunk.make(new Uint8Array(tar))))
      const sent = yield* recordFromNow
      yield* Remote.writeLayer(repo, layer)
      const digest = yield* layer.digest
      expect(requests(sent(), "HEAD", "/blobs/")).toEqual([])
      expect(requests(sent(), "PATCH", "/blobs/uploads")).toHaveLength(1)
      expect(requests(sent(), "PUT", "/blobs/uploads").map((p) => p.query.get("digest"))).toEqual([digest])
      const read = yield* Remote.layer(Reference.withDigest(repo, digest))
      expect(yield* read.size).toBe(yield* layer.size)
      expect(Digest.fromBytes(yield* collect(read.uncompressed))).toBe(yield* layer.diffId)
    }))

  it.effect("skips non-distributable layers unless told to upload them", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("foreign")
      const foreign = Partial.staticLayer(new TextEncoder().encode("foreign bytes"), MediaType.DOCKER_FOREIGN_LAYER)
      const sent = yield* recordFromNow
      yield* Remote.writeLayer(repo, foreign)
      expect(sent()).toEqual([])
      yield* Remote.writeLayer(repo, foreign, { allowNondistributable: true })
      expect(requests(sent(), "PUT", "/blobs/uploads")).toHaveLength(1)
    }))

  it.effect("uploads a blob that appears twice in an image once", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("twice")
      const layer = yield* Random.layer({ size: 10_000, seed: "twice" })
      const img = Mutate.appendLayers(Empty.image, [layer, layer])
      const sent = yield* recordFromNow
      yield* Remote.write(tagOf(repo, "v1"), img)
      const digest = yield* layer.digest
      expect(requests(sent(), "PUT", "/blobs/uploads").filter((p) => p.query.get("digest") === digest)).toHaveLength(1)
    }))
})

layer(oursInProcess((request, url) =>
  request.method === "GET" && url.pathname.includes("/referrers/") ? { status: 404 } : undefined
), { excludeTestServices: true })("Remote with a registry without the referrers API", (it) => {
  it.effect("reads referrers from the fallback tag, and an empty index when it does not exist", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("fallback")
      const subject = yield* image("fallback-subject")
      yield* Remote.write(tagOf(repo, "v1"), subject)
      const subjectRef = Reference.withDigest(repo, yield* subject.digest)
      expect((yield* Remote.referrers(subjectRef)).manifests).toEqual([])
      const artifacts = yield* Effect.forEach(["a/b", "c/d"], (artifactType) =>
        Effect.gen(function*() {
          const artifact = Partial.fromLayers(
            Effect.succeed(new TextEncoder().encode("{}")),
            Effect.succeed([Partial.staticLayer(new TextEncoder().encode(artifactType), "text/plain")]),
            { mediaType: MediaType.OCI_MANIFEST, configMediaType: MediaType.OCI_EMPTY_JSON, artifactType }
          )
          yield* Remote.write(Reference.withDigest(repo, yield* artifact.digest), artifact)
          return { ...(yield* artifact.descriptor), artifactType }
        }))
      const fallback = new TextEncoder().encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OCI_INDEX,
        manifests: artifacts
      }))
      yield* Remote.put(Remote.fallbackTag(subjectRef), { bytes: fallback, mediaType: MediaType.OCI_INDEX })
      const found = yield* Remote.referrers(subjectRef, { artifactType: "a/b" })
      expect(found.manifests).toEqual([artifacts[0]])
      expect((yield* Remote.referrers(subjectRef)).manifests).toEqual(artifacts)
    }))
})
