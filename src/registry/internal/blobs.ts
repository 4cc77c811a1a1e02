/**
 * The blob endpoints: reading (`GET`/`HEAD`, with ranges), deleting, and upload sessions
 * (`POST` to start, mount or upload at once, `PATCH` to append, `PUT` to finish, `GET` for
 * the status, `DELETE` to cancel). Bodies stream from the request into the blob store and
 * from the store into the response.
 *
 * A blob belongs to the registry's blob store; a repository may serve it once it is linked
 * there (after an upload or a mount into that repository). Deleting a blob through a
 * repository removes that link only.
 *
 * @internal
 */
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import * as Digest from "../../domain/Digest.js"
import * as BlobStore from "../../services/BlobStore.js"
import * as ManifestStore from "../../services/ManifestStore.js"
import * as OciError from "../OciError.js"
import * as Common from "./common.js"
import * as Http from "./http.js"
import * as Route from "./route.js"

type Services = BlobStore.BlobStore | ManifestStore.ManifestStore | HttpServerRequest.HttpServerRequest

type Handler = Effect.Effect<HttpServerResponse.HttpServerResponse, OciError.OciError, Services>

const octetStream = "application/octet-stream"

const blobUnknown = (repository: string, digest: Digest.Digest) =>
  OciError.make("BLOB_UNKNOWN", `blob ${digest} is not known to repository ${Common.quote(repository)}`)

const blobLocation = (repository: string, digest: Digest.Digest) => Route.repositoryPath(repository, "blobs", digest)

const uploadLocation = (repository: string, id: string) => Route.repositoryPath(repository, "blobs", "uploads", id)

const empty = (status: number, headers: Record<string, string>) =>
  HttpServerResponse.empty({ status, headers: status === 204 ? headers : { ...headers, "content-length": "0" } })

// The answer to a blob that is now in the repository.
const created = (repository: string, digest: Digest.Digest) =>
  empty(201, { location: blobLocation(repository, digest), "docker-content-digest": digest })

const sessionHeaders = (repository: string, id: string, size: number) => ({
  location: uploadLocation(repository, id),
  range: Http.uploadRange(size),
  "docker-upload-uuid": id
})

// Errors of a request body that failed while it was read: the client went away or sent
// something the server could not read.
const bodyFailed = (cause: unknown) =>
  OciError.make("BLOB_UPLOAD_INVALID", "the request body could not be read", { cause })

type BodyError = HttpServerError.RequestError | Http.LengthMismatch

const bodyError = (e: BodyError) =>
  e._tag === "LengthMismatch"
    ? OciError.make("SIZE_INVALID", `the request body does not have the announced length: ${e.message}`, { cause: e })
    : bodyFailed(e)

const link = (repository: string, digest: Digest.Digest) =>
  Effect.flatMap(ManifestStore.ManifestStore, (store) => store.linkBlob(repository, digest)).pipe(
    Effect.mapError(Common.fromManifestStoreError)
  )

const isLinked = (repository: string, digest: Digest.Digest) =>
  Effect.flatMap(ManifestStore.ManifestStore, (store) => store.hasBlobLink(repository, digest)).pipe(
    Effect.mapError(Common.fromManifestStoreError)
  )

const stat = (digest: Digest.Digest) =>
  Effect.flatMap(BlobStore.BlobStore, (store) => store.stat(digest)).pipe(Effect.mapError(Common.fromBlobStoreError))

