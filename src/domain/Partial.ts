/**
 * Full images and indexes from minimal cores, as ggcr's `partial` package. A source (remote,
 * tarball, layout) implements only what it naturally has, and every other accessor is derived
 * here, lazily and at most once.
 *
 * - {@link fromCompressed}: a raw manifest plus a way to read blobs by descriptor (registries,
 *   OCI layouts). Blobs are verified against their descriptors while they stream.
 * - {@link fromUncompressed}: a raw config plus uncompressed layers (docker-save tarballs,
 *   builders); the manifest is computed by compressing each layer once.
 * - {@link fromLayers}: a config and ready layers; the manifest is generated (mutate, empty).
 * - {@link indexFromCore}: a raw index manifest plus a way to read child manifests and blobs.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Compression from "./Compression.js"
import * as ConfigFile from "./ConfigFile.js"
import * as Descriptor from "./Descriptor.js"
import * as Digest from "./Digest.js"
import { BlobNotFound, type DigestMismatch, type InvalidDocument, SizeMismatch } from "./Errors.js"
import * as Image from "./Image.js"
import * as ImageIndex from "./ImageIndex.js"
import * as ImageLayer from "./ImageLayer.js"
import * as IndexManifest from "./IndexManifest.js"
import { memoize, memoizeBy } from "./internal/memo.js"
import * as Manifest from "./Manifest.js"
import * as MediaType from "./MediaType.js"
import { pipeMethod } from "./internal/pipeable.js"

/**
 * How reading a derived image may fail beyond the core's own errors.
 *
 * @since 0.1.0
 */
export type DerivedError = InvalidDocument | DigestMismatch | SizeMismatch | Compression.CompressionError

/** The largest config or manifest read into memory (ggcr's manifest limit). */
export const maxDocumentSize = 100 * 1024 * 1024

/**
 * Collects a small blob (a manifest or config) into one buffer, failing with
 * {@link SizeMismatch} as soon as it passes `limit` bytes.
 *
 * @since 0.1.0
 */
export const collectBytes = <E>(
  stream: Stream.Stream<Uint8Array, E>,
  subject: string,
  limit: number = maxDocumentSize
): Effect.Effect<Uint8Array, E | SizeMismatch> =>
  Effect.suspend(() => {
    let total = 0
    return stream.pipe(
      Stream.mapChunksEffect((chunk): Effect.Effect<Chunk.Chunk<Uint8Array>, SizeMismatch> => {
        for (const bytes of chunk) total += bytes.byteLength
        return total > limit
          ? Effect.fail(new SizeMismatch({ subject: `${subject} (size limit)`, expected: limit, actual: total }))
          : Effect.succeed(chunk)
      }),
      Stream.runCollect,
      Effect.map((chunks) => concatAll(Chunk.toReadonlyArray(chunks), total))
    )
  })

const concatAll = (parts: ReadonlyArray<Uint8Array>, total: number): Uint8Array => {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0]
  const out = new Uint8Array(total)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

/**
 * The minimal core of an image stored compressed: its manifest bytes and a way to read any
 * blob it references.
 *
 * @since 0.1.0
 */
export interface CompressedCore<E> {
  /** The manifest's exact bytes. */
  readonly rawManifest: Effect.Effect<Uint8Array, E>
  /** The stored bytes of a blob the manifest references (config or layer). */
  readonly blob: (descriptor: Descriptor.Descriptor) => Stream.Stream<Uint8Array, E>
  /** The config's bytes, when the source has them at hand; else read through `blob`. */
  readonly rawConfigFile?: Effect.Effect<Uint8Array, E> | undefined
  /** The media type the manifest was served or described with (for manifests without one). */
  readonly mediaType?: MediaType.MediaType | undefined
  /** The descriptor the image was found by (index entry, registry HEAD). */
  readonly descriptor?: Descriptor.Descriptor | undefined
  /**
   * Skip digest checks of blobs as they stream, for sources that verify on their own.
   * Defaults to false: every blob read is checked against its descriptor.
   */
  readonly trusted?: boolean | undefined
}

/**
 * A full image from a {@link CompressedCore}, as ggcr's `partial.CompressedToImage`.
 *
 * @since 0.1.0
 */
