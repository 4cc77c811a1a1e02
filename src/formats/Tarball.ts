/**
 * `docker save` tarballs, read and written, as ggcr's `pkg/v1/tarball`.
 *
 * A tarball holds a `manifest.json` (`[{Config, RepoTags, Layers, LayerSources}]`), each
 * image's config and its layers, stored compressed or not (legacy `<id>/layer.tar`
 * directories, ggcr's `<hex>.tar.gz`, or Docker 25's OCI `blobs/sha256/<hex>`).
 *
 * Reading never holds the tarball in memory. The source is an {@link Opener}, a function
 * giving a fresh stream of the whole tar; opening an image reads it through once to index
 * its entries, where each body starts, and `manifest.json`. When the opener can also read a
 * range of the file (as {@link fileOpener}'s can) and the tar is not compressed, the config
 * and each later read of a layer go straight to the entry's bytes, so reading a whole image
 * costs one pass over the file plus one over each layer. Otherwise each read runs the opener
 * again, skips to the entry and streams its body, as ggcr does. Compressed tarballs
 * (`docker save | gzip`) are read too.
 *
 * Writing is a stream of tar bytes the caller sends to a file or any sink: configs as
 * `sha256:<hex>`, layers as `<hex>.tar.gz` (each layer once across images), then
 * `manifest.json` and `repositories`. Each layer's size comes from its descriptor, so layers
 * stream straight through, checked against their digests on the way.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Compression from "../domain/Compression.js"
import * as ConfigFile from "../domain/ConfigFile.js"
import * as Descriptor from "../domain/Descriptor.js"
import * as Digest from "../domain/Digest.js"
import type { DigestMismatch, SizeMismatch } from "../domain/Errors.js"
import type * as Image from "../domain/Image.js"
import * as ImageLayer from "../domain/ImageLayer.js"
import * as MediaType from "../domain/MediaType.js"
import * as Partial from "../domain/Partial.js"
import * as Reference from "../domain/Reference.js"
import * as FileOutput from "./internal/fileOutput.js"
import { TarballError } from "./internal/tarballError.js"
import * as TarStream from "../domain/internal/tar.js"
import * as Tar from "./internal/tarballTar.js"

/**
 * The typed failure of tarball reads and writes, with a `reason` for each case.
 *
 * @since 0.1.0
 */
export { TarballError, type TarballErrorReason } from "./internal/tarballError.js"

/**
 * A way to read a whole file afresh, as ggcr's `Opener`: each call returns a stream of all
 * its bytes, read from the start as it is pulled. An opener may also have `range`, reading
 * `length` bytes from `offset` (fewer when the file ends first); reads of a tarball's entries
 * then go straight to their bytes instead of over the whole tar before them.
 *
 * @since 0.1.0
 */
export interface Opener<E = never> {
  (): Stream.Stream<Uint8Array, E>
  readonly range?: ((offset: number, length: number) => Stream.Stream<Uint8Array, E>) | undefined
}

/**
 * An {@link Opener} over a file on disk, with `range` reads; read failures are
 * `TarballError`s with reason `Io`.
 *
 * @since 0.1.0
 */
export const fileOpener = (path: string): Effect.Effect<Opener<TarballError>, never, FileSystem.FileSystem> =>
  Effect.map(FileSystem.FileSystem, (fs): Opener<TarballError> => {
    const read = (options: FileSystem.StreamOptions): Stream.Stream<Uint8Array, TarballError> =>
      fs
        .stream(path, { chunkSize: FileSystem.KiB(256), ...options })
        .pipe(Stream.mapError((cause) => new TarballError({ reason: "Io", path, cause })))
    return Object.assign(() => read({}), {
      range: (offset: number, length: number) => read({ offset, bytesToRead: length })
    })
  })

/**
 * Schema of one image in `manifest.json`: its config file, its tags, its layer files bottom
 * first, and descriptors of foreign layers keyed by diff id. Unknown fields are dropped.
 *
 * @since 0.1.0
 */
