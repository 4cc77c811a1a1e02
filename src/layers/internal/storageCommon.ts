/**
 * What every blob and manifest store implementation shares: checking arguments before they
 * name anything, resolving read ranges, paging sorted listings, and making ids.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import * as Descriptor from "../../domain/Descriptor.js"
import * as Digest from "../../domain/Digest.js"
import { DigestMismatch } from "../../domain/Errors.js"
import * as BlobStore from "../../services/BlobStore.js"
import * as ManifestStore from "../../services/ManifestStore.js"

/** Chunk size of the streams blob stores emit. @internal */
export const readChunkSize = 256 * 1024

/** Re-validates a digest handed to a blob store (it may have been cast from any string). @internal */
export const blobDigest = (digest: string): Effect.Effect<Digest.Digest, BlobStore.BlobStoreError> =>
  Either.match(Digest.parse(digest), {
    onLeft: (e) =>
      Effect.fail(new BlobStore.BlobStoreError({ reason: "InvalidArgument", detail: e.message, cause: e })),
    onRight: Effect.succeed
  })

/** Validates an upload id; anything that is not one names no upload. @internal */
export const uploadId = (id: string): Effect.Effect<BlobStore.UploadId, BlobStore.BlobStoreError> =>
  BlobStore.isUploadId(id) ? Effect.succeed(id) : Effect.fail(uploadUnknown(id, "not an upload id"))

/** @internal */
export const uploadUnknown = (id: string, detail = "no such upload"): BlobStore.BlobStoreError =>
  new BlobStore.BlobStoreError({ reason: "UploadUnknown", detail, uploadId: id })

/** @internal */
export const rangeMismatch = (id: string, expected: number, size: number): BlobStore.BlobStoreError =>
  new BlobStore.BlobStoreError({
    reason: "RangeMismatch",
    detail: `chunk starts at offset ${expected} but the upload holds ${size} bytes`,
    uploadId: id,
    size
  })

/** Checks an optional offset or size argument. @internal */
export const optionalSize = (
  value: number | undefined,
  what: string
): Effect.Effect<number | undefined, BlobStore.BlobStoreError> =>
  value === undefined || (Number.isSafeInteger(value) && value >= 0)
    ? Effect.succeed(value)
    : Effect.fail(
      new BlobStore.BlobStoreError({ reason: "InvalidArgument", detail: `${what} must be a non-negative integer` })
    )

/** The bytes a read returns: where they start and how many. @internal */
export interface Span {
  readonly offset: number
  readonly length: number
}

/** Resolves an HTTP-style range (inclusive end) against a blob's size. @internal */
export const resolveRange = (
  digest: Digest.Digest,
  size: number,
  range: BlobStore.ByteRange | undefined
): Effect.Effect<Span, BlobStore.BlobStoreError> => {
  if (range === undefined) return Effect.succeed({ offset: 0, length: size })
  const { end, start } = range
  if (!Number.isSafeInteger(start) || start < 0 || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) {
    return Effect.fail(
      new BlobStore.BlobStoreError({
        reason: "InvalidArgument",
        detail: `invalid range start=${start} end=${end}`,
        digest
      })
    )
  }
  if (start >= size) {
    return Effect.fail(
      new BlobStore.BlobStoreError({
        reason: "RangeNotSatisfiable",
        detail: `range starts at ${start} but the blob has ${size} bytes`,
        digest,
        size
      })
    )
  }
  const last = Math.min(end ?? size - 1, size - 1)
  return Effect.succeed({ offset: start, length: last - start + 1 })
}

/** A fresh upload id. @internal */
export const newUploadId: Effect.Effect<BlobStore.UploadId> = Effect.sync(() => randomUUID() as BlobStore.UploadId)

/** Orders strings by UTF-16 code units, as the listings promise. @internal */
export const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** One page of an already sorted listing. @internal */
export const page = (sorted: ReadonlyArray<string>, options: ManifestStore.PageOptions = {}): ManifestStore.Page<string> => {
  const { last, n } = options
  const after = last === undefined ? sorted : sorted.filter((item) => item > last)
  if (n === undefined) return { items: after, more: false }
  const limit = Number.isFinite(n) ? Math.max(0, Math.floor(n)) : after.length
  return { items: after.slice(0, limit), more: after.length > limit }
}

