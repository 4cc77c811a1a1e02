/**
 * Pulling images to local files (`crane pull`), as ggcr's `crane.Pull`, `crane.MultiSave`,
 * `crane.MultiSaveLegacy` and `crane.MultiSaveOCI`: a `docker save` tarball, a legacy one with
 * a directory per layer, or an OCI image layout. Blobs stream from the registry to the disk,
 * checked against their digests on the way; a tarball appears at its path only once whole.
 * With a cache directory, layers already there are read from it instead of the registry, and
 * layers read from the registry are kept there.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import type * as Descriptor from "../domain/Descriptor.js"
import type { BlobNotFound, InvalidReference } from "../domain/Errors.js"
import type * as Image from "../domain/Image.js"
import type * as ImageIndex from "../domain/ImageIndex.js"
import * as MediaType from "../domain/MediaType.js"
import * as Reference from "../domain/Reference.js"
import * as LayerCache from "../formats/LayerCache.js"
import * as Layout from "../formats/Layout.js"
import * as LegacyTarball from "../formats/LegacyTarball.js"
import * as Tarball from "../formats/Tarball.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import * as Remote from "../services/Remote.js"
import type * as Inspect from "./Inspect.js"
import * as Options from "./Options.js"

/**
 * The tag a tarball records for an image pulled by digest: it was (probably) never tagged so,
 * but `latest` would mislead (ggcr's `i-was-a-digest`).
 *
 * @since 0.1.0
 */
export const digestTag = "i-was-a-digest"

/**
 * How images are stored: a `docker save` tarball, the older `docker save` layout with a
 * directory per layer (`legacy`, ggcr's `pkg/legacy/tarball`), or an OCI image layout
 * directory.
 *
 * @since 0.1.0
 */
export type Format = "tarball" | "legacy" | "oci"

/**
 * Options of {@link pull}.
 *
 * @since 0.1.0
 */
export interface PullOptions extends Options.Options {
  /** The format; `tarball` by default. */
  readonly format?: Format | undefined
  /** With `oci`: name each entry of `index.json` by the reference it was pulled by. */
  readonly annotateRef?: boolean | undefined
  /**
   * A directory to cache layers in (ggcr's `--cache_path`): layers found there are not
   * fetched, layers fetched are stored there. See `formats/LayerCache`.
   */
  readonly cachePath?: string | undefined
}

/**
 * How reading a pulled image may fail: the registry's errors, and the cache's when there is
 * one.
 *
 * @since 0.1.0
 */
export type SourceError = Remote.PullError | LayerCache.CacheError

/**
 * What was pulled: an image, or (to a layout, without a platform) a whole index.
 *
 * @since 0.1.0
 */
export type Pulled =
  | { readonly _tag: "Image"; readonly ref: Reference.Reference; readonly image: Image.Image<SourceError> }
  | { readonly _tag: "Index"; readonly ref: Reference.Reference; readonly index: ImageIndex.ImageIndex<SourceError> }

/**
 * How pulling may fail.
 *
 * @since 0.1.0
 */
export type PullError =
  | Inspect.ImageError
  | Inspect.GetError
  | Tarball.WriteError<SourceError>
  | LegacyTarball.WriteError<SourceError>
  | Layout.IndexError
  | BlobNotFound

/**
 * The tag a tarball records an image under: the reference's tag, or {@link digestTag} in the
 * reference's repository for a digest reference.
 *
 * @since 0.1.0
 */
export const tarballTag = (ref: Reference.Reference): Reference.Tag =>
  ref._tag === "Tag" ? ref : { _tag: "Tag", repository: ref.repository, tag: digestTag }

/**
 * Writes images as a `docker save` tarball at `path` (ggcr's `crane.MultiSave`).
 *
 * @since 0.1.0
 */
export const saveTarball = <E>(
  images: ReadonlyArray<readonly [Reference.Reference, Image.Image<E>]>,
  path: string
): Effect.Effect<void, Tarball.WriteError<E>, FileSystem.FileSystem> =>
  Tarball.writeToFile(path, images.map(([ref, img]) => [tarballTag(ref), img] as const))

/**
 * Writes images as a legacy `docker save` tarball at `path` (ggcr's `crane.MultiSaveLegacy`):
 * images pulled by tag are recorded under it, images pulled by digest without a tag.
 *
 * @since 0.1.0
 */