export const ManifestEntry = Schema.Struct({
  Config: Schema.String,
  RepoTags: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.String)), { exact: true }),
  Layers: Schema.optionalWith(Schema.NullOr(Schema.Array(Schema.String)), { exact: true }),
  LayerSources: Schema.optionalWith(
    Schema.NullOr(Schema.Record({ key: Schema.String, value: Descriptor.Descriptor })),
    { exact: true }
  )
}).annotations({ identifier: "TarballManifestEntry" })

/**
 * One image in `manifest.json`.
 *
 * @since 0.1.0
 */
export interface ManifestEntry extends Schema.Schema.Type<typeof ManifestEntry> {}

/**
 * Schema of `manifest.json`: one entry per image.
 *
 * @since 0.1.0
 */
export const Manifest = Schema.Array(ManifestEntry).annotations({ identifier: "TarballManifest" })

/**
 * The content of `manifest.json`.
 *
 * @since 0.1.0
 */
export type Manifest = ReadonlyArray<ManifestEntry>

/**
 * How reading an image out of a tarball may fail: the opener's own error, a tarball error,
 * or a derived-image error (config decoding, digest checks, decompression).
 *
 * @since 0.1.0
 */
export type ReadError<E> = E | TarballError | Partial.DerivedError

const MANIFEST = "manifest.json"
const REPOSITORIES = "repositories"

interface Archive<E> {
  /** The body of a regular file entry: read from its offset when it can be, else by a fresh read of the tar. */
  readonly body: (entry: Tar.EntryInfo) => Stream.Stream<Uint8Array, ReadError<E>>
  readonly index: Tar.Index
  readonly manifest: Manifest
}

const readSmall = <E>(
  body: Archive<E>["body"],
  index: Tar.Index,
  path: string
): Effect.Effect<Uint8Array, ReadError<E>> =>
  Effect.flatMap(Tar.resolve(index, path), (entry) => {
    const kept = index.captured.get(entry.name)
    return kept !== undefined
      ? Effect.succeed(kept)
      : Partial.collectBytes(body(entry), `tarball entry ${entry.name}`)
  })

const decodeManifest = (bytes: Uint8Array): Either.Either<Manifest, TarballError> =>
  Either.try({
    try: (): unknown => JSON.parse(new TextDecoder().decode(bytes)),
    catch: (cause) =>
      new TarballError({
        reason: "InvalidManifest",
        path: MANIFEST,
        detail: cause instanceof Error ? cause.message : "not JSON",
        cause
      })
  }).pipe(
    Either.flatMap((json) =>
      json === null
        ? Either.left(new TarballError({ reason: "NullManifest", path: MANIFEST }))
        : Either.mapLeft(
            Schema.decodeUnknownEither(Manifest)(json),
            (error) =>
              new TarballError({
                reason: "InvalidManifest",
                path: MANIFEST,
                detail: ParseResult.TreeFormatter.formatErrorSync(error)
              })
          )
    )
  )

const openArchive = <E>(opener: Opener<E>): Effect.Effect<Archive<E>, ReadError<E>> =>
  Effect.gen(function* () {
    const source = (): Stream.Stream<Uint8Array, ReadError<E>> => Compression.decompressAuto(opener())
    const capture = (name: string, size: number) => name === MANIFEST && size <= Partial.maxDocumentSize
    const [compression, index] = yield* Effect.scoped(
      Effect.flatMap(Compression.peek(opener()), ([compression, all]) =>
        Effect.map(Tar.scan(Compression.decompress(all, compression), capture), (index) => [compression, index] as const)
      )
    )
    if (!index.entries.has(MANIFEST)) return yield* Effect.fail(new TarballError({ reason: "NoManifest" }))
    // Offsets in the tar are offsets in the file only when the file is the tar itself.
    const range = compression === "none" ? opener.range : undefined
    const body = (entry: Tar.EntryInfo): Stream.Stream<Uint8Array, ReadError<E>> =>
      range !== undefined && entry.offset !== undefined
        ? Tar.entryAt(range, entry, entry.offset)
        : Tar.entryBody(source(), entry.name)
    const manifest = yield* Effect.flatMap(readSmall(body, index, MANIFEST), decodeManifest)
    return { body, index, manifest }
  })