const manifestError = (
  reason: ManifestStore.ManifestStoreErrorReason,
  detail: string,
  repository?: string
): ManifestStore.ManifestStoreError =>
  new ManifestStore.ManifestStoreError(repository === undefined ? { reason, detail } : { reason, detail, repository })

/** Refuses anything but a repository name of the distribution spec. @internal */
export const repositoryName = (name: string): Effect.Effect<string, ManifestStore.ManifestStoreError> =>
  ManifestStore.isRepositoryName(name)
    ? Effect.succeed(name)
    : Effect.fail(
      manifestError(
        "InvalidName",
        `invalid repository name ${JSON.stringify(name.length > 300 ? `${name.slice(0, 300)}…` : name)}`
      )
    )

/** Refuses anything but a tag of the distribution spec. @internal */
export const tagName = (repository: string, tag: string): Effect.Effect<string, ManifestStore.ManifestStoreError> =>
  ManifestStore.isTag(tag)
    ? Effect.succeed(tag)
    : Effect.fail(
      manifestError("InvalidTag", `invalid tag ${JSON.stringify(tag.length > 200 ? `${tag.slice(0, 200)}…` : tag)}`, repository)
    )

/** Re-validates a digest handed to a manifest store. @internal */
export const manifestDigest = (
  repository: string,
  digest: string
): Effect.Effect<Digest.Digest, ManifestStore.ManifestStoreError> =>
  Either.match(Digest.parse(digest), {
    onLeft: (e) => Effect.fail(manifestError("InvalidDigest", e.message, repository)),
    onRight: Effect.succeed
  })

/** A tag or a digest, as `getManifest` takes it. @internal */
export type Reference =
  | { readonly _tag: "Tag"; readonly tag: string }
  | { readonly _tag: "Digest"; readonly digest: Digest.Digest }

/** Tells a digest reference (it has a colon) from a tag and validates it. @internal */
export const reference = (
  repository: string,
  input: string
): Effect.Effect<Reference, ManifestStore.ManifestStoreError> =>
  input.includes(":")
    ? Effect.map(manifestDigest(repository, input), (digest) => ({ _tag: "Digest", digest }) as const)
    : Effect.map(tagName(repository, input), (tag) => ({ _tag: "Tag", tag }) as const)

// A media type is stored as a header line, so it must not hold line breaks or other controls.
const CONTROL = /[\u0000-\u001f\u007f]/

/** Refuses empty, overlong or control-character media types. @internal */
export const mediaType = (repository: string, input: string): Effect.Effect<string, ManifestStore.ManifestStoreError> =>
  input.length > 0 && input.length <= 255 && !CONTROL.test(input)
    ? Effect.succeed(input)
    : Effect.fail(manifestError("InvalidMediaType", `invalid media type ${JSON.stringify(input.slice(0, 300))}`, repository))

/**
 * Checks a manifest handed to `putManifest`: its name parts and that the bytes are the ones
 * its digest names. Returns the manifest with its bytes copied, so the caller's buffer can
 * change afterwards.
 *
 * @internal
 */
export const manifest = (
  repository: string,
  input: ManifestStore.StoredManifest
) =>
  Effect.gen(function*() {
    const digest = yield* manifestDigest(repository, input.digest)
    const type = yield* mediaType(repository, input.mediaType)
    const actual = Digest.fromBytes(input.bytes, Digest.algorithm(digest))
    if (actual !== digest) {
      return yield* new DigestMismatch({ subject: `manifest in ${repository}`, expected: digest, actual })
    }
    const stored: ManifestStore.StoredManifest = { bytes: input.bytes.slice(), mediaType: type, digest }
    return stored
  })

/**
 * Checks a referrer descriptor against the descriptor Schema (its digest names a file, so it
 * must be a digest) and returns it without unknown fields.
 *
 * @internal
 */
export const referrer = (
  repository: string,
  input: Descriptor.Descriptor
): Effect.Effect<Descriptor.Descriptor, ManifestStore.ManifestStoreError> =>
  Effect.flatMap(manifestDigest(repository, input.digest), () =>
    Schema.validate(Descriptor.Descriptor)(input).pipe(
      Effect.mapError((e) => manifestError("InvalidDescriptor", `invalid referrer descriptor: ${e.message}`, repository))
    ))
