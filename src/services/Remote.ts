/**
 * Images and indexes in registries, as ggcr's `pkg/v1/remote`: read them
 * ({@link image}, {@link index}, {@link get}, {@link head}, {@link layer}), write them
 * ({@link write}, {@link writeIndex}, {@link multiWrite}, {@link writeLayer}, {@link tag},
 * {@link put}), delete them, and list what a registry holds ({@link list}, {@link catalog},
 * {@link referrers}).
 * Every operation needs a {@link RegistryTransport.RegistryTransport} and reports transfers to
 * the {@link Progress.Progress} in the context, if any.
 *
 * ```ts
 * const ref = yield* Reference.parse("localhost:5000/app:1.0")
 * const image = yield* Remote.image(ref, { platform: Platform.make({ os: "linux", architecture: "arm64" }) })
 * yield* Remote.write(Reference.withDigest(other, yield* image.digest), image)
 * ```
 *
 * Pulled images are lazy: the manifest is fetched at once, the config and layers when read,
 * streamed and checked against their digests as they flow (a download cut off resumes from
 * the byte it reached). Writing checks each blob with a `HEAD` first, mounts blobs that came
 * from another repository of the same registry, uploads the rest concurrently, and puts
 * manifests last.
 *
 * @since 0.1.0
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Descriptor from "../domain/Descriptor.js"
import type { DigestMismatch, InvalidDocument } from "../domain/Errors.js"
import * as Image from "../domain/Image.js"
import * as ImageIndex from "../domain/ImageIndex.js"
import type * as ImageLayer from "../domain/ImageLayer.js"
import type * as IndexManifest from "../domain/IndexManifest.js"
import type * as MediaType from "../domain/MediaType.js"
import * as Platform from "../domain/Platform.js"
import * as Reference from "../domain/Reference.js"
import type { RemoteError } from "./internal/remote/error.js"
import * as Fetch from "./internal/remote/fetch.js"
import * as List from "./internal/remote/list.js"
import * as Mount from "./internal/remote/mount.js"
import * as Pull from "./internal/remote/pull.js"
import * as Push from "./internal/remote/push.js"
import * as Progress from "./Progress.js"
import type { RegistryError } from "./RegistryError.js"
import * as RegistryTransport from "./RegistryTransport.js"

export {
  /**
   * A registry answered, but not with what was asked for: no child of an index for the
   * platform, a manifest of another kind than asked, a referrers fallback tag that is not an
   * OCI index.
   *
   * @since 0.1.0
   */
  RemoteError
} from "./internal/remote/error.js"

export type {
  /**
   * The kinds of {@link RemoteError}.
   *
   * @since 0.1.0
   */
  RemoteErrorReason
} from "./internal/remote/error.js"

/**
 * How many blobs or child manifests a write sends at once unless told otherwise (ggcr's
 * jobs).
 *
 * @since 0.1.0
 */
export const defaultConcurrency = 4

/**
 * The page size of listings unless told otherwise: 1000, as ggcr.
 *
 * @since 0.1.0
 */
export const defaultPageSize: number = List.defaultPageSize

/**
 * The options of every operation; each has a default.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The platform picked from an index when an image is asked for; linux/amd64 by default. */
  readonly platform?: Platform.Platform | undefined
  /**
   * Blobs uploaded (and child manifests written) at once by writes; {@link defaultConcurrency}
   * by default. Pulls read what their caller reads, when it reads it.
   */
  readonly concurrency?: number | undefined
  /** Where transfers are reported; the `Progress` in the context by default, or none. */
  readonly progress?: Progress.Progress | undefined
}

/**
 * The options of writes.
 *
 * @since 0.1.0
 */
