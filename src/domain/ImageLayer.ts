/**
 * Layers (and other blobs) of an image, as ggcr's `v1.Layer`: a digest and size of the
 * compressed bytes, a diff id of the uncompressed tar, a media type, and both byte streams.
 *
 * Accessors are lazy and memoized; streams are re-readable (each run opens them anew). The
 * type is not called `Layer`: Effect owns that name.
 *
 * @since 0.1.0
 */
import type { Pipeable } from "effect/Pipeable"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Compression from "./Compression.js"
import * as Descriptor from "./Descriptor.js"
import * as Digest from "./Digest.js"
import type { DigestMismatch, SizeMismatch } from "./Errors.js"
import { memoize } from "./internal/memo.js"
import * as MediaType from "./MediaType.js"
import { pipeMethod } from "./internal/pipeable.js"

/** Identifies {@link ImageLayer} values. */
export const TypeId: unique symbol = Symbol.for("effect-containerregistry/ImageLayer")
/** Identifies {@link ImageLayer} values. */
export type TypeId = typeof TypeId

/**
 * A layer of an image. `E` is how reading it may fail (network, file, corrupt data).
 *
 * @since 0.1.0
 */
export interface ImageLayer<E = never> extends Pipeable {
  readonly [TypeId]: TypeId
  /** Digest of the compressed bytes (what a registry stores). */
  readonly digest: Effect.Effect<Digest.Digest, E>
  /** Digest of the uncompressed tar (what the config's rootfs lists). */
  readonly diffId: Effect.Effect<Digest.Digest, E>
  /** Size of the compressed bytes. */
  readonly size: Effect.Effect<number, E>
  readonly mediaType: Effect.Effect<MediaType.MediaType, E>
  /** The descriptor a manifest lists for this layer (with annotations and urls when set). */
  readonly descriptor: Effect.Effect<Descriptor.Descriptor, E>
  /** The bytes as stored; each run reads them anew. */
  readonly compressed: Stream.Stream<Uint8Array, E>
  /** The uncompressed tar; each run reads it anew. */
  readonly uncompressed: Stream.Stream<Uint8Array, E>
}

/**
 * True for {@link ImageLayer} values.
 *
 * @since 0.1.0
 */
export const isImageLayer = (u: unknown): u is ImageLayer<unknown> =>
  typeof u === "object" && u !== null && TypeId in u

/**
 * The parts of a descriptor a layer may carry beyond media type, digest and size.
 *
 * @since 0.1.0
 */
export interface Extras {
  readonly annotations?: Descriptor.Annotations | undefined
  readonly urls?: ReadonlyArray<string> | undefined
  readonly platform?: Descriptor.Descriptor["platform"] | undefined
  readonly artifactType?: string | undefined
}

const extrasOf = (extras: Extras): Omit<Partial<Descriptor.Descriptor>, "mediaType" | "digest" | "size"> => ({
  ...(extras.annotations !== undefined ? { annotations: extras.annotations } : {}),
  ...(extras.urls !== undefined ? { urls: extras.urls } : {}),
  ...(extras.platform !== undefined ? { platform: extras.platform } : {}),
  ...(extras.artifactType !== undefined ? { artifactType: extras.artifactType } : {})
})

/**
 * Builds a layer from accessors that are already lazy; memoizes each. The descriptor is
 * derived from media type, digest, size and the extras unless given.
 *
 * @since 0.1.0
 */
export const make = <E>(core: {
  readonly digest: Effect.Effect<Digest.Digest, E>
  readonly diffId: Effect.Effect<Digest.Digest, E>
  readonly size: Effect.Effect<number, E>
  readonly mediaType: Effect.Effect<MediaType.MediaType, E>
  readonly compressed: Stream.Stream<Uint8Array, E>
  readonly uncompressed: Stream.Stream<Uint8Array, E>
  readonly extras?: Extras | undefined
  readonly descriptor?: Effect.Effect<Descriptor.Descriptor, E> | undefined
}): ImageLayer<E> => {
  const digest = memoize(core.digest)
  const size = memoize(core.size)
  const mediaType = memoize(core.mediaType)
  const extras = extrasOf(core.extras ?? {})
  return {
    [TypeId]: TypeId,
    pipe: pipeMethod,
    digest,
    diffId: memoize(core.diffId),
    size,
    mediaType,
    descriptor: memoize(
      core.descriptor ??
        Effect.all([mediaType, digest, size]).pipe(
          Effect.map(([mt, d, s]) => Descriptor.make(mt, d, s, extras))
        )
    ),
    compressed: core.compressed,
    uncompressed: core.uncompressed
  }
}

