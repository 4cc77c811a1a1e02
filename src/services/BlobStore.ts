/**
 * Content-addressed blob storage, the ground under the registry server and blob caches.
 *
 * Blobs are global (not per repository) and named only by their digest; which repository
 * may serve a blob is the manifest store's business. Writes are verified as the bytes flow
 * and committed atomically, so a blob is either fully present or absent. Resumable uploads
 * (the registry's `POST`/`PATCH`/`PUT` upload sessions) are part of the store because their
 * bytes live where the blobs live.
 *
 * The interface asks nothing a plain object store cannot do: ranged reads, listing, delete,
 * and uploads that an S3-style implementation can back with temporary objects or multipart
 * uploads. Implementations: `layers/BlobStoreMemory`, `layers/BlobStoreFileSystem`.
 *
 * @since 0.1.0
 */
import type * as Brand from "effect/Brand"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import type * as Digest from "../domain/Digest.js"
import type { DigestMismatch, SizeMismatch } from "../domain/Errors.js"

/**
 * The identifier of an upload session: a lower-case random UUID made by the store.
 *
 * @since 0.1.0
 */
export type UploadId = string & Brand.Brand<"UploadId">

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * True when a string has the shape of an upload id (a lower-case UUID). Stores check every
 * id they are given with it before it names anything.
 *
 * @since 0.1.0
 */
export const isUploadId = (input: unknown): input is UploadId => typeof input === "string" && UUID.test(input)

/**
 * A stored blob: its digest and size in bytes.
 *
 * @since 0.1.0
 */
export interface BlobInfo {
  readonly digest: Digest.Digest
  readonly size: number
}

/**
 * A byte range to read, as in an HTTP `Range: bytes=start-end` header: `end` is inclusive
 * and defaults to the last byte; an `end` past the blob is clamped to it.
 *
 * @since 0.1.0
 */
export interface ByteRange {
  readonly start: number
  readonly end?: number | undefined
}

/**
 * The content of a blob, or of a range of it. `size` is the whole blob's size; `offset` and
 * `length` say which bytes `stream` emits. The stream reads from storage as it is pulled.
 *
 * @since 0.1.0
 */
export interface BlobContent {
  readonly size: number
  readonly offset: number
  readonly length: number
  readonly stream: Stream.Stream<Uint8Array, BlobStoreError>
}

/**
 * What a written blob must be: its digest and, when known, its size.
 *
 * @since 0.1.0
 */
export interface Expected {
  readonly digest: Digest.Digest
  readonly size?: number | undefined
}

/**
 * The state of an upload session: bytes received so far and when it was created.
 *
 * @since 0.1.0
 */
export interface UploadStatus {
  readonly id: UploadId
  readonly size: number
  readonly startedAt: Date
}

/**
 * A blob store.
 *
 * @since 0.1.0
 */
export interface BlobStore {
  /** The size of a blob, or `None` when it is absent. */
  readonly stat: (digest: Digest.Digest) => Effect.Effect<Option.Option<BlobInfo>, BlobStoreError>
  /**
   * A blob's content (or a range of it) as a stream, or `None` when it is absent. Fails with
   * `RangeNotSatisfiable` when the range starts past the end. Bytes are read while the
   * stream is pulled; nothing is loaded whole.
   */
  readonly get: (
    digest: Digest.Digest,
    range?: ByteRange
  ) => Effect.Effect<Option.Option<BlobContent>, BlobStoreError>
  /**
   * Writes a blob from a stream, hashing it as it flows, and commits it atomically once its
   * digest (and size) are known good. With `expected`, a mismatch fails with
   * `DigestMismatch`/`SizeMismatch` and nothing is kept; a blob already stored with that
   * digest (and size) is not written again and the stream is not run. Concurrent writes of
   * the same blob all succeed.
   */
  readonly put: <E, R>(
    stream: Stream.Stream<Uint8Array, E, R>,
    expected?: Expected
  ) => Effect.Effect<BlobInfo, BlobStoreError | DigestMismatch | SizeMismatch | E, R>
  /** Removes a blob; removing an absent blob succeeds. */
  readonly delete: (digest: Digest.Digest) => Effect.Effect<void, BlobStoreError>
  /** Every stored blob's digest, for garbage collection. */
  readonly list: Stream.Stream<Digest.Digest, BlobStoreError>