export interface WriteOptions extends Options {
  /**
   * Repositories of the same registry to mount blobs from before uploading them (ggcr's
   * cross-repository mount). Blobs read from a registry already know their repository.
   */
  readonly mountFrom?: Reference.Repository | ReadonlyArray<Reference.Repository> | undefined
  /**
   * Upload blobs in `PATCH` chunks of this many bytes instead of one streamed `PUT`. A
   * registry asking for chunks (`OCI-Chunk-Min-Length`) gets them of at least its minimum.
   */
  readonly chunkSize?: number | undefined
  /** Upload non-distributable (foreign) layers too; they are skipped by default, as in ggcr. */
  readonly allowNondistributable?: boolean | undefined
  /**
   * How a failed blob upload is started again from its first byte (the transport retries
   * what it can send twice itself): the transport's retry settings by default.
   */
  readonly retry?: Partial<RegistryTransport.RetrySettings> | false | undefined
  /**
   * Keep the `sha256-<hex>` referrers fallback tag of a subject up to date when a registry
   * does not say it tracks referrers (no `OCI-Subject`). On by default, as in ggcr.
   */
  readonly referrersTagFallback?: boolean | undefined
}

/**
 * How reading a pulled image or index may fail: a request, or bytes that are not what their
 * descriptor says.
 *
 * @since 0.1.0
 */
export type PullError = Pull.PullError

/**
 * How a write may fail beyond the errors of what is written.
 *
 * @since 0.1.0
 */
export type WriteError = Push.WriteError

/**
 * A manifest as fetched by {@link get}: its exact bytes, the media type it was served with,
 * its descriptor, and the reference it was fetched by.
 *
 * @since 0.1.0
 */
export interface Fetched extends Fetch.Fetched {}

/**
 * Anything that can be put under a tag: an image, an index, or manifest bytes with their media
 * type (a {@link Fetched} is one).
 *
 * @since 0.1.0
 */
export type Taggable<E = never> =
  | Image.Image<E>
  | ImageIndex.ImageIndex<E>
  | { readonly bytes: Uint8Array; readonly mediaType: MediaType.MediaType }

const contextOf = (
  options: Options
): Effect.Effect<Fetch.Context, never, RegistryTransport.RegistryTransport> =>
  Effect.gen(function*() {
    const transport = yield* RegistryTransport.RegistryTransport
    const progress = options.progress ?? Option.getOrElse(yield* Progress.current, () => Progress.none)
    return { transport, progress }
  })

const concurrencyOf = (options: Options): number => Math.max(1, Math.floor(options.concurrency ?? defaultConcurrency))

const settingsOf = (options: WriteOptions): Push.Settings => {
  const mountFrom = options.mountFrom
  return {
    concurrency: concurrencyOf(options),
    chunkSize: options.chunkSize === undefined ? undefined : Math.max(1, Math.floor(options.chunkSize)),
    mountFrom: mountFrom === undefined ? [] : Reference.isRepository(mountFrom) ? [mountFrom] : mountFrom,
    allowNondistributable: options.allowNondistributable === true,
    retry: options.retry === false
      ? { ...RegistryTransport.defaultRetry, attempts: 1 }
      : { ...RegistryTransport.defaultRetry, ...options.retry },
    referrersTagFallback: options.referrersTagFallback ?? true
  }
}

const writer = <E>(repository: Reference.Repository, options: WriteOptions) =>
  Effect.flatMap(contextOf(options), (context) => Push.make<E>(context, repository, settingsOf(options)))

/**
 * The descriptor of a manifest (media type, digest, size) by a `HEAD` request, as ggcr's
 * `remote.Head`; by a `GET` when the registry does not answer the `HEAD` with those headers.
 * A digest reference fails with `DigestMismatch` if the registry names another digest.
 *
 * @since 0.1.0
 */
export const head = (
  ref: Reference.Reference,
  options: Options = {}
): Effect.Effect<Descriptor.Descriptor, RegistryError | DigestMismatch, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(contextOf(options), (context) => Fetch.head(context, ref))

/**
 * A manifest of any kind by `GET`, as ggcr's `remote.Get`, asking for every manifest type.
 * The bytes (at most 100 MiB) are checked against the digest of a digest reference and
 * against the `Docker-Content-Digest` the registry sends.
 *
 * @since 0.1.0
 */
