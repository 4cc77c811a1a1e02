/**
 * A {@link BlobStore.BlobStore} in memory, for tests and short-lived registries. It keeps the
 * same promises as the filesystem store (verified, all-or-nothing writes; upload sessions with
 * offsets; ranged reads), holding each blob whole in memory.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Digest from "../domain/Digest.js"
import { DigestMismatch, SizeMismatch } from "../domain/Errors.js"
import * as BlobStore from "../services/BlobStore.js"
import * as Common from "./internal/storageCommon.js"
import * as KeyedLock from "./internal/storageLock.js"

interface Upload {
  readonly startedAt: number
  readonly chunks: ReadonlyArray<Uint8Array>
  readonly size: number
  // Hash of `chunks` so far, while it can be trusted; dropped when a chunk fails midway.
  readonly hasher: Digest.Hasher | undefined
}

/**
 * A new, empty in-memory blob store.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<BlobStore.BlobStore> = Effect.gen(function*() {
  const blobs = yield* Ref.make(HashMap.empty<Digest.Digest, Uint8Array>())
  const uploads = yield* Ref.make(HashMap.empty<BlobStore.UploadId, Upload>())
  const locks = yield* KeyedLock.make

  const statBlob = (digest: Digest.Digest) =>
    Effect.map(Ref.get(blobs), (map) =>
      Option.map(HashMap.get(map, digest), (bytes): BlobStore.BlobInfo => ({ digest, size: bytes.byteLength })))

  const stat: BlobStore.BlobStore["stat"] = (digest) => Effect.flatMap(Common.blobDigest(digest), statBlob)

  const get: BlobStore.BlobStore["get"] = (input, range) =>
    Effect.gen(function*() {
      const digest = yield* Common.blobDigest(input)
      const found = HashMap.get(yield* Ref.get(blobs), digest)
      if (Option.isNone(found)) return Option.none()
      const bytes = found.value
      const span = yield* Common.resolveRange(digest, bytes.byteLength, range)
      const content: BlobStore.BlobContent = {
        size: bytes.byteLength,
        offset: span.offset,
        length: span.length,
        stream: slices(bytes, span.offset, span.offset + span.length)
      }
      return Option.some(content)
    })

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
      const subject = want === undefined ? "blob" : `blob ${want.digest}`
      const hasher = Digest.hasher(want === undefined ? "sha256" : Digest.algorithm(want.digest))
      const chunks = yield* collect(stream, hasher, (size) =>
        want?.size !== undefined && size > want.size
          ? new SizeMismatch({ subject, expected: want.size, actual: size })
          : undefined)
      const size = hasher.size()
      if (want?.size !== undefined && size !== want.size) {
        return yield* new SizeMismatch({ subject, expected: want.size, actual: size })
      }
      const digest = hasher.digest()
      if (want !== undefined && digest !== want.digest) {
        return yield* new DigestMismatch({ subject, expected: want.digest, actual: digest })
      }
      yield* Ref.update(blobs, HashMap.set(digest, concat(chunks, size)))
      const info: BlobStore.BlobInfo = { digest, size }
      return info
    })

  const del: BlobStore.BlobStore["delete"] = (input) =>
    Effect.flatMap(Common.blobDigest(input), (digest) => Ref.update(blobs, HashMap.remove(digest)))

  const list: BlobStore.BlobStore["list"] = Stream.unwrap(
    Effect.map(Ref.get(blobs), (map) => Stream.fromIterable(Array.from(HashMap.keys(map)).sort(Common.compareStrings)))
  )

  const createUpload: BlobStore.BlobStore["createUpload"] = Effect.gen(function*() {
    const id = yield* Common.newUploadId
    const startedAt = yield* Clock.currentTimeMillis
    const upload: Upload = { startedAt, chunks: [], size: 0, hasher: Digest.hasher("sha256") }
    yield* Ref.update(uploads, HashMap.set(id, upload))
    return id
  })

  const current = (id: BlobStore.UploadId) =>
    Effect.flatMap(Ref.get(uploads), (map) =>
      Option.match(HashMap.get(map, id), {
        onNone: () => Effect.fail(Common.uploadUnknown(id)),
        onSome: Effect.succeed
      }))

  // Appends a chunk; the upload only changes once the whole chunk arrived. Callers hold the
  // upload's lock.
  const appendChunk = <E, R>(id: BlobStore.UploadId, upload: Upload, chunk: Stream.Stream<Uint8Array, E, R>) =>
    Effect.gen(function*() {
      let hasher = upload.hasher
      if (hasher !== undefined && hasher.size() !== upload.size) hasher = undefined
      const tracked = hasher
      const added = yield* collect(chunk, tracked).pipe(
        Effect.onError(() =>
          Ref.update(uploads, (map) =>
            HashMap.has(map, id) ? HashMap.set(map, id, { ...upload, hasher: undefined } satisfies Upload) : map)
        )
      )
      const size = upload.size + added.reduce((n, bytes) => n + bytes.byteLength, 0)
      const next: Upload = { ...upload, chunks: [...upload.chunks, ...added], size, hasher: tracked }
      yield* Ref.update(uploads, HashMap.set(id, next))
      return next
    })

  const appendUpload: BlobStore.BlobStore["appendUpload"] = (input, chunk, expectedOffset) =>
    Effect.gen(function*() {
      const id = yield* Common.uploadId(input)
      const offset = yield* Common.optionalSize(expectedOffset, "expected offset")
      return yield* locks.withLock(id)(
        Effect.gen(function*() {
          const upload = yield* current(id)
          if (offset !== undefined && offset !== upload.size) {
            return yield* Common.rangeMismatch(id, offset, upload.size)
          }
          return (yield* appendChunk(id, upload, chunk)).size
        })
      )
    })

  const uploadStatus: BlobStore.BlobStore["uploadStatus"] = (input) =>
    BlobStore.isUploadId(input)
      ? Effect.map(Ref.get(uploads), (map) =>
        Option.map(HashMap.get(map, input), (upload): BlobStore.UploadStatus => ({
          id: input,
          size: upload.size,
          startedAt: new Date(upload.startedAt)
        })))
      : Effect.succeed(Option.none())

  const commitUpload: BlobStore.BlobStore["commitUpload"] = (input, expected, finalChunk) =>
    Effect.gen(function*() {
      const digest = yield* Common.blobDigest(expected)
      const id = yield* Common.uploadId(input)
      return yield* locks.withLock(id)(
        Effect.gen(function*() {
          let upload = yield* current(id)
          if (finalChunk !== undefined) upload = yield* appendChunk(id, upload, finalChunk)
          const { hasher, size } = upload
          // A hasher finishes once, so the upload forgets it before it is used.
          const forgotten: Upload = { ...upload, hasher: undefined }
          yield* Ref.update(uploads, HashMap.set(id, forgotten))
          const actual = hasher !== undefined && hasher.size() === size && Digest.algorithm(digest) === "sha256"
            ? hasher.digest()
            : rehash(upload.chunks, Digest.algorithm(digest))
          if (actual !== digest) {
            return yield* new DigestMismatch({ subject: `upload ${id}`, expected: digest, actual })
          }
          yield* Ref.update(blobs, HashMap.set(digest, concat(upload.chunks, size)))
          yield* Ref.update(uploads, HashMap.remove(id))
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
          yield* current(id)
          yield* Ref.update(uploads, HashMap.remove(id))
        })
      )
    })

  const purgeUploads: BlobStore.BlobStore["purgeUploads"] = (olderThan) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const limit = Duration.toMillis(Duration.decode(olderThan))
      let purged = 0
      for (const id of HashMap.keys(yield* Ref.get(uploads))) {
        const removed = yield* locks.withLock(id)(
          Ref.modify(uploads, (map) =>
            Option.match(HashMap.get(map, id), {
              onNone: () => [false, map] as const,
              onSome: (upload) => now - upload.startedAt > limit ? [true, HashMap.remove(map, id)] as const : [false, map] as const
            }))
        )
        if (removed) purged++
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
 * A layer with a new, empty in-memory blob store.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<BlobStore.BlobStore> = Layer.effect(BlobStore.BlobStore, make)

// Runs a stream to its end, copying its chunks (the producer may reuse its buffers) and
// feeding `hasher`; `tooLong` may refuse a running total.
const collect = <E, R, E2 = never>(
  stream: Stream.Stream<Uint8Array, E, R>,
  hasher: Digest.Hasher | undefined,
  tooLong?: (size: number) => E2 | undefined
): Effect.Effect<Array<Uint8Array>, E | E2, R> =>
  Effect.suspend(() => {
    const out: Array<Uint8Array> = []
    let size = 0
    return Stream.runForEachChunk(stream, (chunk) =>
      Effect.suspend(() => {
        for (const bytes of chunk) {
          if (bytes.byteLength === 0) continue
          size += bytes.byteLength
          const refused = tooLong?.(size)
          if (refused !== undefined) return Effect.fail(refused)
          hasher?.update(bytes)
          out.push(bytes.slice())
        }
        return Effect.void
      })).pipe(Effect.as(out))
  })

const concat = (chunks: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  const out = new Uint8Array(size)
  let at = 0
  for (const bytes of chunks) {
    out.set(bytes, at)
    at += bytes.byteLength
  }
  return out
}

const rehash = (chunks: ReadonlyArray<Uint8Array>, alg: Digest.Algorithm): Digest.Digest => {
  const hasher = Digest.hasher(alg)
  for (const bytes of chunks) hasher.update(bytes)
  return hasher.digest()
}

// Copies of `bytes[start, end)` in chunks of the size the filesystem store reads.
const slices = (bytes: Uint8Array, start: number, end: number): Stream.Stream<Uint8Array> =>
  Stream.unfold(start, (at) =>
    at >= end
      ? Option.none()
      : Option.some([bytes.slice(at, Math.min(at + Common.readChunkSize, end)), at + Common.readChunkSize] as const))
