/**
 * A {@link BlobStore.BlobStore} on a local directory, through the platform `FileSystem`.
 *
 * Layout under the root:
 * ```
 * blobs/<algorithm>/<first two hex>/<hex>    committed blobs
 * uploads/<uuid>/data                        bytes of an upload session so far
 * uploads/<uuid>/startedat                   its start, milliseconds since the epoch
 * tmp/<millis>-<uuid>                        writes in progress
 * ```
 * Every path is built from a validated digest or upload id, never from other input. A blob is
 * written to `tmp`, hashed as it flows, synced and renamed into place, so it is either whole
 * or absent, and concurrent writers of the same blob rename identical files over each other.
 * Upload sessions live on disk: a new store over the same directory (after a restart) sees
 * them with their sizes. Hashing of an upload continues across chunks in memory; when that
 * state is gone (restart, failed chunk), the commit hashes the file instead.
 *
 * Writers of one upload are serialised within the process; two processes appending to the
 * same upload at once are not guarded against.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Digest from "../domain/Digest.js"
import { DigestMismatch, SizeMismatch } from "../domain/Errors.js"
import * as BlobStore from "../services/BlobStore.js"
import * as Common from "./internal/storageCommon.js"
import * as GatherWrites from "../services/internal/gatherWrites.js"
import * as MeasureFile from "../services/internal/measureFile.js"
import * as Fs from "./internal/storageFs.js"
import * as KeyedLock from "./internal/storageLock.js"

const algorithms: ReadonlyArray<Digest.Algorithm> = ["sha256", "sha512"]

/**
 * A blob store keeping its files under `root` (created when missing).
 *
 * @since 0.1.0
 */
