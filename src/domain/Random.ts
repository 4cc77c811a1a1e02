/**
 * Generated layers, images and indexes of random content, as ggcr's `random` package: for
 * tests and benchmarks. A layer is a tar holding one file of pseudo-random bytes under a
 * random name. Content comes from AES-128-CTR over zeros keyed from a seed, so it does not
 * compress, it is made at memory speed, and the same seed always gives the same bytes and
 * digests. Bytes are generated while they stream, in chunks of 256 KiB; the first 8 MiB of a
 * file are kept while it streams and repeated after that, so a layer of gigabytes needs no
 * more memory than one of 8 MiB, and reads fast.
 *
 * Without a seed, one is drawn from Effect's `Random` service, so each call gives new content
 * (as in ggcr) unless that service is seeded.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as EffectRandom from "effect/Random"
import * as Stream from "effect/Stream"
import { createCipheriv, createHash } from "node:crypto"
import * as Compression from "./Compression.js"
import * as ConfigFile from "./ConfigFile.js"
import * as Descriptor from "./Descriptor.js"
import * as Digest from "./Digest.js"
import { BlobNotFound, type InvalidDocument } from "./Errors.js"
import type * as Image from "./Image.js"
import * as ImageIndex from "./ImageIndex.js"
import * as ImageLayer from "./ImageLayer.js"
import * as IndexManifest from "./IndexManifest.js"
import { memoize } from "./internal/memo.js"
import * as MediaType from "./MediaType.js"
import * as Partial from "./Partial.js"
import * as Platform from "./Platform.js"

/**
 * What generated content is derived from. Equal seeds (`1` and `"1"` are equal) give equal
 * bytes.
 *
 * @since 0.1.0
 */
export type Seed = number | string

/**
 * How a generated layer is stored: gzip (as ggcr) or as the plain tar, which is much faster
 * to make and read in benchmarks.
 *
 * @since 0.1.0
 */
export type LayerCompression = "gzip" | "none"

/**
 * gzip level of generated layers unless told otherwise: 1, as ggcr's
 * `partial.UncompressedToLayer` (`gzip.BestSpeed`).
 *
 * @since 0.1.0
 */
export const defaultGzipLevel = 1

const BLOCK = 512
const CHUNK = 256 * 1024
/**
 * Content repeats after this many bytes, so that a big layer re-reads memory it has made
 * instead of making fresh memory for every chunk (which costs page faults and runs at a
 * fifth of the speed). The period is far beyond gzip's 32 KiB window and zstd's default ones.
 */
const PERIOD = 8 * 1024 * 1024
const ZEROS = new Uint8Array(CHUNK)
/** Go's zero `time.Time`, which ggcr writes as `created` in the configs it generates. */
const ZERO_TIME = "0001-01-01T00:00:00Z"

/**
 * The size of the tar of a generated layer whose file has `fileSize` bytes: a header block,
 * the content padded to whole 512-byte blocks, and two zero blocks that end the archive.
 *
 * @since 0.1.0
 */
export const tarSize = (fileSize: number): number => BLOCK + Math.ceil(fileSize / BLOCK) * BLOCK + 2 * BLOCK

const derive = (label: string, seed: Seed): Buffer =>
  createHash("sha256").update(`effect-containerregistry/Random/${label}\u0000${String(seed)}`).digest()

/**
 * The name of the file in a generated layer's tar: `random_file_<n>.txt`, as ggcr names it,
 * with `n` derived from the seed.
 *
 * @since 0.1.0
 */
export const fileName = (seed: Seed): string => `random_file_${derive("name", seed).readUIntBE(0, 6)}.txt`

const writeOctal = (header: Uint8Array, offset: number, width: number, value: number): void => {
  const digits = value.toString(8).padStart(width - 1, "0")
  for (let i = 0; i < digits.length; i++) header[offset + i] = digits.charCodeAt(i)
  header[offset + width - 1] = 0
}

const writeAscii = (header: Uint8Array, offset: number, text: string): void => {
  for (let i = 0; i < text.length; i++) header[offset + i] = text.charCodeAt(i)
}