/** `GET`/`HEAD /v2/<name>/blobs/<digest>`. @internal */
export const get = (name: string, input: string): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const repository = yield* Common.repositoryName(name)
    const digest = yield* Common.digest(input)
    const store = yield* BlobStore.BlobStore
    if (!(yield* isLinked(repository, digest))) return yield* blobUnknown(repository, digest)
    const headers = {
      "docker-content-digest": digest,
      "accept-ranges": "bytes",
      etag: `"${digest}"`,
      "cache-control": "max-age=31536000"
    }
    if (request.method === "HEAD") {
      const info = yield* stat(digest)
      if (Option.isNone(info)) return yield* blobUnknown(repository, digest)
      return HttpServerResponse.empty({
        status: 200,
        headers: { ...headers, "content-type": octetStream, "content-length": String(info.value.size) }
      })
    }
    let range: BlobStore.ByteRange | undefined
    const rangeHeader = Http.header(request, "range")
    if (rangeHeader !== undefined) {
      const info = yield* stat(digest)
      if (Option.isNone(info)) return yield* blobUnknown(repository, digest)
      const resolved = Http.resolveRange(rangeHeader, info.value.size)
      if (resolved._tag === "Unsatisfiable") {
        return yield* OciError.make("BLOB_UNKNOWN", `range ${rangeHeader} is not satisfiable for ${info.value.size} bytes`, {
          status: 416,
          headers: { "content-range": `bytes */${info.value.size}` }
        })
      }
      if (resolved._tag === "Part") range = { start: resolved.start, end: resolved.end }
    }
    const found = yield* store.get(digest, range).pipe(
      Effect.mapError((e) =>
        e.reason === "RangeNotSatisfiable"
          ? OciError.make("BLOB_UNKNOWN", e.message, {
            status: 416,
            headers: { "content-range": `bytes */${e.size ?? 0}` }
          })
          : Common.fromBlobStoreError(e)
      )
    )
    if (Option.isNone(found)) return yield* blobUnknown(repository, digest)
    const content = found.value
    const partial = range !== undefined
    return HttpServerResponse.stream(content.stream, {
      status: partial ? 206 : 200,
      contentType: octetStream,
      contentLength: content.length,
      headers: {
        ...headers,
        "content-length": String(content.length),
        ...(partial
          ? { "content-range": `bytes ${content.offset}-${content.offset + content.length - 1}/${content.size}` }
          : {})
      }
    })
  })

/** `DELETE /v2/<name>/blobs/<digest>`: unlinks the blob from the repository. @internal */
export const remove = (config: Common.Config, name: string, input: string): Handler =>
  Effect.gen(function*() {
    if (!config.deleteEnabled) return yield* Common.deletesDisabled
    const repository = yield* Common.repositoryName(name)
    const digest = yield* Common.digest(input)
    const manifests = yield* ManifestStore.ManifestStore
    const removed = yield* manifests.unlinkBlob(repository, digest).pipe(Effect.mapError(Common.fromManifestStoreError))
    if (!removed) return yield* blobUnknown(repository, digest)
    return empty(202, {})
  })

// A new upload session.
const startUpload = (repository: string) =>
  Effect.gen(function*() {
    const store = yield* BlobStore.BlobStore
    const id = yield* store.createUpload.pipe(Effect.mapError(Common.fromBlobStoreError))
    return empty(202, sessionHeaders(repository, id, 0))
  })

/**
 * `POST /v2/<name>/blobs/uploads/`: a cross-repository mount (`?mount=&from=`), a whole
 * blob in one request (`?digest=` with a body), or a new upload session.
 *
 * @internal
 */
export const startOrMount = (name: string): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const repository = yield* Common.repositoryName(name)
    const params = Route.searchParamsOf(request.url)
    const mount = params.get("mount")
    if (mount !== null) {
      const digest = yield* Common.digest(mount)
      const from = params.get("from")
      if (from !== null && ManifestStore.isRepositoryName(from) && (yield* isLinked(from, digest))) {
        if (Option.isSome(yield* stat(digest))) {
          yield* link(repository, digest)
          return created(repository, digest)
        }
      }
      return yield* startUpload(repository)
    }
    const digestParam = params.get("digest")
    if (digestParam !== null) return yield* uploadWhole(repository, digestParam)
    const algorithm = params.get("digest-algorithm")
    if (algorithm !== null && !Object.prototype.hasOwnProperty.call(Digest.algorithms, algorithm)) {
      return yield* OciError.make("DIGEST_INVALID", `unsupported digest algorithm ${Common.quote(algorithm)}`)
    }
    return yield* startUpload(repository)
  })

// `POST ...?digest=` with the whole blob as the body.
const uploadWhole = (repository: string, digestParam: string) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const store = yield* BlobStore.BlobStore
    const digest = yield* Common.digest(digestParam)
    const length = yield* Http.contentLength(request)
    yield* store.put(Http.body(request), { digest, size: Option.getOrUndefined(length) }).pipe(
      Effect.mapError((e) => {
        switch (e._tag) {
          case "BlobStoreError":
            return Common.fromBlobStoreError(e)
          case "DigestMismatch":
          case "SizeMismatch":
            return Common.fromVerification(e)
          default:
            return bodyFailed(e)
        }
      })
    )
    yield* link(repository, digest)
    return created(repository, digest)
  })