export const get = (
  ref: Reference.Reference,
  options: Options = {}
): Effect.Effect<Fetched, RegistryError | DigestMismatch, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(contextOf(options), (context) => Fetch.getManifest(context, ref))

/**
 * The image a fetched manifest is (see {@link image}).
 *
 * @since 0.1.0
 */
export const toImage = (
  fetched: Fetched,
  options: Options = {}
): Effect.Effect<Image.Image<PullError>, PullError | RemoteError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(
    contextOf(options),
    (context) => Pull.toImage(context, fetched, options.platform ?? Platform.defaultPlatform)
  )

/**
 * The index a fetched manifest is (see {@link index}).
 *
 * @since 0.1.0
 */
export const toIndex = (
  fetched: Fetched,
  options: Options = {}
): Effect.Effect<ImageIndex.ImageIndex<PullError>, PullError | RemoteError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(contextOf(options), (context) => Pull.toIndex(context, fetched))

/**
 * An image from a registry, as ggcr's `remote.Image`. When the reference names an index, its
 * child for `options.platform` (linux/amd64 by default) is taken, with ggcr's matching rules;
 * none matching fails with a `RemoteError` listing the platforms there are. The manifest is
 * fetched now; config and layers are streamed from `/v2/<repo>/blobs/<digest>` when read, and
 * checked against their descriptors as they flow.
 *
 * @since 0.1.0
 */
export const image = (
  ref: Reference.Reference,
  options: Options = {}
): Effect.Effect<Image.Image<PullError>, PullError | RemoteError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(
    contextOf(options),
    (context) =>
      Effect.flatMap(
        Fetch.getManifest(context, ref),
        (fetched) => Pull.toImage(context, fetched, options.platform ?? Platform.defaultPlatform)
      )
  )

/**
 * An index from a registry, as ggcr's `remote.Index`: its children are fetched (and checked
 * against their digests) when asked for. A reference to an image fails with a `RemoteError`.
 *
 * @since 0.1.0
 */
export const index = (
  ref: Reference.Reference,
  options: Options = {}
): Effect.Effect<ImageIndex.ImageIndex<PullError>, PullError | RemoteError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(
    contextOf(options),
    (context) => Effect.flatMap(Fetch.getManifest(context, ref), (fetched) => Pull.toIndex(context, fetched))
  )

/**
 * One blob by digest, as ggcr's `remote.Layer`: its size from a `HEAD`; its bytes streamed
 * and checked against the digest when read.
 *
 * @since 0.1.0
 */
export const layer = (
  ref: Reference.DigestRef,
  options: Options = {}
): Effect.Effect<ImageLayer.ImageLayer<PullError>, RegistryError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(contextOf(options), (context) => Pull.layer(context, ref))

/**
 * The repository a layer, image or index was read from, when it was read from a registry:
 * what writes mount blobs from.
 *
 * @since 0.1.0
 */
export const mountSource = (
  item: ImageLayer.ImageLayer<unknown> | Image.Image<unknown> | ImageIndex.ImageIndex<unknown>
): Option.Option<Reference.Repository> => Option.fromNullable(Mount.sourceOf(item))

/**
 * Writes an image, as ggcr's `remote.Write`: nothing when the reference already names it;
 * otherwise each blob is checked with a `HEAD` and skipped when present, mounted when it came
 * from (or `mountFrom` names) another repository of the same registry, or uploaded; layers
 * concurrently, then the config, then the manifest. `write(ref, image)` or
 * `image.pipe(write(ref))`.
 *
 * @since 0.1.0
 */
