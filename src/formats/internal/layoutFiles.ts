/**
 * The files of an OCI image layout, through the platform `FileSystem` and `Path` services:
 * `oci-layout`, `index.json` and `blobs/<algorithm>/<hex>`. Blobs are read as verified streams
 * and written through a temporary file in their own directory, hashed while they flow (unless
 * the stream checks the same digest itself) and renamed into place only when their digest
 * (and size) hold, so a blob is whole or absent.
 * `index.json` is replaced atomically, and its read-modify-write updates are serialised within
 * the process.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import * as Digest from "../../domain/Digest.js"
import type { InvalidDocument, SizeMismatch } from "../../domain/Errors.js"
import * as IndexManifest from "../../domain/IndexManifest.js"
import * as MediaType from "../../domain/MediaType.js"
import * as Partial from "../../domain/Partial.js"
import * as GatherWrites from "../../services/internal/gatherWrites.js"
import { io, LayoutError } from "./layoutError.js"

/** The file naming the layout version. @internal */
export const layoutFile = "oci-layout"
/** The top-level index. @internal */
export const indexFile = "index.json"
/** The directory of blobs. @internal */
export const blobsDir = "blobs"
/** The only layout version there is. @internal */
export const layoutVersion = "1.0.0"

const layoutFileBytes = new TextEncoder().encode(`{"imageLayoutVersion":"${layoutVersion}"}`)

/** The bytes of an empty `index.json`. @internal */
export const emptyIndexBytes: Uint8Array = IndexManifest.encode(IndexManifest.make([]))

/** Chunk size of blob reads. */
const readChunkSize = FileSystem.MiB(1)

/** Chunks of a blob read ahead of its consumer. */
const readAhead = 2

/** The services and directory an operation works with. @internal */
export interface Ctx {
  readonly fs: FileSystem.FileSystem
  readonly path: Path.Path
  readonly dir: string
}

/** @internal */
export const context = (dir: string): Effect.Effect<Ctx, never, FileSystem.FileSystem | Path.Path> =>
  Effect.map(Effect.all([FileSystem.FileSystem, Path.Path]), ([fs, path]) => ({ fs, path, dir }))

/** A path inside the layout. @internal */
export const inLayout = (ctx: Ctx, ...segments: ReadonlyArray<string>): string => ctx.path.join(ctx.dir, ...segments)

/** Where a blob lives. @internal */
export const blobPath = (ctx: Ctx, digest: Digest.Digest): string =>
  inLayout(ctx, blobsDir, Digest.algorithm(digest), Digest.hex(digest))

/** @internal */
export const isNotFound = (error: PlatformError): boolean => error._tag === "SystemError" && error.reason === "NotFound"

/**
 * Checks that a string is a valid digest before it becomes part of a path, so that nothing
 * but `blobs/<algorithm>/<hex>` can ever be read or written.
 *
 * @internal
 */
export const checkDigest = (ctx: Ctx, digest: string): Effect.Effect<Digest.Digest, LayoutError> =>
  Either.match(Digest.parse(digest), {
    onLeft: (e) =>
      Effect.fail(
        new LayoutError({
          reason: "UnsafePath",
          path: inLayout(ctx, blobsDir),
          detail: `refusing a blob name that is not a digest: ${e.message}`,
          digest
        })
      ),
    onRight: Effect.succeed
  })

const unsafe = (path: string, digest: string, detail: string) =>
  Effect.fail(new LayoutError({ reason: "UnsafePath", path, detail, digest }))

const notFound = (path: string, digest: string) =>
  new LayoutError({ reason: "BlobNotFound", path, detail: "the layout does not hold this blob", digest })

/**
 * The size of a blob when the layout holds it as a regular file; `None` when absent. A
 * symbolic link or anything but a regular file fails with `UnsafePath`, as ggcr refuses them.
 *
 * @internal
 */
export const statBlob = (ctx: Ctx, digest: Digest.Digest): Effect.Effect<Option.Option<number>, LayoutError> =>
  Effect.gen(function* () {
    const file = blobPath(ctx, digest)
    const link = yield* Effect.either(ctx.fs.readLink(file))
    if (Either.isRight(link)) return yield* unsafe(file, digest, `the blob is a symbolic link (to ${link.right})`)
    if (isNotFound(link.left)) return Option.none()
    const info = yield* ctx.fs.stat(file).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<FileSystem.File.Info>())),
      Effect.mapError(io(file, "cannot stat the blob", digest))
    )
    if (Option.isNone(info)) return Option.none()
    if (info.value.type !== "File") return yield* unsafe(file, digest, `the blob is not a regular file (${info.value.type})`)
    return Option.some(Number(info.value.size))
  })