export const saveLegacy = <E>(
  images: ReadonlyArray<readonly [Reference.Reference, Image.Image<E>]>,
  path: string
): Effect.Effect<void, LegacyTarball.WriteError<E>, FileSystem.FileSystem> => LegacyTarball.writeToFile(path, images)

/**
 * What was pulled, read through a layer cache.
 *
 * @since 0.1.0
 */
export const cached = (pulled: Pulled, cache: LayerCache.LayerCache): Pulled =>
  pulled._tag === "Image"
    ? { ...pulled, image: LayerCache.image(pulled.image, cache) }
    : { ...pulled, index: LayerCache.index(pulled.index, cache) }

/**
 * Options of {@link saveLayout}.
 *
 * @since 0.1.0
 */
export interface LayoutOptions {
  /** Name each entry by its reference (`org.opencontainers.image.ref.name`). */
  readonly annotateRef?: boolean | undefined
  readonly concurrency?: number | undefined
}

/**
 * Adds images and indexes to the OCI layout at `path`, making it one when it is not (ggcr's
 * `crane.MultiSaveOCI`). Gives the descriptors added to `index.json`.
 *
 * @since 0.1.0
 */
export const saveLayout = <E>(
  items: ReadonlyArray<
    | { readonly ref: Reference.Reference; readonly image: Image.Image<E> }
    | { readonly ref: Reference.Reference; readonly index: ImageIndex.ImageIndex<E> }
  >,
  path: string,
  options: LayoutOptions = {}
): Effect.Effect<ReadonlyArray<Descriptor.Descriptor>, E | BlobNotFound | Layout.IndexError, FileSystem.FileSystem | Path.Path> =>
  Effect.forEach(items, (item) => {
    const write: Layout.WriteOptions = {
      ...(options.annotateRef === true ? { annotations: { [Layout.refNameAnnotation]: Reference.name(item.ref) } } : {}),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {})
    }
    return "image" in item ? Layout.appendImage(path, item.image, write) : Layout.appendIndex(path, item.index, write)
  })

/**
 * What a reference names, as a pull keeps it: to a layout without a platform, an index stays
 * an index; otherwise the image for the platform is taken.
 *
 * @since 0.1.0
 */
export const resolve = (
  ref: Options.ReferenceInput,
  options: PullOptions = {}
): Effect.Effect<Pulled, Inspect.ImageError | Inspect.GetError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const r = yield* Options.reference(ref, options)
    const remote = Options.remote(options)
    const fetched = yield* Remote.get(r, remote)
    if (options.format === "oci" && options.platform === undefined && MediaType.isIndex(fetched.mediaType)) {
      return { _tag: "Index", ref: r, index: yield* Remote.toIndex(fetched, remote) } as const
    }
    return { _tag: "Image", ref: r, image: yield* Remote.toImage(fetched, remote) } as const
  })

/**
 * Pulls images to `path` (`crane pull`): a tarball with every image (by default), a legacy
 * tarball (`format: "legacy"`), or an OCI layout they are added to (`format: "oci"`), where
 * an index is kept whole unless a platform is asked for. With `cachePath`, layers are read
 * through a layer cache in that directory. Gives what was pulled.
 *
 * @since 0.1.0
 */
export const pull = (
  refs: ReadonlyArray<Options.ReferenceInput>,
  path: string,
  options: PullOptions = {}
): Effect.Effect<
  ReadonlyArray<Pulled>,
  PullError | InvalidReference,
  RegistryTransport.RegistryTransport | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const resolved = yield* Effect.forEach(refs, (ref) => resolve(ref, options))
    const cache = options.cachePath !== undefined ? yield* LayerCache.fileSystem(options.cachePath) : undefined
    const pulled = cache !== undefined ? resolved.map((p) => cached(p, cache)) : resolved
    if (options.format === "oci") {
      yield* saveLayout(
        pulled.map((p) => (p._tag === "Image" ? { ref: p.ref, image: p.image } : { ref: p.ref, index: p.index })),
        path,
        { annotateRef: options.annotateRef, concurrency: Options.jobs(options) }
      )
    } else {
      const images = pulled.flatMap((p) => (p._tag === "Image" ? [[p.ref, p.image] as const] : []))
      yield* options.format === "legacy" ? saveLegacy(images, path) : saveTarball(images, path)
    }
    return pulled
  })