export function write(
  ref: Reference.Reference,
  options?: WriteOptions
): <E>(image: Image.Image<E>) => Effect.Effect<void, E | WriteError, RegistryTransport.RegistryTransport>
export function write<E>(
  ref: Reference.Reference,
  image: Image.Image<E>,
  options?: WriteOptions
): Effect.Effect<void, E | WriteError, RegistryTransport.RegistryTransport>
export function write<E>(
  ref: Reference.Reference,
  imageOrOptions?: Image.Image<E> | WriteOptions,
  options?: WriteOptions
):
  | Effect.Effect<void, E | WriteError, RegistryTransport.RegistryTransport>
  | (<E2>(image: Image.Image<E2>) => Effect.Effect<void, E2 | WriteError, RegistryTransport.RegistryTransport>)
{
  const run = <E2>(image: Image.Image<E2>, opts: WriteOptions = {}) =>
    Effect.flatMap(writer<E2>(ref.repository, opts), (w) => w.image(ref, image))
  return Image.isImage(imageOrOptions)
    ? run(imageOrOptions, options)
    : <E2>(image: Image.Image<E2>) => run(image, imageOrOptions)
}

/**
 * Writes an index, as ggcr's `remote.WriteIndex`: its child images and indexes first (each
 * skipped when the registry has it, written like {@link write} otherwise), then the index.
 * `writeIndex(ref, index)` or `index.pipe(writeIndex(ref))`.
 *
 * @since 0.1.0
 */
export function writeIndex(
  ref: Reference.Reference,
  options?: WriteOptions
): <E>(index: ImageIndex.ImageIndex<E>) => Effect.Effect<void, E | WriteError, RegistryTransport.RegistryTransport>
export function writeIndex<E>(
  ref: Reference.Reference,
  index: ImageIndex.ImageIndex<E>,
  options?: WriteOptions
): Effect.Effect<void, E | WriteError, RegistryTransport.RegistryTransport>
export function writeIndex<E>(
  ref: Reference.Reference,
  indexOrOptions?: ImageIndex.ImageIndex<E> | WriteOptions,
  options?: WriteOptions
):
  | Effect.Effect<void, E | WriteError, RegistryTransport.RegistryTransport>
  | (<E2>(index: ImageIndex.ImageIndex<E2>) => Effect.Effect<void, E2 | WriteError, RegistryTransport.RegistryTransport>)
{
  const run = <E2>(index: ImageIndex.ImageIndex<E2>, opts: WriteOptions = {}) =>
    Effect.flatMap(writer<E2>(ref.repository, opts), (w) => w.index(ref, index))
  return ImageIndex.isImageIndex(indexOrOptions)
    ? run(indexOrOptions, options)
    : <E2>(index: ImageIndex.ImageIndex<E2>) => run(index, indexOrOptions)
}

/**
 * Writes many images and indexes at once, as ggcr's `remote.MultiWrite`: each entry as
 * {@link write} or {@link writeIndex} would, with the work shared between them. A blob is
 * checked for and uploaded once per repository however many images list it, and once per
 * registry: another repository of the same registry that needs it mounts it from the first.
 * At most `concurrency` blobs go up at once across all entries (and as many entries are
 * worked on at once); each manifest is put after everything it references, children before
 * the indexes that list them. A reference given twice is written with its last value.
 *
 * ```ts
 * yield* Remote.multiWrite([[tagV1, image], [tagLatest, image], [otherRepoTag, index]])
 * ```
 *
 * @since 0.1.0
 */
export const multiWrite = <E>(
  entries: Iterable<readonly [Reference.Reference, Image.Image<E> | ImageIndex.ImageIndex<E>]>,
  options: WriteOptions = {}
): Effect.Effect<void, E | WriteError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function*() {
    const context = yield* contextOf(options)
    const settings = settingsOf(options)
    const shared = yield* Push.makeShared(settings.concurrency)
    const byName = new Map<string, readonly [Reference.Reference, Image.Image<E> | ImageIndex.ImageIndex<E>]>()
    for (const entry of entries) byName.set(Reference.name(entry[0]), entry)
    const writers = new Map<string, Push.Writer<E>>()
    const writerFor = (repository: Reference.Repository) =>
      Effect.suspend(() => {
        const key = `${Reference.registryHost(repository.registry)}/${repository.path}`
        const found = writers.get(key)
        if (found !== undefined) return Effect.succeed(found)
        return Effect.tap(Push.make<E>(context, repository, settings, shared), (made) => writers.set(key, made))
      })
    yield* Effect.forEach(
      byName.values(),
      ([ref, item]) =>
        Effect.flatMap(writerFor(ref.repository), (w) => Image.isImage(item) ? w.image(ref, item) : w.index(ref, item)),
      { concurrency: settings.concurrency, discard: true }
    )
  })

