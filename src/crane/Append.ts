/**
 * Appending layer files to an image (`crane append`, `crane mutate --append`), as ggcr's
 * `crane.Append`: each file is a tar, gzipped, zstd-compressed or plain, told apart by its
 * first bytes. Regular files are read as often as needed; `-` (stdin) and other streams that
 * can be read only once (named pipes) become stream layers, hashed while they upload.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import type * as Compression from "../domain/Compression.js"
import * as Empty from "../domain/Empty.js"
import type { InvalidDocument } from "../domain/Errors.js"
import type * as Image from "../domain/Image.js"
import type * as ImageLayer from "../domain/ImageLayer.js"
import * as MediaType from "../domain/MediaType.js"
import * as Mutate from "../domain/Mutate.js"
import * as Reference from "../domain/Reference.js"
import * as StreamLayer from "../domain/StreamLayer.js"
import * as Tarball from "../formats/Tarball.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import type * as Remote from "../services/Remote.js"
import * as Inspect from "./Inspect.js"
import * as Options from "./Options.js"

/**
 * A layer file that could not be opened.
 *
 * @since 0.1.0
 */
export class LayerFileError extends Data.TaggedError("LayerFileError")<{
  readonly path: string
  readonly cause: unknown
}> {
  override get message(): string {
    const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `reading layer ${JSON.stringify(this.path)}: ${detail}`
  }
}

/**
 * How reading an appended layer may fail.
 *
 * @since 0.1.0
 */
export type LayerError =
  | LayerFileError
  | Tarball.TarballError
  | Compression.CompressionError
  | StreamLayer.StreamLayerError

const streamOf = (path: string): Stream.Stream<Uint8Array, LayerFileError> =>
  NodeStream.fromReadable(
    () => (path === "-" ? process.stdin : Fs.createReadStream(path)),
    (cause) => new LayerFileError({ path, cause })
  )

const isRegularFile = (path: string): Effect.Effect<boolean, LayerFileError, FileSystem.FileSystem> =>
  path === "-"
    ? Effect.succeed(false)
    : Effect.flatMap(FileSystem.FileSystem, (fs) =>
      fs.stat(path).pipe(
        Effect.map((info) => info.type === "File"),
        Effect.mapError((cause) => new LayerFileError({ path, cause }))
      ))

/**
 * The layer in a file: `-` is stdin; a file that is not a regular file is read once, as a
 * stream layer. Its media type is Docker's gzip layer (OCI's zstd layer for a zstd file) unless
 * `layerType` names another; appending it to an OCI image lists it under OCI's type.
 *
 * @since 0.1.0
 */
export const layerFromPath = (
  path: string,
  layerType?: MediaType.MediaType
): Effect.Effect<ImageLayer.ImageLayer<LayerError>, LayerError, FileSystem.FileSystem> =>
  Effect.flatMap(isRegularFile(path), (regular): Effect.Effect<ImageLayer.ImageLayer<LayerError>, LayerError, FileSystem.FileSystem> =>
    regular
      ? Tarball.layerFromFile(path, { mediaType: layerType })
      : Effect.succeed(StreamLayer.make(streamOf(path), { mediaType: layerType }))
  )

/**
 * The base image with the layers in `paths` on top, in order (ggcr's `crane.Append`).
 *
 * @since 0.1.0
 */
export const append = <E>(
  base: Image.Image<E>,
  paths: ReadonlyArray<string>
): Effect.Effect<Image.Image<E | LayerError>, E | LayerError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const layers = yield* Effect.forEach(paths, (path) => layerFromPath(path))
    return Mutate.appendLayers(base, layers)
  })

/**
 * The annotation naming the digest of the image an image was built on (OCI).
 *
 * @since 0.1.0
 */
export const baseDigestAnnotation = "org.opencontainers.image.base.digest"

/**
 * The annotation naming the reference of the image an image was built on (OCI).
 *
 * @since 0.1.0
 */
export const baseNameAnnotation = "org.opencontainers.image.base.name"

/**
 * An empty image with OCI media types (manifest and config) instead of Docker's.
 *
 * @since 0.1.0
 */
export const emptyOciImage: Image.Image<InvalidDocument> = Mutate.configMediaType(
  Mutate.mediaType(Empty.image, MediaType.OCI_MANIFEST),
  MediaType.OCI_CONFIG
)

/**
 * Options of {@link build}.
 *
 * @since 0.1.0
 */
export interface BuildOptions extends Options.Options {
  /** The image to build on; an empty image when absent. */
  readonly base?: string | undefined
  /** Without a base: the empty image has OCI media types instead of Docker's. */
  readonly ociEmptyBase?: boolean | undefined
  /** Annotate the result with the base's digest and name (`set-base-image-annotations`). */
  readonly baseAnnotations?: boolean | undefined
}

/**
 * How building an image with appended layers may fail.
 *
 * @since 0.1.0
 */
export type BuildError = LayerError | InvalidDocument | Inspect.ImageError | Remote.PullError

/**
 * The image `crane append` pushes: the base (pulled for the options' platform) or an empty
 * image, with the layers in `paths` on top, and with `baseAnnotations` the OCI base image
 * annotations.
 *
 * @since 0.1.0
 */
export const build = (
  paths: ReadonlyArray<string>,
  options: BuildOptions = {}
): Effect.Effect<Image.Image<BuildError>, BuildError, FileSystem.FileSystem | RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    if (options.base === undefined) {
      return yield* append<BuildError>(options.ociEmptyBase === true ? emptyOciImage : Empty.image, paths)
    }
    const baseRef = yield* Options.reference(options.base, options)
    const base = yield* Inspect.image(baseRef, options)
    const appended = yield* append<BuildError>(base, paths)
    if (options.baseAnnotations !== true) return appended
    const annotations: Record<string, string> = { [baseDigestAnnotation]: yield* base.digest }
    if (baseRef._tag === "Tag") annotations[baseNameAnnotation] = Reference.name(baseRef)
    return Mutate.annotations(appended, annotations)
  })
