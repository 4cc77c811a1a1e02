/**
 * A layer cache on disk, as ggcr's `pkg/v1/cache` with `NewFilesystemCache`: wrap an image
 * (or index) so that its layers are read from a directory when they are there and stored
 * there as they are read from the source when they are not. `crane pull --cache_path DIR`
 * uses it, so pulling the same layers again does not fetch them from the registry.
 *
 * Entries are files named by digest (`<dir>/sha256:<hex>`, ggcr's names): a layer's stored
 * (compressed) bytes under its digest, or its uncompressed tar under its diff id (ggcr writes
 * those for uncompressed reads; this cache reads them too, but stores compressed bytes only).
 *
 * - A hit is checked whole against its digest before it is used. A corrupt or incomplete
 *   entry is removed, a warning is logged and the layer is read from the source again (and
 *   stored again), as ggcr re-fetches an incomplete entry. The bytes are checked once more as
 *   they stream, so an entry changed in between fails with `DigestMismatch` instead of being
 *   used.
 * - A miss streams the layer from the source while writing it to `<entry>.tmp-<random>`,
 *   which is renamed into place only once the whole layer was read and matched its digest
 *   (and size). A failed, interrupted or partly read stream leaves no entry behind.
 * - Uncompressed reads are served from the diff id entry, else by decompressing the digest
 *   entry; on a miss the compressed bytes are fetched and stored, then decompressed. Either
 *   way the tar is checked against the diff id as it streams.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import * as Path from "@effect/platform/Path"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import * as Compression from "../domain/Compression.js"
import * as Digest from "../domain/Digest.js"
import { DigestMismatch, SizeMismatch } from "../domain/Errors.js"
import type * as Image from "../domain/Image.js"
import type * as ImageIndex from "../domain/ImageIndex.js"
import type * as ImageLayer from "../domain/ImageLayer.js"
import * as GatherWrites from "../services/internal/gatherWrites.js"
import * as MeasureFile from "../services/internal/measureFile.js"

/**
 * Reading or writing a cache entry failed on the file system; `cause` says how.
 *
 * @since 0.1.0
 */
export class LayerCacheError extends Data.TaggedError("LayerCacheError")<{
  readonly reason: "Io"
  /** The entry (or directory) the failure is about. */
  readonly path: string
  /** What was being done. */
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    const cause = this.cause instanceof Error ? `: ${this.cause.message}` : ""
    return `layer cache: ${this.detail} ${JSON.stringify(this.path)}${cause}`
  }
}

/**
 * How reading through a cache may fail beyond the source's own errors: the cache's file
 * system, bytes that are not what their digest names, or a layer that does not decompress.
 *
 * @since 0.1.0
 */
export type CacheError = LayerCacheError | DigestMismatch | SizeMismatch | Compression.CompressionError

/**
 * A store of blobs by digest, as ggcr's `cache.Cache`.
 *
 * @since 0.1.0
 */
export interface LayerCache {
  /** The directory entries are kept in. */
  readonly path: string
  /**
   * The bytes stored under `digest`, or `None` when there is no entry or the entry does not
   * match its digest (it is then removed). The stream checks the bytes again as it reads.
   */
  readonly get: (
    digest: Digest.Digest
  ) => Effect.Effect<Option.Option<Stream.Stream<Uint8Array, LayerCacheError | DigestMismatch | SizeMismatch>>, LayerCacheError>
  /**
   * Passes `bytes` through, storing them under `digest` once they have been read to the end
   * and match it (and `size`, when given). A mismatch fails the stream and stores nothing.
   */
  readonly put: <E>(
    digest: Digest.Digest,
    bytes: Stream.Stream<Uint8Array, E>,
    size?: number
  ) => Stream.Stream<Uint8Array, E | LayerCacheError | DigestMismatch | SizeMismatch>
  /** Removes the entry of `digest`; removing an absent entry succeeds. */
  readonly remove: (digest: Digest.Digest) => Effect.Effect<void, LayerCacheError>
}