export const fromCompressed = <E>(core: CompressedCore<E>): Image.Image<E | DerivedError> => {
  type R = E | DerivedError
  const raw: Effect.Effect<Manifest.Raw, R> = memoize(
    Effect.flatMap(core.rawManifest, (bytes) => Manifest.decode(bytes, { mediaType: core.mediaType }))
  )
  const manifest = Effect.map(raw, (r) => r.value)
  const readBlob = (d: Descriptor.Descriptor): Stream.Stream<Uint8Array, R> =>
    core.trusted === true
      ? core.blob(d)
      : Digest.verifyStream(core.blob(d), d.digest, { size: d.size, subject: `blob ${d.digest}` })
  const rawConfigFile: Effect.Effect<Uint8Array, R> = memoize(
    core.rawConfigFile !== undefined
      ? core.rawConfigFile
      : Effect.flatMap(manifest, (m) =>
          collectBytes(readBlob(m.config), `config ${m.config.digest}`, Math.max(m.config.size, 0))
        )
  )
  const configFile: Effect.Effect<ConfigFile.ConfigFile, R> = memoize(
    Effect.flatMap(Effect.zip(rawConfigFile, manifest), ([bytes, m]) =>
      Effect.map(ConfigFile.decode(bytes, { mediaType: m.config.mediaType }), (c) => c.value)
    )
  )
  const layerOf = (d: Descriptor.Descriptor, diffId: Effect.Effect<Digest.Digest, R>): ImageLayer.ImageLayer<R> => {
    const compressed = readBlob(d)
    const base = ImageLayer.fromCompressed(compressed, { mediaType: d.mediaType, digest: d.digest, size: d.size })
    return ImageLayer.make<R>({
      digest: Effect.succeed(d.digest),
      size: Effect.succeed(d.size),
      mediaType: Effect.succeed(d.mediaType),
      diffId,
      descriptor: Effect.succeed(d),
      compressed,
      uncompressed: base.uncompressed
    })
  }
  const layers: Effect.Effect<ReadonlyArray<ImageLayer.ImageLayer<R>>, R> = memoize(
    Effect.map(manifest, (m) =>
      m.layers.map((d, i) => {
        const fromConfig: Effect.Effect<Digest.Digest, R> = Effect.flatMap(
          Effect.either(configFile),
          (config) => {
            const id = config._tag === "Right" ? ConfigFile.diffIds(config.right)[i] : undefined
            return id !== undefined && MediaType.isLayer(d.mediaType)
              ? Effect.succeed(id)
              : Effect.map(Digest.ofStream(layerOf(d, Effect.succeed(d.digest)).uncompressed), (x) => x.digest)
          }
        )
        return layerOf(d, fromConfig)
      })
    )
  )
  return assemble<R>({
    raw,
    rawConfigFile,
    configFile,
    layers,
    configBlob: Effect.map(manifest, (m) => layerOf(m.config, Effect.succeed(m.config.digest))),
    descriptor: core.descriptor
  })
}

/**
 * The parts every image is assembled from; {@link assemble} derives the rest.
 *
 * @internal
 */
interface Parts<E> {
  readonly raw: Effect.Effect<Manifest.Raw, E>
  readonly rawConfigFile: Effect.Effect<Uint8Array, E>
  readonly configFile: Effect.Effect<ConfigFile.ConfigFile, E>
  readonly layers: Effect.Effect<ReadonlyArray<ImageLayer.ImageLayer<E>>, E>
  readonly configBlob: Effect.Effect<ImageLayer.ImageLayer<E>, E>
  readonly descriptor?: Descriptor.Descriptor | undefined
}

const assemble = <E>(parts: Parts<E>): Image.Image<E> => {
  const raw = memoize(parts.raw)
  const layers = memoize(parts.layers)
  const findLayer = (pick: (l: ImageLayer.ImageLayer<E>) => Effect.Effect<Digest.Digest, E>, kind: string) =>
    memoizeBy((digest: Digest.Digest) =>
      Effect.flatMap(layers, (all) =>
        Effect.findFirst(all, (l) => Effect.map(pick(l), (d) => d === digest)).pipe(
          Effect.flatMap((found) =>
            found._tag === "Some" ? Effect.succeed(found.value) : Effect.fail(new BlobNotFound({ kind, digest }))
          )
        )
      )
    )
  const byDigest = findLayer((l) => l.digest, "layer")
  const byDiffId = findLayer((l) => l.diffId, "diff id")
  const configBlob = memoize(parts.configBlob)
  return {
    [Image.TypeId]: Image.TypeId, pipe: pipeMethod,
    mediaType: Effect.map(raw, (r) => r.mediaType),
    rawManifest: Effect.map(raw, (r) => r.bytes),
    manifest: Effect.map(raw, (r) => r.value),
    digest: Effect.map(raw, (r) => r.digest),
    size: Effect.map(raw, (r) => r.bytes.byteLength),
    rawConfigFile: memoize(parts.rawConfigFile),
    configFile: memoize(parts.configFile),
    configName: Effect.map(raw, (r) => r.value.config.digest),
    layers,
    layerByDigest: (digest) =>
      Effect.flatMap(raw, (r) =>
        r.value.config.digest === digest ? configBlob : byDigest(digest)
      ),
    layerByDiffId: byDiffId,
    descriptor: Effect.map(raw, (r) => {
      const found = parts.descriptor
      return found !== undefined && found.digest === r.digest
        ? found
        : Descriptor.make(r.mediaType, r.digest, r.bytes.byteLength, {
            ...(found?.platform !== undefined ? { platform: found.platform } : {}),
            ...(found?.annotations !== undefined ? { annotations: found.annotations } : {})
          })
    })
  }
}