// A chunk of an upload: the body, checked against `Content-Length` and `Content-Range`.
const chunkOf = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const length = yield* Http.contentLength(request)
    const rangeHeader = Http.header(request, "content-range")
    const range = rangeHeader === undefined ? Option.none() : Http.parseContentRange(rangeHeader)
    if (rangeHeader !== undefined && Option.isNone(range)) {
      return yield* OciError.make("BLOB_UPLOAD_INVALID", `invalid Content-Range ${Common.quote(rangeHeader)}`)
    }
    const expected = Option.match(range, {
      onNone: () => Option.getOrUndefined(length),
      onSome: (r) => r.end - r.start + 1
    })
    if (Option.isSome(range) && Option.isSome(length) && length.value !== expected) {
      return yield* OciError.make(
        "SIZE_INVALID",
        `Content-Length ${length.value} does not match Content-Range ${Common.quote(rangeHeader ?? "")}`
      )
    }
    const body = Http.body(request)
    const stream: Stream.Stream<Uint8Array, BodyError> = expected === undefined ? body : Http.exactly(body, expected)
    return { stream, offset: Option.getOrUndefined(Option.map(range, (r) => r.start)) }
  })

// Appends a chunk to an upload, answering 416 (with the upload's state) when it is out of order.
const append = (
  repository: string,
  id: string,
  chunk: { readonly stream: Stream.Stream<Uint8Array, BodyError>; readonly offset: number | undefined }
) =>
  Effect.gen(function*() {
    const store = yield* BlobStore.BlobStore
    return yield* store.appendUpload(id, chunk.stream, chunk.offset).pipe(
      Effect.mapError((e) => {
        if (e._tag !== "BlobStoreError") return bodyError(e)
        return e.reason === "RangeMismatch"
          ? OciError.make("BLOB_UPLOAD_INVALID", e.message, {
            status: 416,
            headers: sessionHeaders(repository, id, e.size ?? 0),
            cause: e
          })
          : Common.fromBlobStoreError(e)
      })
    )
  })

/** `PATCH <upload location>`: appends a chunk (in order when it has a `Content-Range`). @internal */
export const patch = (name: string, id: string): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const repository = yield* Common.repositoryName(name)
    const chunk = yield* chunkOf(request)
    const size = yield* append(repository, id, chunk)
    return empty(202, sessionHeaders(repository, id, size))
  })

/**
 * `PUT <upload location>?digest=`: appends the last chunk, if any, and commits the upload as
 * the blob the digest names.
 *
 * @internal
 */
export const finish = (name: string, id: string): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const repository = yield* Common.repositoryName(name)
    const digestParam = Route.searchParamsOf(request.url).get("digest")
    if (digestParam === null) {
      return yield* OciError.make("DIGEST_INVALID", "the digest query parameter is missing")
    }
    const digest = yield* Common.digest(digestParam)
    if (Http.hasBody(request)) {
      const chunk = yield* chunkOf(request)
      if (chunk.offset !== undefined) {
        yield* append(repository, id, chunk)
      } else {
        yield* commit(repository, id, digest, chunk.stream)
        return created(repository, digest)
      }
    }
    yield* commit(repository, id, digest, undefined)
    return created(repository, digest)
  })

const commit = (
  repository: string,
  id: string,
  digest: Digest.Digest,
  finalChunk: Stream.Stream<Uint8Array, BodyError> | undefined
) =>
  Effect.gen(function*() {
    const store = yield* BlobStore.BlobStore
    yield* store.commitUpload(id, digest, finalChunk).pipe(
      Effect.mapError((e) => {
        switch (e._tag) {
          case "BlobStoreError":
            return Common.fromBlobStoreError(e)
          case "DigestMismatch":
            return OciError.make("DIGEST_INVALID", `the uploaded bytes are not ${digest}: ${e.message}`, { cause: e })
          default:
            return bodyError(e)
        }
      })
    )
    yield* link(repository, digest)
  })

/** `GET <upload location>`: where an upload stands. @internal */
export const status = (name: string, id: string): Handler =>
  Effect.gen(function*() {
    const repository = yield* Common.repositoryName(name)
    const store = yield* BlobStore.BlobStore
    const found = yield* store.uploadStatus(id).pipe(Effect.mapError(Common.fromBlobStoreError))
    if (Option.isNone(found)) return yield* uploadUnknown(id)
    return empty(204, sessionHeaders(repository, id, found.value.size))
  })

/** `DELETE <upload location>`: cancels an upload. @internal */
export const cancel = (name: string, id: string): Handler =>
  Effect.gen(function*() {
    yield* Common.repositoryName(name)
    const store = yield* BlobStore.BlobStore
    yield* store.cancelUpload(id).pipe(Effect.mapError(Common.fromBlobStoreError))
    return empty(204, {})
  })

const uploadUnknown = (id: string) =>
  OciError.make("BLOB_UPLOAD_UNKNOWN", `no upload session ${Common.quote(id)}`)
