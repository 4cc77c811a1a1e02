/**
 * The manifest endpoints: `PUT` (validated, with its references checked and its `subject`
 * recorded as a referrer), `GET`/`HEAD` by tag or digest, `DELETE` by digest or tag.
 *
 * A manifest is kept as the exact bytes the client sent, with the media type it declared;
 * its digest is over those bytes.
 *
 * @internal
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Descriptor from "../../domain/Descriptor.js"
import * as Digest from "../../domain/Digest.js"
import type { InvalidDocument } from "../../domain/Errors.js"
import * as IndexManifest from "../../domain/IndexManifest.js"
import * as Json from "../../domain/internal/json.js"
import * as Manifest from "../../domain/Manifest.js"
import * as MediaType from "../../domain/MediaType.js"
import * as BlobStore from "../../services/BlobStore.js"
import * as ManifestStore from "../../services/ManifestStore.js"
import * as OciError from "../OciError.js"
import * as Common from "./common.js"
import * as Http from "./http.js"
import * as Route from "./route.js"

type Services = BlobStore.BlobStore | ManifestStore.ManifestStore | HttpServerRequest.HttpServerRequest

type Handler = Effect.Effect<HttpServerResponse.HttpServerResponse, OciError.OciError, Services>

/** A manifest reference from the URL: a tag or a digest. @internal */
export type Reference =
  | { readonly _tag: "Tag"; readonly tag: string }
  | { readonly _tag: "Digest"; readonly digest: Digest.Digest }

/**
 * Reads a reference: one with a `:` must be a valid digest (else `DIGEST_INVALID`); anything
 * else is a tag, `None` when it breaks the tag grammar.
 *
 * @internal
 */
export const reference = (input: string): Effect.Effect<Option.Option<Reference>, OciError.OciError> =>
  input.includes(":")
    ? Effect.map(Common.digest(input), (digest) => Option.some({ _tag: "Digest", digest } as const))
    : Effect.succeed(ManifestStore.isTag(input) ? Option.some({ _tag: "Tag", tag: input } as const) : Option.none())

const manifestUnknown = (repository: string, input: string) =>
  OciError.make("MANIFEST_UNKNOWN", `manifest ${Common.quote(input)} is not known to repository ${Common.quote(repository)}`)

// A missing manifest: MANIFEST_UNKNOWN in a repository that exists, NAME_UNKNOWN otherwise.
const missing = (repository: string, input: string) =>
  Effect.flatMap(exists(repository), (found) =>
    Effect.fail(found ? manifestUnknown(repository, input) : Common.nameUnknown(repository)))

/** True when a repository holds anything (tags, manifests or blob links). @internal */
export const exists = (repository: string): Effect.Effect<boolean, OciError.OciError, ManifestStore.ManifestStore> =>
  Effect.flatMap(ManifestStore.ManifestStore, (store) => store.listTags(repository, { n: 0 })).pipe(
    Effect.map(Option.isSome),
    Effect.mapError(Common.fromManifestStoreError)
  )

/** `GET`/`HEAD /v2/<name>/manifests/<reference>`. @internal */
export const get = (name: string, input: string): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const repository = yield* Common.repositoryName(name)
    const ref = yield* reference(input)
    if (Option.isNone(ref)) return yield* missing(repository, input)
    const store = yield* ManifestStore.ManifestStore
    const found = yield* store.getManifest(repository, input).pipe(Effect.mapError(Common.fromManifestStoreError))
    if (Option.isNone(found)) return yield* missing(repository, input)
    const manifest = found.value
    const headers = {
      "docker-content-digest": manifest.digest,
      etag: `"${manifest.digest}"`,
      "content-length": String(manifest.bytes.byteLength)
    }
    return request.method === "HEAD"
      ? HttpServerResponse.empty({ status: 200, headers: { ...headers, "content-type": manifest.mediaType } })
      : HttpServerResponse.uint8Array(manifest.bytes, { status: 200, contentType: manifest.mediaType, headers })
  })

/** `DELETE /v2/<name>/manifests/<reference>`: a digest deletes the manifest, a tag the tag. @internal */
export const remove = (config: Common.Config, name: string, input: string): Handler =>
  Effect.gen(function*() {
    if (!config.deleteEnabled) return yield* Common.deletesDisabled
    const repository = yield* Common.repositoryName(name)
    const ref = yield* reference(input)
    if (Option.isNone(ref)) return yield* missing(repository, input)
    const store = yield* ManifestStore.ManifestStore
    const removed = yield* (ref.value._tag === "Digest"
      ? store.deleteManifest(repository, ref.value.digest)
      : store.deleteTag(repository, ref.value.tag)).pipe(Effect.mapError(Common.fromManifestStoreError))
    if (!removed) return yield* missing(repository, input)
    return HttpServerResponse.empty({ status: 202, headers: { "content-length": "0" } })
  })

/** A decoded manifest: an image manifest or an index. */
type Decoded =
  | { readonly _tag: "Image"; readonly raw: Manifest.Raw }
  | { readonly _tag: "Index"; readonly raw: IndexManifest.Raw }

