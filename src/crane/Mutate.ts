/**
 * Changing an image in a registry (`crane mutate`), as crane does it: the image is pulled
 * (lazily: only its manifest and config are read unless layers are appended), layers appended,
 * its config and annotations edited, and the result pushed by tag or by digest. Unchanged
 * layers are not downloaded: the registry has them.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import type { InvalidReference } from "../domain/Errors.js"
import type * as Image from "../domain/Image.js"
import * as MediaType from "../domain/MediaType.js"
import * as Reference from "../domain/Reference.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import type * as Remote from "../services/Remote.js"
import * as Append from "./Append.js"
import { CraneError } from "./CraneError.js"
import * as Edit from "./Edit.js"
import * as Inspect from "./Inspect.js"
import * as Options from "./Options.js"
import * as Push from "./Push.js"

/**
 * Options of {@link mutate}: the edits, layer files to append, and where the result goes.
 *
 * @since 0.1.0
 */
export interface MutateOptions extends Options.Options, Edit.Edits {
  /** Layer files to append (`--append`). */
  readonly append?: ReadonlyArray<string> | undefined
  /** The reference to push the result to (`-t`); the original reference by default. */
  readonly tag?: string | undefined
  /** Push by digest to this repository instead (`--repo`). */
  readonly repo?: string | undefined
}

/**
 * How mutating may fail.
 *
 * @since 0.1.0
 */
export type MutateError = Inspect.ImageError | Inspect.GetError | Append.LayerError | Edit.EditError | CraneError

/**
 * The image a reference names with the options' layers appended and edits made; nothing is
 * pushed.
 *
 * @since 0.1.0
 */
export const mutated = (
  ref: Options.ReferenceInput,
  options: MutateOptions = {}
): Effect.Effect<Image.Image<MutateError | Remote.PullError>, MutateError, RegistryTransport.RegistryTransport | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    if ((options.annotations?.length ?? 0) > 0) {
      const head = yield* Inspect.head(ref, options)
      if (MediaType.isIndex(head.mediaType)) {
        return yield* new CraneError({ reason: "Unsupported", detail: "mutating annotations on an index is not yet supported" })
      }
    }
    if (options.repo !== undefined && options.tag !== undefined) {
      return yield* new CraneError({ reason: "InvalidArgument", detail: "repository can't be set when a tag is specified" })
    }
    let image: Image.Image<MutateError | Remote.PullError> = yield* Inspect.image(ref, options)
    if ((options.append?.length ?? 0) > 0) image = yield* Append.append(image, options.append ?? [])
    return yield* Edit.edit(image, options)
  })

/**
 * The reference a changed image is pushed to: `repo` by digest; else `tag` (or the original
 * reference), by digest when it names a digest (the digest changed).
 *
 * @since 0.1.0
 */
export const target = (
  ref: Options.ReferenceInput,
  digest: Reference.DigestRef["digest"],
  options: MutateOptions & Options.Options = {}
): Effect.Effect<Reference.Reference, InvalidReference> =>
  Effect.gen(function* () {
    if (options.repo !== undefined) {
      return Reference.withDigest(yield* Options.repository(options.repo, options), digest)
    }
    const r = yield* Options.reference(options.tag ?? ref, options)
    return r._tag === "Digest" ? Reference.withDigest(r.repository, digest) : r
  })

/**
 * Changes an image and pushes the result (`crane mutate`); gives its reference by digest.
 *
 * @since 0.1.0
 */
export const mutate = (
  ref: Options.ReferenceInput,
  options: MutateOptions = {}
): Effect.Effect<Reference.DigestRef, MutateError | Remote.PullError | Remote.WriteError, RegistryTransport.RegistryTransport | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const image = yield* mutated(ref, options)
    const destination = yield* target(ref, yield* image.digest, options)
    return yield* Push.pushItem(image, destination, options)
  })
