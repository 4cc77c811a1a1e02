/**
 * The filesystem of an image as a tar (`crane export`), as ggcr's `crane.Export`: the image's
 * layers flattened into one tar, whiteouts applied. An image of a single blob that is not a
 * layer (an artifact wrapping a file) gives that blob's bytes as they are, so that export "just
 * works" for it too.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Extract from "../domain/Extract.js"
import type * as Image from "../domain/Image.js"
import * as MediaType from "../domain/MediaType.js"
import * as Tarball from "../formats/Tarball.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import type * as Remote from "../services/Remote.js"
import * as Inspect from "./Inspect.js"
import type * as Options from "./Options.js"

/**
 * The image's filesystem as an uncompressed tar stream; each run reads the layers anew.
 *
 * @since 0.1.0
 */
export const tar = <E>(image: Image.Image<E>): Stream.Stream<Uint8Array, E | Extract.TarError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const layers = yield* image.layers
      const only = layers.length === 1 ? layers[0] : undefined
      if (only !== undefined && !MediaType.isLayer(yield* only.mediaType)) return only.uncompressed
      return Extract.extract(image)
    })
  )

/**
 * The filesystem of the image a reference names (for the options' platform) as a tar stream
 * (`crane export IMAGE`).
 *
 * @since 0.1.0
 */
export const fromReference = (
  ref: Options.ReferenceInput,
  options: Options.Options = {}
): Stream.Stream<Uint8Array, Inspect.ImageError | Remote.PullError | Extract.TarError, RegistryTransport.RegistryTransport> =>
  Stream.unwrap(Effect.map(Inspect.image(ref, options), tar))

/**
 * The filesystem of the image in a `docker save` tarball as a tar stream (`crane export -`
 * reads one from stdin).
 *
 * @since 0.1.0
 */
export const fromTarball = (
  path: string
): Stream.Stream<Uint8Array, Tarball.ReadError<Tarball.TarballError> | Extract.TarError, FileSystem.FileSystem> =>
  Stream.unwrap(Effect.map(Tarball.imageFromFile(path), tar))