const invalid = (detail: string, cause?: unknown) => OciError.make("MANIFEST_INVALID", detail, { cause })

// The media type of a `Content-Type` header, without parameters.
const contentType = (value: string | undefined): string | undefined => {
  if (value === undefined) return undefined
  const type = value.split(";")[0]?.trim() ?? ""
  return type === "" ? undefined : type
}

/**
 * Decodes manifest bytes as the kind the `Content-Type` names (or, when it names no manifest
 * type, the kind the document's own `mediaType` field names), refusing Docker schema 1, other
 * kinds of document, a document of no known kind, and a `mediaType` field that contradicts the
 * `Content-Type`. The kind is never guessed from the document's shape: a manifest with neither
 * is refused, as the CNCF distribution registry does.
 *
 * @internal
 */
export const decode = (
  bytes: Uint8Array,
  declaredType: string | undefined,
  maxSize: number
): Either.Either<Decoded, OciError.OciError> => {
  const declared = declaredType !== undefined && MediaType.isManifest(declaredType) ? declaredType : undefined
  const kind = declared ?? ownMediaType(bytes, maxSize)
  const options = { maxSize, mediaType: declared }
  const refused = (e: InvalidDocument) => invalid(e.message, e)
  let decoded: Either.Either<Decoded, OciError.OciError>
  if (kind === undefined) {
    // The decoder tells what is wrong when it can (not JSON, too large, no schemaVersion 2, ...).
    const why = Manifest.decode(bytes, options)
    const sent = declaredType === undefined
      ? "no Content-Type was sent"
      : `the Content-Type ${Common.quote(declaredType)} names no manifest type`
    decoded = Either.left(Either.isLeft(why) ? refused(why.left) : invalid(`${sent} and the manifest has no mediaType`))
  } else if (MediaType.isSchema1(kind)) {
    decoded = Either.left(invalid(`${kind} (Docker schema 1) is not supported`))
  } else if (MediaType.isIndex(kind)) {
    decoded = IndexManifest.decode(bytes, options).pipe(
      Either.mapBoth({ onLeft: refused, onRight: (raw): Decoded => ({ _tag: "Index", raw }) })
    )
  } else if (MediaType.isImage(kind)) {
    decoded = Manifest.decode(bytes, options).pipe(
      Either.mapBoth({ onLeft: refused, onRight: (raw): Decoded => ({ _tag: "Image", raw }) })
    )
  } else {
    decoded = Either.left(invalid(`unsupported manifest media type ${Common.quote(kind)}`))
  }
  return Either.flatMap(decoded, (d) =>
    declared !== undefined && d.raw.mediaType !== declared
      ? Either.left(
        invalid(`the manifest's mediaType ${Common.quote(d.raw.mediaType)} does not match Content-Type ${Common.quote(declared)}`)
      )
      : Either.right(d))
}

// The `mediaType` field of a JSON document, if it has one.
const ownMediaType = (bytes: Uint8Array, maxSize: number): string | undefined =>
  Either.match(Json.parse(bytes, "manifest", maxSize), {
    onLeft: () => undefined,
    onRight: (document) =>
      typeof document === "object" && document !== null && "mediaType" in document &&
        typeof document.mediaType === "string" && document.mediaType !== ""
        ? document.mediaType
        : undefined
  })

const blobUnknown = (detail: string) => OciError.make("MANIFEST_BLOB_UNKNOWN", detail)

// Every distributable blob an image manifest references must be in the repository, with
// the size the manifest says it has.
const checkImage = (repository: string, manifest: Manifest.Manifest) =>
  Effect.gen(function*() {
    const manifests = yield* ManifestStore.ManifestStore
    const blobs = yield* BlobStore.BlobStore
    const seen = new Set<string>()
    const wanted = [manifest.config, ...manifest.layers].filter((d) => {
      if (!MediaType.isDistributable(d.mediaType) || seen.has(d.digest)) return false
      seen.add(d.digest)
      return true
    })
    yield* Effect.forEach(wanted, (descriptor) =>
      Effect.gen(function*() {
        const linked = yield* manifests.hasBlobLink(repository, descriptor.digest).pipe(
          Effect.mapError(Common.fromManifestStoreError)
        )
        const info = linked
          ? yield* blobs.stat(descriptor.digest).pipe(Effect.mapError(Common.fromBlobStoreError))
          : Option.none()
        if (Option.isNone(info)) {
          return yield* blobUnknown(`blob ${descriptor.digest} is not known to repository ${Common.quote(repository)}`)
        }
        if (info.value.size !== descriptor.size) {
          return yield* invalid(
            `the descriptor of blob ${descriptor.digest} says ${descriptor.size} bytes but the blob has ${info.value.size}`
          )
        }
      }), { concurrency: 8, discard: true })
  })