/** A ustar header of a regular file (mode 0644, owner 0, mtime 0). */
const tarHeader = (name: string, size: number): Uint8Array => {
  const header = new Uint8Array(BLOCK)
  writeAscii(header, 0, name)
  writeOctal(header, 100, 8, 0o644)
  writeOctal(header, 108, 8, 0)
  writeOctal(header, 116, 8, 0)
  if (size < 8 ** 11) {
    writeOctal(header, 124, 12, size)
  } else {
    // GNU base-256 for files of 8 GiB and more: a marker bit, then the size big-endian.
    let rest = size
    for (let i = 135; i > 124; i--) {
      header[i] = rest % 256
      rest = Math.floor(rest / 256)
    }
    header[124] = 0x80
  }
  writeOctal(header, 136, 12, 0)
  writeAscii(header, 148, "        ")
  header[156] = "0".charCodeAt(0)
  writeAscii(header, 257, "ustar\u0000")
  writeAscii(header, 263, "00")
  let sum = 0
  for (const byte of header) sum += byte
  writeOctal(header, 148, 7, sum)
  header[155] = 0x20
  return header
}

/**
 * The tar of a generated layer: one file of `size` pseudo-random bytes, made chunk by chunk
 * as the stream is read. Each run gives the same bytes for the same seed.
 *
 * @since 0.1.0
 */
export const tar = (seed: Seed, size: number): Stream.Stream<Uint8Array> =>
  Stream.suspend(() => {
    const material = derive("content", seed)
    const cipher = createCipheriv("aes-128-ctr", material.subarray(0, 16), material.subarray(16, 32))
    // The first period is made and kept chunk by chunk; later periods emit the same chunks.
    const period: Array<Uint8Array> = []
    const body = Stream.unfold(0, (offset) => {
      if (offset >= size) return Option.none()
      const at = offset % PERIOD
      const kept = offset >= PERIOD ? period[at / CHUNK] : undefined
      const n = Math.min(CHUNK, size - offset)
      const bytes = kept !== undefined ? kept.subarray(0, n) : cipher.update(ZEROS.subarray(0, n))
      if (offset < PERIOD) period.push(bytes)
      return Option.some([bytes, offset + n] as const)
    })
    const padding = (BLOCK - (size % BLOCK)) % BLOCK
    return Stream.make(tarHeader(fileName(seed), size)).pipe(
      Stream.concat(body),
      Stream.concat(Stream.sync(() => new Uint8Array(padding + 2 * BLOCK)))
    )
  })

const checkCount = (what: string, n: number): Effect.Effect<void> =>
  Number.isSafeInteger(n) && n >= 0
    ? Effect.void
    : Effect.die(new Cause.IllegalArgumentException(`${what} must be a non-negative integer, got ${n}`))

const seedOr = (seed: Seed | undefined): Effect.Effect<Seed> =>
  seed !== undefined
    ? Effect.succeed(seed)
    : Effect.map(Effect.all([EffectRandom.nextInt, EffectRandom.nextInt]), ([a, b]) => `${a}.${b}`)

/**
 * Options for {@link layer}.
 *
 * @since 0.1.0
 */
export interface LayerOptions {
  /** Size of the file in the tar, in bytes. */
  readonly size: number
  readonly seed?: Seed | undefined
  /**
   * The layer's media type. Its compression decides how the bytes are stored; by default
   * Docker's gzip layer type, or the OCI tar type when `compression` is `"none"`.
   */
  readonly mediaType?: MediaType.MediaType | undefined
  /** Used when the media type does not say: gzip by default. */
  readonly compression?: LayerCompression | undefined
  /** gzip level, 0-9 ({@link defaultGzipLevel} by default). */
  readonly gzipLevel?: number | undefined
}

interface Measured {
  readonly digest: Digest.Digest
  readonly diffId: Digest.Digest
  readonly size: number
}