export const make = (
  root: string
): Effect.Effect<BlobStore.BlobStore, BlobStore.BlobStoreError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const base = path.resolve(root)
    const blobsDir = path.join(base, "blobs")
    const uploadsDir = path.join(base, "uploads")
    const tmpDir = path.join(base, "tmp")
    yield* Effect.forEach([blobsDir, uploadsDir, tmpDir], (dir) => fs.makeDirectory(dir, { recursive: true }), {
      discard: true
    }).pipe(Effect.mapError(io(`cannot create the store directories under ${base}`)))

    const locks = yield* KeyedLock.make
    // In-process hashing state of upload sessions; a hasher is only trusted while its size
    // equals the size of the upload's file.
    const hashers = new Map<BlobStore.UploadId, Digest.Hasher>()

    const blobPath = (digest: Digest.Digest): string => {
      const hex = Digest.hex(digest)
      return path.join(blobsDir, Digest.algorithm(digest), hex.slice(0, 2), hex)
    }
    const uploadDir = (id: BlobStore.UploadId): string => path.join(uploadsDir, id)
    const dataPath = (id: BlobStore.UploadId): string => path.join(uploadsDir, id, "data")
    const startedPath = (id: BlobStore.UploadId): string => path.join(uploadsDir, id, "startedat")

    const statBlob = (digest: Digest.Digest) =>
      Fs.statOption(fs, blobPath(digest)).pipe(
        Effect.mapError(io("cannot stat", { digest })),
        Effect.map(Option.flatMap((info) =>
          info.type === "File" ? Option.some({ digest, size: Number(info.size) }) : Option.none()
        ))
      )

    const stat: BlobStore.BlobStore["stat"] = (digest) => Effect.flatMap(Common.blobDigest(digest), statBlob)

    const get: BlobStore.BlobStore["get"] = (input, range) =>
      Effect.gen(function*() {
        const digest = yield* Common.blobDigest(input)
        const found = yield* statBlob(digest)
        if (Option.isNone(found)) return Option.none()
        const { size } = found.value
        const span = yield* Common.resolveRange(digest, size, range)
        const stream: Stream.Stream<Uint8Array, BlobStore.BlobStoreError> = span.length === 0
          ? Stream.empty
          : exactly(Fs.readRange(blobPath(digest), span.offset, span.length, readError(digest)), span.length, digest)
        return Option.some({ size, offset: span.offset, length: span.length, stream })
      })

    // Writes `stream` to the new file `target`, hashing as it goes; fails as soon as the
    // bytes pass `limit`. The caller removes the file on failure.
    const writeStream = <E, R>(
      target: string,
      stream: Stream.Stream<Uint8Array, E, R>,
      hasher: Digest.Hasher,
      subject: string,
      limit: number | undefined
    ): Effect.Effect<void, E | BlobStore.BlobStoreError | SizeMismatch, R> =>
      Fs.withFile(fs, target, { flag: "wx" }, io(`cannot create ${target}`), (file) =>
        Effect.gen(function*() {
          yield* appendTo(file, stream, subject, hasher, (written) =>
            limit !== undefined && written > limit
              ? new SizeMismatch({ subject, expected: limit, actual: written })
              : undefined)
          yield* file.sync.pipe(Effect.mapError(io(`cannot sync ${target}`)))
        }))

    const put: BlobStore.BlobStore["put"] = (stream, expected) =>
      Effect.gen(function*() {
        const want = expected === undefined ? undefined : {
          digest: yield* Common.blobDigest(expected.digest),
          size: yield* Common.optionalSize(expected.size, "expected size")
        }
        if (want !== undefined) {
          const existing = yield* statBlob(want.digest)
          if (Option.isSome(existing) && (want.size === undefined || want.size === existing.value.size)) {
            return existing.value
          }
        }
        const tmp = path.join(tmpDir, yield* Fs.tempName)
        const subject = want === undefined ? "blob" : `blob ${want.digest}`
        return yield* Effect.gen(function*() {
          const hasher = Digest.hasher(want === undefined ? "sha256" : Digest.algorithm(want.digest))
          yield* writeStream(tmp, stream, hasher, subject, want?.size)
          const size = hasher.size()
          if (want?.size !== undefined && size !== want.size) {
            return yield* new SizeMismatch({ subject, expected: want.size, actual: size })
          }
          const digest = hasher.digest()
          if (want !== undefined && digest !== want.digest) {
            return yield* new DigestMismatch({ subject, expected: want.digest, actual: digest })
          }
          yield* moveInto(tmp, digest)
          const info: BlobStore.BlobInfo = { digest, size }
          return info
        }).pipe(Effect.onError(() => Effect.ignore(fs.remove(tmp, { force: true }))))
      })

    const moveInto = (file: string, digest: Digest.Digest) => {
      const target = blobPath(digest)
      return fs.makeDirectory(path.dirname(target), { recursive: true }).pipe(
        Effect.zipRight(fs.rename(file, target)),
        Effect.mapError(io("cannot move the blob into place", { digest }))
      )
    }

    const del: BlobStore.BlobStore["delete"] = (input) =>
      Effect.flatMap(Common.blobDigest(input), (digest) =>
        fs.remove(blobPath(digest), { force: true }).pipe(Effect.mapError(io("cannot delete", { digest }))))

    const listDir = (dir: string) => Fs.readDirectorySorted(fs, dir).pipe(Effect.mapError(io(`cannot list ${dir}`)))

    const list: BlobStore.BlobStore["list"] = Stream.fromIterable(algorithms).pipe(
      Stream.mapEffect((alg) =>
        Effect.map(listDir(path.join(blobsDir, alg)), (prefixes) => prefixes.map((prefix) => ({ alg, prefix })))
      ),
      Stream.flattenIterables,
      Stream.mapEffect(({ alg, prefix }) =>
        Effect.map(listDir(path.join(blobsDir, alg, prefix)), (names) =>
          names.flatMap((name) => {
            const digest = Digest.make(alg, name)
            return Either.isRight(digest) && name.startsWith(prefix) ? [digest.right] : []
          }))
      ),
      Stream.flattenIterables
    )

    // ---- upload sessions

    const createUpload: BlobStore.BlobStore["createUpload"] = Effect.gen(function*() {
      const id = yield* Common.newUploadId
      const now = yield* Clock.currentTimeMillis
      const staging = path.join(tmpDir, yield* Fs.tempName)
      yield* Effect.gen(function*() {
        yield* fs.makeDirectory(staging)
        yield* Fs.writeNewFile(fs, path.join(staging, "startedat"), new TextEncoder().encode(String(now)))
        yield* Fs.writeNewFile(fs, path.join(staging, "data"), new Uint8Array(0))
        yield* fs.rename(staging, uploadDir(id))
      }).pipe(
        Effect.onError(() => Effect.ignore(fs.remove(staging, { recursive: true, force: true }))),
        Effect.mapError(io("cannot create the upload", { uploadId: id }))
      )
      return id
    })

    const uploadSize = (id: BlobStore.UploadId) =>
      Fs.statOption(fs, dataPath(id)).pipe(
        Effect.mapError(io("cannot stat", { uploadId: id })),
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(Common.uploadUnknown(id)),
          onSome: (info) => Effect.succeed(Number(info.size))
        }))
      )

    // Appends a chunk to an upload of `size` bytes; on failure the file is cut back to
    // `size` and the in-memory hash is dropped. Callers hold the upload's lock.
    const appendChunk = <E, R>(id: BlobStore.UploadId, size: number, chunk: Stream.Stream<Uint8Array, E, R>) =>
      Effect.gen(function*() {
        let hasher = hashers.get(id)
        if (hasher !== undefined && hasher.size() !== size) {
          hashers.delete(id)
          hasher = undefined
        }
        if (hasher === undefined && size === 0) {
          hasher = Digest.hasher("sha256")
          hashers.set(id, hasher)
        }
        const file = dataPath(id)
        const written = yield* Fs.withFile(fs, file, { flag: "a" }, io("cannot open", { uploadId: id }), (handle) =>
          Effect.gen(function*() {
            const n = yield* appendTo(handle, chunk, `upload ${id}`, hasher)
            yield* handle.sync.pipe(Effect.mapError(io("cannot sync", { uploadId: id })))
            return n
          })).pipe(
          Effect.onError(() =>
            Effect.sync(() => hashers.delete(id)).pipe(Effect.zipRight(Effect.ignore(fs.truncate(file, size))))
          )
        )
        return size + written
      })

    const appendUpload: BlobStore.BlobStore["appendUpload"] = (input, chunk, expectedOffset) =>
      Effect.gen(function*() {
        const id = yield* Common.uploadId(input)
        const offset = yield* Common.optionalSize(expectedOffset, "expected offset")
        return yield* locks.withLock(id)(
          Effect.gen(function*() {
            const size = yield* uploadSize(id)
            if (offset !== undefined && offset !== size) return yield* Common.rangeMismatch(id, offset, size)
            return yield* appendChunk(id, size, chunk)
          })
        )
      })

    const readStartedAt = (id: BlobStore.UploadId, info: FileSystem.File.Info) =>
      Fs.readFileOption(fs, startedPath(id)).pipe(
        Effect.mapError(io("cannot read the start time", { uploadId: id })),
        Effect.map((bytes) => {
          const millis = Option.flatMap(bytes, (b) => {
            const n = Number(new TextDecoder().decode(b).trim())
            return Number.isSafeInteger(n) ? Option.some(n) : Option.none()
          })
          return new Date(Option.getOrElse(millis, () => Option.getOrElse(Option.map(info.mtime, (d) => d.getTime()), () => 0)))
        })
      )

    const statusOf = (id: BlobStore.UploadId) =>
      Effect.gen(function*() {
        const info = yield* Fs.statOption(fs, dataPath(id)).pipe(Effect.mapError(io("cannot stat", { uploadId: id })))
        if (Option.isNone(info)) return Option.none()
        const startedAt = yield* readStartedAt(id, info.value)
        const status: BlobStore.UploadStatus = { id, size: Number(info.value.size), startedAt }
        return Option.some(status)
      })

    const uploadStatus: BlobStore.BlobStore["uploadStatus"] = (input) =>
      BlobStore.isUploadId(input) ? statusOf(input) : Effect.succeed(Option.none())

    const commitUpload: BlobStore.BlobStore["commitUpload"] = (input, expected, finalChunk) =>
      Effect.gen(function*() {
        const digest = yield* Common.blobDigest(expected)
        const id = yield* Common.uploadId(input)
        return yield* locks.withLock(id)(
          Effect.gen(function*() {
            let size = yield* uploadSize(id)
            if (finalChunk !== undefined) size = yield* appendChunk(id, size, finalChunk)
            const hasher = hashers.get(id)
            hashers.delete(id)
            const actual = hasher !== undefined && hasher.size() === size && Digest.algorithm(digest) === "sha256"
              ? hasher.digest()
              : (yield* MeasureFile.measureFile(fs, dataPath(id), Digest.algorithm(digest)).pipe(
                Effect.mapError(io("cannot read", { uploadId: id }))
              )).digest
            if (actual !== digest) {
              return yield* new DigestMismatch({ subject: `upload ${id}`, expected: digest, actual })
            }
            yield* moveInto(dataPath(id), digest)
            yield* Effect.ignore(fs.remove(uploadDir(id), { recursive: true, force: true }))
            const info: BlobStore.BlobInfo = { digest, size }
            return info
          })
        )
      })

    const cancelUpload: BlobStore.BlobStore["cancelUpload"] = (input) =>
      Effect.gen(function*() {
        const id = yield* Common.uploadId(input)
        yield* locks.withLock(id)(
          Effect.gen(function*() {
            hashers.delete(id)
            const removed = yield* Fs.removeExisting(fs, uploadDir(id)).pipe(
              Effect.mapError(io("cannot remove", { uploadId: id }))
            )
            if (!removed) return yield* Common.uploadUnknown(id)
          })
        )
      })

    const purgeUploads: BlobStore.BlobStore["purgeUploads"] = (olderThan) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const limit = Duration.toMillis(Duration.decode(olderThan))
        const stale = (millis: number) => now - millis > limit
        let purged = 0
        for (const name of yield* listDir(uploadsDir)) {
          if (!BlobStore.isUploadId(name)) continue
          const id = name
          yield* locks.withLock(id)(
            Effect.gen(function*() {
              const status = yield* statusOf(id)
              if (Option.isSome(status) && !stale(status.value.startedAt.getTime())) return
              hashers.delete(id)
              yield* fs.remove(uploadDir(id), { recursive: true, force: true }).pipe(
                Effect.mapError(io("cannot remove", { uploadId: id }))
              )
              purged++
            })
          )
        }
        for (const name of yield* listDir(tmpDir)) {
          const millis = Fs.tempNameMillis(name)
          if (Option.isSome(millis) && stale(millis.value)) {
            yield* fs.remove(path.join(tmpDir, name), { recursive: true, force: true }).pipe(
              Effect.mapError(io(`cannot remove ${name}`))
            )
          }
        }
        return purged
      })

    return BlobStore.make({
      stat,
      get,
      put,
      delete: del,
      list,
      createUpload,
      appendUpload,
      uploadStatus,
      commitUpload,
      cancelUpload,
      purgeUploads
    })
  })

