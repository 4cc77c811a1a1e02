/**
 * Copying between registries and repositories (`crane copy`), as ggcr's `crane.Copy` and
 * `crane.CopyRepository`: the manifest's exact bytes are written, so the digest stays; blobs
 * the destination has are skipped, blobs in another repository of the same registry are
 * mounted, the rest stream from source to destination without touching the disk. An index is
 * copied whole unless a platform is asked for.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { DigestMismatch, InvalidReference } from "../domain/Errors.js"
import * as MediaType from "../domain/MediaType.js"
import * as Reference from "../domain/Reference.js"
import type { RegistryError } from "../services/RegistryError.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import * as Remote from "../services/Remote.js"
import { CraneError } from "./CraneError.js"
import * as Options from "./Options.js"

/**
 * Options of {@link copy}.
 *
 * @since 0.1.0
 */
export interface CopyOptions extends Options.Options {
  /** Refuse to overwrite a destination tag that exists (ggcr's `WithNoClobber`). */
  readonly noClobber?: boolean | undefined
}

/**
 * How copying may fail.
 *
 * @since 0.1.0
 */
export type CopyError =
  | InvalidReference
  | RegistryError
  | DigestMismatch
  | Remote.PullError
  | Remote.RemoteError
  | Remote.WriteError
  | CraneError

const refuseClobber = (
  dst: Reference.Reference,
  remote: Remote.Options
): Effect.Effect<void, CopyError, RegistryTransport.RegistryTransport> =>
  dst._tag !== "Tag"
    ? Effect.void
    : Remote.head(dst, remote).pipe(
      Effect.map((d) => d.digest),
      Effect.option,
      Effect.flatMap((existing) =>
        existing._tag === "Some"
          ? Effect.fail(
            new CraneError({
              reason: "Clobber",
              detail: `refusing to clobber existing tag ${Reference.name(dst)}@${existing.value}`
            })
          )
          : Effect.void
      )
    )

/**
 * Writes what was fetched under `dst`: an index with its children, an image with its blobs,
 * anything else (schema 1, artifacts without an image manifest) as its manifest bytes.
 */
const pushFetched = (
  fetched: Remote.Fetched,
  dst: Reference.Reference,
  remote: Remote.Options
): Effect.Effect<void, CopyError, RegistryTransport.RegistryTransport> => {
  if (MediaType.isIndex(fetched.mediaType)) {
    return Effect.flatMap(Remote.toIndex(fetched, remote), (index) => Remote.writeIndex(dst, index, remote))
  }
  if (MediaType.isImage(fetched.mediaType)) {
    return Effect.flatMap(Remote.toImage(fetched, remote), (image) => Remote.write(dst, image, remote))
  }
  return Remote.put(dst, fetched, remote)
}

const copyRef = (
  src: Reference.Reference,
  dst: Reference.Reference,
  options: CopyOptions
): Effect.Effect<void, CopyError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const remote = Options.remote(options)
    if (options.noClobber === true) yield* refuseClobber(dst, remote)
    yield* Effect.logDebug(`Copying from ${Reference.format(src)} to ${Reference.format(dst)}`)
    const fetched = yield* Remote.get(src, remote)
    if (options.platform === undefined || !MediaType.isIndex(fetched.mediaType)) {
      return yield* pushFetched(fetched, dst, remote)
    }
    // A platform asked for: only that platform's image is copied, not the whole index.
    const image = yield* Remote.toImage(fetched, remote)
    yield* Remote.write(dst, image, remote)
  })

/**
 * Copies an image or a whole index from `src` to `dst` (ggcr's `crane.Copy`). With a platform
 * in the options, only that platform's image of an index is copied.
 *
 * @since 0.1.0
 */
export const copy = (
  src: Options.ReferenceInput,
  dst: Options.ReferenceInput,
  options: CopyOptions = {}
): Effect.Effect<void, CopyError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const from = yield* Options.reference(src, options)
    const to = yield* Options.reference(dst, options)
    yield* copyRef(from, to, options)
  })

/**
 * Copies every tag of a repository to another (ggcr's `crane.CopyRepository`, `crane copy
 * --all-tags`), `jobs` tags at a time. With `noClobber`, tags the destination has are skipped.
 * Gives the tags copied.
 *
 * @since 0.1.0
 */
export const copyRepository = (
  src: Options.RepositoryInput,
  dst: Options.RepositoryInput,
  options: CopyOptions = {}
): Effect.Effect<ReadonlyArray<string>, CopyError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const from = yield* Options.repository(src, options)
    const to = yield* Options.repository(dst, options)
    const remote = Options.remote(options)
    const existing = options.noClobber === true
      ? new Set(
        yield* Remote.list(to, remote).pipe(
          // A repository that does not exist yet has no tags to keep.
          Effect.catchIf(
            (e) => e.status === 404 || e.status === 403,
            () => Effect.succeed<ReadonlyArray<string>>([])
          )
        )
      )
      : new Set<string>()
    const tags = (yield* Remote.list(from, remote)).filter((t) => !existing.has(t))
    yield* Effect.forEach(
      tags,
      (t) =>
        Effect.gen(function* () {
          const source = yield* Reference.withTag(from, t)
          const target = yield* Reference.withTag(to, t)
          yield* copyRef(source, target, { ...options, noClobber: false })
        }),
      { concurrency: Options.jobs(options), discard: true }
    )
    return tags
  })
