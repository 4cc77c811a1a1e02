/**
 * OCI image layouts, read and written, as ggcr's `pkg/v1/layout`: a directory holding an
 * `oci-layout` file, an `index.json` listing images and indexes, and content-addressed blobs
 * under `blobs/<algorithm>/<hex>`.
 *
 * Everything goes through the platform `FileSystem` and `Path` services (provide
 * `NodeContext.layer` from `@effect/platform-node`). Blobs stream both ways: reads are checked
 * against their names as they flow, writes are hashed as they flow and land under their name
 * only when the bytes are right. `index.json` is replaced atomically.
 *
 * ```ts
 * const program = Effect.gen(function* () {
 *   yield* Layout.appendImage("out", image, { annotations: { [Layout.refNameAnnotation]: "v1" } })
 *   const found = yield* Layout.findByRefName("out", "v1") // Option of the child named v1
 * }).pipe(Effect.provide(NodeContext.layer))
 * ```
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Descriptor from "../domain/Descriptor.js"
import type * as Digest from "../domain/Digest.js"
import type { BlobNotFound, InvalidDocument, SizeMismatch } from "../domain/Errors.js"
import type * as Image from "../domain/Image.js"
import type * as ImageIndex from "../domain/ImageIndex.js"
import type * as IndexManifest from "../domain/IndexManifest.js"
import * as MediaType from "../domain/MediaType.js"
import * as Partial from "../domain/Partial.js"
import type * as Platform from "../domain/Platform.js"
import type { LayoutError } from "./internal/layoutError.js"
import * as Files from "./internal/layoutFiles.js"
import * as Gc from "./internal/layoutGc.js"
import * as Writer from "./internal/layoutWrite.js"

export { LayoutError, type LayoutErrorReason } from "./internal/layoutError.js"
export type { Written } from "./internal/layoutFiles.js"

/**
 * The annotation that names an image in a layout (`oci:DIR:NAME` in skopeo, `DIR:TAG` in umoci).
 *
 * @since 0.1.0
 */
export const refNameAnnotation = "org.opencontainers.image.ref.name"

/**
 * How reading images, indexes and blobs found in a layout may fail.
 *
 * @since 0.1.0
 */
export type ReadError = LayoutError | Partial.DerivedError

/**
 * How reading a layout's `index.json` may fail.
 *
 * @since 0.1.0
 */
export type IndexError = LayoutError | InvalidDocument | SizeMismatch

/**
 * Chooses descriptors of `index.json` (ggcr's `match.Matcher`).
 *
 * @since 0.1.0
 */
export type Matcher = (descriptor: Descriptor.Descriptor) => boolean

/**
 * Matches descriptors annotated with this {@link refNameAnnotation}.
 *
 * @since 0.1.0
 */
export const hasRefName =
  (name: string): Matcher =>
  (descriptor) =>
    descriptor.annotations?.[refNameAnnotation] === name

/**
 * Matches descriptors of this digest.
 *
 * @since 0.1.0
 */
export const hasDigest =
  (digest: Digest.Digest): Matcher =>
  (descriptor) =>
    descriptor.digest === digest

type Services = FileSystem.FileSystem | Path.Path

const core = (ctx: Files.Ctx) => ({
  manifest: (d: Descriptor.Descriptor) => Files.readDocument(ctx, d.digest, d.size),
  blob: (d: Descriptor.Descriptor) => Files.readBlob(ctx, d.digest, d.size),
  trusted: true
})

const indexOf = (ctx: Files.Ctx, bytes: Uint8Array): ImageIndex.ImageIndex<ReadError> =>
  Partial.indexFromCore<LayoutError | SizeMismatch>({
    ...core(ctx),
    rawManifest: Effect.succeed(bytes),
    mediaType: MediaType.OCI_INDEX
  })

/**
 * The layout in `dir` as an image index (ggcr's `layout.ImageIndexFromPath`): its children
 * are the images and indexes `index.json` lists, read lazily from `blobs/` and verified as they
 * are read. Fails with `NotALayout` when the directory has no `oci-layout` of version 1.0.0 or
 * no `index.json`, and with `InvalidDocument` when `index.json` is not an index.
 *
 * @since 0.1.0
 */
