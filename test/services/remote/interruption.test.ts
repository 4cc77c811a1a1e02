/**
 * Interrupting transfers: a pull into an OCI layout cut off (by a timeout, or by interrupting
 * its fiber) while a big layer streams from a slow registry aborts its request, so the
 * registry sees the connection closed, and leaves no blob file, whole or partial, and no
 * temporary file behind; a push interrupted mid-upload aborts the upload, so the registry
 * commits no blob. The registry is ours, on 127.0.0.1, behind a small Effect HTTP app that
 * slows blob downloads and watches how requests end.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { createHash, randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import * as Http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Digest from "../../../src/domain/Digest.js"
import * as Empty from "../../../src/domain/Empty.js"
import * as ImageLayer from "../../../src/domain/ImageLayer.js"
import * as MediaType from "../../../src/domain/MediaType.js"
import * as Mutate from "../../../src/domain/Mutate.js"
import * as Random from "../../../src/domain/Random.js"
import * as Reference from "../../../src/domain/Reference.js"
import * as Layout from "../../../src/formats/Layout.js"
import * as RegistryTransportNode from "../../../src/layers/RegistryTransportNode.js"
import * as Registry from "../../../src/registry/Registry.js"
import * as Keychain from "../../../src/services/Keychain.js"
import * as Remote from "../../../src/services/Remote.js"

/** What the registry saw. */
interface Watch {
  /** Opened when a slowed blob download has sent its first piece. */
  readonly downloading: Deferred.Deferred<void>
  /** Slowed blob downloads whose connection went away before their last byte. */
  cutDownloads: number
  /** Upload requests (PUT, PATCH): the digest they name, and how they ended (a status, or "interrupted"). */
  readonly uploads: Array<{ readonly digest: string | null; readonly outcome: number | "interrupted" }>
}

const piece = 64 * 1024

// Splits bytes into pieces of 64 KiB sent 40 ms apart, noting a download cut short.
const slowly = (body: Stream.Stream<Uint8Array, unknown>, watch: Watch): Stream.Stream<Uint8Array, unknown> =>
  Stream.suspend(() => {
    let finished = false
    const pieces = body.pipe(
      Stream.mapConcat((bytes) => {
        const out: Array<Uint8Array> = []
        for (let at = 0; at < bytes.byteLength; at += piece) out.push(bytes.subarray(at, at + piece))
        return out
      }),
      Stream.tap(() => Effect.zipRight(Deferred.succeed(watch.downloading, undefined), Effect.sleep("40 millis")))
    )
    return Stream.concat(pieces, Stream.execute(Effect.sync(() => void (finished = true)))).pipe(
      Stream.ensuring(Effect.sync(() => {
        if (!finished) watch.cutDownloads += 1
      }))
    )
  })

// Our registry app, with blob downloads slowed once `slow` is on, and uploads watched.
const watched = (watch: Watch, slow: { on: boolean }) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const url = new URL(request.url, "http://registry")
    const path = url.pathname
    if ((request.method === "PUT" || request.method === "PATCH") && path.includes("/blobs/uploads/")) {
      const digest = url.searchParams.get("digest")
      return yield* Registry.app.pipe(
        Effect.tap((response) => Effect.sync(() => watch.uploads.push({ digest, outcome: response.status }))),
        Effect.onInterrupt(() => Effect.sync(() => watch.uploads.push({ digest, outcome: "interrupted" })))
      )
    }
    const response = yield* Registry.app
    if (!slow.on || request.method !== "GET" || !path.includes("/blobs/sha256:") || response.body._tag !== "Stream") {
      return response
    }
    const body = response.body
    return HttpServerResponse.setBody(
      response,
      HttpBody.stream(slowly(body.stream, watch), body.contentType, body.contentLength)
    )
  })

// The watched registry for the scope of a test.
const start = Effect.gen(function*() {
  const watch: Watch = { downloading: yield* Deferred.make<void>(), cutDownloads: 0, uploads: [] }
  const slow = { on: false }
  const context = yield* Layer.build(
    HttpServer.serve(watched(watch, slow)).pipe(
      Layer.provideMerge(NodeHttpServer.layer(() => Http.createServer(), { port: 0, host: "127.0.0.1" })),
      Layer.provide(Registry.layerMemory)
    )
  )
  const url = yield* Effect.provide(Registry.url, context)
  const repo = Either.getOrThrow(Reference.parseRepository(`${new URL(url).host}/team/big`))
  return { watch, slow, repo }
})

const provideTransport = Effect.provide(
  Layer.merge(
    RegistryTransportNode.layer({ retry: { base: "5 millis" } }).pipe(Layer.provide(Keychain.layerAnonymous)),
    NodeContext.layer
  )
)

const tagOf = (repo: Reference.Repository, tag: string) => Either.getOrThrow(Reference.withTag(repo, tag))

// A scratch directory removed at the end of the test.
const scratch = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "interrupt-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

// Every file under a layout's blobs/, each with whether its bytes hash to its name.
const blobFiles = (dir: string) => {
  const root = join(dir, "blobs", "sha256")
  if (!existsSync(root)) return []
  return readdirSync(root).map((name) => ({
    name,
    whole: createHash("sha256").update(readFileSync(join(root, name))).digest("hex") === name
  }))
}

// Waits (at most 5 s) until `check` holds.
const eventually = (check: () => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  })