/**
 * What an image generated from parts may say about its manifest.
 *
 * @since 0.1.0
 */
export interface ManifestOptions {
  /** The manifest media type; defaults to Docker's when the config is Docker's, else OCI's. */
  readonly mediaType?: MediaType.MediaType | undefined
  /** The config media type; defaults to the one matching the manifest type. */
  readonly configMediaType?: MediaType.MediaType | undefined
  readonly annotations?: Descriptor.Annotations | undefined
  readonly subject?: Descriptor.Descriptor | undefined
  readonly artifactType?: string | undefined
  /** The descriptor this image is listed by in an index (platform, annotations). */
  readonly descriptor?: Descriptor.Descriptor | undefined
}

/**
 * An image generated from a config file's bytes and ready layers: the manifest is computed
 * from the layers' descriptors and serialised once. The config bytes are used as given.
 *
 * @since 0.1.0
 */
export const fromLayers = <E>(
  rawConfigFile: Effect.Effect<Uint8Array, E>,
  layers: Effect.Effect<ReadonlyArray<ImageLayer.ImageLayer<E>>, E>,
  options: ManifestOptions = {}
): Image.Image<E | InvalidDocument> => {
  type R = E | InvalidDocument
  const configBytes = memoize(rawConfigFile)
  const manifestType = options.mediaType ?? MediaType.OCI_MANIFEST
  const configType = options.configMediaType ?? MediaType.configFor(manifestType)
  const allLayers = memoize(layers)
  const raw: Effect.Effect<Manifest.Raw, R> = Effect.gen(function* () {
    const config = yield* configBytes
    const descriptors = yield* Effect.forEach(yield* allLayers, (l) => l.descriptor, { concurrency: 4 })
    const manifest = Manifest.make(Descriptor.ofBytes(configType, config), descriptors, {
      mediaType: manifestType,
      annotations: options.annotations,
      subject: options.subject,
      artifactType: options.artifactType
    })
    return Manifest.toRaw(manifest)
  })
  return assemble<R>({
    raw,
    rawConfigFile: configBytes,
    configFile: Effect.flatMap(configBytes, (bytes) =>
      Effect.map(ConfigFile.decode(bytes, { mediaType: configType }), (c) => c.value)
    ),
    layers: allLayers,
    configBlob: Effect.map(configBytes, (bytes) => staticLayer(bytes, configType)),
    descriptor: options.descriptor
  })
}

/**
 * The minimal core of an image held uncompressed: its config and a way to read each layer's
 * tar by diff id (ggcr's `partial.UncompressedImageCore`).
 *
 * @since 0.1.0
 */
export interface UncompressedCore<E> {
  readonly rawConfigFile: Effect.Effect<Uint8Array, E>
  /** The uncompressed tar of the layer with this diff id. */
  readonly uncompressedLayer: (diffId: Digest.Digest) => Stream.Stream<Uint8Array, E>
  /** Manifest media type; Docker's by default, as ggcr's tarball images. */
  readonly mediaType?: MediaType.MediaType | undefined
  /** gzip level for the compressed layers. */
  readonly gzipLevel?: number | undefined
}

/**
 * A full image from an {@link UncompressedCore}: each layer is gzipped while streaming and its
 * digest computed once, as ggcr's `partial.UncompressedToImage`.
 *
 * @since 0.1.0
 */
export const fromUncompressed = <E>(core: UncompressedCore<E>): Image.Image<E | DerivedError> => {
  type R = E | DerivedError
  const mediaType = core.mediaType ?? MediaType.DOCKER_MANIFEST
  const configBytes = memoize(core.rawConfigFile)
  const layers: Effect.Effect<ReadonlyArray<ImageLayer.ImageLayer<R>>, R> = Effect.gen(function* () {
    const config = yield* Effect.flatMap(configBytes, (bytes) => ConfigFile.decode(bytes))
    return ConfigFile.diffIds(config.value).map((diffId) =>
      ImageLayer.fromUncompressed(core.uncompressedLayer(diffId), {
        diffId,
        mediaType: MediaType.layerFor(mediaType, "gzip"),
        gzipLevel: core.gzipLevel
      })
    )
  })
  return fromLayers<R>(configBytes, layers, { mediaType })
}