const isNotFound = (error: PlatformError): boolean => error._tag === "SystemError" && error.reason === "NotFound"

/**
 * A cache in the directory `dir` (ggcr's `NewFilesystemCache`), made (mode 0700) when the
 * first entry is written.
 *
 * @since 0.1.0
 */
export const fileSystem = (dir: string): Effect.Effect<LayerCache, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const entry = (digest: Digest.Digest): string => path.join(dir, digest)
    const io = (file: string, detail: string) => (cause: PlatformError) =>
      new LayerCacheError({ reason: "Io", path: file, detail, cause })
    const read = (file: string) => fs.stream(file, { chunkSize: FileSystem.KiB(256) })

    const get: LayerCache["get"] = (digest) =>
      Effect.gen(function* () {
        const file = entry(digest)
        const found = yield* fs.stat(file).pipe(
          Effect.map((info) => Option.some(info)),
          Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<FileSystem.File.Info>())),
          Effect.mapError(io(file, "cannot look up the entry"))
        )
        if (Option.isNone(found) || found.value.type !== "File") return Option.none()
        const measured = yield* MeasureFile.measureFile(fs, file, Digest.algorithm(digest)).pipe(
          Effect.map(Option.some),
          Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<Digest.Measured>())),
          Effect.mapError(io(file, "cannot read the entry"))
        )
        if (Option.isNone(measured)) return Option.none()
        if (measured.value.digest !== digest) {
          yield* Effect.logWarning(
            `layer cache entry ${file} does not match its digest (${measured.value.size} bytes hash to ${measured.value.digest}); removing it and reading the layer from its source`
          )
          yield* Effect.ignore(fs.remove(file, { force: true }))
          return Option.none()
        }
        yield* Effect.logDebug(`layer ${digest} found in the cache`)
        return Option.some(
          Digest.verifyStream(read(file).pipe(Stream.mapError(io(file, "cannot read the entry"))), digest, {
            size: measured.value.size,
            subject: `cached blob ${digest}`
          })
        )
      })

    const put: LayerCache["put"] = <E>(digest: Digest.Digest, bytes: Stream.Stream<Uint8Array, E>, size?: number) =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const target = entry(digest)
          const temp = `${target}.tmp-${randomBytes(6).toString("hex")}`
          yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 }).pipe(
            Effect.mapError(io(dir, "cannot make the directory"))
          )
          let committed = false
          yield* Effect.addFinalizer(() => (committed ? Effect.void : Effect.ignore(fs.remove(temp, { force: true }))))
          const file = yield* fs.open(temp, { flag: "wx", mode: 0o600 }).pipe(
            Effect.mapError(io(temp, "cannot create the entry"))
          )
          const h = Digest.hasher(Digest.algorithm(digest))
          // Pieces are hashed and gathered into 1 MiB writes as they pass on.
          const gathered = GatherWrites.make(file, io(temp, "cannot write the entry"))
          const teed = Stream.mapChunksEffect(bytes, (chunk) =>
            Effect.suspend(() => {
              for (const piece of chunk) h.update(piece)
              return Effect.as(gathered.writeEach(chunk), chunk)
            })
          )
          const commit = Effect.suspend((): Effect.Effect<void, LayerCacheError | DigestMismatch | SizeMismatch> => {
            const subject = `blob ${digest} (stored in the layer cache)`
            if (size !== undefined && h.size() !== size) {
              return Effect.fail(new SizeMismatch({ subject, expected: size, actual: h.size() }))
            }
            const actual = h.digest()
            if (actual !== digest) return Effect.fail(new DigestMismatch({ subject, expected: digest, actual }))
            return fs.rename(temp, target).pipe(
              Effect.mapError(io(target, "cannot move the entry into place")),
              Effect.tap(() =>
                Effect.sync(() => {
                  committed = true
                })
              ),
              Effect.zipRight(Effect.logDebug(`layer ${digest} stored in the cache`))
            )
          })
          return Stream.concat(teed, Stream.execute(Effect.zipRight(gathered.flush, commit)))
        })
      )

    const remove: LayerCache["remove"] = (digest) =>
      fs.remove(entry(digest), { force: true }).pipe(Effect.mapError(io(entry(digest), "cannot remove the entry")))

    return { path: dir, get, put, remove }
  })