/**
 * Reads `manifest.json` of a tarball (ggcr's `LoadManifest`). Fails with `NoManifest`,
 * `NullManifest` or `InvalidManifest` when there is no usable one.
 *
 * @since 0.1.0
 */
export const loadManifest = <E>(opener: Opener<E>): Effect.Effect<Manifest, ReadError<E>> =>
  Effect.map(openArchive(opener), (archive) => archive.manifest)

const describeTags = (manifest: Manifest): string =>
  manifest.map((entry) => (entry.RepoTags ?? []).join(", ") || `untagged (${entry.Config})`).join("; ")

const pick = (manifest: Manifest, tag: Reference.Tag | undefined): Either.Either<ManifestEntry, TarballError> => {
  if (tag === undefined) {
    const [only, ...others] = manifest
    if (only !== undefined && others.length === 0) return Either.right(only)
    return Either.left(
      only === undefined
        ? new TarballError({ reason: "ImageNotFound", detail: "the tarball holds no image" })
        : new TarballError({ reason: "AmbiguousImage", detail: `${manifest.length} images: ${describeTags(manifest)}` })
    )
  }
  const wanted = Reference.name(tag)
  const found = manifest.find((entry) =>
    (entry.RepoTags ?? []).some((repoTag) =>
      Either.match(Reference.parseTag(repoTag), {
        onLeft: () => false,
        onRight: (parsed) => Reference.name(parsed) === wanted
      })
    )
  )
  return found !== undefined
    ? Either.right(found)
    : Either.left(new TarballError({ reason: "ImageNotFound", detail: `no image tagged ${wanted}` }))
}

const layerOf = <E>(
  body: Archive<E>["body"],
  entry: Tar.EntryInfo,
  diffId: Digest.Digest,
  foreign: Descriptor.Descriptor | undefined,
  gzipLevel: number | undefined
): ImageLayer.ImageLayer<ReadError<E>> => {
  const stored = body(entry)
  const compression = Compression.detect(entry.head)
  const uncompressed = Digest.verifyStream(Compression.decompress(stored, compression), diffId, {
    subject: `layer ${diffId} (${entry.name})`
  })
  if (foreign !== undefined) {
    // A foreign layer keeps the descriptor the tarball recorded for it (urls included).
    return ImageLayer.make<ReadError<E>>({
      digest: Effect.succeed(foreign.digest),
      diffId: Effect.succeed(diffId),
      size: Effect.succeed(foreign.size),
      mediaType: Effect.succeed(foreign.mediaType),
      descriptor: Effect.succeed(foreign),
      compressed: compression === "none" ? Compression.gzip(stored, gzipLevel) : stored,
      uncompressed
    })
  }
  if (compression === "none") {
    return ImageLayer.fromUncompressed(uncompressed, { diffId, mediaType: MediaType.DOCKER_LAYER, gzipLevel })
  }
  const base = ImageLayer.fromCompressed(stored, {
    diffId,
    mediaType: MediaType.layerFor(MediaType.DOCKER_MANIFEST, compression)
  })
  return ImageLayer.make<ReadError<E>>({
    digest: base.digest,
    diffId: base.diffId,
    size: base.size,
    mediaType: base.mediaType,
    descriptor: base.descriptor,
    compressed: base.compressed,
    uncompressed
  })
}

/**
 * Options for {@link image}.
 *
 * @since 0.1.0
 */