/**
 * A layer (or config blob) that is exactly some bytes, as ggcr's `static.NewLayer`: digest and
 * diff id are both the bytes' digest, compressed and uncompressed streams both the bytes.
 *
 * @since 0.1.0
 */
export const staticLayer = (
  bytes: Uint8Array,
  mediaType: MediaType.MediaType,
  extras: ImageLayer.Extras = {}
): ImageLayer.ImageLayer => {
  const digest = Digest.fromBytes(bytes)
  const stream = Stream.succeed(bytes)
  return ImageLayer.make({
    digest: Effect.succeed(digest),
    diffId: Effect.succeed(digest),
    size: Effect.succeed(bytes.byteLength),
    mediaType: Effect.succeed(mediaType),
    compressed: stream,
    uncompressed: stream,
    extras
  })
}

/**
 * The config blob of an image as a layer value (ggcr's `partial.ConfigLayer`), for sinks that
 * write every blob alike.
 *
 * @since 0.1.0
 */
export const configLayer = <E>(image: Image.Image<E>): Effect.Effect<ImageLayer.ImageLayer, E> =>
  Effect.map(Effect.zip(image.rawConfigFile, image.manifest), ([bytes, m]) =>
    staticLayer(bytes, m.config.mediaType)
  )

/**
 * The descriptor of an image or index: the one it was found by, or one computed from its
 * media type, digest and size (ggcr's `partial.Descriptor`).
 *
 * @since 0.1.0
 */
export const descriptorOf = <E>(
  item: Image.Image<E> | ImageIndex.ImageIndex<E>
): Effect.Effect<Descriptor.Descriptor, E> => item.descriptor

/**
 * The minimal core of an index: its manifest bytes, a way to read child manifests, and a way
 * to read blobs of child images.
 *
 * @since 0.1.0
 */
export interface IndexCore<E> {
  readonly rawManifest: Effect.Effect<Uint8Array, E>
  /** The bytes of a child manifest (image, index or other). */
  readonly manifest: (descriptor: Descriptor.Descriptor) => Effect.Effect<Uint8Array, E>
  /** The stored bytes of a blob referenced by a child image. */
  readonly blob: (descriptor: Descriptor.Descriptor) => Stream.Stream<Uint8Array, E>
  readonly mediaType?: MediaType.MediaType | undefined
  readonly descriptor?: Descriptor.Descriptor | undefined
  /** As {@link CompressedCore.trusted}. */
  readonly trusted?: boolean | undefined
}

/**
 * A full index from an {@link IndexCore}. Child manifests are checked against the digests the
 * index lists for them.
 *
 * @since 0.1.0
 */
export const indexFromCore = <E>(core: IndexCore<E>): ImageIndex.ImageIndex<E | DerivedError> => {
  type R = E | DerivedError
  const raw: Effect.Effect<IndexManifest.Raw, R> = memoize(
    Effect.flatMap(core.rawManifest, (bytes) => IndexManifest.decode(bytes, { mediaType: core.mediaType }))
  )
  const childBytes = memoizeBy((digest: Digest.Digest) =>
    Effect.gen(function* () {
      const index = yield* raw
      const descriptor = IndexManifest.findByDigest(index.value, digest)
      if (descriptor._tag === "None") return yield* Effect.fail(new BlobNotFound({ kind: "child manifest", digest }))
      const bytes = yield* core.manifest(descriptor.value)
      yield* Digest.verifyBytes(bytes, digest, { size: descriptor.value.size, subject: `manifest ${digest}` })
      return [descriptor.value, bytes] as const
    })
  )
  const child = memoizeBy(
    (digest: Digest.Digest): Effect.Effect<ImageIndex.Child<R>, R | BlobNotFound> =>
      Effect.map(childBytes(digest), ([descriptor, bytes]): ImageIndex.Child<R> => {
        if (MediaType.isIndex(descriptor.mediaType)) {
          return {
            _tag: "Index",
            descriptor,
            index: indexFromCore<R>({ ...core, rawManifest: Effect.succeed(bytes), descriptor, mediaType: descriptor.mediaType })
          }
        }
        if (MediaType.isImage(descriptor.mediaType)) {
          return {
            _tag: "Image",
            descriptor,
            image: fromCompressed<R>({
              rawManifest: Effect.succeed(bytes),
              blob: core.blob,
              mediaType: descriptor.mediaType,
              descriptor,
              trusted: core.trusted
            })
          }
        }
        return { _tag: "Other", descriptor, bytes }
      })
  )
  return ImageIndex.make<R>({
    raw,
    child,
    descriptor: Effect.map(raw, (r) =>
      core.descriptor !== undefined && core.descriptor.digest === r.digest
        ? core.descriptor
        : Descriptor.make(r.mediaType, r.digest, r.bytes.byteLength)
    )
  })
}
