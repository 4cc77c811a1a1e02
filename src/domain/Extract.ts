/**
 * The filesystem of an image as one tar, as ggcr's `mutate.Extract`, and the image made of
 * that single layer, as `crane flatten`.
 *
 * {@link extract} reads the layers from the top down, as ggcr does, remembering which paths it
 * has written or seen deleted: a path in an upper layer hides the same path below, a `.wh.name`
 * whiteout deletes `name` (and everything under it) from the layers below, a `.wh..wh..opq`
 * marker hides everything the layers below hold in its directory. Whiteouts themselves never
 * reach the output. Every body streams from its layer to the output; nothing is buffered whole.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Compression from "./Compression.js"
import * as ConfigFile from "./ConfigFile.js"
import * as Digest from "./Digest.js"
import type { InvalidDocument } from "./Errors.js"
import * as Image from "./Image.js"
import * as ImageLayer from "./ImageLayer.js"
import * as Json from "./internal/json.js"
import { memoize } from "./internal/memo.js"
import * as Tar from "./internal/tar.js"
import * as MediaType from "./MediaType.js"
import * as Partial from "./Partial.js"
import { pipeMethod } from "./internal/pipeable.js"

/**
 * A tar stream that could not be read or written: not a tar (`Corrupt`), an entry whose path
 * escapes the root (`UnsafePath`), or an entry whose body disagrees with its header
 * (`BadEntry`).
 *
 * @since 0.1.0
 */
export { TarError, type TarErrorReason } from "./internal/tar.js"

/**
 * The prefix that marks a whiteout entry: `.wh.name` deletes `name` from the layers below.
 *
 * @since 0.1.0
 */
export const whiteoutPrefix = ".wh."

/**
 * The entry that makes its directory opaque: the layers below add nothing to it.
 *
 * @since 0.1.0
 */
export const opaqueWhiteout = ".wh..wh..opq"

// ---------------------------------------------------------------------------------------------
// paths
// ---------------------------------------------------------------------------------------------

/** Resolves `.`, `..` and repeated slashes; `escapes` when `..` climbs above the start. */
const resolve = (path: string): { readonly parts: ReadonlyArray<string>; readonly escapes: boolean } => {
  const parts: Array<string> = []
  let escapes = false
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") {
      if (parts.length > 0) parts.pop()
      else escapes = true
      continue
    }
    parts.push(part)
  }
  return { parts, escapes }
}

const hasDrivePrefix = (path: string): boolean => /^[A-Za-z]:/.test(path)

/**
 * Normalises an archive path (`./a//b/` is `a/b`, the root is `.`), refusing one that is
 * absolute, climbs out of the root with `..`, or would on Windows (backslashes, drive
 * letters), as ggcr's `unsafeArchivePath`.
 *
 * @since 0.1.0
 */
export const normalizePath = (name: string): Either.Either<string, Tar.TarError> => {
  const unsafe = (detail: string) => Either.left(new Tar.TarError({ reason: "UnsafePath", path: name, detail }))
  if (name.startsWith("/")) return unsafe("absolute paths are refused")
  const slashed = name.replaceAll("\\", "/")
  const windows = resolve(slashed)
  if (name.startsWith("\\") || windows.escapes || resolve(name).escapes) return unsafe("the path escapes the root")
  if (hasDrivePrefix(windows.parts.join("/"))) return unsafe("paths with a drive letter are refused")
  const { parts } = resolve(name)
  return Either.right(parts.length === 0 ? "." : parts.join("/"))
}

const dirname = (path: string): string => {
  const slash = path.lastIndexOf("/")
  return slash < 0 ? "." : path.slice(0, slash)
}

const basename = (path: string): string => path.slice(path.lastIndexOf("/") + 1)

const join = (dir: string, name: string): string => (dir === "." ? name : name === "" ? dir : `${dir}/${name}`)

/** The directories above a normalised path, nearest first, ending with the root `.`. */
const ancestors = function* (path: string): Generator<string> {
  let current = path
  while (current !== ".") {
    current = dirname(current)
    yield current
  }
}

/**
 * A relative symlink target that resolves outside the root from the link's directory (ggcr's
 * `unsafeRelativeLink`). Absolute targets are left alone: they resolve inside a container.
 */
const unsafeSymlink = (name: string, target: string): boolean => {
  const slashed = target.replaceAll("\\", "/")
  if (slashed.startsWith("/")) return false
  if (hasDrivePrefix(slashed)) return true
  return resolve(`${dirname(name)}/${slashed}`).escapes
}