export const read = (dir: string): Effect.Effect<ImageIndex.ImageIndex<ReadError>, IndexError, Services> =>
  Effect.gen(function* () {
    const ctx = yield* Files.context(dir)
    yield* Files.requireLayout(ctx)
    const bytes = yield* Files.readIndexBytes(ctx)
    yield* Files.decodeIndex(bytes)
    return indexOf(ctx, bytes)
  })

/**
 * The descriptors `index.json` lists, in order.
 *
 * @since 0.1.0
 */
export const descriptors = (dir: string): Effect.Effect<ReadonlyArray<Descriptor.Descriptor>, IndexError, Services> =>
  Effect.gen(function* () {
    const ctx = yield* Files.context(dir)
    yield* Files.requireLayout(ctx)
    const raw = yield* Files.decodeIndex(yield* Files.readIndexBytes(ctx))
    return raw.value.manifests
  })

/**
 * The image `index.json` lists with this manifest digest (ggcr's `Path.Image`).
 *
 * @since 0.1.0
 */
export const image = (
  dir: string,
  digest: Digest.Digest
): Effect.Effect<Image.Image<ReadError>, IndexError | ReadError | BlobNotFound, Services> =>
  Effect.flatMap(read(dir), (index) => index.image(digest))

/**
 * The index `index.json` lists with this digest.
 *
 * @since 0.1.0
 */
export const imageIndex = (
  dir: string,
  digest: Digest.Digest
): Effect.Effect<ImageIndex.ImageIndex<ReadError>, IndexError | ReadError | BlobNotFound, Services> =>
  Effect.flatMap(read(dir), (index) => index.imageIndex(digest))

// A child built from its own descriptor, so that two entries of one digest (one image under two
// names) each keep their annotations.
const childOf = (
  ctx: Files.Ctx,
  d: Descriptor.Descriptor
): Effect.Effect<ImageIndex.Child<ReadError>, LayoutError | SizeMismatch> => {
  const rawManifest = Files.readDocument(ctx, d.digest, d.size)
  if (MediaType.isIndex(d.mediaType)) {
    const index = Partial.indexFromCore<LayoutError | SizeMismatch>({
      ...core(ctx),
      rawManifest,
      mediaType: d.mediaType,
      descriptor: d
    })
    return Effect.succeed({ _tag: "Index", descriptor: d, index })
  }
  if (MediaType.isImage(d.mediaType)) {
    const img = Partial.fromCompressed<LayoutError | SizeMismatch>({
      ...core(ctx),
      rawManifest,
      mediaType: d.mediaType,
      descriptor: d
    })
    return Effect.succeed({ _tag: "Image", descriptor: d, image: img })
  }
  return Effect.map(rawManifest, (bytes) => ({ _tag: "Other", descriptor: d, bytes }))
}

/**
 * Every child of `index.json` whose descriptor matches, in order: images and indexes (read
 * lazily), and other media types as their bytes.
 *
 * @since 0.1.0
 */
export const findAll = (
  dir: string,
  matcher: Matcher
): Effect.Effect<ReadonlyArray<ImageIndex.Child<ReadError>>, IndexError, Services> =>
  Effect.gen(function* () {
    const ctx = yield* Files.context(dir)
    const all = yield* descriptors(dir)
    return yield* Effect.forEach(all.filter(matcher), (d) => childOf(ctx, d))
  })

/**
 * The first child of `index.json` whose descriptor matches.
 *
 * @since 0.1.0
 */
export const find = (
  dir: string,
  matcher: Matcher
): Effect.Effect<Option.Option<ImageIndex.Child<ReadError>>, IndexError, Services> =>
  Effect.gen(function* () {
    const ctx = yield* Files.context(dir)
    const first = (yield* descriptors(dir)).find(matcher)
    return first === undefined ? Option.none() : Option.some(yield* childOf(ctx, first))
  })

/**
 * The first child of `index.json` annotated with this {@link refNameAnnotation}, the name
 * skopeo's `oci:DIR:NAME` and umoci's `DIR:TAG` refer to.
 *
 * @since 0.1.0
 */