const seededLayer = (seed: Seed, options: LayerOptions): ImageLayer.ImageLayer<Compression.CompressionError> => {
  const declared = options.mediaType !== undefined ? MediaType.layerCompression(options.mediaType) : undefined
  const compression = declared ?? options.compression ?? "gzip"
  const mediaType = options.mediaType ?? (compression === "none" ? MediaType.OCI_LAYER : MediaType.DOCKER_LAYER)
  const level = options.gzipLevel ?? defaultGzipLevel
  const store = (tarStream: Stream.Stream<Uint8Array>): Stream.Stream<Uint8Array, Compression.CompressionError> =>
    compression === "none"
      ? tarStream
      : compression === "gzip"
        ? Compression.gzip(tarStream, level)
        : Stream.fail(new Compression.CompressionError({ reason: "Unsupported", format: compression }))
  const uncompressed = tar(seed, options.size)
  // One pass makes both digests: the tar is hashed on its way into gzip.
  const measured: Effect.Effect<Measured, Compression.CompressionError> = memoize(
    Effect.suspend(() => {
      const raw = Digest.hasher()
      const tapped = Stream.mapChunks(uncompressed, (chunk: Chunk.Chunk<Uint8Array>) => {
        for (const bytes of chunk) raw.update(bytes)
        return chunk
      })
      return compression === "none"
        ? Effect.map(Digest.ofStream(uncompressed), (m) => ({ digest: m.digest, diffId: m.digest, size: m.size }))
        : Effect.map(Digest.ofStream(store(tapped)), (m) => ({ digest: m.digest, diffId: raw.digest(), size: m.size }))
    })
  )
  return ImageLayer.make<Compression.CompressionError>({
    digest: Effect.map(measured, (m) => m.digest),
    diffId: Effect.map(measured, (m) => m.diffId),
    size: compression === "none" ? Effect.succeed(tarSize(options.size)) : Effect.map(measured, (m) => m.size),
    mediaType: Effect.succeed(mediaType),
    compressed: store(uncompressed),
    uncompressed
  })
}

/**
 * A layer whose tar holds one file of `size` pseudo-random bytes, as ggcr's `random.Layer`.
 * Digest, diff id and size are computed by one pass over the generated bytes the first time
 * one of them is asked for.
 *
 * @since 0.1.0
 */
export const layer = (options: LayerOptions): Effect.Effect<ImageLayer.ImageLayer<Compression.CompressionError>> =>
  Effect.zipRight(
    checkCount("layer size", options.size),
    Effect.map(seedOr(options.seed), (seed) => seededLayer(seed, options))
  )

/**
 * Options for {@link image}.
 *
 * @since 0.1.0
 */
export interface ImageOptions {
  /** Size of the file in each layer's tar, in bytes. */
  readonly layerSize: number
  /** How many layers. */
  readonly layers: number
  readonly seed?: Seed | undefined
  /** Manifest media type: Docker's by default, as ggcr; layers and config follow its family. */
  readonly mediaType?: MediaType.MediaType | undefined
  /** How layers are stored: gzip by default. */
  readonly compression?: LayerCompression | undefined
  /** gzip level of the layers ({@link defaultGzipLevel} by default). */
  readonly gzipLevel?: number | undefined
  /** The platform the config names; linux/amd64 by default. */
  readonly platform?: Platform.Platform | undefined
}

/**
 * How reading a generated image or index may fail.
 *
 * @since 0.1.0
 */
export type RandomError = Compression.CompressionError | InvalidDocument

const configOf = (platform: Platform.Platform, diffIds: ReadonlyArray<Digest.Digest>): ConfigFile.ConfigFile => ({
  architecture: platform.architecture,
  created: ZERO_TIME,
  history: diffIds.map((_, i) => ({
    author: "random.Image",
    created: ZERO_TIME,
    created_by: "random",
    comment: `this is a random history ${i} of ${diffIds.length}`
  })),
  os: platform.os,
  rootfs: { type: "layers", diff_ids: diffIds },
  config: {},
  ...(platform["os.version"] !== undefined ? { "os.version": platform["os.version"] } : {}),
  ...(platform.variant !== undefined ? { variant: platform.variant } : {}),
  ...(platform["os.features"] !== undefined ? { "os.features": platform["os.features"] } : {})
})