// ---------------------------------------------------------------------------------------------
// extract
// ---------------------------------------------------------------------------------------------

/** What the layers above have decided about paths. */
interface Seen {
  /** Paths already handled; `true` when the path also hides everything under it. */
  readonly paths: Map<string, boolean>
  /** Directories made opaque by a layer above. */
  readonly opaque: Set<string>
}

/**
 * What to do with one entry of the layer being read: `None` to skip it, else the header to
 * write. Marks the entry's path as handled.
 */
const decide = (
  header: Tar.Header,
  seen: Seen,
  layerOpaque: Set<string>
): Either.Either<Option.Option<Tar.Header>, Tar.TarError> =>
  Either.map(normalizePath(header.name), (name) => {
    let linkname = header.linkname
    if (header.type === "symlink" && unsafeSymlink(name, header.linkname)) return Option.none()
    if (header.type === "link") {
      const target = normalizePath(header.linkname)
      if (Either.isLeft(target)) return Option.none()
      linkname = target.right
    }
    const base = basename(name)
    const dir = dirname(name)
    if (base === opaqueWhiteout) {
      layerOpaque.add(dir)
      return Option.none()
    }
    const tombstone = base.startsWith(whiteoutPrefix)
    const path = tombstone ? join(dir, base.slice(whiteoutPrefix.length)) : name
    if (seen.paths.has(path) && !tombstone) return Option.none()
    for (const above of ancestors(path)) {
      if (seen.paths.get(above) === true || seen.opaque.has(above)) return Option.none()
    }
    seen.paths.set(path, tombstone || header.type !== "directory")
    if (tombstone) return Option.none()
    const written = header.type === "directory" ? (path === "." ? "./" : `${path}/`) : path
    return Option.some({ ...header, name: written, linkname })
  })

/** One layer as an archive for {@link Tar.rewrite}, sharing what the layers above decided. */
const layerArchive = <E>(layer: ImageLayer.ImageLayer<E>, seen: Seen): Tar.Archive<E, never> => {
  // Opaque markers hide only the layers below, so they count once this layer is done.
  const layerOpaque = new Set<string>()
  return {
    bytes: layer.uncompressed,
    onEntry: (header) => decide(header, seen, layerOpaque),
    onEnd: () => {
      for (const dir of layerOpaque) seen.opaque.add(dir)
    }
  }
}

/**
 * The flattened filesystem of an image as one uncompressed tar (ggcr's `mutate.Extract`).
 * Layers are read from the top down, so an upper layer's entries come first. Entry paths are
 * normalised (`./a/` is written `a/`; directories end with `/`); an entry whose path escapes the
 * root fails the stream with {@link TarError} `UnsafePath`, and a link whose target escapes is
 * left out, as ggcr does. Each layer is read to its end, so a verifying layer still checks its
 * digest. Each run reads the layers anew.
 *
 * @since 0.1.0
 */
export const extract = <E>(image: Image.Image<E>): Stream.Stream<Uint8Array, E | Tar.TarError> =>
  Tar.rewrite(
    Stream.unwrap(
      Effect.map(image.layers, (layers) =>
        Stream.suspend(() => {
          const seen: Seen = { paths: new Map(), opaque: new Set() }
          return Stream.fromIterable([...layers].reverse().map((layer) => layerArchive(layer, seen)))
        })
      )
    )
  )

// ---------------------------------------------------------------------------------------------
// flatten
// ---------------------------------------------------------------------------------------------

/**
 * How {@link flatten} fails beyond the image's own errors.
 *
 * @since 0.1.0
 */
export type FlattenError = Tar.TarError | Compression.CompressionError | InvalidDocument

/**
 * Options for {@link flatten}.
 *
 * @since 0.1.0
 */
export interface FlattenOptions {
  /** gzip level of the single layer; 9 by default, as `crane flatten`. */
  readonly gzipLevel?: number | undefined
  /** The `created_by` of the history entry; `flatten <digest of the image>` by default. */
  readonly createdBy?: string | undefined
}

/** crane flatten compresses with Go's `gzip.BestCompression`. */
const FLATTEN_GZIP_LEVEL = 9

/** Go's `time.RFC3339Nano` in UTC, as ggcr writes `created`. */
const goTime = (millis: number): string => new Date(millis).toISOString().replace(/\.?0+Z$/, "Z")

const historyShape = Json.array(Json.struct(["author", "created", "created_by", "comment", "empty_layer"]))

