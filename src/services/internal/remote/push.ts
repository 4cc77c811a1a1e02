/**
 * Writing to a registry, as ggcr's remote `writer` and `Pusher`: blobs are checked with a
 * `HEAD` and skipped when present, mounted from another repository of the same registry when
 * their source is known, and otherwise uploaded (in one streamed `PUT`, or in `PATCH` chunks),
 * with a failed upload started again from its first byte; manifests go last, after everything
 * they reference. Work is shared by digest, so a blob or child manifest that appears twice is
 * written once. Writers made with the same {@link Shared} (one multi-write) share their upload
 * slots, and a blob written to one repository is mounted into the others of the same registry.
 *
 * @since 0.1.0
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Descriptor from "../../../domain/Descriptor.js"
import * as Digest from "../../../domain/Digest.js"
import type { BlobNotFound, InvalidDocument } from "../../../domain/Errors.js"
import type * as Image from "../../../domain/Image.js"
import type * as ImageIndex from "../../../domain/ImageIndex.js"
import type * as ImageLayer from "../../../domain/ImageLayer.js"
import { memoize } from "../../../domain/internal/memo.js"
import * as IndexManifest from "../../../domain/IndexManifest.js"
import * as MediaType from "../../../domain/MediaType.js"
import * as Partial from "../../../domain/Partial.js"
import * as Reference from "../../../domain/Reference.js"
import * as Progress from "../../Progress.js"
import { isRegistryError, RegistryError } from "../../RegistryError.js"
import * as RegistryTransport from "../../RegistryTransport.js"
import { RemoteError } from "./error.js"
import * as Fetch from "./fetch.js"
import * as Mount from "./mount.js"

/**
 * How a write may fail beyond the errors of what is written: a request, a referrers fallback
 * tag that holds something else than an OCI index, or one that does not decode, an index
 * that cannot provide a child it lists.
 *
 * @since 0.1.0
 */
export type WriteError = RegistryError | RemoteError | InvalidDocument | BlobNotFound

/**
 * The settings of a write, defaults filled in.
 *
 * @since 0.1.0
 */
export interface Settings {
  readonly concurrency: number
  /** Upload in `PATCH` chunks of this size; one streamed `PUT` when undefined. */
  readonly chunkSize: number | undefined
  readonly mountFrom: ReadonlyArray<Reference.Repository>
  readonly allowNondistributable: boolean
  readonly retry: RegistryTransport.RetrySettings
  readonly referrersTagFallback: boolean
}

/**
 * The chunk size used when the registry asks for chunked uploads (with
 * `OCI-Chunk-Min-Length`) and the caller named none: 5 MiB, or the registry's minimum.
 *
 * @since 0.1.0
 */
export const defaultChunkSize = 5 * 1024 * 1024

/**
 * What can be written as a manifest: its exact bytes and media type.
 *
 * @since 0.1.0
 */
export interface RawManifest {
  readonly bytes: Uint8Array
  readonly mediaType: MediaType.MediaType
}

/**
 * A writer to one repository. `E` is how reading what is written may fail.
 *
 * @since 0.1.0
 */
export interface Writer<E> {
  /** Writes an image's blobs, then its manifest under `ref` (by its digest when undefined). */
  readonly image: (ref: Reference.Reference | undefined, image: Image.Image<E>) => Effect.Effect<void, E | WriteError>
  /** Writes an index's children (recursively), then the index under `ref`. */
  readonly index: (
    ref: Reference.Reference | undefined,
    index: ImageIndex.ImageIndex<E>
  ) => Effect.Effect<void, E | WriteError>
  /** Writes one blob. */
  readonly layer: (layer: ImageLayer.ImageLayer<E>) => Effect.Effect<void, E | WriteError>
  /** `PUT`s manifest bytes under a reference, updating the referrers fallback tag if needed. */
  readonly put: (ref: Reference.Reference, manifest: RawManifest) => Effect.Effect<void, WriteError>
}