// A pushed image with one 4 MiB layer, which takes about 2.6 s to download slowed.
const pushBig = (repo: Reference.Repository) =>
  Effect.gen(function*() {
    const image = yield* Random.image({
      layers: 1,
      layerSize: 4 * 1024 * 1024,
      seed: "interrupt",
      compression: "none",
      mediaType: MediaType.OCI_MANIFEST
    })
    yield* Remote.write(tagOf(repo, "v1"), image)
    const [layer] = yield* image.layers
    return { image, layerDigest: yield* layer!.digest }
  })

describe("Interrupting transfers", () => {
  it.scopedLive("a pull into a layout cut off by a timeout closes the download and leaves no blob file behind", () =>
    Effect.gen(function*() {
      const { watch, slow, repo } = yield* start
      const { layerDigest } = yield* pushBig(repo)
      const dir = yield* scratch
      slow.on = true
      const pulled = yield* Remote.image(tagOf(repo, "v1"))
      const outcome = yield* Layout.appendImage(dir, pulled).pipe(Effect.timeout("1200 millis"), Effect.either)
      expect(Either.isLeft(outcome) && outcome.left._tag).toBe("TimeoutException")
      expect(yield* Deferred.isDone(watch.downloading)).toBe(true)
      yield* eventually(() => watch.cutDownloads > 0)
      expect(watch.cutDownloads).toBe(1)
      const files = blobFiles(dir)
      expect(files.filter((f) => !f.whole)).toEqual([])
      expect(files.map((f) => f.name)).not.toContain(Digest.hex(layerDigest))
      expect(files.filter((f) => f.name.startsWith(".tmp"))).toEqual([])
    }).pipe(provideTransport))

  it.scopedLive("a pull whose fiber is interrupted mid-layer closes the download; a later pull completes", () =>
    Effect.gen(function*() {
      const { watch, slow, repo } = yield* start
      const { image, layerDigest } = yield* pushBig(repo)
      const dir = yield* scratch
      slow.on = true
      const pulled = yield* Remote.image(tagOf(repo, "v1"))
      const fiber = yield* Effect.fork(Layout.appendImage(dir, pulled))
      const first = yield* Effect.raceFirst(
        Effect.as(Deferred.await(watch.downloading), "downloading"),
        Effect.as(Fiber.await(fiber), "pull ended")
      )
      expect(first).toBe("downloading")
      yield* Effect.sleep("100 millis")
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      yield* eventually(() => watch.cutDownloads > 0)
      expect(watch.cutDownloads).toBe(1)
      expect(blobFiles(dir).map((f) => f.name)).not.toContain(Digest.hex(layerDigest))
      expect(blobFiles(dir).filter((f) => !f.whole)).toEqual([])
      // nothing stuck: the same pull, run again to its end, writes the layer whole
      slow.on = false
      const descriptor = yield* Layout.appendImage(dir, yield* Remote.image(tagOf(repo, "v1")))
      expect(descriptor.digest).toBe(yield* image.digest)
      const files = blobFiles(dir)
      expect(files.map((f) => f.name)).toContain(Digest.hex(layerDigest))
      expect(files.every((f) => f.whole)).toBe(true)
    }).pipe(provideTransport))

  it.scopedLive("a push interrupted mid-upload aborts the upload, and the registry commits no blob", () =>
    Effect.gen(function*() {
      const { watch, repo } = yield* start
      const bytes = randomBytes(32 * piece)
      const digest = Digest.fromBytes(bytes)
      const halfway = yield* Deferred.make<void>()
      // a layer whose bytes come slowly, 64 KiB every 20 ms, saying when half have gone
      const pieces = Array.from({ length: 32 }, (_, i) => bytes.subarray(i * piece, (i + 1) * piece))
      const slowBytes = Stream.fromIterable(pieces.entries()).pipe(
        Stream.mapEffect(([i, part]) =>
          Effect.as(
            Effect.zipRight(i === 16 ? Deferred.succeed(halfway, undefined) : Effect.void, Effect.sleep("20 millis")),
            part
          )
        )
      )
      const layer = ImageLayer.make({
        digest: Effect.succeed(digest),
        diffId: Effect.succeed(digest),
        size: Effect.succeed(bytes.byteLength),
        mediaType: Effect.succeed(MediaType.OCI_LAYER),
        compressed: slowBytes,
        uncompressed: slowBytes
      })
      const image = Mutate.appendLayers(Empty.image, [layer])
      const fiber = yield* Effect.fork(Remote.write(tagOf(repo, "v1"), image))
      const first = yield* Effect.raceFirst(
        Effect.as(Deferred.await(halfway), "halfway"),
        Effect.as(Fiber.await(fiber), "push ended")
      )
      expect(first).toBe("halfway")
      yield* Fiber.interrupt(fiber)
      const layerUploads = () => watch.uploads.filter((u) => u.digest === digest)
      yield* eventually(() => layerUploads().length > 0)
      expect(layerUploads()).toEqual([{ digest, outcome: "interrupted" }])
      const head = yield* Remote.layer(Reference.withDigest(repo, digest)).pipe(Effect.flip)
      expect(head._tag === "RegistryError" && head.status).toBe(404)
      const tagged = yield* Remote.head(tagOf(repo, "v1")).pipe(Effect.option)
      expect(Option.isNone(tagged)).toBe(true)
    }).pipe(provideTransport))
})