/**
 * Uploads one blob to a repository, as ggcr's `remote.WriteLayer` (skipped when present,
 * mounted when possible).
 *
 * @since 0.1.0
 */
export const writeLayer = <E>(
  repository: Reference.Repository,
  blob: ImageLayer.ImageLayer<E>,
  options: WriteOptions = {}
): Effect.Effect<void, E | WriteError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(writer<E>(repository, options), (w) => w.layer(blob))

const rawOf = <E>(item: Taggable<E>): Effect.Effect<Push.RawManifest, E> =>
  "bytes" in item
    ? Effect.succeed({ bytes: item.bytes, mediaType: item.mediaType })
    : Effect.map(Effect.all([item.rawManifest, item.mediaType]), ([bytes, mediaType]) => ({ bytes, mediaType }))

const putAny = <E>(ref: Reference.Reference, item: Taggable<E>, options: WriteOptions) =>
  Effect.gen(function*() {
    const manifest = yield* rawOf(item)
    const w = yield* writer<E>(ref.repository, options)
    yield* w.put(ref, manifest)
  })

/**
 * Puts manifest bytes under a reference as they are, as ggcr's `remote.Put`; nothing they
 * reference is written. A manifest with a `subject`, on a registry that does not say it tracks
 * referrers, is added to its subject's fallback tag.
 *
 * @since 0.1.0
 */
export const put = <E = never>(
  ref: Reference.Reference,
  manifest: Taggable<E>,
  options: WriteOptions = {}
): Effect.Effect<void, E | WriteError, RegistryTransport.RegistryTransport> => putAny(ref, manifest, options)

/**
 * Puts the manifest of an image, an index or fetched bytes under a tag, as ggcr's
 * `remote.Tag`: the same bytes, so the digest is the same. `tag(tagRef, image)` or
 * `image.pipe(tag(tagRef))`.
 *
 * @since 0.1.0
 */
export function tag(
  ref: Reference.Tag,
  options?: WriteOptions
): <E>(target: Taggable<E>) => Effect.Effect<void, E | WriteError, RegistryTransport.RegistryTransport>
export function tag<E>(
  ref: Reference.Tag,
  target: Taggable<E>,
  options?: WriteOptions
): Effect.Effect<void, E | WriteError, RegistryTransport.RegistryTransport>
export function tag<E>(
  ref: Reference.Tag,
  targetOrOptions?: Taggable<E> | WriteOptions,
  options?: WriteOptions
):
  | Effect.Effect<void, E | WriteError, RegistryTransport.RegistryTransport>
  | (<E2>(target: Taggable<E2>) => Effect.Effect<void, E2 | WriteError, RegistryTransport.RegistryTransport>)
{
  return isTaggable(targetOrOptions)
    ? putAny(ref, targetOrOptions, options ?? {})
    : <E2>(target: Taggable<E2>) => putAny(ref, target, targetOrOptions ?? {})
}

const isTaggable = <E>(u: Taggable<E> | WriteOptions | undefined): u is Taggable<E> =>
  u !== undefined && (Image.isImage(u) || ImageIndex.isImageIndex(u) || "bytes" in u)

/**
 * Deletes a manifest by the reference given, as ggcr's `remote.Delete` (by digest in most
 * registries; some accept tags).
 *
 * @since 0.1.0
 */
