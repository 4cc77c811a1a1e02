/**
 * A byte stream written to a file that appears whole or not at all: the bytes go to
 * `<path>.tmp-<random>` through gathered 1 MiB writes and the file is renamed into place once
 * the stream has ended; on failure or interruption the temporary file is removed.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import * as GatherWrites from "../../services/internal/gatherWrites.js"

/**
 * Writes `bytes` to `path` as described above; `io` makes the error of a failed file
 * operation on the given path. Errors of the stream itself pass through.
 *
 * @internal
 */
export const writeAtomically = <E, R, E2>(
  fs: FileSystem.FileSystem,
  path: string,
  bytes: Stream.Stream<Uint8Array, E, R>,
  io: (target: string) => (cause: PlatformError) => E2
): Effect.Effect<void, E | E2, R> =>
  Effect.suspend(() => {
    const temp = `${path}.tmp-${randomBytes(6).toString("hex")}`
    const write = Effect.scoped(
      Effect.flatMap(fs.open(temp, { flag: "w" }).pipe(Effect.mapError(io(temp))), (file) =>
        GatherWrites.writeStream(file, bytes, { onError: io(temp) }))
    )
    return write.pipe(
      Effect.zipRight(fs.rename(temp, path).pipe(Effect.mapError(io(path)))),
      Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.ignore(fs.remove(temp))))
    )
  })