/**
 * The bytes of a blob, checked as they stream: they must hash to the blob's name and, when
 * `size` is given, be that long. A mismatch fails at the end (or as soon as the bytes run
 * long) with `DigestMismatch` / `SizeMismatch`; a missing blob with `BlobNotFound`.
 *
 * @internal
 */
export const readBlob = (ctx: Ctx, digest: Digest.Digest, size?: number): Stream.Stream<Uint8Array, LayoutError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const file = blobPath(ctx, digest)
      const found = yield* statBlob(ctx, digest)
      if (Option.isNone(found)) return yield* Effect.fail(notFound(file, digest))
      if (size !== undefined && found.value !== size) {
        return yield* Effect.fail(sizeMismatch(file, digest, size, found.value))
      }
      // Two chunks are read ahead (the platform's stream buffers 16 unless told), so that the
      // file is read while the consumer (an upload) sends the previous one, and no more: four
      // layers pushed at once would otherwise hold up to 64 MiB read ahead.
      const bytes = ctx.fs
        .stream(file, { chunkSize: readChunkSize, bufferSize: readAhead })
        .pipe(
          Stream.mapError((e) => (isNotFound(e) ? notFound(file, digest) : io(file, "cannot read the blob", digest)(e)))
        )
      return Digest.verifyStream(bytes, digest, { size, subject: file }).pipe(
        Stream.mapError((e): LayoutError => {
          switch (e._tag) {
            case "DigestMismatch":
              return new LayoutError({
                reason: "DigestMismatch",
                path: file,
                detail: `the bytes hash to ${e.actual}`,
                digest,
                actual: e.actual
              })
            case "SizeMismatch":
              return sizeMismatch(file, digest, e.expected, e.actual)
            default:
              return e
          }
        })
      )
    })
  )

const sizeMismatch = (path: string, digest: string, expected: number, actual: number) =>
  new LayoutError({
    reason: "SizeMismatch",
    path,
    detail: `expected ${expected} bytes, found ${actual}`,
    digest,
    actual: String(actual)
  })

/**
 * A small blob (a manifest, an index, a config) read whole and verified, refusing more than
 * {@link Partial.maxDocumentSize} bytes.
 *
 * @internal
 */
export const readDocument = (
  ctx: Ctx,
  digest: Digest.Digest,
  size?: number
): Effect.Effect<Uint8Array, LayoutError | SizeMismatch> =>
  Partial.collectBytes(readBlob(ctx, digest, size), `blob ${digest}`)

/** Removes a blob file if there is one. @internal */
export const removeBlobFile = (ctx: Ctx, digest: Digest.Digest): Effect.Effect<void, LayoutError> =>
  Effect.suspend(() => {
    const file = blobPath(ctx, digest)
    return ctx.fs.remove(file, { force: true }).pipe(Effect.mapError(io(file, "cannot remove the blob", digest)))
  })

/**
 * What writing a blob did.
 *
 * @since 0.1.0
 */
export interface Written {
  readonly digest: Digest.Digest
  readonly size: number
  /** False when the layout already held the blob and nothing was written. */
  readonly written: boolean
}

/**
 * Writes a blob unless the layout holds it already (with the right size, when `size` is
 * given). The bytes go to a temporary file next to the blob, are hashed as they flow, and the
 * file is renamed to the blob's name only when digest and size hold; on any failure or
 * interruption the temporary file is removed. A stream that verifies itself against the same
 * digest ({@link Digest.verification}, as every blob of a pulled image does) is not hashed a
 * second time: it fails before its end when its bytes are wrong, and the temporary file goes
 * with the failure. Its length is still checked here.
 *
 * @internal
 */
