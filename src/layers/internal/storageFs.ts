/**
 * File system helpers of the filesystem stores: absent paths as `Option`/empty results,
 * temporary names that carry their creation time, atomic small-file writes (a temporary
 * file in the store's own `tmp` directory, synced, then renamed into place), and the large
 * reads and gathered writes that blob bodies go through.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { randomUUID } from "node:crypto"
import { createReadStream } from "node:fs"
import { compareStrings } from "./storageCommon.js"
import * as GatherWrites from "../../services/internal/gatherWrites.js"
import * as ReadableBody from "../../services/internal/readableBody.js"

/** @internal */
export const isNotFound = (error: PlatformError): boolean =>
  error._tag === "SystemError" && error.reason === "NotFound"

/** `stat`, with `None` for a path that does not exist. @internal */
export const statOption = (
  fs: FileSystem.FileSystem,
  path: string
): Effect.Effect<Option.Option<FileSystem.File.Info>, PlatformError> =>
  fs.stat(path).pipe(
    Effect.map(Option.some),
    Effect.catchIf(isNotFound, () => Effect.succeed(Option.none()))
  )

/** True when a path exists. @internal */
export const exists = (fs: FileSystem.FileSystem, path: string): Effect.Effect<boolean, PlatformError> =>
  Effect.map(statOption(fs, path), Option.isSome)

/** `readFile`, with `None` for a file that does not exist. @internal */
export const readFileOption = (
  fs: FileSystem.FileSystem,
  path: string
): Effect.Effect<Option.Option<Uint8Array>, PlatformError> =>
  fs.readFile(path).pipe(
    Effect.map(Option.some),
    Effect.catchIf(isNotFound, () => Effect.succeed(Option.none()))
  )

/** The sorted names in a directory, none when it does not exist. @internal */
export const readDirectorySorted = (
  fs: FileSystem.FileSystem,
  path: string
): Effect.Effect<Array<string>, PlatformError> =>
  fs.readDirectory(path).pipe(
    Effect.map((names) => names.sort(compareStrings)),
    Effect.catchIf(isNotFound, () => Effect.succeed([]))
  )

/** Removes a file or directory tree; true when something was there. @internal */
export const removeExisting = (fs: FileSystem.FileSystem, path: string): Effect.Effect<boolean, PlatformError> =>
  fs.remove(path, { recursive: true }).pipe(
    Effect.as(true),
    Effect.catchIf(isNotFound, () => Effect.succeed(false))
  )

/**
 * A fresh temporary name, `<millis>-<uuid>`: the creation time (from the `Clock`) lets a
 * purge find leftovers without trusting file times.
 *
 * @internal
 */
export const tempName: Effect.Effect<string> = Effect.map(
  Clock.currentTimeMillis,
  (millis) => `${millis}-${randomUUID()}`
)

/** The creation time a {@link tempName} carries, if it is one. @internal */
export const tempNameMillis = (name: string): Option.Option<number> => {
  const match = /^(\d{1,15})-[0-9a-f-]{36}$/.exec(name)
  return match === null || match[1] === undefined ? Option.none() : Option.some(Number(match[1]))
}

/**
 * Opens a file for the duration of `use`. Unlike `Effect.scoped`, this leaves any `Scope`
 * that `use` itself needs (a caller's stream, say) to the caller. Open failures go through
 * `onOpenError`, so they cannot be confused with the failures of `use`.
 *
 * @internal
 */
export const withFile = <A, E, R, E2>(
  fs: FileSystem.FileSystem,
  path: string,
  options: FileSystem.OpenFileOptions,
  onOpenError: (error: PlatformError) => E2,
  use: (file: FileSystem.File) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | E2, R> =>
  Effect.acquireUseRelease(
    Scope.make(),
    (scope) => Effect.flatMap(Scope.extend(Effect.mapError(fs.open(path, options), onOpenError), scope), use),
    (scope, exit) => Scope.close(scope, exit)
  )

/** Writes bytes to a new file and syncs it. @internal */
export const writeNewFile = (
  fs: FileSystem.FileSystem,
  path: string,
  bytes: Uint8Array
): Effect.Effect<void, PlatformError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const file = yield* fs.open(path, { flag: "wx" })
      if (bytes.byteLength > 0) yield* file.writeAll(bytes)
      yield* file.sync
    })
  )

/**
 * Replaces `target` with `bytes` atomically: readers see the old content or the new one,
 * never a part. The temporary file lives in `tmpDir`, on the same file system as `target`.
 *
 * @internal
 */
export const writeFileAtomic = (
  fs: FileSystem.FileSystem,
  path: Path.Path,
  tmpDir: string,
  target: string,
  bytes: Uint8Array
): Effect.Effect<void, PlatformError> =>
  Effect.gen(function*() {
    const tmp = path.join(tmpDir, yield* tempName)
    yield* Effect.gen(function*() {
      yield* writeNewFile(fs, tmp, bytes)
      yield* fs.makeDirectory(path.dirname(target), { recursive: true })
      yield* fs.rename(tmp, target)
    }).pipe(Effect.onError(() => Effect.ignore(fs.remove(tmp, { force: true }))))
  })

/**
 * How many bytes a blob read asks the file for at once, and how many a gathered write hands
 * to the file (1 MiB).
 *
 * @internal
 */
export const ioSize = GatherWrites.ioSize

/** True for a `NotFound` failure of a Node file call (`ENOENT`). @internal */
export const isNotFoundCause = (cause: unknown): boolean =>
  typeof cause === "object" && cause !== null && (cause as { readonly code?: unknown }).code === "ENOENT"

/**
 * `length` bytes of a file from `offset`, read {@link ioSize} bytes at a time by Node's file
 * stream and handed on as read, never copied (`services/internal/readableBody.ts`). The file
 * is opened when the stream runs and closed when it ends or is interrupted. A file shorter
 * than promised just ends early; callers check the length.
 *
 * @internal
 */
export const readRange = <E>(
  path: string,
  offset: number,
  length: number,
  onError: (cause: unknown) => E
): Stream.Stream<Uint8Array, E> =>
  length === 0 ? Stream.empty : Stream.suspend(() =>
    ReadableBody.stream(
      createReadStream(path, { start: offset, end: offset + length - 1, highWaterMark: ioSize }),
      onError
    )
  )
