/**
 * Compression of layer streams: detection by magic bytes (gzip, zstd), gzip and gunzip as
 * streaming transforms over node:zlib. zstd is recognised, and decoded where the running
 * Node.js offers it (node:zlib zstd, Node 22.15+); elsewhere it fails with a typed error.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Chunk from "effect/Chunk"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as zlib from "node:zlib"
import { pipeThrough } from "./internal/transform.js"
import type { Compression } from "./MediaType.js"

export type { Compression } from "./MediaType.js"

/**
 * Compressing or decompressing a stream failed: corrupt data, or a format this runtime does
 * not decode.
 *
 * @since 0.1.0
 */
export class CompressionError extends Data.TaggedError("CompressionError")<{
  readonly reason: "Corrupt" | "Unsupported"
  readonly format: Compression
  readonly cause?: unknown
}> {
  override get message(): string {
    if (this.reason === "Unsupported") return `${this.format} streams cannot be decoded by this runtime`
    const detail = this.cause instanceof Error ? `: ${this.cause.message}` : ""
    return `corrupt ${this.format} stream${detail}`
  }
}

/** The gzip level used when none is given: ggcr compresses layers with gzip.BestSpeed (1). */
export const defaultGzipLevel = 1

/**
 * The compression the first bytes of a blob announce: gzip (`1f 8b`), zstd (`28 b5 2f fd`),
 * or none.
 *
 * @since 0.1.0
 */
export const detect = (head: Uint8Array): Compression => {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip"
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    return "zstd"
  }
  return "none"
}

/**
 * Splits off the first bytes of a stream (at least 4 when the stream has them) and tells the
 * compression they announce; the returned stream still emits every byte, read once.
 *
 * @since 0.1.0
 */
export const peek = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>
): Effect.Effect<readonly [Compression, Stream.Stream<Uint8Array, E, R>], E, R | Scope.Scope> =>
  Effect.gen(function* () {
    const pull = yield* Stream.toPull(stream)
    const seen: Array<Chunk.Chunk<Uint8Array>> = []
    let head = new Uint8Array(0) as Uint8Array
    let ended = false
    while (!ended && head.length < 4) {
      const next = yield* pull.pipe(
        Effect.map(Option.some),
        Effect.catchAll(
          Option.match({
            onNone: () => Effect.succeed(Option.none<Chunk.Chunk<Uint8Array>>()),
            onSome: (error) => Effect.fail(error)
          })
        )
      )
      if (Option.isNone(next)) {
        ended = true
      } else {
        seen.push(next.value)
        for (const bytes of next.value) head = concat(head, bytes.subarray(0, Math.max(0, 4 - head.length)))
      }
    }
    const buffered = Stream.fromChunks(...seen)
    const rest: Stream.Stream<Uint8Array, E, R> = ended ? Stream.empty : Stream.repeatEffectChunkOption(pull)
    return [detect(head), Stream.concat(buffered, rest)] as const
  })

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0)
  out.set(b, a.length)
  return out
}

const HIGH_WATER = 256 * 1024

/**
 * Gzips a byte stream (level 0-9, default {@link defaultGzipLevel}).
 *
 * @since 0.1.0
 */
export const gzip = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>,
  level: number = defaultGzipLevel
): Stream.Stream<Uint8Array, E | CompressionError, R> =>
  pipeThrough(
    stream,
    () => zlib.createGzip({ level, chunkSize: HIGH_WATER }),
    (cause) => new CompressionError({ reason: "Corrupt", format: "gzip", cause })
  )

/**
 * Gunzips a byte stream; corrupt input fails with {@link CompressionError}.
 *
 * @since 0.1.0
 */
export const gunzip = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<Uint8Array, E | CompressionError, R> =>
  pipeThrough(
    stream,
    () => zlib.createGunzip({ chunkSize: HIGH_WATER }),
    (cause) => new CompressionError({ reason: "Corrupt", format: "gzip", cause })
  )

type ZstdFactory = () => import("node:stream").Transform

const zstdDecompressor: ZstdFactory | undefined = (() => {
  const candidate: unknown = (zlib as unknown as Record<string, unknown>)["createZstdDecompress"]
  return typeof candidate === "function" ? (candidate as ZstdFactory) : undefined
})()

/**
 * True when this runtime can decode zstd.
 *
 * @since 0.1.0
 */
export const zstdSupported: boolean = zstdDecompressor !== undefined

/**
 * Decodes a zstd stream where the runtime can; fails with reason "Unsupported" elsewhere.
 *
 * @since 0.1.0
 */
export const unzstd = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<Uint8Array, E | CompressionError, R> =>
  zstdDecompressor === undefined
    ? Stream.fail(new CompressionError({ reason: "Unsupported", format: "zstd" }))
    : pipeThrough(
        stream,
        zstdDecompressor,
        (cause) => new CompressionError({ reason: "Corrupt", format: "zstd", cause })
      )

/**
 * Decompresses a stream whose compression is known.
 *
 * @since 0.1.0
 */
export const decompress = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>,
  compression: Compression
): Stream.Stream<Uint8Array, E | CompressionError, R> =>
  compression === "gzip" ? gunzip(stream) : compression === "zstd" ? unzstd(stream) : stream

/**
 * Decompresses a stream whatever it holds, telling gzip and zstd from their magic bytes and
 * passing anything else through unchanged (ggcr's `v1util.GunzipReadCloser` peek logic).
 *
 * @since 0.1.0
 */
export const decompressAuto = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<Uint8Array, E | CompressionError, R> =>
  Stream.unwrapScoped(Effect.map(peek(stream), ([compression, all]) => decompress(all, compression)))
