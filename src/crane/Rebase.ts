/**
 * Moving an image onto a new base (`crane rebase`), as crane does it: the image's layers from
 * the old base are replaced by the new base's, the layers above stay as they are (nothing is
 * downloaded but manifests and configs), and the result is annotated with its new base so
 * that the next rebase knows it.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Digest from "../domain/Digest.js"
import type * as Image from "../domain/Image.js"
import * as MediaType from "../domain/MediaType.js"
import * as Mutate from "../domain/Mutate.js"
import * as Reference from "../domain/Reference.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import type * as Remote from "../services/Remote.js"
import { baseDigestAnnotation, baseNameAnnotation } from "./Append.js"
import { CraneError } from "./CraneError.js"
import * as Inspect from "./Inspect.js"
import * as Options from "./Options.js"
import * as Push from "./Push.js"

/**
 * Options of {@link rebase}.
 *
 * @since 0.1.0
 */
export interface RebaseOptions extends Options.Options {
  /** The base to remove; from the image's base annotations when absent. */
  readonly oldBase?: string | undefined
  /** The base to put in its place; from the image's base-name annotation when absent. */
  readonly newBase?: string | undefined
  /** Where to push the result; the original reference by default (by digest if it is one). */
  readonly tag?: string | undefined
}

/**
 * How rebasing may fail.
 *
 * @since 0.1.0
 */
export type RebaseError = Inspect.ImageError | Inspect.GetError | Mutate.RebaseError | CraneError

/**
 * What a rebase did: the reference by digest it pushed, and whether anything changed.
 *
 * @since 0.1.0
 */
export interface Rebased {
  readonly ref: Reference.DigestRef
  readonly changed: boolean
}

/**
 * The image rebased from `oldBase` onto `newBase`, annotated with the new base's digest (of
 * what its reference names, an index included) and name (ggcr's `rebaseImage`).
 *
 * @since 0.1.0
 */
export const rebaseImage = <E>(
  original: Image.Image<E>,
  oldBase: string,
  newBase: string,
  options: Options.Options = {}
): Effect.Effect<Image.Image<E | Remote.PullError | Mutate.RebaseError>, RebaseError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const newBaseImage = yield* Inspect.image(newBase, options)
    const oldBaseImage = yield* Inspect.image(oldBase, options)
    const newBaseDigest: Digest.Digest = (yield* Inspect.head(newBase, options)).digest
    const rebased = Mutate.rebase(original, oldBaseImage, newBaseImage)
    return Mutate.annotations(rebased, { [baseDigestAnnotation]: newBaseDigest, [baseNameAnnotation]: newBase })
  })

/**
 * Rebases the image a reference names and pushes the result (`crane rebase`). The old and new
 * bases default to what the image's `org.opencontainers.image.base.*` annotations say.
 *
 * @since 0.1.0
 */
export const rebase = (
  original: string,
  options: RebaseOptions = {}
): Effect.Effect<Rebased, RebaseError | Remote.PullError | Remote.WriteError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const target = yield* Options.reference(options.tag ?? original, options)
    const head = yield* Inspect.head(original, options)
    if (options.platform === undefined && MediaType.isIndex(head.mediaType)) {
      return yield* new CraneError({ reason: "Unsupported", detail: "rebasing an index is not yet supported" })
    }
    const image = yield* Inspect.image(original, options)
    const annotations = (yield* image.manifest).annotations ?? {}
    const newBase = options.newBase ?? annotations[baseNameAnnotation]
    if (newBase === undefined || newBase === "") {
      return yield* new CraneError({ reason: "MissingBase", detail: "could not determine new base image from annotations" })
    }
    let oldBase = options.oldBase
    if (oldBase === undefined) {
      const digest = annotations[baseDigestAnnotation]
      if (digest === undefined || digest === "") {
        return yield* new CraneError({
          reason: "MissingBase",
          detail: "could not determine old base image by digest from annotations"
        })
      }
      oldBase = `${Reference.repositoryName((yield* Options.reference(newBase, options)).repository)}@${digest}`
    }
    const rebased = yield* rebaseImage(image, oldBase, newBase, options)
    const digest = yield* rebased.digest
    const destination = target._tag === "Digest" ? Reference.withDigest(target.repository, digest) : target
    const ref = yield* Push.pushItem(rebased, destination, options)
    return { ref, changed: digest !== (yield* image.digest) }
  })
