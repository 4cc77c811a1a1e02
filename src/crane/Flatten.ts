/**
 * Squashing an image, or every image of an index, into a single layer (`crane flatten`), as
 * crane does it: each image's filesystem becomes one gzipped layer, its config keeps the run
 * configuration with one history entry holding the old history, and an index keeps its
 * children's descriptors (platforms, annotations) and its media type. Attestations (children
 * for `unknown/unknown`) are dropped.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Descriptor from "../domain/Descriptor.js"
import * as Empty from "../domain/Empty.js"
import type { BlobNotFound } from "../domain/Errors.js"
import * as Extract from "../domain/Extract.js"
import type * as Image from "../domain/Image.js"
import type * as ImageIndex from "../domain/ImageIndex.js"
import * as MediaType from "../domain/MediaType.js"
import * as Mutate from "../domain/Mutate.js"
import * as Reference from "../domain/Reference.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import * as Remote from "../services/Remote.js"
import { CraneError } from "./CraneError.js"
import type * as Inspect from "./Inspect.js"
import * as Options from "./Options.js"
import * as Push from "./Push.js"

/**
 * How reading a flattened image or index may fail beyond its source's errors.
 *
 * @since 0.1.0
 */
export type FlattenError = Extract.FlattenError | BlobNotFound

/**
 * The image squashed to one layer, with the history entry `crane flatten <digest>` and gzip at
 * its best compression (as crane).
 *
 * @since 0.1.0
 */
export const flattenImage = <E>(image: Image.Image<E>): Effect.Effect<Image.Image<E | FlattenError>, E> =>
  Effect.map(image.digest, (digest) => Extract.flatten(image, { createdBy: `crane flatten ${digest}` }))

const isAttestation = (descriptor: Descriptor.Descriptor): boolean =>
  descriptor.platform?.os === "unknown" && descriptor.platform.architecture === "unknown"

/**
 * Every image of an index (and of nested indexes) flattened, listed with its old descriptor's
 * platform and annotations; the index keeps its annotations and media type.
 *
 * @since 0.1.0
 */
export const flattenIndex = <E>(
  index: ImageIndex.ImageIndex<E>
): Effect.Effect<ImageIndex.ImageIndex<E | FlattenError>, E | FlattenError> =>
  Effect.gen(function* () {
    const manifest = yield* index.indexManifest
    const adds: Array<Mutate.IndexAddendum<E | FlattenError>> = []
    for (const descriptor of manifest.manifests) {
      if (isAttestation(descriptor)) continue
      const child = yield* index.child(descriptor.digest)
      const flattened: Image.Image<E | FlattenError> | ImageIndex.ImageIndex<E | FlattenError> | undefined =
        child._tag === "Image"
          ? yield* flattenImage(child.image)
          : child._tag === "Index"
          ? yield* flattenIndex(child.index)
          : undefined
      // Children that are neither (artifacts) cannot be flattened; they are left out, as crane.
      if (flattened === undefined) {
        yield* Effect.logWarning(`can't flatten ${descriptor.mediaType}, skipping`)
        continue
      }
      adds.push({
        add: flattened,
        ...(descriptor.platform !== undefined ? { platform: descriptor.platform } : {}),
        ...(descriptor.annotations !== undefined ? { annotations: descriptor.annotations } : {})
      })
    }
    const appended = Mutate.appendManifests(Empty.index, adds)
    const annotated = manifest.annotations !== undefined && Object.keys(manifest.annotations).length > 0
      ? Mutate.indexAnnotations(appended, manifest.annotations)
      : appended
    return Mutate.indexMediaType(annotated, yield* index.mediaType)
  })

/**
 * Flattens what a reference names and pushes it (`crane flatten`): to `tag` when given, else
 * over the original (by digest when the original is a digest reference). Gives the reference
 * by digest of what was pushed.
 *
 * @since 0.1.0
 */
export const flatten = (
  src: Options.ReferenceInput,
  options: Options.Options & { readonly tag?: string | undefined } = {}
): Effect.Effect<
  Reference.DigestRef,
  Inspect.GetError | Inspect.ImageError | FlattenError | Remote.WriteError | CraneError,
  RegistryTransport.RegistryTransport
> =>
  Effect.gen(function* () {
    const ref = yield* Options.reference(src, options)
    const dst = options.tag === undefined ? ref : yield* Options.reference(options.tag, options)
    const remote = Options.remote(options)
    const fetched = yield* Remote.get(ref, remote)
    const flat: Image.Image<Remote.PullError | FlattenError> | ImageIndex.ImageIndex<Remote.PullError | FlattenError> =
      MediaType.isIndex(fetched.mediaType)
        ? yield* flattenIndex(yield* Remote.toIndex(fetched, remote))
        : MediaType.isImage(fetched.mediaType)
        ? yield* flattenImage(yield* Remote.toImage(fetched, remote))
        : yield* new CraneError({ reason: "Unsupported", detail: `can't flatten ${fetched.mediaType}` })
    const digest = yield* flat.digest
    const target = ref._tag === "Digest" && options.tag === undefined ? Reference.withDigest(dst.repository, digest) : dst
    return yield* Push.pushItem(flat, target, options)
  })
