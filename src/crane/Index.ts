/**
 * Working with image indexes (`crane index list`, `crane index filter`, `crane index append`),
 * as crane does: list an index's children, keep only the children for some platforms, or
 * build an index from images and indexes (in a registry, or local OCI layouts and tarballs)
 * with the platform of each image read from its config.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Descriptor from "../domain/Descriptor.js"
import * as Empty from "../domain/Empty.js"
import type { BlobNotFound } from "../domain/Errors.js"
import type * as Image from "../domain/Image.js"
import * as ImageIndex from "../domain/ImageIndex.js"
import * as MediaType from "../domain/MediaType.js"
import * as Mutate from "../domain/Mutate.js"
import * as Platform from "../domain/Platform.js"
import * as Reference from "../domain/Reference.js"
import * as Layout from "../formats/Layout.js"
import type * as Tarball from "../formats/Tarball.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import * as Remote from "../services/Remote.js"
import { CraneError } from "./CraneError.js"
import * as Inspect from "./Inspect.js"
import * as Options from "./Options.js"
import * as Push from "./Push.js"

/**
 * How working with an index may fail.
 *
 * @since 0.1.0
 */
export type IndexError = Inspect.GetError | Inspect.ImageError | Push.LoadError | CraneError

const notAnIndex = (what: string, mediaType: string) =>
  new CraneError({ reason: "NotAnIndex", detail: `expected ${what} to be an index, got ${JSON.stringify(mediaType)}` })

/**
 * The index a reference names; anything else fails with `NotAnIndex`.
 *
 * @since 0.1.0
 */
export const remoteIndex = (
  ref: Options.ReferenceInput,
  options: Options.Options = {}
): Effect.Effect<ImageIndex.ImageIndex<Remote.PullError>, IndexError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const fetched = yield* Inspect.get(ref, options)
    if (!MediaType.isIndex(fetched.mediaType)) {
      return yield* notAnIndex(typeof ref === "string" ? ref : Reference.format(ref), fetched.mediaType)
    }
    return yield* Remote.toIndex(fetched, Options.remote(options))
  })

/**
 * True when a name is a local path rather than a reference: it exists on disk, or starts with
 * `.` or `/` (a layout to create), as crane's `isLocalReference`.
 *
 * @since 0.1.0
 */
export const isLocal = (name: string): Effect.Effect<boolean, never, FileSystem.FileSystem> =>
  name.startsWith(".") || name.startsWith("/")
    ? Effect.succeed(true)
    : Effect.flatMap(FileSystem.FileSystem, (fs) => fs.exists(name).pipe(Effect.orElseSucceed(() => false)))

/**
 * The children of an index in a registry or in a local layout (`crane index list`).
 *
 * @since 0.1.0
 */
export const list = (
  ref: string,
  options: Options.Options = {}
): Effect.Effect<ReadonlyArray<Descriptor.Descriptor>, IndexError, RegistryTransport.RegistryTransport | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    if (yield* isLocal(ref)) return yield* Layout.descriptors(ref)
    const index = yield* remoteIndex(ref, options)
    return (yield* index.indexManifest).manifests
  })

/**
 * The index without the children whose platform satisfies none of `platforms` (children
 * without a platform go too), as crane's `filterIndex`.
 *
 * @since 0.1.0
 */
export const filterIndex = <E>(
  index: ImageIndex.ImageIndex<E>,
  platforms: ReadonlyArray<Platform.Platform>
): ImageIndex.ImageIndex<E> =>
  Mutate.removeManifests(
    index,
    (d) => d.platform === undefined || !platforms.some((p) => Platform.satisfies(d.platform as Platform.Platform, p))
  )

/**
 * Keeps only the children of a remote index for some platforms and pushes the result
 * (`crane index filter`): to `tag`, or over the original (by digest when it is a digest
 * reference). Gives the reference by digest of the new index.
 *
 * @since 0.1.0
 */
export const filter = (
  ref: Options.ReferenceInput,
  platforms: ReadonlyArray<Platform.Platform>,
  options: Options.Options & { readonly tag?: string | undefined } = {}
): Effect.Effect<Reference.DigestRef, IndexError | Remote.WriteError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const base = yield* Options.reference(ref, options)
    const filtered = filterIndex(yield* remoteIndex(base, options), platforms)
    const digest = yield* filtered.digest
    const target = options.tag !== undefined
      ? yield* Options.reference(options.tag, options)
      : base._tag === "Digest"
      ? Reference.withDigest(base.repository, digest)
      : base
    return yield* Push.pushItem(filtered, target, options)
  })

/**
 * How reading an image or index named by `crane index append -m` may fail.
 *
 * @since 0.1.0
 */
export type ItemError = Remote.PullError | Tarball.ReadError<Tarball.TarballError> | Layout.ReadError | BlobNotFound

type Item = Image.Image<ItemError> | ImageIndex.ImageIndex<ItemError>

/**
 * What an appended manifest brings: the image or index, and the descriptor it is listed by.
 */
interface Addition {
  readonly item: Item
  readonly descriptor?: Descriptor.Descriptor | undefined
}

