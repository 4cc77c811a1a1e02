/**
 * Image indexes (OCI index, Docker manifest list), as ggcr's `v1.ImageIndex`: a manifest of
 * child descriptors, with lazy access to child images and indexes, and to any other child
 * (artifacts, attestations) as raw bytes.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { Pipeable } from "effect/Pipeable"
import * as Descriptor from "./Descriptor.js"
import type * as Digest from "./Digest.js"
import { BlobNotFound } from "./Errors.js"
import type { Image } from "./Image.js"
import type * as IndexManifest from "./IndexManifest.js"
import { pipeMethod } from "./internal/pipeable.js"
import type * as MediaType from "./MediaType.js"
import type * as RawDocument from "./RawDocument.js"

/** Identifies {@link ImageIndex} values. */
export const TypeId: unique symbol = Symbol.for("effect-containerregistry/ImageIndex")
/** Identifies {@link ImageIndex} values. */
export type TypeId = typeof TypeId

/**
 * A child of an index reached by its descriptor.
 *
 * @since 0.1.0
 */
export type Child<E> =
  | { readonly _tag: "Image"; readonly descriptor: Descriptor.Descriptor; readonly image: Image<E> }
  | { readonly _tag: "Index"; readonly descriptor: Descriptor.Descriptor; readonly index: ImageIndex<E> }
  | { readonly _tag: "Other"; readonly descriptor: Descriptor.Descriptor; readonly bytes: Uint8Array }

/**
 * An image index. `E` is how reading it may fail.
 *
 * @since 0.1.0
 */
export interface ImageIndex<E = never> extends Pipeable {
  readonly [TypeId]: TypeId
  readonly mediaType: Effect.Effect<MediaType.MediaType, E>
  /** The index manifest's exact bytes; the digest is over these. */
  readonly rawManifest: Effect.Effect<Uint8Array, E>
  readonly indexManifest: Effect.Effect<IndexManifest.IndexManifest, E>
  readonly digest: Effect.Effect<Digest.Digest, E>
  readonly size: Effect.Effect<number, E>
  /** The child image with this manifest digest. */
  readonly image: (digest: Digest.Digest) => Effect.Effect<Image<E>, E | BlobNotFound>
  /** The child index with this manifest digest. */
  readonly imageIndex: (digest: Digest.Digest) => Effect.Effect<ImageIndex<E>, E | BlobNotFound>
  /** Any child by digest, as an image, an index, or raw bytes for other media types. */
  readonly child: (digest: Digest.Digest) => Effect.Effect<Child<E>, E | BlobNotFound>
  /** The descriptor this index was found by, or one derived from its manifest. */
  readonly descriptor: Effect.Effect<Descriptor.Descriptor, E>
}

/**
 * True for {@link ImageIndex} values.
 *
 * @since 0.1.0
 */
export const isImageIndex = (u: unknown): u is ImageIndex<unknown> =>
  typeof u === "object" && u !== null && TypeId in u

/**
 * Builds an index value from its raw manifest and a way to reach children by digest: the
 * manifest accessors come from the raw document, `image` and `imageIndex` from `child`, and
 * the descriptor is the one given or one computed from the raw manifest. Sources and
 * combinators use it so every index behaves alike.
 *
 * @since 0.1.0
 */
export const make = <E>(parts: {
  readonly raw: Effect.Effect<RawDocument.RawDocument<IndexManifest.IndexManifest>, E>
  readonly child: (digest: Digest.Digest) => Effect.Effect<Child<E>, E | BlobNotFound>
  readonly descriptor?: Effect.Effect<Descriptor.Descriptor, E> | undefined
}): ImageIndex<E> => {
  const { child, raw } = parts
  return {
    [TypeId]: TypeId,
    pipe: pipeMethod,
    mediaType: Effect.map(raw, (r) => r.mediaType),
    rawManifest: Effect.map(raw, (r) => r.bytes),
    indexManifest: Effect.map(raw, (r) => r.value),
    digest: Effect.map(raw, (r) => r.digest),
    size: Effect.map(raw, (r) => r.bytes.byteLength),
    child,
    image: (digest) =>
      Effect.flatMap(child(digest), (c) =>
        c._tag === "Image" ? Effect.succeed(c.image) : Effect.fail(new BlobNotFound({ kind: "child image", digest }))
      ),
    imageIndex: (digest) =>
      Effect.flatMap(child(digest), (c) =>
        c._tag === "Index" ? Effect.succeed(c.index) : Effect.fail(new BlobNotFound({ kind: "child index", digest }))
      ),
    descriptor:
      parts.descriptor ?? Effect.map(raw, (r) => Descriptor.make(r.mediaType, r.digest, r.bytes.byteLength))
  }
}