/**
 * What is known up front about a compressed layer; anything left out is computed from the
 * bytes when first asked for (once).
 *
 * @since 0.1.0
 */
export interface CompressedOptions extends Extras {
  readonly mediaType?: MediaType.MediaType | undefined
  readonly digest?: Digest.Digest | undefined
  readonly size?: number | undefined
  readonly diffId?: Digest.Digest | undefined
}

/**
 * A layer from its stored (compressed) bytes, as ggcr's `partial.CompressedToLayer`. The
 * uncompressed stream is decoded by magic bytes (gzip, zstd, or plain tar), so a layer whose
 * media type lies about its compression still reads right.
 *
 * @since 0.1.0
 */
export const fromCompressed = <E>(
  compressed: Stream.Stream<Uint8Array, E>,
  options: CompressedOptions = {}
): ImageLayer<E | Compression.CompressionError> => {
  const measured = memoize(Digest.ofStream(compressed))
  const uncompressed = Compression.decompressAuto(compressed)
  return make<E | Compression.CompressionError>({
    digest: options.digest !== undefined ? Effect.succeed(options.digest) : Effect.map(measured, (m) => m.digest),
    size: options.size !== undefined ? Effect.succeed(options.size) : Effect.map(measured, (m) => m.size),
    diffId:
      options.diffId !== undefined
        ? Effect.succeed(options.diffId)
        : Effect.map(Digest.ofStream(uncompressed), (m) => m.digest),
    mediaType: Effect.succeed(options.mediaType ?? MediaType.DOCKER_LAYER),
    compressed,
    uncompressed,
    extras: options
  })
}

/**
 * What is known up front about an uncompressed layer.
 *
 * @since 0.1.0
 */
export interface UncompressedOptions extends Extras {
  /** Media type of the compressed form; defaults to Docker's gzip layer type, as ggcr. */
  readonly mediaType?: MediaType.MediaType | undefined
  readonly diffId?: Digest.Digest | undefined
  /** gzip level for the compressed form (default {@link Compression.defaultGzipLevel}). */
  readonly gzipLevel?: number | undefined
}

/**
 * A layer from its uncompressed tar, as ggcr's `partial.UncompressedToLayer`: the compressed
 * form is gzip made while streaming; its digest and size are computed by one pass the first
 * time they are asked for. A media type that declares no compression (`...tar`) keeps the
 * bytes as they are.
 *
 * @since 0.1.0
 */
export const fromUncompressed = <E>(
  uncompressed: Stream.Stream<Uint8Array, E>,
  options: UncompressedOptions = {}
): ImageLayer<E | Compression.CompressionError> => {
  const mediaType = options.mediaType ?? MediaType.DOCKER_LAYER
  const compression = MediaType.layerCompression(mediaType) ?? "gzip"
  const compressed: Stream.Stream<Uint8Array, E | Compression.CompressionError> =
    compression === "none"
      ? uncompressed
      : compression === "gzip"
        ? Compression.gzip(uncompressed, options.gzipLevel)
        : Stream.fail(new Compression.CompressionError({ reason: "Unsupported", format: compression }))
  const measured = memoize(Digest.ofStream(compressed))
  return make<E | Compression.CompressionError>({
    digest: Effect.map(measured, (m) => m.digest),
    size: Effect.map(measured, (m) => m.size),
    diffId:
      options.diffId !== undefined
        ? Effect.succeed(options.diffId)
        : Effect.map(Digest.ofStream(uncompressed), (m) => m.digest),
    mediaType: Effect.succeed(mediaType),
    compressed,
    uncompressed,
    extras: options
  })
}

/**
 * Wraps a layer so that its compressed stream is checked against its digest and size as it
 * is read (and fails with {@link DigestMismatch} / {@link SizeMismatch} at the end if not).
 *
 * @since 0.1.0
 */
export const verified = <E>(layer: ImageLayer<E>): ImageLayer<E | DigestMismatch | SizeMismatch> => {
  const compressed = Stream.unwrap(
    Effect.map(Effect.all([layer.digest, layer.size]), ([digest, size]) =>
      Digest.verifyStream(layer.compressed, digest, { size, subject: `layer ${digest}` })
    )
  )
  return make<E | DigestMismatch | SizeMismatch>({
    digest: layer.digest,
    diffId: layer.diffId,
    size: layer.size,
    mediaType: layer.mediaType,
    descriptor: layer.descriptor,
    compressed,
    uncompressed: layer.uncompressed
  })
}
