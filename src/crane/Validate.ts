/**
 * Checking that an image keeps its promises (`crane validate`), as ggcr's `validate` on what
 * `crane validate --remote` and `--tarball` read: every blob hashes to its digest, diff ids
 * match, documents agree with their descriptors. Layers are streamed, never stored; `fast`
 * reads none.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as MediaType from "../domain/MediaType.js"
import * as Validate from "../domain/Validate.js"
import * as Tarball from "../formats/Tarball.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import * as Remote from "../services/Remote.js"
import * as Inspect from "./Inspect.js"
import * as Options from "./Options.js"

/**
 * Options of validation.
 *
 * @since 0.1.0
 */
export interface ValidateOptions extends Options.Options {
  /** Read no layer bytes (`--fast`). */
  readonly fast?: boolean | undefined
}

const validateOptions = (options: ValidateOptions): Validate.Options => ({
  fast: options.fast === true,
  concurrency: Options.jobs(options)
})

/**
 * Validates what a reference names: an index with all its children (unless a platform is
 * asked for), or an image. Fails with `ValidationError` listing every problem found.
 *
 * @since 0.1.0
 */
export const validateRemote = (
  ref: Options.ReferenceInput,
  options: ValidateOptions = {}
): Effect.Effect<void, Validate.ValidationError | Inspect.ImageError | Inspect.GetError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const fetched = yield* Inspect.get(ref, options)
    const remote = Options.remote(options)
    if (MediaType.isIndex(fetched.mediaType) && options.platform === undefined) {
      return yield* Validate.validateIndex(yield* Remote.toIndex(fetched, remote), validateOptions(options))
    }
    return yield* Validate.validateImage(yield* Remote.toImage(fetched, remote), validateOptions(options))
  })

/**
 * Validates the image in a `docker save` tarball.
 *
 * @since 0.1.0
 */
export const validateTarball = (
  path: string,
  options: ValidateOptions = {}
): Effect.Effect<void, Validate.ValidationError | Tarball.ReadError<Tarball.TarballError>, FileSystem.FileSystem> =>
  Effect.flatMap(Tarball.imageFromFile(path), (image) => Validate.validateImage(image, validateOptions(options)))