  /** Starts an upload session and returns its id. */
  readonly createUpload: Effect.Effect<UploadId, BlobStoreError>
  /**
   * Appends a chunk to an upload and returns the upload's new size. With `expectedOffset`,
   * fails with `RangeMismatch` (carrying the current size) unless the upload holds exactly
   * that many bytes. A chunk whose stream fails is not kept. Fails with `UploadUnknown` for
   * an id that names no upload.
   */
  readonly appendUpload: <E, R>(
    id: string,
    chunk: Stream.Stream<Uint8Array, E, R>,
    expectedOffset?: number
  ) => Effect.Effect<number, BlobStoreError | E, R>
  /** The state of an upload, or `None` when there is no such upload. */
  readonly uploadStatus: (id: string) => Effect.Effect<Option.Option<UploadStatus>, BlobStoreError>
  /**
   * Appends an optional last chunk, checks the upload's bytes against `digest` and moves them
   * into place as that blob; the session ends. On `DigestMismatch` the session is left as it
   * is (with the final chunk appended) for the caller to cancel or complete.
   */
  readonly commitUpload: <E = never, R = never>(
    id: string,
    digest: Digest.Digest,
    finalChunk?: Stream.Stream<Uint8Array, E, R>
  ) => Effect.Effect<BlobInfo, BlobStoreError | DigestMismatch | E, R>
  /** Ends an upload and discards its bytes. Fails with `UploadUnknown` when there is none. */
  readonly cancelUpload: (id: string) => Effect.Effect<void, BlobStoreError>
  /**
   * Discards every upload started longer than `olderThan` ago (and any leftovers of
   * interrupted writes as old), returning how many uploads went.
   */
  readonly purgeUploads: (olderThan: Duration.DurationInput) => Effect.Effect<number, BlobStoreError>
}

/**
 * The service tag of a {@link BlobStore}.
 *
 * @since 0.1.0
 */
export const BlobStore: Context.Tag<BlobStore, BlobStore> = Context.GenericTag<BlobStore>(
  "effect-containerregistry/BlobStore"
)

/**
 * Builds a {@link BlobStore} from its operations.
 *
 * @since 0.1.0
 */
export const make = (impl: BlobStore): BlobStore => BlobStore.of(impl)

/** Why a blob store operation failed. */
export type BlobStoreErrorReason =
  | "InvalidArgument"
  | "UploadUnknown"
  | "RangeMismatch"
  | "RangeNotSatisfiable"
  | "NotFound"
  | "Io"

/**
 * A blob store operation that failed. `reason` tells the cases apart:
 * - `InvalidArgument`: a digest or range that is not valid (nothing was touched);
 * - `UploadUnknown`: the upload id names no upload (or is not an upload id at all);
 * - `RangeMismatch`: a chunk's offset is not the upload's size, which `size` carries;
 * - `RangeNotSatisfiable`: a read range starts past the blob's end, `size` is the blob's;
 * - `NotFound`: a blob vanished between being found and being read;
 * - `Io`: the storage underneath failed, `cause` says how.
 *
 * @since 0.1.0
 */
export class BlobStoreError extends Data.TaggedError("BlobStoreError")<{
  readonly reason: BlobStoreErrorReason
  readonly detail: string
  readonly digest?: string | undefined
  readonly uploadId?: string | undefined
  readonly size?: number | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const subject = this.uploadId !== undefined
      ? ` for upload ${quote(this.uploadId)}`
      : this.digest !== undefined
      ? ` for blob ${quote(this.digest)}`
      : ""
    return `blob store: ${this.reason}${subject}: ${this.detail}`
  }
}

const quote = (s: string): string => JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s)
