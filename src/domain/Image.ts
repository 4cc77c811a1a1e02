/**
 * Images, as ggcr's `v1.Image`: a manifest, a config file and layers, each reached through a
 * lazy, memoized Effect. Build one with `Partial` from a minimal core, or get one from a
 * source (remote, tarball, layout); change it with `Mutate`; write it with a sink.
 *
 * @since 0.1.0
 */
import type { Pipeable } from "effect/Pipeable"
import type * as Effect from "effect/Effect"
import type * as ConfigFile from "./ConfigFile.js"
import type * as Descriptor from "./Descriptor.js"
import type * as Digest from "./Digest.js"
import type { BlobNotFound } from "./Errors.js"
import type { ImageLayer } from "./ImageLayer.js"
import type * as Manifest from "./Manifest.js"
import type * as MediaType from "./MediaType.js"

/** Identifies {@link Image} values. */
export const TypeId: unique symbol = Symbol.for("effect-containerregistry/Image")
/** Identifies {@link Image} values. */
export type TypeId = typeof TypeId

/**
 * An image. `E` is how reading it may fail.
 *
 * @since 0.1.0
 */
export interface Image<E = never> extends Pipeable {
  readonly [TypeId]: TypeId
  /** The manifest's media type. */
  readonly mediaType: Effect.Effect<MediaType.MediaType, E>
  /** The manifest's exact bytes; the digest is over these. */
  readonly rawManifest: Effect.Effect<Uint8Array, E>
  readonly manifest: Effect.Effect<Manifest.Manifest, E>
  /** Digest of the raw manifest. */
  readonly digest: Effect.Effect<Digest.Digest, E>
  /** Size of the raw manifest. */
  readonly size: Effect.Effect<number, E>
  /** The config file's exact bytes. */
  readonly rawConfigFile: Effect.Effect<Uint8Array, E>
  readonly configFile: Effect.Effect<ConfigFile.ConfigFile, E>
  /** Digest of the raw config file. */
  readonly configName: Effect.Effect<Digest.Digest, E>
  /** The layers, in manifest order. */
  readonly layers: Effect.Effect<ReadonlyArray<ImageLayer<E>>, E>
  /** The layer (or config blob) with this compressed digest. */
  readonly layerByDigest: (digest: Digest.Digest) => Effect.Effect<ImageLayer<E>, E | BlobNotFound>
  /** The layer with this uncompressed digest. */
  readonly layerByDiffId: (diffId: Digest.Digest) => Effect.Effect<ImageLayer<E>, E | BlobNotFound>
  /**
   * The descriptor this image was found by (from an index or a registry), with its platform
   * and annotations, when there was one; otherwise derived from media type, digest and size.
   */
  readonly descriptor: Effect.Effect<Descriptor.Descriptor, E>
}

/**
 * True for {@link Image} values.
 *
 * @since 0.1.0
 */
export const isImage = (u: unknown): u is Image<unknown> => typeof u === "object" && u !== null && TypeId in u