/** Go's `json.Marshal` of a config's history: `null` when there is none. */
const historyJson = (history: ConfigFile.ConfigFile["history"]): string =>
  history === undefined ? "null" : new TextDecoder().decode(Json.encode(history, historyShape))

/**
 * A layer over an uncompressed stream whose diff id, digest and size are all measured by one
 * pass (tar, hash, gzip, hash) the first time any of them is asked for.
 */
const measuredLayer = <E>(
  uncompressed: Stream.Stream<Uint8Array, E>,
  mediaType: MediaType.MediaType,
  gzipLevel: number
): ImageLayer.ImageLayer<E | Compression.CompressionError> => {
  const base = ImageLayer.fromUncompressed(uncompressed, { mediaType, gzipLevel })
  const measured = memoize(
    Effect.suspend(() => {
      let diffId: Digest.Digest | undefined
      const tapped = Digest.tapMeasured(uncompressed, (m) =>
        Effect.sync(() => {
          diffId = m.digest
        })
      )
      return Effect.flatMap(Digest.ofStream(Compression.gzip(tapped, gzipLevel)), (compressed) =>
        diffId === undefined
          ? Effect.dieMessage("the uncompressed stream ended without being measured")
          : Effect.succeed({ diffId, digest: compressed.digest, size: compressed.size })
      )
    })
  )
  return ImageLayer.make({
    digest: Effect.map(measured, (m) => m.digest),
    diffId: Effect.map(measured, (m) => m.diffId),
    size: Effect.map(measured, (m) => m.size),
    mediaType: base.mediaType,
    compressed: base.compressed,
    uncompressed: base.uncompressed
  })
}

/** An image whose accessors wait for the image an Effect builds (once). */
const suspended = <E>(build: Effect.Effect<Image.Image<E>, E>): Image.Image<E> => {
  const image = memoize(build)
  const via = <A>(f: (image: Image.Image<E>) => Effect.Effect<A, E>): Effect.Effect<A, E> => Effect.flatMap(image, f)
  return {
    [Image.TypeId]: Image.TypeId, pipe: pipeMethod,
    mediaType: via((i) => i.mediaType),
    rawManifest: via((i) => i.rawManifest),
    manifest: via((i) => i.manifest),
    digest: via((i) => i.digest),
    size: via((i) => i.size),
    rawConfigFile: via((i) => i.rawConfigFile),
    configFile: via((i) => i.configFile),
    configName: via((i) => i.configName),
    layers: via((i) => i.layers),
    layerByDigest: (digest) => Effect.flatMap(image, (i) => i.layerByDigest(digest)),
    layerByDiffId: (diffId) => Effect.flatMap(image, (i) => i.layerByDiffId(diffId)),
    descriptor: via((i) => i.descriptor)
  }
}

/**
 * The image squashed to one layer, as `crane flatten`: the layer is {@link extract}'s tar,
 * gzipped; the config is the original's with `created` set to now (from `Clock`), the rootfs
 * listing only the new layer, and one history entry whose comment holds the old history as
 * JSON. The manifest keeps the original's media type and annotations; layer and config media
 * types follow the manifest's family. Nothing runs until an accessor is read.
 *
 * @since 0.1.0
 */
export const flatten = <E>(image: Image.Image<E>, options: FlattenOptions = {}): Image.Image<E | FlattenError> =>
  suspended<E | FlattenError>(
    Effect.gen(function* () {
      const mediaType = yield* image.mediaType
      const manifest = yield* image.manifest
      const descriptor = yield* image.descriptor
      const manifestType = MediaType.isImage(mediaType) ? mediaType : MediaType.OCI_MANIFEST
      const layer = measuredLayer(
        extract(image),
        MediaType.layerFor(manifestType, "gzip"),
        options.gzipLevel ?? FLATTEN_GZIP_LEVEL
      )
      const rawConfigFile = Effect.gen(function* () {
        const config = yield* image.configFile
        const createdBy = options.createdBy ?? `flatten ${yield* image.digest}`
        const diffId = yield* layer.diffId
        const created = goTime(yield* Clock.currentTimeMillis)
        return ConfigFile.encode({
          ...config,
          created,
          history: [{ created, created_by: createdBy, comment: historyJson(config.history) }],
          rootfs: { ...config.rootfs, diff_ids: [diffId] }
        })
      })
      return Partial.fromLayers<E | FlattenError>(rawConfigFile, Effect.succeed([layer]), {
        mediaType: manifestType,
        annotations: manifest.annotations,
        descriptor
      })
    })
  )