/**
 * What the writers of one write share: the slots that bound how many blobs go up at once,
 * and, by registry and digest, the first repository each blob is being written to (with a
 * signal of when that write ends), so that writers to other repositories of the same registry
 * wait for it and mount the blob instead of uploading its bytes again.
 *
 * @since 0.1.0
 */
export interface Shared {
  readonly uploads: Effect.Semaphore
  readonly blobs: Map<string, { readonly repository: Reference.Repository; readonly done: Deferred.Deferred<void> }>
}

/**
 * Makes the shared state of writers uploading at most `concurrency` blobs at once.
 *
 * @since 0.1.0
 */
export const makeShared = (concurrency: number): Effect.Effect<Shared> =>
  Effect.map(Effect.makeSemaphore(Math.max(1, concurrency)), (uploads) => ({ uploads, blobs: new Map() }))

// A stream layer (ggcr's `stream.Layer`) knows its digest only once its bytes have been read.
const isNotComputed = (u: unknown): boolean => Predicate.isTagged(u, "NotComputed")

// Groups a byte stream into chunks of exactly `size` bytes (the last one shorter), holding
// at most one chunk in memory.
const fixedChunks = <E>(stream: Stream.Stream<Uint8Array, E>, size: number): Stream.Stream<Uint8Array, E> =>
  Stream.suspend(() => {
    let buffer = new Uint8Array(size)
    let filled = 0
    const full = Stream.mapChunks(stream, (chunk) => {
      const out: Array<Uint8Array> = []
      for (const part of chunk) {
        let at = 0
        while (at < part.byteLength) {
          const n = Math.min(size - filled, part.byteLength - at)
          buffer.set(part.subarray(at, at + n), filled)
          filled += n
          at += n
          if (filled === size) {
            out.push(buffer)
            buffer = new Uint8Array(size)
            filled = 0
          }
        }
      }
      return Chunk.unsafeFromArray(out)
    })
    return Stream.concat(full, Stream.suspend(() => (filled > 0 ? Stream.succeed(buffer.subarray(0, filled)) : Stream.empty)))
  })

// What a manifest's bytes say about the referrer it makes: its subject and the descriptor
// it is listed with among its subject's referrers (artifact type, annotations).
const ReferrerFields = Schema.Struct({
  mediaType: Schema.optional(Schema.String),
  artifactType: Schema.optional(Schema.String),
  config: Schema.optional(Schema.Struct({ mediaType: Schema.String })),
  subject: Schema.optional(Schema.Struct({ digest: Digest.Digest })),
  annotations: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})
const decodeReferrerFields = Schema.decodeUnknownEither(Schema.parseJson(ReferrerFields))

/**
 * The referrers fallback tag of a subject: `sha256-<hex>`.
 *
 * @since 0.1.0
 */
export const fallbackTag = (repository: Reference.Repository, subject: Digest.Digest): Reference.Tag => ({
  _tag: "Tag",
  repository,
  tag: `${Digest.algorithm(subject)}-${Digest.hex(subject)}`
})

/**
 * Builds a writer to a repository; writers given the same `shared` state share their upload
 * slots and their blobs (see {@link Shared}).
 *
 * @since 0.1.0
 */