export const writeBlob = <E, R>(
  ctx: Ctx,
  digest: string,
  stream: Stream.Stream<Uint8Array, E, R>,
  size?: number
): Effect.Effect<Written, E | LayoutError, R> =>
  Effect.gen(function* () {
    const valid = yield* checkDigest(ctx, digest)
    const target = blobPath(ctx, valid)
    const dir = ctx.path.dirname(target)
    yield* ctx.fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(io(dir, "cannot create the blob directory")))
    const existing = yield* statBlob(ctx, valid)
    if (Option.isSome(existing) && (size === undefined || existing.value === size)) {
      const skipped: Written = { digest: valid, size: existing.value, written: false }
      return skipped
    }
    const tmp = ctx.path.join(dir, `.tmp-${Digest.hex(valid)}-${randomUUID()}`)
    const selfChecked = Option.exists(Digest.verification(stream), (v) => v.digest === valid)
    const hasher = selfChecked ? undefined : Digest.hasher(Digest.algorithm(valid))
    return yield* Effect.gen(function* () {
      const length = yield* withNewFile(ctx.fs, tmp, (file) => pump(file, tmp, target, valid, stream, hasher, size))
      if (size !== undefined && length !== size) {
        return yield* Effect.fail(sizeMismatch(target, valid, size, length))
      }
      const actual = hasher === undefined ? valid : hasher.digest()
      if (actual !== valid) {
        return yield* Effect.fail(
          new LayoutError({
            reason: "DigestMismatch",
            path: target,
            detail: `the bytes written hash to ${actual}; nothing was kept`,
            digest: valid,
            actual
          })
        )
      }
      yield* ctx.fs.rename(tmp, target).pipe(Effect.mapError(io(target, "cannot move the blob into place", valid)))
      const written: Written = { digest: valid, size: length, written: true }
      return written
    }).pipe(Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.ignore(ctx.fs.remove(tmp, { force: true })))))
  })

// Opens a new file for the duration of `use`, leaving any `Scope` the caller's stream needs to
// the caller.
const withNewFile = <A, E, R>(
  fs: FileSystem.FileSystem,
  path: string,
  use: (file: FileSystem.File) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | LayoutError, R> =>
  Effect.acquireUseRelease(
    Scope.make(),
    (scope) =>
      Effect.flatMap(
        Scope.extend(Effect.mapError(fs.open(path, { flag: "wx" }), io(path, "cannot create the file")), scope),
        use
      ),
    (scope, exit) => Scope.close(scope, exit)
  )

// Writes `stream` to `file` in gathered 1 MiB writes, feeding `hasher` when there is one (a
// stream that verifies itself needs none), failing as soon as the bytes pass `size`. The
// transport keeps reading the socket while a write is under way (its reader queues).
const pump = <E, R>(
  file: FileSystem.File,
  tmp: string,
  target: string,
  digest: Digest.Digest,
  stream: Stream.Stream<Uint8Array, E, R>,
  hasher: Digest.Hasher | undefined,
  size: number | undefined
): Effect.Effect<number, E | LayoutError, R> =>
  GatherWrites.writeStream(file, stream, {
    onError: io(tmp, "cannot write the blob", digest),
    hasher,
    tooLong: (written) => (size !== undefined && written > size ? sizeMismatch(target, digest, size, written) : undefined)
  })

/**
 * Replaces `target` with `bytes` atomically (a temporary file in the same directory, then a
 * rename): readers see the old content or the new, never a part.
 *
 * @internal
 */
export const writeFileAtomic = (ctx: Ctx, target: string, bytes: Uint8Array): Effect.Effect<void, LayoutError> =>
  Effect.suspend(() => {
    const tmp = ctx.path.join(ctx.path.dirname(target), `.tmp-${ctx.path.basename(target)}-${randomUUID()}`)
    return ctx.fs.writeFile(tmp, bytes, { flag: "wx" }).pipe(
      Effect.zipRight(ctx.fs.rename(tmp, target)),
      Effect.mapError(io(target, "cannot write the file")),
      Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.ignore(ctx.fs.remove(tmp, { force: true }))))
    )
  })

/**
 * Whether the directory has an `oci-layout` file; fails with `NotALayout` when it has one that
 * does not say `imageLayoutVersion` 1.0.0.
 *
 * @internal
 */
export const hasLayoutFile = (ctx: Ctx): Effect.Effect<boolean, LayoutError> =>
  Effect.gen(function* () {
    const file = inLayout(ctx, layoutFile)
    const bytes = yield* ctx.fs.readFile(file).pipe(
      Effect.map(Option.some),
      Effect.catchIf(isNotFound, () => Effect.succeed(Option.none<Uint8Array>())),
      Effect.mapError(io(file, "cannot read the layout file"))
    )
    if (Option.isNone(bytes)) return false
    const notALayout = (detail: string) => new LayoutError({ reason: "NotALayout", path: file, detail })
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(new TextDecoder().decode(bytes.value)),
      catch: () => notALayout("the oci-layout file is not JSON")
    })
    const version = typeof json === "object" && json !== null ? (json as { imageLayoutVersion?: unknown }).imageLayoutVersion : undefined
    if (version !== layoutVersion) {
      return yield* Effect.fail(
        notALayout(`unsupported imageLayoutVersion ${JSON.stringify(version)} (expected "${layoutVersion}")`)
      )
    }
    return true
  })

