/**
 * Layers from a one-shot stream of an uncompressed tar, as ggcr's `stream.Layer`: for
 * uploading big inputs (a tar being built, a pipe, a socket) without a temporary file. The
 * compressed form is gzip made while the input is read; digest, diff id and size are hashed
 * and counted on the way and become known once the compressed stream has been read to its
 * end. Until then asking for them fails with {@link NotComputed}; reading the input a second
 * time fails with {@link Consumed}.
 *
 * Sinks that need the digest before the bytes (a registry upload) must therefore use an
 * upload that names the digest at the end, as ggcr's remote writer does for stream layers.
 *
 * @since 0.1.0
 */
import type * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Compression from "./Compression.js"
import * as Digest from "./Digest.js"
import * as ImageLayer from "./ImageLayer.js"
import * as MediaType from "./MediaType.js"

/** The values of a stream layer that are known only once its input has been read. */
export type Computed = "digest" | "diffId" | "size"

/**
 * A digest, diff id or size of a stream layer was asked for before its stream had been read
 * to the end (ggcr's `stream.ErrNotComputed`).
 *
 * @since 0.1.0
 */
export class NotComputed extends Data.TaggedError("NotComputed")<{
  readonly value: Computed
}> {
  override get message(): string {
    return `the ${this.value} of a stream layer is not known until its stream has been read to the end`
  }
}

/**
 * A stream layer's input was asked for a second time; it can be read only once (ggcr's
 * `stream.ErrConsumed`).
 *
 * @since 0.1.0
 */
export class Consumed extends Data.TaggedError("Consumed")<{
  /** Which stream was asked for. */
  readonly stream: "compressed" | "uncompressed"
}> {
  override get message(): string {
    return `the input of this stream layer has already been read; its ${this.stream} stream cannot be read again`
  }
}

/**
 * How reading a stream layer may fail beyond its input's own errors.
 *
 * @since 0.1.0
 */
export type StreamLayerError = NotComputed | Consumed | Compression.CompressionError

/**
 * Options for {@link make}.
 *
 * @since 0.1.0
 */
export interface Options extends ImageLayer.Extras {
  /**
   * The layer's media type; Docker's gzip layer type by default, as ggcr. A type that declares
   * no compression (`...tar`) passes the input through as it is.
   */
  readonly mediaType?: MediaType.MediaType | undefined
  /** gzip level, 0-9; 1 (fastest) by default, as ggcr's `gzip.BestSpeed`. */
  readonly gzipLevel?: number | undefined
}

/** gzip level of stream layers unless told otherwise (ggcr uses `gzip.BestSpeed`). */
export const defaultGzipLevel = 1

interface State {
  started: boolean
  digest: Digest.Digest | undefined
  diffId: Digest.Digest | undefined
  size: number | undefined
}

/**
 * A layer from a one-shot stream of an uncompressed tar. Reading `compressed` to its end
 * reads the input once, gzipping it, and makes `digest`, `diffId`, `size` and `descriptor`
 * known. Reading `uncompressed` instead passes the input through as it is and makes only the
 * diff id known. Any second read, or a read after a failed one, fails with {@link Consumed}.
 *
 * @since 0.1.0
 */
export const make = <E>(
  input: Stream.Stream<Uint8Array, E>,
  options: Options = {}
): ImageLayer.ImageLayer<E | StreamLayerError> => {
  const mediaType = options.mediaType ?? MediaType.DOCKER_LAYER
  const compression = MediaType.layerCompression(mediaType) ?? "gzip"
  const level = options.gzipLevel ?? defaultGzipLevel
  const state: State = { started: false, digest: undefined, diffId: undefined, size: undefined }

  const claim = (stream: Consumed["stream"]): Effect.Effect<void, Consumed> =>
    Effect.suspend(() => {
      if (state.started) return Effect.fail(new Consumed({ stream }))
      state.started = true
      return Effect.void
    })

  const hashing = (hasher: Digest.Hasher) =>
    Stream.mapChunks((chunk: Chunk.Chunk<Uint8Array>) => {
      for (const bytes of chunk) hasher.update(bytes)
      return chunk
    })

  const compressed: Stream.Stream<Uint8Array, E | StreamLayerError> = Stream.unwrap(
    Effect.as(
      claim("compressed"),
      Stream.suspend(() => {
        const raw = Digest.hasher()
        const stored = compression === "none" ? raw : Digest.hasher()
        const tapped = input.pipe(hashing(raw))
        const out: Stream.Stream<Uint8Array, E | StreamLayerError> =
          compression === "none"
            ? tapped
            : compression === "gzip"
              ? Compression.gzip(tapped, level)
              : Stream.fail(new Compression.CompressionError({ reason: "Unsupported", format: compression }))
        const finish = Effect.sync(() => {
          const diffId = raw.digest()
          state.diffId = diffId
          state.digest = stored === raw ? diffId : stored.digest()
          state.size = stored.size()
        })
        return Stream.concat(
          stored === raw ? out : out.pipe(hashing(stored)),
          Stream.execute(finish)
        )
      })
    )
  )

  const uncompressed: Stream.Stream<Uint8Array, E | StreamLayerError> = Stream.unwrap(
    Effect.as(
      claim("uncompressed"),
      Stream.suspend(() => {
        const raw = Digest.hasher()
        const finish = Effect.sync(() => {
          state.diffId = raw.digest()
          if (compression === "none") {
            state.digest = state.diffId
            state.size = raw.size()
          }
        })
        return Stream.concat(input.pipe(hashing(raw)), Stream.execute(finish))
      })
    )
  )

  const known = <A>(value: Computed, get: () => A | undefined): Effect.Effect<A, NotComputed> =>
    Effect.suspend(() => {
      const a = get()
      return a === undefined ? Effect.fail(new NotComputed({ value })) : Effect.succeed(a)
    })

  return ImageLayer.make<E | StreamLayerError>({
    digest: known("digest", () => state.digest),
    diffId: known("diffId", () => state.diffId),
    size: known("size", () => state.size),
    mediaType: Effect.succeed(mediaType),
    compressed,
    uncompressed,
    extras: options
  })
}