export interface ImageOptions {
  /**
   * The image to read when the tarball holds several, matched by full name against each
   * image's `RepoTags` (`ubuntu` finds `index.docker.io/library/ubuntu:latest`). Without it
   * the tarball must hold exactly one image.
   */
  readonly tag?: Reference.Tag | undefined
  /** gzip level for layers the tarball stores uncompressed. */
  readonly gzipLevel?: number | undefined
}

/**
 * An image out of a `docker save` tarball, as ggcr's `tarball.Image`. Opening reads
 * `manifest.json` and the config and checks that every file the image names is there;
 * layers are read when asked for. Layers stored compressed keep their bytes and digests;
 * layers stored as plain tar are gzipped while streaming. Every layer's uncompressed bytes
 * are checked against the config's diff id as they stream. The manifest is Docker's v2
 * schema 2, generated once.
 *
 * @since 0.1.0
 */
export const image = <E>(
  opener: Opener<E>,
  options: ImageOptions = {}
): Effect.Effect<Image.Image<ReadError<E>>, ReadError<E>> =>
  Effect.gen(function* () {
    const archive = yield* openArchive(opener)
    const entry = yield* pick(archive.manifest, options.tag)
    const config = yield* readSmall(archive.body, archive.index, entry.Config)
    const stored = yield* Effect.forEach(entry.Layers ?? [], (path) => Tar.resolve(archive.index, path))
    const layers = Effect.gen(function* () {
      const diffIds = ConfigFile.diffIds((yield* ConfigFile.decode(config)).value)
      if (diffIds.length !== stored.length) {
        return yield* Effect.fail(
          new TarballError({
            reason: "InvalidManifest",
            path: MANIFEST,
            detail: `it lists ${stored.length} layer(s) for ${entry.Config} but the config has ${diffIds.length} diff id(s); the config may not describe a runnable image`
          })
        )
      }
      return Arr.zip(stored, diffIds).map(([file, diffId]) => {
        const source = entry.LayerSources?.[diffId]
        const foreign = source !== undefined && !MediaType.isDistributable(source.mediaType) ? source : undefined
        return layerOf(archive.body, file, diffId, foreign, options.gzipLevel)
      })
    })
    return Partial.fromLayers<ReadError<E>>(Effect.succeed(config), layers, {
      mediaType: MediaType.DOCKER_MANIFEST,
      configMediaType: MediaType.DOCKER_CONFIG
    })
  })

/**
 * An image out of a tarball on disk (ggcr's `ImageFromPath`).
 *
 * @since 0.1.0
 */
export const imageFromFile = (
  path: string,
  options: ImageOptions = {}
): Effect.Effect<Image.Image<ReadError<TarballError>>, ReadError<TarballError>, FileSystem.FileSystem> =>
  Effect.flatMap(fileOpener(path), (opener) => image(opener, options))

/**
 * Options for {@link layerFromOpener}.
 *
 * @since 0.1.0
 */
export interface LayerOptions {
  /**
   * The layer's media type. Defaults to Docker's gzip layer type (OCI's zstd type for zstd
   * input). A type without compression (`...tar`) keeps plain tar input as it is.
   */
  readonly mediaType?: MediaType.MediaType | undefined
  /** gzip level used when the input is a plain tar. */
  readonly gzipLevel?: number | undefined
  readonly annotations?: Descriptor.Annotations | undefined
}

/**
 * A layer from a layer file read through an opener, as ggcr's `LayerFromOpener`: the file is
 * a tar, gzipped or zstd-compressed or not, told apart by its first bytes (read now). A
 * plain tar is gzipped while streaming. Digests are computed the first time they are asked
 * for, each by one pass over the file.
 *
 * @since 0.1.0
 */
