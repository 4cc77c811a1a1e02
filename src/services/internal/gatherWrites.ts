/**
 * Gathered file writes: the small pieces of a download or upload (16-64 KiB each) copied into
 * one reused buffer and written when it is full. A write is a round trip to libuv's thread
 * pool, costly per call; one reused buffer (rather than a fresh `Buffer.concat` per write)
 * spares the allocator, the page faults of fresh memory and the garbage collector.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/**
 * How many bytes a gathered write hands to the file: 1 MiB, so that a gigabyte is a thousand
 * system calls, not tens of thousands (docker-registry reads through a 4 MiB buffer).
 *
 * @internal
 */
export const ioSize = 1024 * 1024

/**
 * A writer that gathers pieces into one reused buffer and writes it to the file when full;
 * pieces of at least {@link ioSize} bytes go straight through. Only one `write`, `writeEach`
 * or `flush` may run at a time (each is awaited before the next), and `flush` must run at
 * the end.
 *
 * @internal
 */
export interface GatheredWrites<E> {
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, E>
  /** Writes the pieces in order; no effect runs unless the buffer fills. */
  readonly writeEach: (pieces: Iterable<Uint8Array>) => Effect.Effect<void, E>
  readonly flush: Effect.Effect<void, E>
}

/** @internal */
export const make = <E>(
  file: FileSystem.File,
  onError: (error: PlatformError) => E
): GatheredWrites<E> => {
  let buffer: Uint8Array | undefined
  let filled = 0
  const writeAll = (bytes: Uint8Array) => Effect.mapError(file.writeAll(bytes), onError)
  const flush = Effect.suspend(() => {
    if (buffer === undefined || filled === 0) return Effect.void
    const pending = buffer.subarray(0, filled)
    filled = 0
    return writeAll(pending)
  })
  // Copies what fits of `bytes` into the buffer; gives the rest, or undefined when it all fit.
  const copy = (bytes: Uint8Array): Uint8Array | undefined => {
    buffer ??= new Uint8Array(ioSize)
    const room = ioSize - filled
    if (bytes.byteLength < room) {
      buffer.set(bytes, filled)
      filled += bytes.byteLength
      return undefined
    }
    buffer.set(bytes.subarray(0, room), filled)
    filled = ioSize
    return bytes.subarray(room)
  }
  const write = (bytes: Uint8Array): Effect.Effect<void, E> =>
    Effect.suspend(() => {
      if (bytes.byteLength >= ioSize) return Effect.zipRight(flush, writeAll(bytes))
      const rest = copy(bytes)
      return rest === undefined ? Effect.void : Effect.zipRight(flush, write(rest))
    })
  const writeEach = (pieces: Iterable<Uint8Array>): Effect.Effect<void, E> =>
    Effect.suspend(() => {
      const iterator = pieces[Symbol.iterator]()
      const go = (): Effect.Effect<void, E> => {
        for (let next = iterator.next(); next.done !== true; next = iterator.next()) {
          const bytes = next.value
          if (bytes.byteLength >= ioSize) return Effect.zipRight(write(bytes), Effect.suspend(go))
          const rest = copy(bytes)
          if (rest !== undefined) return Effect.zipRight(Effect.zipRight(flush, write(rest)), Effect.suspend(go))
        }
        return Effect.void
      }
      return go()
    })
  return { write, writeEach, flush }
}

/**
 * Options of {@link writeStream}.
 *
 * @internal
 */
export interface WriteStreamOptions<E2, E3> {
  /** The failure of a file write. */
  readonly onError: (error: PlatformError) => E2
  /** Fed every byte written (a stream that verifies itself needs none). */
  readonly hasher?: { readonly update: (bytes: Uint8Array) => void } | undefined
  /** A failure once `written` bytes are too many, checked as they come; undefined while fine. */
  readonly tooLong?: ((written: number) => E3 | undefined) | undefined
}

/**
 * Writes every byte of `stream` to `file` through gathered writes, feeding the hasher and
 * failing as soon as `tooLong` says so; gives how many bytes were written. Errors of the stream
 * itself pass through untouched; what is still gathered when it fails is not written.
 *
 * @internal
 */
export const writeStream = <E, R, E2, E3 = never>(
  file: FileSystem.File,
  stream: Stream.Stream<Uint8Array, E, R>,
  options: WriteStreamOptions<E2, E3>
): Effect.Effect<number, E | E2 | E3, R> =>
  Effect.suspend(() => {
    let written = 0
    const gathered = make(file, options.onError)
    return Stream.runForEachChunk(stream, (chunk): Effect.Effect<void, E2 | E3> => {
      for (const bytes of chunk) {
        written += bytes.byteLength
        const refused = options.tooLong?.(written)
        if (refused !== undefined) return Effect.fail(refused)
        options.hasher?.update(bytes)
      }
      return gathered.writeEach(chunk)
    }).pipe(Effect.zipRight(gathered.flush), Effect.map(() => written))
  })