/**
 * Fails with `NotALayout` unless the directory has a valid `oci-layout` file.
 *
 * @internal
 */
export const requireLayout = (ctx: Ctx): Effect.Effect<void, LayoutError> =>
  Effect.flatMap(hasLayoutFile(ctx), (present) =>
    present
      ? Effect.void
      : Effect.fail(
          new LayoutError({
            reason: "NotALayout",
            path: ctx.dir,
            detail: `no ${layoutFile} file: not an OCI image layout`
          })
        )
  )

/**
 * The exact bytes of `index.json`; `NotALayout` when there is none.
 *
 * @internal
 */
export const readIndexBytes = (ctx: Ctx): Effect.Effect<Uint8Array, LayoutError | SizeMismatch> =>
  Effect.suspend(() => {
    const file = inLayout(ctx, indexFile)
    return Partial.collectBytes(
      ctx.fs
        .stream(file)
        .pipe(
          Stream.mapError((e) =>
            isNotFound(e)
              ? new LayoutError({ reason: "NotALayout", path: file, detail: `no ${indexFile}: not an OCI image layout` })
              : io(file, `cannot read ${indexFile}`)(e)
          )
        ),
      file
    )
  })

/** Decodes `index.json` (an OCI index, usually without a `mediaType`). @internal */
export const decodeIndex = (bytes: Uint8Array) => IndexManifest.decode(bytes, { mediaType: MediaType.OCI_INDEX })

/** Writes the `oci-layout` file and `blobs/` unless present. @internal */
export const ensureLayoutFile = (ctx: Ctx): Effect.Effect<void, LayoutError> =>
  Effect.gen(function* () {
    const blobs = inLayout(ctx, blobsDir)
    yield* ctx.fs.makeDirectory(blobs, { recursive: true }).pipe(Effect.mapError(io(blobs, "cannot create the layout")))
    if (!(yield* hasLayoutFile(ctx))) yield* writeFileAtomic(ctx, inLayout(ctx, layoutFile), layoutFileBytes)
  })

/**
 * Makes the directory a layout: writes `oci-layout` and `blobs/`, and an empty `index.json`,
 * replacing any there is when `fresh`, else only when there is none.
 *
 * @internal
 */
export const initialise = (ctx: Ctx, fresh: boolean): Effect.Effect<void, LayoutError> =>
  Effect.gen(function* () {
    yield* ensureLayoutFile(ctx)
    const index = inLayout(ctx, indexFile)
    yield* withIndexLock(
      ctx,
      Effect.gen(function* () {
        const exists = yield* ctx.fs.exists(index).pipe(Effect.mapError(io(index, `cannot stat ${indexFile}`)))
        if (fresh || !exists) yield* writeFileAtomic(ctx, index, emptyIndexBytes)
      })
    )
  })

/**
 * Rewrites `index.json` through `f`, atomically and serialised with every other update of the
 * same layout in this process. Returns the new index.
 *
 * @internal
 */
export const updateIndex = (
  ctx: Ctx,
  f: (index: IndexManifest.IndexManifest) => IndexManifest.IndexManifest
): Effect.Effect<IndexManifest.IndexManifest, LayoutError | InvalidDocument | SizeMismatch> =>
  withIndexLock(
    ctx,
    Effect.gen(function* () {
      const raw = yield* decodeIndex(yield* readIndexBytes(ctx))
      const next = f(raw.value)
      yield* writeFileAtomic(ctx, inLayout(ctx, indexFile), IndexManifest.encode(next))
      return next
    })
  )

// One semaphore per layout directory (by absolute path) while anyone holds or waits for it.
const locks = new Map<string, { readonly semaphore: Effect.Semaphore; users: number }>()

/**
 * Runs `self` holding the process-wide lock of the layout's `index.json`. Writers in other
 * processes are not guarded against (neither are they in ggcr).
 *
 * @internal
 */
export const withIndexLock = <A, E, R>(ctx: Ctx, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const key = ctx.path.resolve(ctx.dir)
    return Effect.acquireUseRelease(
      Effect.sync(() => {
        let entry = locks.get(key)
        if (entry === undefined) {
          entry = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 }
          locks.set(key, entry)
        }
        entry.users++
        return entry
      }),
      (entry) => entry.semaphore.withPermits(1)(self),
      (entry) =>
        Effect.sync(() => {
          entry.users--
          if (entry.users === 0 && locks.get(key) === entry) locks.delete(key)
        })
    )
  })