/**
 * The {@link make} store as a layer.
 *
 * @since 0.1.0
 */
export const layer = (
  root: string
): Layer.Layer<BlobStore.BlobStore, BlobStore.BlobStoreError, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(BlobStore.BlobStore, make(root))

// A read of a committed blob that failed: gone (deleted meanwhile) or an I/O error.
const readError = (digest: Digest.Digest) => (cause: unknown): BlobStore.BlobStoreError =>
  Fs.isNotFoundCause(cause)
    ? new BlobStore.BlobStoreError({ reason: "NotFound", detail: "the blob was deleted", digest, cause })
    : new BlobStore.BlobStoreError({
      reason: "Io",
      detail: `cannot read: ${cause instanceof Error ? cause.message : String(cause)}`,
      digest,
      cause
    })

const io = (detail: string, facts: { readonly digest?: string; readonly uploadId?: string } = {}) =>
(cause: PlatformError): BlobStore.BlobStoreError =>
  new BlobStore.BlobStoreError({ reason: "Io", detail: `${detail}: ${cause.message}`, ...facts, cause })

// Writes every chunk of `stream` to `file` in gathered 1 MiB writes (request bodies arrive in
// 16-64 KiB pieces), feeding `hasher`; `tooLong` may refuse a running total with an error.
const appendTo = <E, R, E2 = never>(
  file: FileSystem.File,
  stream: Stream.Stream<Uint8Array, E, R>,
  subject: string,
  hasher: Digest.Hasher | undefined,
  tooLong?: (written: number) => E2 | undefined
): Effect.Effect<number, E | E2 | BlobStore.BlobStoreError, R> =>
  GatherWrites.writeStream(file, stream, { onError: io(`cannot write ${subject}`), hasher, tooLong })

// Fails a read stream that ends before the `length` bytes its blob's size promised.
const exactly = (
  stream: Stream.Stream<Uint8Array, BlobStore.BlobStoreError>,
  length: number,
  digest: Digest.Digest
): Stream.Stream<Uint8Array, BlobStore.BlobStoreError> =>
  Stream.suspend(() => {
    let seen = 0
    return stream.pipe(
      Stream.mapChunks((chunk) => {
        for (const bytes of chunk) seen += bytes.byteLength
        return chunk
      }),
      Stream.concat(
        Stream.execute(Effect.suspend(() =>
          seen === length ? Effect.void : Effect.fail(
            new BlobStore.BlobStoreError({
              reason: "Io",
              detail: `the stored blob ended after ${seen} of ${length} bytes`,
              digest
            })
          )
        ))
      )
    )
  })