export const findByRefName = (
  dir: string,
  name: string
): Effect.Effect<Option.Option<ImageIndex.Child<ReadError>>, IndexError, Services> => find(dir, hasRefName(name))

/**
 * The bytes of a blob of the layout, checked against its digest (and `size`, when given) as
 * they stream (ggcr's `Path.Blob`).
 *
 * @since 0.1.0
 */
export const blob = (
  dir: string,
  digest: Digest.Digest,
  options: { readonly size?: number | undefined } = {}
): Stream.Stream<Uint8Array, LayoutError, Services> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const ctx = yield* Files.context(dir)
      const valid = yield* Files.checkDigest(ctx, digest)
      return Files.readBlob(ctx, valid, options.size)
    })
  )

/**
 * True when the layout holds the blob (as a regular file).
 *
 * @since 0.1.0
 */
export const hasBlob = (dir: string, digest: Digest.Digest): Effect.Effect<boolean, LayoutError, Services> =>
  Effect.gen(function* () {
    const ctx = yield* Files.context(dir)
    return Option.isSome(yield* Files.statBlob(ctx, yield* Files.checkDigest(ctx, digest)))
  })

/**
 * Makes `dir` a new, empty layout (ggcr's `layout.Write` with an empty index): creates it when
 * missing, writes `oci-layout` and `blobs/`, and an empty `index.json`, replacing any there is.
 * Blobs already there are kept.
 *
 * @since 0.1.0
 */
export const create = (dir: string): Effect.Effect<void, LayoutError, Services> =>
  Effect.flatMap(Files.context(dir), (ctx) => Files.initialise(ctx, true))

/**
 * Makes sure `dir` is a layout: like {@link create}, but keeps an `index.json` that exists.
 * Fails with `NotALayout` when an `oci-layout` file names another version.
 *
 * @since 0.1.0
 */
export const ensure = (dir: string): Effect.Effect<void, LayoutError, Services> =>
  Effect.flatMap(Files.context(dir), (ctx) => Files.initialise(ctx, false))

/**
 * Writes a blob from a stream (ggcr's `Path.WriteBlob`). Nothing is read when the layout holds
 * the blob already (with this `size`, when given). Otherwise the bytes go to a temporary file
 * next to the blob, hashed as they flow, and are renamed into place only when they hash to
 * `digest` (and have `size`); on a mismatch (`DigestMismatch`, `SizeMismatch`), a failing
 * stream or an interruption nothing is kept.
 *
 * @since 0.1.0
 */
export const writeBlob = <E, R>(
  dir: string,
  digest: Digest.Digest,
  stream: Stream.Stream<Uint8Array, E, R>,
  options: { readonly size?: number | undefined } = {}
): Effect.Effect<Files.Written, E | LayoutError, R | Services> =>
  Effect.flatMap(Files.context(dir), (ctx) => Files.writeBlob(ctx, digest, stream, options.size))

/**
 * Removes a blob, if the layout holds it (ggcr's `Path.RemoveBlob`). Nothing checks that no
 * manifest still refers to it; see {@link garbageCollect} for that.
 *
 * @since 0.1.0
 */
export const removeBlob = (dir: string, digest: Digest.Digest): Effect.Effect<void, LayoutError, Services> =>
  Effect.gen(function* () {
    const ctx = yield* Files.context(dir)
    yield* Files.removeBlobFile(ctx, yield* Files.checkDigest(ctx, digest))
  })

/**
 * Options of writing: what to add to the descriptor listed in `index.json` (ggcr's
 * `WithAnnotations`, `WithURLs`, `WithPlatform`) and how many blobs to write at once.
 *
 * @since 0.1.0
 */
export interface WriteOptions {
  /** Merged into the descriptor's annotations; `{ [refNameAnnotation]: "tag" }` names it. */
  readonly annotations?: Descriptor.Annotations | undefined
  /** Set as the descriptor's platform. */
  readonly platform?: Platform.Platform | undefined
  /** Appended to the descriptor's urls. */
  readonly urls?: ReadonlyArray<string> | undefined
  /** How many blobs are written at once (default 4). */
  readonly concurrency?: number | undefined
}