/**
 * A layer read through the cache (ggcr's `cache` layers): its stored bytes from the entry of
 * its digest, its uncompressed tar from the entry of its diff id or by decompressing the
 * stored bytes; what is missing is read from `layer` and stored. Digests, sizes, media type
 * and descriptor are the layer's own, and so is any other property it carries.
 *
 * @since 0.1.0
 */
export const layer = <E>(inner: ImageLayer.ImageLayer<E>, cache: LayerCache): ImageLayer.ImageLayer<E | CacheError> => {
  const widened: ImageLayer.ImageLayer<E | CacheError> = inner
  const stored = (digest: Digest.Digest) =>
    Effect.flatMap(cache.get(digest), (hit) =>
      Option.isSome(hit)
        ? Effect.succeed<Stream.Stream<Uint8Array, E | CacheError>>(hit.value)
        : Effect.map(inner.size, (size) => cache.put(digest, inner.compressed, size))
    )
  const compressed = Stream.unwrap(Effect.flatMap(inner.digest, stored))
  const uncompressed = Stream.unwrap(
    Effect.gen(function* () {
      const diffId = yield* inner.diffId
      const plain = yield* cache.get(diffId)
      const source: Stream.Stream<Uint8Array, E | CacheError> = Option.isSome(plain)
        ? plain.value
        : Compression.decompressAuto(yield* stored(yield* inner.digest))
      return Digest.verifyStream(source, diffId, { subject: `layer ${diffId} (uncompressed)` })
    })
  )
  return { ...widened, compressed, uncompressed }
}

/**
 * An image whose layers (and blobs found by digest or diff id) are read through the cache
 * (ggcr's `cache.Image`). Manifest and config come from the image itself.
 *
 * @since 0.1.0
 */
export const image = <E>(inner: Image.Image<E>, cache: LayerCache): Image.Image<E | CacheError> => {
  const widened: Image.Image<E | CacheError> = inner
  const wrapped = new WeakMap<ImageLayer.ImageLayer<E>, ImageLayer.ImageLayer<E | CacheError>>()
  const wrap = (l: ImageLayer.ImageLayer<E>): ImageLayer.ImageLayer<E | CacheError> => {
    let found = wrapped.get(l)
    if (found === undefined) {
      found = layer(l, cache)
      wrapped.set(l, found)
    }
    return found
  }
  return {
    ...widened,
    layers: Effect.map(inner.layers, (layers) => layers.map(wrap)),
    layerByDigest: (digest) => Effect.map(inner.layerByDigest(digest), wrap),
    layerByDiffId: (diffId) => Effect.map(inner.layerByDiffId(diffId), wrap)
  }
}

/**
 * An index whose child images (and their children, down the tree) read their layers through
 * the cache (ggcr's `cache.ImageIndex`).
 *
 * @since 0.1.0
 */
export const index = <E>(inner: ImageIndex.ImageIndex<E>, cache: LayerCache): ImageIndex.ImageIndex<E | CacheError> => {
  const widened: ImageIndex.ImageIndex<E | CacheError> = inner
  const child = (c: ImageIndex.Child<E>): ImageIndex.Child<E | CacheError> => {
    switch (c._tag) {
      case "Image":
        return { ...c, image: image(c.image, cache) }
      case "Index":
        return { ...c, index: index(c.index, cache) }
      case "Other":
        return c
    }
  }
  return {
    ...widened,
    child: (digest) => Effect.map(inner.child(digest), child),
    image: (digest) => Effect.map(inner.image(digest), (i) => image(i, cache)),
    imageIndex: (digest) => Effect.map(inner.imageIndex(digest), (i) => index(i, cache))
  }
}