export const layerFromOpener = <E>(
  opener: Opener<E>,
  options: LayerOptions = {}
): Effect.Effect<ImageLayer.ImageLayer<E | Compression.CompressionError>, E> =>
  Effect.map(
    Effect.scoped(Compression.peek(opener())),
    ([compression]): ImageLayer.ImageLayer<E | Compression.CompressionError> =>
      compression === "none"
        ? ImageLayer.fromUncompressed(opener(), {
            mediaType: options.mediaType ?? MediaType.DOCKER_LAYER,
            gzipLevel: options.gzipLevel,
            annotations: options.annotations
          })
        : ImageLayer.fromCompressed(opener(), {
            mediaType: options.mediaType ?? MediaType.layerFor(MediaType.DOCKER_MANIFEST, compression),
            annotations: options.annotations
          })
  )

/**
 * A layer from a layer file on disk (ggcr's `LayerFromFile`).
 *
 * @since 0.1.0
 */
export const layerFromFile = (
  path: string,
  options: LayerOptions = {}
): Effect.Effect<
  ImageLayer.ImageLayer<TarballError | Compression.CompressionError>,
  TarballError,
  FileSystem.FileSystem
> => Effect.flatMap(fileOpener(path), (opener) => layerFromOpener(opener, options))

// Writing

/**
 * How writing a tarball may fail: an image's own error, a tarball error, or a layer whose
 * bytes are not the ones its descriptor names.
 *
 * @since 0.1.0
 */
export type WriteError<E> = E | TarballError | DigestMismatch | SizeMismatch

/**
 * What to write: pairs of a reference and an image, as an array or a `Map`. An image under
 * several tags is written once with all of them; an image under a digest reference only is
 * written without tags.
 *
 * @since 0.1.0
 */
export type Images<E> = Iterable<readonly [Reference.Reference, Image.Image<E>]>

interface Planned<E> {
  readonly manifest: Manifest
  readonly repositories: Readonly<Record<string, Readonly<Record<string, string>>>>
  readonly files: ReadonlyArray<{
    readonly name: string
    readonly size: number
    readonly body: Stream.Stream<Uint8Array, WriteError<E>>
  }>
}

const extension = (mediaType: MediaType.MediaType): string => {
  const compression = MediaType.layerCompression(mediaType)
  return compression === "zstd" ? ".tar.zst" : compression === "none" ? ".tar" : ".tar.gz"
}

/** Docker's familiar form of a tag (`ubuntu:latest`, `gcr.io/p/i:v1`), as `docker save` writes. */
const repoTag = (tag: Reference.Tag): string => Reference.shortName(tag)

const familiarRepository = (tag: Reference.Tag): string => {
  const full = Reference.shortName(tag)
  return full.slice(0, full.length - tag.tag.length - 1)
}

const plan = <E>(images: ReadonlyArray<readonly [Reference.Reference, Image.Image<E>]>): Effect.Effect<Planned<E>, E | TarballError> =>
  Effect.gen(function* () {
    const groups: Array<{ readonly image: Image.Image<E>; readonly digest: Digest.Digest; readonly tags: Array<Reference.Tag> }> = []
    for (const [ref, img] of images) {
      const digest = yield* img.digest
      let group = groups.find((g) => g.digest === digest)
      if (group === undefined) {
        group = { image: img, digest, tags: [] }
        groups.push(group)
      }
      if (ref._tag === "Tag" && !group.tags.some((t) => repoTag(t) === repoTag(ref))) group.tags.push(ref)
    }
    if (groups.length === 0) return yield* Effect.fail(new TarballError({ reason: "NoImages" }))
    const manifest: Array<ManifestEntry> = []
    const repositories: Record<string, Record<string, string>> = {}
    const files: Array<Planned<E>["files"][number]> = []
    const written = new Set<string>()
    for (const group of groups) {
      const m = yield* group.image.manifest
      const config = yield* group.image.rawConfigFile
      const layers = yield* group.image.layers
      if (!written.has(m.config.digest)) {
        written.add(m.config.digest)
        files.push({ name: m.config.digest, size: config.byteLength, body: Stream.succeed(config) })
      }
      const layerFiles: Array<string> = []
      const sources: Record<string, Descriptor.Descriptor> = {}
      for (const [descriptor, layer] of Arr.zip(m.layers, layers)) {
        const name = `${Digest.hex(descriptor.digest)}${extension(descriptor.mediaType)}`
        layerFiles.push(name)
        if (!MediaType.isDistributable(descriptor.mediaType)) sources[yield* layer.diffId] = descriptor
        if (written.has(name)) continue
        written.add(name)
        files.push({
          name,
          size: descriptor.size,
          body: Digest.verifyStream(layer.compressed, descriptor.digest, {
            size: descriptor.size,
            subject: `layer ${descriptor.digest}`
          })
        })
      }
      manifest.push({
        Config: m.config.digest,
        RepoTags: group.tags.length > 0 ? group.tags.map(repoTag) : null,
        Layers: layerFiles,
        ...(Object.keys(sources).length > 0 ? { LayerSources: sources } : {})
      })
      const top = Arr.last(m.layers)
      if (top._tag === "Some") {
        for (const tag of group.tags) {
          const repository = familiarRepository(tag)
          repositories[repository] = { ...repositories[repository], [tag.tag]: Digest.hex(top.value.digest) }
        }
      }
    }
    return { manifest, repositories, files }
  })


