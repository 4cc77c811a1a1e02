/**
 * Per-repository registry metadata: manifests by digest, tags, the links that say which
 * repositories may serve a blob, and the referrers of a manifest.
 *
 * A manifest is kept as its exact bytes with the media type it was pushed with; the digest
 * is over the bytes and is checked on the way in. Tags and repositories are listed in
 * lexical order a page at a time (`n`, `last`), as the distribution spec's tags list and
 * catalog need, which object storage serves with a prefix listing that starts after a key.
 * Implementations: `layers/ManifestStoreMemory`, `layers/ManifestStoreFileSystem`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import type { Descriptor } from "../domain/Descriptor.js"
import type * as Digest from "../domain/Digest.js"
import type { DigestMismatch } from "../domain/Errors.js"

const NAME_COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*"
const NAME = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`)
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/

/**
 * The longest repository name accepted.
 *
 * @since 0.1.0
 */
export const maxRepositoryNameLength = 255

/**
 * True for a repository name of the distribution spec (`library/alpine`, `a/b-c/d_e`). Such
 * a name has no empty, `.` or `..` component and no component starting with `_`, so it is
 * safe to use as a relative path.
 *
 * @since 0.1.0
 */
export const isRepositoryName = (input: string): boolean =>
  input.length <= maxRepositoryNameLength && NAME.test(input)

/**
 * True for a tag of the distribution spec (`latest`, `v1.2.3`, `sha256-abc.sig`), which is
 * also safe to use as a file name.
 *
 * @since 0.1.0
 */
export const isTag = (input: string): boolean => TAG.test(input)

/**
 * A manifest as stored: its exact bytes, the media type it was pushed with, its digest.
 *
 * @since 0.1.0
 */
export interface StoredManifest {
  readonly bytes: Uint8Array
  readonly mediaType: string
  readonly digest: Digest.Digest
}

/**
 * Which page of a sorted listing to return: at most `n` items, starting after `last`.
 *
 * @since 0.1.0
 */
export interface PageOptions {
  readonly n?: number | undefined
  readonly last?: string | undefined
}

/**
 * One page of a sorted listing; `more` is true when items follow the last one returned.
 *
 * @since 0.1.0
 */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly more: boolean
}

/**
 * A manifest store.
 *
 * @since 0.1.0
 */
export interface ManifestStore {
  /**
   * Stores a manifest (and points `tag` at it, when given). Fails with `DigestMismatch` when
   * the bytes are not the ones the digest names. Storing the same manifest again is harmless.
   */
  readonly putManifest: (
    repository: string,
    manifest: StoredManifest,
    tag?: string
  ) => Effect.Effect<void, ManifestStoreError | DigestMismatch>
  /** A manifest by tag or by digest, or `None` when the repository has no such manifest. */
  readonly getManifest: (
    repository: string,
    reference: string
  ) => Effect.Effect<Option.Option<StoredManifest>, ManifestStoreError>
  /**
   * Deletes a manifest, every tag pointing at it and its entries as a referrer. Returns
   * false when the repository had no such manifest.
   */
  readonly deleteManifest: (repository: string, digest: Digest.Digest) => Effect.Effect<boolean, ManifestStoreError>
  /** Deletes a tag (not the manifest). Returns false when there was no such tag. */
  readonly deleteTag: (repository: string, tag: string) => Effect.Effect<boolean, ManifestStoreError>
  /** A page of a repository's tags in lexical order, or `None` for an unknown repository. */
  readonly listTags: (
    repository: string,
    options?: PageOptions
  ) => Effect.Effect<Option.Option<Page<string>>, ManifestStoreError>
  /** The digests of every manifest a repository holds, for garbage collection. */
  readonly listManifests: (repository: string) => Stream.Stream<Digest.Digest, ManifestStoreError>
  /** A page of the repositories holding anything, in lexical order (the catalog). */
  readonly listRepositories: (options?: PageOptions) => Effect.Effect<Page<string>, ManifestStoreError>

  /** Records that a repository may serve a blob (after an upload or a mount). */
  readonly linkBlob: (repository: string, digest: Digest.Digest) => Effect.Effect<void, ManifestStoreError>
  /** True when a repository may serve a blob. */
  readonly hasBlobLink: (repository: string, digest: Digest.Digest) => Effect.Effect<boolean, ManifestStoreError>
  /** Removes a repository's link to a blob. Returns false when there was none. */
  readonly unlinkBlob: (repository: string, digest: Digest.Digest) => Effect.Effect<boolean, ManifestStoreError>
  /** The digests of every blob a repository links, for garbage collection. */
  readonly listBlobLinks: (repository: string) => Stream.Stream<Digest.Digest, ManifestStoreError>

  /**
   * Records that the manifest `referrer` describes (its `digest`, `mediaType`, `size`,
   * `artifactType`, `annotations`) refers to `subject`. Removed when that manifest is.
   */
  readonly putReferrer: (
    repository: string,
    subject: Digest.Digest,
    referrer: Descriptor
  ) => Effect.Effect<void, ManifestStoreError>
  /** The descriptors of the manifests referring to `subject`, ordered by digest. */
  readonly listReferrers: (
    repository: string,
    subject: Digest.Digest
  ) => Effect.Effect<ReadonlyArray<Descriptor>, ManifestStoreError>
}

/**
 * The service tag of a {@link ManifestStore}.
 *
 * @since 0.1.0
 */
export const ManifestStore: Context.Tag<ManifestStore, ManifestStore> = Context.GenericTag<ManifestStore>(
  "effect-containerregistry/ManifestStore"
)

/**
 * Builds a {@link ManifestStore} from its operations.
 *
 * @since 0.1.0
 */
export const make = (impl: ManifestStore): ManifestStore => ManifestStore.of(impl)

/** Why a manifest store operation failed. */
export type ManifestStoreErrorReason =
  | "InvalidName"
  | "InvalidTag"
  | "InvalidDigest"
  | "InvalidMediaType"
  | "InvalidDescriptor"
  | "Corrupt"
  | "Io"

/**
 * A manifest store operation that failed. `reason` tells the cases apart:
 * - `InvalidName`, `InvalidTag`, `InvalidDigest`, `InvalidMediaType`, `InvalidDescriptor`: an
 *   argument was refused before anything was touched;
 * - `Corrupt`: stored metadata could not be read back;
 * - `Io`: the storage underneath failed, `cause` says how.
 *
 * @since 0.1.0
 */
export class ManifestStoreError extends Data.TaggedError("ManifestStoreError")<{
  readonly reason: ManifestStoreErrorReason
  readonly detail: string
  readonly repository?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const subject = this.repository !== undefined ? ` in repository ${quote(this.repository)}` : ""
    return `manifest store: ${this.reason}${subject}: ${this.detail}`
  }
}

const quote = (s: string): string => JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s)