const seededImage = (seed: Seed, options: ImageOptions): Image.Image<RandomError> => {
  const manifestType = options.mediaType ?? MediaType.DOCKER_MANIFEST
  const layerType = MediaType.layerFor(manifestType, options.compression ?? "gzip")
  const platform = options.platform ?? Platform.defaultPlatform
  const layers = Array.from({ length: options.layers }, (_, i) =>
    seededLayer(`${seed}/${i}`, { size: options.layerSize, mediaType: layerType, gzipLevel: options.gzipLevel })
  )
  const rawConfig = Effect.map(Effect.forEach(layers, (l) => l.diffId, { concurrency: 4 }), (diffIds) =>
    ConfigFile.encode(configOf(platform, diffIds))
  )
  return Partial.fromLayers<Compression.CompressionError>(rawConfig, Effect.succeed(layers), {
    mediaType: manifestType
  })
}

/**
 * An image of `layers` random layers, as ggcr's `random.Image`: a Docker manifest (unless
 * told otherwise), gzip layers, and a config listing each layer's diff id with one history
 * entry per layer. Its manifest is known after one pass over every layer.
 *
 * @since 0.1.0
 */
export const image = (options: ImageOptions): Effect.Effect<Image.Image<RandomError>> =>
  Effect.zipRight(
    Effect.zipRight(checkCount("layer size", options.layerSize), checkCount("layer count", options.layers)),
    Effect.map(seedOr(options.seed), (seed) => seededImage(seed, options))
  )

/**
 * Options for {@link index}.
 *
 * @since 0.1.0
 */
export interface IndexOptions extends Omit<ImageOptions, "platform"> {
  /** How many child images. */
  readonly images: number
  /** Platforms of the children, in turn; every child is linux/amd64 by default. */
  readonly platforms?: ReadonlyArray<Platform.Platform> | undefined
}

const fromImages = <E>(images: ReadonlyArray<Image.Image<E>>): ImageIndex.ImageIndex<E> => {
  const raw = memoize(
    Effect.map(
      Effect.forEach(images, (img) =>
        Effect.map(Effect.all([img.descriptor, img.configFile]), ([d, config]) =>
          Descriptor.make(d.mediaType, d.digest, d.size, { platform: ConfigFile.platform(config) })
        )
      ),
      (children) => IndexManifest.toRaw(IndexManifest.make(children))
    )
  )
  const child = (digest: Digest.Digest): Effect.Effect<ImageIndex.Child<E>, E | BlobNotFound> =>
    Effect.flatMap(raw, (r) => {
      const at = r.value.manifests.findIndex((d) => d.digest === digest)
      const descriptor = r.value.manifests[at]
      const found = images[at]
      return descriptor !== undefined && found !== undefined
        ? Effect.succeed<ImageIndex.Child<E>>({ _tag: "Image", descriptor, image: found })
        : Effect.fail(new BlobNotFound({ kind: "child manifest", digest }))
    })
  return ImageIndex.make<E>({ raw, child })
}

/**
 * An OCI index of `images` random images, as ggcr's `random.Index`. Each child is listed with
 * the platform of its config.
 *
 * @since 0.1.0
 */
export const index = (options: IndexOptions): Effect.Effect<ImageIndex.ImageIndex<RandomError>> =>
  Effect.gen(function* () {
    yield* checkCount("image count", options.images)
    yield* checkCount("layer size", options.layerSize)
    yield* checkCount("layer count", options.layers)
    const seed = yield* seedOr(options.seed)
    const platforms = options.platforms ?? []
    const images = Array.from({ length: options.images }, (_, j) =>
      seededImage(`${seed}/image/${j}`, { ...options, platform: platforms[j % Math.max(platforms.length, 1)] })
    )
    return fromImages(images)
  })
