/**
 * Pushing local images to a registry (`crane push`), as ggcr's `crane.Load` and `crane.Push`:
 * a `docker save` tarball, or an OCI image layout directory (its one image or index, or the
 * whole layout as an index). Layers stream from the disk to the registry; blobs the registry
 * has are skipped.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import type { BlobNotFound, InvalidReference } from "../domain/Errors.js"
import * as Image from "../domain/Image.js"
import type * as ImageIndex from "../domain/ImageIndex.js"
import * as MediaType from "../domain/MediaType.js"
import * as Reference from "../domain/Reference.js"
import * as Layout from "../formats/Layout.js"
import * as Tarball from "../formats/Tarball.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import * as Remote from "../services/Remote.js"
import { CraneError } from "./CraneError.js"
import * as Options from "./Options.js"

/**
 * What a local path holds: an image or an index.
 *
 * @since 0.1.0
 */
export type Loaded<E> =
  | { readonly _tag: "Image"; readonly image: Image.Image<E> }
  | { readonly _tag: "Index"; readonly index: ImageIndex.ImageIndex<E> }

/**
 * How reading a local image or index may fail.
 *
 * @since 0.1.0
 */
export type LoadError =
  | Tarball.ReadError<Tarball.TarballError>
  | Layout.ReadError
  | Layout.IndexError
  | BlobNotFound
  | CraneError
  | InvalidReference

/**
 * Options of {@link load}.
 *
 * @since 0.1.0
 */
export interface LoadOptions {
  /** Read a layout as one index of everything it lists (`crane push --index`). */
  readonly index?: boolean | undefined
  /** The image of a tarball holding several (`RepoTags` entry). */
  readonly tag?: string | undefined
}

/**
 * Reads what a path holds (ggcr's `crane.Load` and crane push's `loadImage`): a directory is an
 * OCI layout, whose single entry is taken (or, with `index`, the whole layout); a file is a
 * `docker save` tarball.
 *
 * @since 0.1.0
 */
export const load = (
  path: string,
  options: LoadOptions = {}
): Effect.Effect<Loaded<Tarball.ReadError<Tarball.TarballError> | Layout.ReadError>, LoadError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(path).pipe(
      Effect.mapError((cause) => new Tarball.TarballError({ reason: "Io", path, cause }))
    )
    if (info.type !== "Directory") {
      const tag = options.tag === undefined ? undefined : yield* Reference.parseTag(options.tag)
      const image = yield* Tarball.imageFromFile(path, tag === undefined ? {} : { tag })
      return { _tag: "Image", image } as const
    }
    const layout = yield* Layout.read(path)
    if (options.index === true) return { _tag: "Index", index: layout } as const
    const manifest = yield* layout.indexManifest
    const only = manifest.manifests.length === 1 ? manifest.manifests[0] : undefined
    if (only === undefined) {
      return yield* new CraneError({
        reason: "Ambiguous",
        detail: `layout ${path} contains ${manifest.manifests.length} entries, consider --index`
      })
    }
    if (MediaType.isImage(only.mediaType)) return { _tag: "Image", image: yield* layout.image(only.digest) } as const
    if (MediaType.isIndex(only.mediaType)) return { _tag: "Index", index: yield* layout.imageIndex(only.digest) } as const
    return yield* new CraneError({
      reason: "Unsupported",
      detail: `layout ${path} contains a non-image (media type ${only.mediaType}), consider --index`
    })
  })

/**
 * Writes an image or index under a reference (ggcr's `crane.Push`, and `remote.WriteIndex` for
 * an index). Gives the reference by digest of what was pushed (`repo@sha256:...`).
 *
 * @since 0.1.0
 */
export const pushItem = <E>(
  item: Image.Image<E> | ImageIndex.ImageIndex<E>,
  dst: Options.ReferenceInput,
  options: Options.Options = {}
): Effect.Effect<Reference.DigestRef, E | InvalidReference | Remote.WriteError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const ref = yield* Options.reference(dst, options)
    const remote = Options.remote(options)
    if (Image.isImage(item)) yield* Remote.write(ref, item, remote)
    else yield* Remote.writeIndex(ref, item, remote)
    return Reference.withDigest(ref.repository, yield* item.digest)
  })

/**
 * Pushes what a local path holds (see {@link load}) to a reference (`crane push PATH REF`).
 * Gives the reference by digest of what was pushed.
 *
 * @since 0.1.0
 */
export const push = (
  path: string,
  dst: Options.ReferenceInput,
  options: Options.Options & LoadOptions = {}
): Effect.Effect<
  Reference.DigestRef,
  LoadError | Remote.WriteError,
  RegistryTransport.RegistryTransport | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const ref = yield* Options.reference(dst, options)
    const loaded = yield* load(path, options)
    return yield* pushItem(loaded._tag === "Image" ? loaded.image : loaded.index, ref, options)
  })
