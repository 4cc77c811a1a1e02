/**
 * What the registry handlers share: the resolved options, checking names and digests from
 * the URL, and turning storage failures into the spec's error codes.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Digest from "../../domain/Digest.js"
import type { DigestMismatch, SizeMismatch } from "../../domain/Errors.js"
import type * as BlobStore from "../../services/BlobStore.js"
import * as ManifestStore from "../../services/ManifestStore.js"
import * as OciError from "../OciError.js"

/** The registry's options with their defaults applied. @internal */
export interface Config {
  readonly deleteEnabled: boolean
  readonly maxManifestSize: number
}

/** Refuses anything but a repository name of the spec's grammar. @internal */
export const repositoryName = (name: string): Effect.Effect<string, OciError.OciError> =>
  ManifestStore.isRepositoryName(name)
    ? Effect.succeed(name)
    : Effect.fail(OciError.make("NAME_INVALID", `invalid repository name ${quote(name)}`))

/** Parses a digest from the URL or query, failing with `DIGEST_INVALID` (400). @internal */
export const digest = (input: string): Effect.Effect<Digest.Digest, OciError.OciError> =>
  Either.match(Digest.parse(input), {
    onLeft: (e) => Effect.fail(OciError.make("DIGEST_INVALID", e.message, { cause: e })),
    onRight: Effect.succeed
  })

/** Maps a blob store failure to the registry's answer. @internal */
export const fromBlobStoreError = (e: BlobStore.BlobStoreError): OciError.OciError => {
  switch (e.reason) {
    case "InvalidArgument":
      return OciError.make("DIGEST_INVALID", e.message, { cause: e })
    case "UploadUnknown":
      return OciError.make("BLOB_UPLOAD_UNKNOWN", e.message, { cause: e })
    case "RangeMismatch":
    case "RangeNotSatisfiable":
      return OciError.make("BLOB_UPLOAD_INVALID", e.message, { status: 416, cause: e })
    case "NotFound":
      return OciError.make("BLOB_UNKNOWN", e.message, { cause: e })
    case "Io":
      return OciError.make("UNKNOWN", e.message, { cause: e })
  }
}

/** Maps a manifest store failure to the registry's answer. @internal */
export const fromManifestStoreError = (e: ManifestStore.ManifestStoreError): OciError.OciError => {
  switch (e.reason) {
    case "InvalidName":
      return OciError.make("NAME_INVALID", e.message, { cause: e })
    case "InvalidTag":
    case "InvalidMediaType":
    case "InvalidDescriptor":
      return OciError.make("MANIFEST_INVALID", e.message, { cause: e })
    case "InvalidDigest":
      return OciError.make("DIGEST_INVALID", e.message, { cause: e })
    case "Corrupt":
    case "Io":
      return OciError.make("UNKNOWN", e.message, { cause: e })
  }
}

/** Maps the verification failures of a blob write. @internal */
export const fromVerification = (e: DigestMismatch | SizeMismatch): OciError.OciError =>
  e._tag === "DigestMismatch"
    ? OciError.make("DIGEST_INVALID", e.message, { cause: e })
    : OciError.make("SIZE_INVALID", e.message, { cause: e })

/** Any failure of the stores, mapped. @internal */
export const storeFailure = (
  e: BlobStore.BlobStoreError | ManifestStore.ManifestStoreError
): OciError.OciError => (e._tag === "BlobStoreError" ? fromBlobStoreError(e) : fromManifestStoreError(e))

/** The failure of a delete when deletes are disabled. @internal */
export const deletesDisabled: OciError.OciError = OciError.make("UNSUPPORTED", "deletes are disabled on this registry", {
  status: 405
})

/** A repository that holds nothing. @internal */
export const nameUnknown = (repository: string): OciError.OciError =>
  OciError.make("NAME_UNKNOWN", `repository ${quote(repository)} is not known to the registry`)

/** Quotes user input for a message, cut short when long. @internal */
export const quote = (s: string): string => JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s)