// Every child of an index must be a manifest of the repository (or, for children that are
// not manifests, a blob of it).
const checkIndex = (repository: string, index: IndexManifest.IndexManifest) =>
  Effect.gen(function*() {
    const manifests = yield* ManifestStore.ManifestStore
    yield* Effect.forEach(
      index.manifests.filter((d) => MediaType.isDistributable(d.mediaType)),
      (child) =>
        Effect.gen(function*() {
          const found = yield* manifests.getManifest(repository, child.digest).pipe(
            Effect.mapError(Common.fromManifestStoreError)
          )
          if (Option.isSome(found)) {
            if (found.value.bytes.byteLength !== child.size) {
              return yield* invalid(
                `the descriptor of manifest ${child.digest} says ${child.size} bytes but it has ${found.value.bytes.byteLength}`
              )
            }
            return
          }
          const isBlob = !MediaType.isManifest(child.mediaType) &&
            (yield* manifests.hasBlobLink(repository, child.digest).pipe(Effect.mapError(Common.fromManifestStoreError)))
          if (!isBlob) {
            return yield* blobUnknown(`manifest ${child.digest} is not known to repository ${Common.quote(repository)}`)
          }
        }),
      { concurrency: 8, discard: true }
    )
  })

// The descriptor a manifest with a `subject` is listed with among its subject's referrers.
const referrerDescriptor = (decoded: Decoded, digest: Digest.Digest, size: number): Descriptor.Descriptor => {
  const value = decoded.raw.value
  const artifactType = decoded._tag === "Image"
    ? nonEmpty(decoded.raw.value.artifactType) ?? decoded.raw.value.config.mediaType
    : nonEmpty(decoded.raw.value.artifactType)
  return Descriptor.make(decoded.raw.mediaType, digest, size, {
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(value.annotations !== undefined ? { annotations: value.annotations } : {})
  })
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === "" ? undefined : s)

/**
 * `PUT /v2/<name>/manifests/<reference>`: stores a manifest by tag or by digest (with any
 * `?tag=` parameters as further tags).
 *
 * @internal
 */
export const put = (config: Common.Config, name: string, input: string): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const store = yield* ManifestStore.ManifestStore
    const repository = yield* Common.repositoryName(name)
    const ref = yield* reference(input)
    if (Option.isNone(ref)) return yield* invalid(`invalid tag ${Common.quote(input)}`)
    const params = Route.searchParamsOf(request.url)
    const extraTags = params.getAll("tag")
    const badTag = extraTags.find((tag) => !ManifestStore.isTag(tag))
    if (badTag !== undefined) return yield* invalid(`invalid tag ${Common.quote(badTag)}`)

    const tooLarge = OciError.make(
      "MANIFEST_INVALID",
      `the manifest is larger than the limit of ${config.maxManifestSize} bytes`,
      { status: 413 }
    )
    const declaredLength = yield* Http.contentLength(request)
    if (Option.isSome(declaredLength) && declaredLength.value > config.maxManifestSize) return yield* tooLarge
    const bytes = yield* Http.readAtMost(Http.body(request), config.maxManifestSize).pipe(
      Effect.mapError((e) => (e._tag === "TooLarge" ? tooLarge : invalid("the request body could not be read", e)))
    )
    const decoded = yield* decode(bytes, contentType(Http.header(request, "content-type")), config.maxManifestSize)

    const value = ref.value
    const digest = value._tag === "Digest" ? value.digest : decoded.raw.digest
    if (value._tag === "Digest") {
      const actual = Digest.fromBytes(bytes, Digest.algorithm(value.digest))
      if (actual !== value.digest) {
        return yield* OciError.make("DIGEST_INVALID", `the manifest's digest is ${actual}, not ${value.digest}`)
      }
    }

    if (decoded._tag === "Image") yield* checkImage(repository, decoded.raw.value)
    else yield* checkIndex(repository, decoded.raw.value)

    const tags = [...(value._tag === "Tag" ? [value.tag] : []), ...extraTags]
    const stored: ManifestStore.StoredManifest = { bytes, mediaType: decoded.raw.mediaType, digest }
    const putManifest = (tag?: string) =>
      store.putManifest(repository, stored, tag).pipe(
        Effect.mapError((e) =>
          e._tag === "DigestMismatch" ? OciError.make("DIGEST_INVALID", e.message) : Common.fromManifestStoreError(e)
        )
      )
    if (tags.length === 0) yield* putManifest()
    else yield* Effect.forEach(tags, putManifest, { discard: true })

    const subject = decoded.raw.value.subject
    if (subject !== undefined) {
      yield* store.putReferrer(repository, subject.digest, referrerDescriptor(decoded, digest, bytes.byteLength)).pipe(
        Effect.mapError(Common.fromManifestStoreError)
      )
    }
    return HttpServerResponse.empty({
      status: 201,
      headers: {
        location: Route.repositoryPath(repository, "manifests", digest),
        "docker-content-digest": digest,
        "content-length": "0",
        ...(subject !== undefined ? { "oci-subject": subject.digest } : {}),
        ...(extraTags.length > 0 ? { "oci-tag": tags.join(", ") } : {})
      }
    })
  })