const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))

/**
 * The `manifest.json` that {@link write} would write for these images (ggcr's
 * `ComputeManifest`).
 *
 * @since 0.1.0
 */
export const computeManifest = <E>(images: Images<E>): Effect.Effect<Manifest, E | TarballError> =>
  Effect.map(plan(Array.from(images)), (planned) => planned.manifest)

/**
 * Writes images as a `docker save` tarball (ggcr's `MultiRefWrite`), as a stream of tar
 * bytes: each config as `sha256:<hex>`, each layer once as `<hex>.tar.gz` (`.tar` or
 * `.tar.zst` for other compressions), then `manifest.json` and `repositories`. Each layer's
 * compressed bytes stream straight into the tar and are checked against its descriptor; a
 * mismatch fails the stream. Fails with `NoImages` when given none.
 *
 * @since 0.1.0
 */
export const write = <E>(images: Images<E>): Stream.Stream<Uint8Array, WriteError<E>> => {
  const pairs = Array.from(images)
  return Stream.unwrap(
    Effect.map(plan(pairs), (planned) => {
      const manifest = json(planned.manifest)
      const repositories = json(planned.repositories)
      const entries = [
        ...planned.files,
        { name: MANIFEST, size: manifest.byteLength, body: Stream.succeed(manifest) },
        { name: REPOSITORIES, size: repositories.byteLength, body: Stream.succeed(repositories) }
      ].map((f): TarStream.Entry<WriteError<E>> => ({ header: TarStream.plainFileHeader(f.name, f.size), body: f.body }))
      return TarStream.write(Stream.fromIterable(entries)).pipe(
        Stream.mapError((error): WriteError<E> =>
          error instanceof TarStream.TarError
            ? new TarballError({ reason: "Corrupt", detail: error.message, cause: error })
            : error
        )
      )
    })
  )
}

/**
 * Writes images as a tarball at `path` (ggcr's `MultiRefWriteToFile`). The bytes go to a
 * temporary file next to it (`<path>.tmp-<random>`) that is renamed into place once whole;
 * on failure or interruption the temporary file is removed, so no half-written tarball is
 * ever visible at `path`.
 *
 * @since 0.1.0
 */
export const writeToFile = <E>(
  path: string,
  images: Images<E>
): Effect.Effect<void, WriteError<E>, FileSystem.FileSystem> => {
  const pairs = Array.from(images)
  return Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const io = (target: string) => (cause: PlatformError) => new TarballError({ reason: "Io", path: target, cause })
    yield* FileOutput.writeAtomically(fs, path, write(pairs), io)
  })
}