export const make = <E>(
  context: Fetch.Context,
  repository: Reference.Repository,
  settings: Settings,
  shared?: Shared
): Effect.Effect<Writer<E>> =>
  Effect.map(shared === undefined ? makeShared(settings.concurrency) : Effect.succeed(shared), (common) => {
    type Failure = E | WriteError
    const uploads = common.uploads
    const transport = context.transport
    const progress = context.progress
    const access = RegistryTransport.push(repository)
    const octets = "application/octet-stream"
    const work = new Map<string, Effect.Effect<void, Failure>>()
    const streamed = new WeakMap<ImageLayer.ImageLayer<E>, Effect.Effect<void, Failure>>()

    // Runs `effect` once per key: later callers share the run, or its success; a failure
    // lets the next caller try again.
    const once = (key: string, effect: Effect.Effect<void, Failure>): Effect.Effect<void, Failure> =>
      Effect.suspend(() => {
        let found = work.get(key)
        if (found === undefined) {
          found = memoize(effect)
          work.set(key, found)
        }
        return found
      })

    const report = (event: Progress.Event) => progress === Progress.none ? Effect.void : progress.report(event)

    // Retries a whole blob upload (existence check included) on a failure worth retrying:
    // the body of an upload is a stream, which the transport never sends twice.
    const notRetryable = new RegistryError({ reason: "Protocol", method: "PUT", url: "", detail: "not retryable" })
    const retrying = <A>(effect: Effect.Effect<A, Failure>): Effect.Effect<A, Failure> =>
      Effect.retry(
        effect,
        RegistryTransport.retryPolicy(settings.retry).pipe(
          Schedule.mapInput((e: Failure) => (isRegistryError(e) ? e : notRetryable))
        )
      )

    const blobPath = (digest: Digest.Digest) => Fetch.path(repository, "blobs", digest)
    const uploadsPath = `/v2/${repository.path}/blobs/uploads/`

    const blobExists = (digest: Digest.Digest) =>
      Effect.map(
        transport.execute(HttpClientRequest.head(blobPath(digest)), access, { expected: [200, 404] }),
        (response) => response.status === 200
      )

    type Session =
      | { readonly _tag: "Mounted" }
      | { readonly _tag: "Upload"; readonly location: URL; readonly minChunk: number | undefined }

    const sessionOf = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<Session, RegistryError> =>
      Effect.gen(function*() {
        yield* Fetch.discard(response)
        if (response.status === 201) return { _tag: "Mounted" } as const
        const location = yield* RegistryTransport.location(response)
        const min = Number(response.headers["oci-chunk-min-length"] ?? Number.NaN)
        return { _tag: "Upload", location, minChunk: Number.isSafeInteger(min) && min > 0 ? min : undefined } as const
      })

    const cancel = (location: URL) =>
      Effect.ignore(Effect.flatMap(transport.execute(HttpClientRequest.del(location.href), access), Fetch.discard))

    // Starts an upload, first trying to mount the blob from each candidate repository: 201
    // means mounted; 202 is an upload session (the registry could not mount). A mount the
    // registry refuses outright is retried without, as ggcr does.
    const initiate = (
      digest: Digest.Digest | undefined,
      candidates: ReadonlyArray<Reference.Repository>
    ): Effect.Effect<Session, RegistryError> =>
      Effect.gen(function*() {
        if (digest !== undefined) {
          for (const [i, from] of candidates.entries()) {
            const request = HttpClientRequest.post(uploadsPath).pipe(
              HttpClientRequest.setUrlParams({ mount: digest, from: from.path })
            )
            const attempt = yield* Effect.either(
              Effect.flatMap(
                transport.execute(request, RegistryTransport.push(repository, { mountFrom: [from] }), {
                  expected: [201, 202]
                }),
                sessionOf
              )
            )
            if (Either.isLeft(attempt)) {
              if (attempt.left.reason === "Status") continue
              return yield* attempt.left
            }
            const session = attempt.right
            if (session._tag === "Mounted" || i === candidates.length - 1) return session
            yield* cancel(session.location)
          }
        }
        const response = yield* transport.execute(HttpClientRequest.post(uploadsPath), access, { expected: [202] })
        return yield* sessionOf(response)
      })

    const withDigest = (location: URL, digest: Digest.Digest): string => {
      const url = new URL(location)
      url.searchParams.set("digest", digest)
      return url.href
    }

    // Sends a request whose body is the layer's stream; if the stream itself failed, that
    // failure (the layer's own error) is the answer, not the transport's.
    const sendBody = (
      request: HttpClientRequest.HttpClientRequest,
      body: Stream.Stream<Uint8Array, E>,
      contentLength: number | undefined,
      expected: ReadonlyArray<number>
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, Failure> =>
      Effect.suspend(() => {
        let failure: Option.Option<E> = Option.none()
        const watched = Stream.tapError(body, (e) => Effect.sync(() => (failure = Option.some(e))))
        return transport.execute(
          HttpClientRequest.bodyStream(request, watched, {
            contentType: octets,
            ...(contentLength !== undefined ? { contentLength } : {})
          }),
          access,
          { expected }
        ).pipe(
          Effect.catchAll((e): Effect.Effect<never, Failure> =>
            Option.match(failure, { onNone: () => Effect.fail(e), onSome: (own) => Effect.fail(own) })
          )
        )
      })

    const monolithic = (location: URL, body: Stream.Stream<Uint8Array, E>, digest: Digest.Digest, size: number) =>
      Effect.flatMap(
        sendBody(HttpClientRequest.put(withDigest(location, digest)), body, size, [201, 204]),
        Fetch.discard
      )

    const chunked = (start: URL, body: Stream.Stream<Uint8Array, E>, digest: Digest.Digest, chunkSize: number) =>
      Effect.gen(function*() {
        let location = start
        let offset = 0
        yield* Stream.runForEach(fixedChunks(body, chunkSize), (chunk) =>
          Effect.gen(function*() {
            const response = yield* transport.execute(
              HttpClientRequest.patch(location.href).pipe(
                HttpClientRequest.bodyUint8Array(chunk, octets),
                HttpClientRequest.setHeader("content-range", `${offset}-${offset + chunk.byteLength - 1}`)
              ),
              access,
              { expected: [202, 204] }
            )
            location = yield* RegistryTransport.location(response)
            yield* Fetch.discard(response)
            offset += chunk.byteLength
          }))
        const done = yield* transport.execute(HttpClientRequest.put(withDigest(location, digest)), access, {
          expected: [201, 204]
        })
        yield* Fetch.discard(done)
      })

    const host = Reference.registryHost(repository.registry)

    const mountCandidates = (
      sources: ReadonlyArray<Reference.Repository | undefined>
    ): ReadonlyArray<Reference.Repository> => {
      const all = [...sources.filter(Predicate.isNotUndefined), ...settings.mountFrom]
      const seen = new Set<string>()
      return all.filter((r) => {
        const usable = Reference.registryHost(r.registry) === host && r.path !== repository.path && !seen.has(r.path)
        seen.add(r.path)
        return usable
      })
    }

    // ggcr's uploadOne: HEAD, mount or upload, with the whole of it retried.
    const uploadOne = (
      blob: ImageLayer.ImageLayer<E>,
      digest: Digest.Digest,
      sources: ReadonlyArray<Reference.Repository | undefined>
    ): Effect.Effect<void, Failure> =>
      Effect.gen(function*() {
        const size = yield* blob.size
        const skip = (reason: "Exists" | "Mounted") =>
          report({ _tag: "Skip", id: digest, total: size, direction: "Upload", reason })
        const attempt = Effect.gen(function*() {
          if (yield* blobExists(digest)) return yield* skip("Exists")
          const session = yield* initiate(digest, mountCandidates(sources))
          if (session._tag === "Mounted") return yield* skip("Mounted")
          const body = Progress.track(blob.compressed, progress, { id: digest, total: size, direction: "Upload" })
          const chunkSize = settings.chunkSize ??
            (session.minChunk === undefined ? undefined : Math.max(session.minChunk, defaultChunkSize))
          return yield* chunkSize === undefined
            ? monolithic(session.location, body, digest, size)
            : chunked(session.location, body, digest, Math.max(chunkSize, session.minChunk ?? 1))
        })
        return yield* retrying(attempt)
      })

    // A stream layer: its bytes go up in one streamed PATCH, and its digest, known once they
    // have been read, closes the upload. It cannot be checked for, mounted or retried.
    const uploadStreamed = (blob: ImageLayer.ImageLayer<E>): Effect.Effect<void, Failure> =>
      Effect.gen(function*() {
        const session = yield* initiate(undefined, [])
        if (session._tag === "Mounted") return
        const body = Progress.track(blob.compressed, progress, { id: "stream", total: undefined, direction: "Upload" })
        const patched = yield* sendBody(HttpClientRequest.patch(session.location.href), body, undefined, [202, 204])
        const location = yield* RegistryTransport.location(patched)
        yield* Fetch.discard(patched)
        const digest = yield* blob.digest
        const done = yield* transport.execute(HttpClientRequest.put(withDigest(location, digest)), access, {
          expected: [201, 204]
        })
        yield* Fetch.discard(done)
        // Mark it written, so that the same digest is not uploaded again.
        yield* once(digest, Effect.void)
      })

    const writeBlob = (
      blob: ImageLayer.ImageLayer<E>,
      source: Reference.Repository | undefined
    ): Effect.Effect<void, Failure> =>
      Effect.gen(function*() {
        const mediaType = yield* blob.mediaType
        if (!MediaType.isDistributable(mediaType) && !settings.allowNondistributable) return
        const digest = yield* Effect.either(blob.digest)
        if (Either.isLeft(digest)) {
          if (!isNotComputed(digest.left)) return yield* Effect.fail(digest.left)
          let found = streamed.get(blob)
          if (found === undefined) {
            found = memoize(uploads.withPermits(1)(uploadStreamed(blob)))
            streamed.set(blob, found)
          }
          return yield* found
        }
        return yield* writeKnown(blob, digest.right, source)
      })

    // A blob whose digest is known, written once per repository. The first writer of a
    // write's shared state to take a digest uploads it; writers to other repositories of the
    // same registry wait for that, then mount the blob from there (or upload it themselves
    // when the mount is refused).
    const writeKnown = (
      blob: ImageLayer.ImageLayer<E>,
      digest: Digest.Digest,
      source: Reference.Repository | undefined
    ): Effect.Effect<void, Failure> =>
      Effect.suspend(() => {
        const key = `${host}\n${digest}`
        const first = common.blobs.get(key)
        const upload = (sibling: Reference.Repository | undefined) =>
          uploads.withPermits(1)(uploadOne(blob, digest, [sibling, source]))
        if (first === undefined) {
          const done = Deferred.unsafeMake<void>(FiberId.none)
          common.blobs.set(key, { repository, done })
          return once(digest, upload(undefined)).pipe(Effect.ensuring(Deferred.succeed(done, undefined)))
        }
        if (first.repository.path === repository.path) return once(digest, upload(undefined))
        return once(digest, Effect.zipRight(Deferred.await(first.done), upload(first.repository)))
      })

    const writeLayer = (blob: ImageLayer.ImageLayer<E>) => writeBlob(blob, Mount.sourceOf(blob))

    // The config blob as the image gives it by digest (a pulled image streams it from where
    // it was read, without reading it first), or else made from its bytes.
    const configBlob = (image: Image.Image<E>): Effect.Effect<ImageLayer.ImageLayer<E>, E | BlobNotFound> =>
      Effect.flatMap(image.manifest, (m) => image.layerByDigest(m.config.digest)).pipe(
        Effect.catchIf(
          (e): e is BlobNotFound => Predicate.isTagged(e, "BlobNotFound"),
          () => Partial.configLayer(image)
        )
      )

    // The layers (concurrently) and then the config blob, which waits for the layers only
    // when it cannot be known before them (stream layers change the diff ids).
    const writeDeps = (image: Image.Image<E>): Effect.Effect<void, Failure> =>
      Effect.gen(function*() {
        const layers = yield* image.layers
        const source = Mount.sourceOf(image)
        const config = yield* Effect.either(configBlob(image))
        const layerJobs = layers.map(writeLayer)
        if (Either.isLeft(config)) {
          if (!isNotComputed(config.left)) return yield* Effect.fail(config.left)
          yield* Effect.all(layerJobs, { concurrency: settings.concurrency, discard: true })
          const later = yield* configBlob(image)
          return yield* writeBlob(later, source)
        }
        yield* Effect.all([...layerJobs, writeBlob(config.right, source)], {
          concurrency: settings.concurrency,
          discard: true
        })
      })

    // ggcr's manifestExists: a HEAD that finds this digest under the reference. Missing
    // headers and a 403 (some registries) count as absent.
    const manifestExists = (ref: Reference.Reference, digest: Digest.Digest) =>
      Effect.map(
        Fetch.headManifest(context, ref, { absent: [403, 404], access }).pipe(
          Effect.catchTag("DigestMismatch", () => Effect.succeed(Option.none<Descriptor.Descriptor>()))
        ),
        Option.exists((found) => found.digest === digest)
      )

    // Adds a referrer to its subject's fallback tag index (ggcr's commitSubjectReferrers).
    const updateFallback = (subject: Digest.Digest, add: Descriptor.Descriptor): Effect.Effect<void, WriteError> =>
      Effect.gen(function*() {
        const tag = fallbackTag(repository, subject)
        const response = yield* transport.execute(
          HttpClientRequest.get(Fetch.path(repository, "manifests", tag.tag)).pipe(
            HttpClientRequest.setHeader("accept", MediaType.OCI_INDEX)
          ),
          access,
          { expected: [200, 404] }
        )
        let manifests: ReadonlyArray<Descriptor.Descriptor>
        let base: IndexManifest.IndexManifest | undefined
        if (response.status === 404) {
          yield* Fetch.discard(response)
          manifests = [add]
        } else {
          const bytes = yield* RegistryTransport.readManifest(response)
          const decoded = yield* IndexManifest.decode(bytes, { mediaType: MediaType.OCI_INDEX })
          if (decoded.mediaType !== MediaType.OCI_INDEX || decoded.value.mediaType !== MediaType.OCI_INDEX) {
            return yield* new RemoteError({
              reason: "InvalidFallbackIndex",
              reference: Reference.name(tag),
              mediaType: decoded.value.mediaType ?? decoded.mediaType
            })
          }
          if (decoded.value.manifests.some((d) => d.digest === add.digest)) return
          base = decoded.value
          manifests = [...decoded.value.manifests, add]
        }
        const sorted = [...manifests].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0))
        const index = base === undefined
          ? IndexManifest.make(sorted, { mediaType: MediaType.OCI_INDEX })
          : { ...base, manifests: sorted }
        yield* putRaw(tag, { bytes: IndexManifest.encode(index), mediaType: MediaType.OCI_INDEX })
      })

    const putRaw = (ref: Reference.Reference, manifest: RawManifest) =>
      Effect.flatMap(
        transport.execute(
          HttpClientRequest.put(Fetch.path(repository, "manifests", Reference.identifier(ref))).pipe(
            HttpClientRequest.bodyUint8Array(manifest.bytes, manifest.mediaType)
          ),
          access,
          { expected: [200, 201, 202] }
        ),
        (response) => Effect.as(Fetch.discard(response), response)
      )

    // PUTs a manifest; one with a subject, on a registry that did not say it took note of it
    // (no `OCI-Subject`), is added to the subject's referrers fallback tag.
    const put = (ref: Reference.Reference, manifest: RawManifest): Effect.Effect<void, WriteError> =>
      Effect.gen(function*() {
        const digest = Digest.fromBytes(manifest.bytes)
        const transfer = { id: digest, total: manifest.bytes.byteLength, direction: "Upload" } as const
        yield* report({ _tag: "Start", ...transfer })
        const response = yield* putRaw(ref, manifest)
        yield* report({ _tag: "Done", ...transfer, bytes: manifest.bytes.byteLength })
        const fields = decodeReferrerFields(new TextDecoder().decode(manifest.bytes))
        if (Either.isLeft(fields)) return
        const f = fields.right
        const subject = f.subject?.digest
        if (subject === undefined || response.headers["oci-subject"] !== undefined || !settings.referrersTagFallback) return
        const configType = f.config?.mediaType
        const artifactType = f.artifactType ??
          (configType !== undefined && MediaType.isImage(manifest.mediaType) ? configType : undefined)
        yield* updateFallback(
          subject,
          Descriptor.make(manifest.mediaType, digest, manifest.bytes.byteLength, {
            ...(artifactType !== undefined ? { artifactType } : {}),
            ...(f.annotations !== undefined ? { annotations: f.annotations } : {})
          })
        )
      })

    const skipManifest = (digest: Digest.Digest, size: number) =>
      report({ _tag: "Skip", id: digest, total: size, direction: "Upload", reason: "Exists" })

    // ggcr's writeManifest: the existence check (outside the shared work for tags, since a
    // tag may point elsewhere), the dependencies, then the PUT, shared by digest.
    const writeManifest = (
      ref: Reference.Reference | undefined,
      item: Image.Image<E> | ImageIndex.ImageIndex<E>,
      deps: Effect.Effect<void, Failure>
    ): Effect.Effect<void, Failure> =>
      Effect.gen(function*() {
        const raw = (): Effect.Effect<RawManifest, E> =>
          Effect.map(Effect.all([item.rawManifest, item.mediaType]), ([bytes, mediaType]) => ({ bytes, mediaType }))
        const first = yield* Effect.either(raw())
        const depsDone = Either.isLeft(first)
        if (Either.isLeft(first)) {
          if (!isNotComputed(first.left)) return yield* Effect.fail(first.left)
          yield* deps
        }
        const manifest = Either.isRight(first) ? first.right : yield* raw()
        const digest = Digest.fromBytes(manifest.bytes)
        const target = ref ?? Reference.withDigest(repository, digest)
        const byTag = target._tag === "Tag"
        if (byTag && (yield* manifestExists(target, digest))) return yield* skipManifest(digest, manifest.bytes.byteLength)
        let putHere = false
        yield* once(
          digest,
          Effect.gen(function*() {
            if (!byTag && (yield* manifestExists(target, digest))) {
              return yield* skipManifest(digest, manifest.bytes.byteLength)
            }
            if (!depsDone) yield* deps
            putHere = true
            yield* put(target, manifest)
          })
        )
        // The digest's work was done by another reference: this tag still needs its PUT.
        if (byTag && !putHere) yield* put(target, manifest)
      })

    const writeImage = (ref: Reference.Reference | undefined, image: Image.Image<E>) =>
      writeManifest(ref, image, writeDeps(image))

    const writeChildren = (index: ImageIndex.ImageIndex<E>): Effect.Effect<void, Failure> =>
      Effect.gen(function*() {
        const manifest = yield* index.indexManifest
        yield* Effect.forEach(
          manifest.manifests,
          (descriptor) =>
            Effect.flatMap(index.child(descriptor.digest), (child): Effect.Effect<void, Failure> => {
              switch (child._tag) {
                case "Image":
                  return writeImage(undefined, child.image)
                case "Index":
                  return writeIndex(undefined, child.index)
                case "Other":
                  return writeOther(child.descriptor, child.bytes)
              }
            }),
          { concurrency: settings.concurrency, discard: true }
        )
      })

    // A child manifest of a type the model does not know (an artifact): its bytes, by digest.
    const writeOther = (descriptor: Descriptor.Descriptor, bytes: Uint8Array): Effect.Effect<void, Failure> => {
      const ref = Reference.withDigest(repository, descriptor.digest)
      return once(
        descriptor.digest,
        Effect.gen(function*() {
          if (yield* manifestExists(ref, descriptor.digest)) return yield* skipManifest(descriptor.digest, bytes.byteLength)
          yield* put(ref, { bytes, mediaType: descriptor.mediaType })
        })
      )
    }

    const writeIndex = (ref: Reference.Reference | undefined, index: ImageIndex.ImageIndex<E>): Effect.Effect<void, Failure> =>
      writeManifest(ref, index, writeChildren(index))

    return {
      image: writeImage,
      index: writeIndex,
      layer: writeLayer,
      put
    }
  })