const describe = (descriptor: Descriptor.Descriptor, options: WriteOptions): Descriptor.Descriptor => ({
  ...descriptor,
  ...(options.annotations !== undefined
    ? { annotations: { ...descriptor.annotations, ...options.annotations } }
    : {}),
  ...(options.urls !== undefined ? { urls: [...(descriptor.urls ?? []), ...options.urls] } : {}),
  ...(options.platform !== undefined ? { platform: options.platform } : {})
})

// Writes an image or index (ensuring the layout first), then updates `index.json` with its
// descriptor through `update`.
const put = <E>(
  dir: string,
  write: (ctx: Files.Ctx) => Effect.Effect<Descriptor.Descriptor, E>,
  update: (index: IndexManifest.IndexManifest, descriptor: Descriptor.Descriptor) => IndexManifest.IndexManifest
): Effect.Effect<Descriptor.Descriptor, E | IndexError, Services> =>
  Effect.gen(function* () {
    const ctx = yield* Files.context(dir)
    yield* Files.initialise(ctx, false)
    const descriptor = yield* write(ctx)
    yield* Files.updateIndex(ctx, (index) => update(index, descriptor))
    return descriptor
  })

const appendTo = (index: IndexManifest.IndexManifest, descriptor: Descriptor.Descriptor): IndexManifest.IndexManifest => ({
  ...index,
  manifests: [...index.manifests, descriptor]
})

const replaceIn =
  (matcher: Matcher) =>
  (index: IndexManifest.IndexManifest, descriptor: Descriptor.Descriptor): IndexManifest.IndexManifest => ({
    ...index,
    manifests: [...index.manifests.filter((d) => !matcher(d)), descriptor]
  })

const writeImage =
  <E>(img: Image.Image<E>, options: WriteOptions) =>
  (ctx: Files.Ctx): Effect.Effect<Descriptor.Descriptor, E | LayoutError> =>
    Effect.zipRight(
      Writer.make<E>(ctx, options.concurrency).image(img),
      Effect.map(img.descriptor, (d) => describe(d, options))
    )

const writeIndex =
  <E>(idx: ImageIndex.ImageIndex<E>, options: WriteOptions) =>
  (ctx: Files.Ctx): Effect.Effect<Descriptor.Descriptor, E | BlobNotFound | LayoutError> =>
    Effect.zipRight(
      Writer.make<E>(ctx, options.concurrency).index(idx),
      Effect.map(idx.descriptor, (d) => describe(d, options))
    )

/**
 * Writes an image's blobs (layers concurrently, then the config, then the manifest; blobs the
 * layout holds are skipped) and appends its descriptor, with the options applied, to
 * `index.json` (ggcr's `Path.AppendImage`). Makes `dir` a layout when it is not one yet.
 * Returns the descriptor appended.
 *
 * @since 0.1.0
 */
export const appendImage = <E>(
  dir: string,
  image: Image.Image<E>,
  options: WriteOptions = {}
): Effect.Effect<Descriptor.Descriptor, E | IndexError, Services> => put(dir, writeImage(image, options), appendTo)

/**
 * Writes an index with everything it references (child images and indexes, recursively; other
 * children as their bytes) and appends its descriptor to `index.json` (ggcr's
 * `Path.AppendIndex`). Returns the descriptor appended.
 *
 * @since 0.1.0
 */
export const appendIndex = <E>(
  dir: string,
  index: ImageIndex.ImageIndex<E>,
  options: WriteOptions = {}
): Effect.Effect<Descriptor.Descriptor, E | BlobNotFound | IndexError, Services> =>
  put(dir, writeIndex(index, options), appendTo)

/**
 * Appends a descriptor to `index.json` as it is (ggcr's `Path.AppendDescriptor`); nothing
 * checks that the layout holds what it points at.
 *
 * @since 0.1.0
 */
export const appendDescriptor = (
  dir: string,
  descriptor: Descriptor.Descriptor
): Effect.Effect<void, IndexError, Services> =>
  Effect.asVoid(put(dir, () => Effect.succeed(descriptor), appendTo))