/** A manifest named by `-m`: a local tarball or layout, else a reference. */
const resolveManifest = (
  name: string,
  options: Options.Options
): Effect.Effect<Item, IndexError, RegistryTransport.RegistryTransport | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    if (yield* fs.exists(name).pipe(Effect.orElseSucceed(() => false))) {
      const loaded = yield* Push.load(name, { index: true })
      return loaded._tag === "Image" ? loaded.image : loaded.index
    }
    const fetched = yield* Inspect.get(name, options)
    const remote = Options.remote(options)
    if (MediaType.isImage(fetched.mediaType)) return yield* Remote.toImage(fetched, remote)
    if (MediaType.isIndex(fetched.mediaType)) return yield* Remote.toIndex(fetched, remote)
    return yield* new CraneError({ reason: "Unsupported", detail: `${name}: unexpected media type ${fetched.mediaType}` })
  })

/** The additions a manifest makes: itself, or with `flatten` each child of an index. */
const additionsOf = (
  item: Item,
  flatten: boolean
): Effect.Effect<ReadonlyArray<Addition>, IndexError | ItemError> =>
  Effect.gen(function* () {
    if (!flatten || !ImageIndex.isImageIndex(item)) return [{ item }]
    const index: ImageIndex.ImageIndex<ItemError> = item
    const manifest = yield* index.indexManifest
    return yield* Effect.forEach(manifest.manifests, (descriptor) =>
      Effect.gen(function* () {
        const child = yield* index.child(descriptor.digest)
        if (child._tag === "Image") return { item: child.image, descriptor }
        if (child._tag === "Index") return { item: child.index, descriptor }
        return yield* new CraneError({ reason: "Unsupported", detail: `unexpected child media type: ${descriptor.mediaType}` })
      }))
  })

/**
 * Options of {@link append}.
 *
 * @since 0.1.0
 */
export interface AppendOptions extends Options.Options {
  /** Where to push the result; the base by default (one of them is needed). */
  readonly tag?: string | undefined
  /** Without a base: the empty index is a Docker manifest list instead of an OCI index. */
  readonly dockerEmptyBase?: boolean | undefined
  /** Append each child of an appended index rather than the index itself (default true). */
  readonly flatten?: boolean | undefined
}

const addendum = (addition: Addition): Mutate.IndexAddendum<ItemError> => ({
  add: addition.item,
  ...(addition.descriptor?.platform !== undefined ? { platform: addition.descriptor.platform } : {}),
  ...(addition.descriptor?.annotations !== undefined ? { annotations: addition.descriptor.annotations } : {})
})

/**
 * Appends manifests to an index (`crane index append`). With a base that is a local path, they
 * are added to that OCI layout (made when missing) and `None` is given. Otherwise the index is
 * the base index (a reference) or an empty one, and is pushed to `tag` (or over the base, by
 * digest when the base is a digest reference); its reference by digest is given. An image is
 * listed with the platform its config names.
 *
 * @since 0.1.0
 */
export const append = (
  base: string | undefined,
  manifests: ReadonlyArray<string>,
  options: AppendOptions = {}
): Effect.Effect<
  Option.Option<Reference.DigestRef>,
  IndexError | ItemError | Remote.WriteError | Layout.IndexError,
  RegistryTransport.RegistryTransport | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const items = yield* Effect.forEach(manifests, (m) => resolveManifest(m, options))
    const additions = (yield* Effect.forEach(items, (item) => additionsOf(item, options.flatten ?? true))).flat()
    if (base !== undefined && (yield* isLocal(base))) {
      yield* Layout.ensure(base)
      for (const addition of additions) {
        const platform = addition.descriptor?.platform
        const write: Layout.WriteOptions = platform !== undefined ? { platform } : {}
        if (ImageIndex.isImageIndex(addition.item)) yield* Layout.appendIndex(base, addition.item, write)
        else yield* Layout.appendImage(base, addition.item, write)
      }
      return Option.none()
    }
    if (base === undefined && options.tag === undefined) {
      return yield* new CraneError({ reason: "InvalidArgument", detail: "at least one of --base or --tag must be specified" })
    }
    const baseRef = base === undefined ? undefined : yield* Options.reference(base, options)
    const start: ImageIndex.ImageIndex<ItemError> = baseRef === undefined
      ? options.dockerEmptyBase === true ? Mutate.indexMediaType(Empty.index, MediaType.DOCKER_MANIFEST_LIST) : Empty.index
      : yield* remoteIndex(baseRef, options)
    const index = Mutate.appendManifests(start, additions.map(addendum))
    const digest = yield* index.digest
    const target = options.tag !== undefined
      ? yield* Options.reference(options.tag, options)
      : baseRef !== undefined && baseRef._tag === "Digest"
      ? Reference.withDigest(baseRef.repository, digest)
      : baseRef
    if (target === undefined) {
      return yield* new CraneError({ reason: "InvalidArgument", detail: "no target reference determined" })
    }
    return Option.some(yield* Push.pushItem(index, target, options))
  })