export const remove = (
  ref: Reference.Reference,
  options: Options = {}
): Effect.Effect<void, RegistryError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function*() {
    const context = yield* contextOf(options)
    const response = yield* context.transport.execute(
      HttpClientRequest.del(Fetch.path(ref.repository, "manifests", Reference.identifier(ref))),
      RegistryTransport.access(ref.repository, ["pull", "push", "delete"]),
      { expected: [200, 202, 204] }
    )
    yield* Fetch.discard(response)
  })

export {
  /**
   * Deletes a manifest (see {@link remove}).
   *
   * @since 0.1.0
   */
  remove as delete
}

/**
 * The options of listings.
 *
 * @since 0.1.0
 */
export interface ListOptions extends Options {
  /** Items asked for per page (`n`); {@link defaultPageSize} by default. */
  readonly pageSize?: number | undefined
}

/**
 * One page of a listing: its items and the URL of the next page, if any (pass it back to get
 * that page).
 *
 * @since 0.1.0
 */
export interface Page extends List.Page {}

/**
 * Where a page starts: `n` items after `last` (both optional), or the URL of a next page.
 *
 * @since 0.1.0
 */
export type PageRequest = List.Paging | URL

/**
 * Every tag of a repository, as ggcr's `remote.List`, following `Link` pagination to the end.
 *
 * @since 0.1.0
 */
export const list = (
  repository: Reference.Repository,
  options: ListOptions = {}
): Effect.Effect<ReadonlyArray<string>, RegistryError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(contextOf(options), (context) =>
    List.all(
      List.tagsPage(context, repository, { n: options.pageSize ?? defaultPageSize }),
      (url) => List.tagsPage(context, repository, url)
    ))

/**
 * One page of a repository's tags.
 *
 * @since 0.1.0
 */
export const listPage = (
  repository: Reference.Repository,
  page: PageRequest = {},
  options: Options = {}
): Effect.Effect<Page, RegistryError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(contextOf(options), (context) => List.tagsPage(context, repository, page))

/**
 * Every repository of a registry, as ggcr's `remote.Catalog`, following `Link` pagination to
 * the end.
 *
 * @since 0.1.0
 */
export const catalog = (
  registry: Reference.Registry,
  options: ListOptions = {}
): Effect.Effect<ReadonlyArray<string>, RegistryError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(contextOf(options), (context) =>
    List.all(
      List.catalogPage(context, registry, { n: options.pageSize ?? defaultPageSize }),
      (url) => List.catalogPage(context, registry, url)
    ))

/**
 * One page of a registry's catalog.
 *
 * @since 0.1.0
 */
export const catalogPage = (
  registry: Reference.Registry,
  page: PageRequest = {},
  options: Options = {}
): Effect.Effect<Page, RegistryError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(contextOf(options), (context) => List.catalogPage(context, registry, page))

/**
 * The options of {@link referrers}.
 *
 * @since 0.1.0
 */
export interface ReferrersOptions extends Options {
  /** Only referrers of this artifact type. */
  readonly artifactType?: string | undefined
}

/**
 * The manifests that name a manifest as their `subject`, as ggcr's `remote.Referrers`: from
 * the referrers API when the registry has it, else from the `sha256-<hex>` fallback tag (an
 * empty index when there is none), filtered by `artifactType` (by the registry when it says
 * so, here otherwise).
 *
 * @since 0.1.0
 */
export const referrers = (
  ref: Reference.DigestRef,
  options: ReferrersOptions = {}
): Effect.Effect<
  IndexManifest.IndexManifest,
  RegistryError | InvalidDocument | DigestMismatch,
  RegistryTransport.RegistryTransport
> => Effect.flatMap(contextOf(options), (context) => List.referrers(context, ref, options.artifactType))

/**
 * The referrers fallback tag of a manifest: `<repo>:sha256-<hex>`.
 *
 * @since 0.1.0
 */
export const fallbackTag = (ref: Reference.DigestRef): Reference.Tag => List.fallbackTagOf(ref)