/**
 * Writes an image, then removes every descriptor of `index.json` the matcher accepts and
 * appends the image's (ggcr's `Path.ReplaceImage`): `hasRefName("v1")` moves a name.
 *
 * @since 0.1.0
 */
export const replaceImage = <E>(
  dir: string,
  image: Image.Image<E>,
  matcher: Matcher,
  options: WriteOptions = {}
): Effect.Effect<Descriptor.Descriptor, E | IndexError, Services> =>
  put(dir, writeImage(image, options), replaceIn(matcher))

/**
 * Writes an index, then replaces the descriptors the matcher accepts with its own (ggcr's
 * `Path.ReplaceIndex`).
 *
 * @since 0.1.0
 */
export const replaceIndex = <E>(
  dir: string,
  index: ImageIndex.ImageIndex<E>,
  matcher: Matcher,
  options: WriteOptions = {}
): Effect.Effect<Descriptor.Descriptor, E | BlobNotFound | IndexError, Services> =>
  put(dir, writeIndex(index, options), replaceIn(matcher))

/**
 * Removes the descriptors the matcher accepts from `index.json` (ggcr's
 * `Path.RemoveDescriptors`) and returns them. Their blobs stay until {@link garbageCollect}.
 *
 * @since 0.1.0
 */
export const removeDescriptors = (
  dir: string,
  matcher: Matcher
): Effect.Effect<ReadonlyArray<Descriptor.Descriptor>, IndexError, Services> =>
  Effect.gen(function* () {
    const ctx = yield* Files.context(dir)
    yield* Files.requireLayout(ctx)
    let removed: ReadonlyArray<Descriptor.Descriptor> = []
    yield* Files.updateIndex(ctx, (index) => {
      removed = index.manifests.filter(matcher)
      return { ...index, manifests: index.manifests.filter((d) => !matcher(d)) }
    })
    return removed
  })

/**
 * Writes a whole index as the layout in `dir` (ggcr's `layout.Write`): everything it
 * references goes to `blobs/`, and its exact bytes become `index.json`, replacing any there is.
 *
 * @since 0.1.0
 */
export const write = <E>(
  dir: string,
  index: ImageIndex.ImageIndex<E>,
  options: { readonly concurrency?: number | undefined } = {}
): Effect.Effect<void, E | BlobNotFound | LayoutError, Services> =>
  Effect.gen(function* () {
    const ctx = yield* Files.context(dir)
    yield* Files.ensureLayoutFile(ctx)
    yield* Writer.make<E>(ctx, options.concurrency).children(index)
    const bytes = yield* index.rawManifest
    yield* Files.withIndexLock(ctx, Files.writeFileAtomic(ctx, Files.inLayout(ctx, Files.indexFile), bytes))
  })

/**
 * Options of {@link garbageCollect}.
 *
 * @since 0.1.0
 */
export interface GarbageCollectOptions {
  /** Remove the unreachable blobs; by default they are only reported, as ggcr does. */
  readonly delete?: boolean | undefined
}

/**
 * The blobs no manifest reachable from `index.json` refers to (ggcr's `Path.GarbageCollect`),
 * sorted; removed when `delete` is set. Children of unknown media types are kept, with what
 * they reference when their bytes are a manifest; a manifest the layout refers to but does
 * not hold fails with `BlobNotFound`. Do not run it while another writer adds to the layout:
 * blobs are written before `index.json` refers to them.
 *
 * @since 0.1.0
 */
export const garbageCollect = (
  dir: string,
  options: GarbageCollectOptions = {}
): Effect.Effect<ReadonlyArray<Digest.Digest>, IndexError, Services> =>
  Effect.gen(function* () {
    const ctx = yield* Files.context(dir)
    yield* Files.requireLayout(ctx)
    return yield* Files.withIndexLock(
      ctx,
      Effect.gen(function* () {
        const raw = yield* Files.decodeIndex(yield* Files.readIndexBytes(ctx))
        const keep = yield* Gc.reachable(ctx, raw.value)
        const garbage = yield* Gc.unreachable(ctx, keep)
        if (options.delete === true) {
          yield* Effect.forEach(garbage, (digest) => Files.removeBlobFile(ctx, digest), { discard: true })
        }
        return garbage
      })
    )
  })
