/**
 * The digest and size of a whole file, read through one reused 1 MiB buffer. A stream of the
 * file would hand every read on in fresh memory, which costs page faults and garbage
 * collection; here nothing is handed on, so nothing needs fresh memory.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Digest from "../../domain/Digest.js"

/** The read size. */
const chunkSize = 1024 * 1024

/**
 * Hashes the file at `path` with `alg` from its first byte to its end.
 *
 * @internal
 */
export const measureFile = (
  fs: FileSystem.FileSystem,
  path: string,
  alg: Digest.Algorithm
): Effect.Effect<Digest.Measured, PlatformError> =>
  Effect.scoped(
    Effect.gen(function*() {
      const file = yield* fs.open(path, { flag: "r" })
      const h = Digest.hasher(alg)
      const buffer = new Uint8Array(chunkSize)
      for (;;) {
        const n = Number(yield* file.read(buffer))
        if (n === 0) return { digest: h.digest(), size: h.size() }
        h.update(buffer.subarray(0, n))
      }
    })
  )
