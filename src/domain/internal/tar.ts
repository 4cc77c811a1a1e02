/**
 * Streaming tar over Effect streams, on tar-stream 3. {@link read} turns tar bytes into a
 * stream of entries whose bodies stream in turn; {@link write} turns entries back into tar
 * bytes; {@link rewrite} filters and renames the entries of several archives into one tar,
 * piping bodies straight through (the fast path: no Effect stream per entry, which matters
 * for layers of many small files). Backpressure holds end to end: a source is read only as
 * fast as the output is consumed, and no body is ever held whole in memory.
 *
 * @since 0.1.0
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TarStream from "tar-stream"

/**
 * Why a tar stream was refused.
 *
 * @since 0.1.0
 */
export type TarErrorReason = "Corrupt" | "UnsafePath" | "BadEntry"

/**
 * A tar stream that could not be read or written: bytes that are not a tar archive
 * (`Corrupt`), an entry whose path escapes the archive root (`UnsafePath`), or an entry whose
 * body does not match its header (`BadEntry`).
 *
 * @since 0.1.0
 */
export class TarError extends Data.TaggedError("TarError")<{
  readonly reason: TarErrorReason
  readonly detail: string
  /** The entry path concerned, when there is one. */
  readonly path?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const where = this.path !== undefined ? ` (${JSON.stringify(this.path)})` : ""
    return `tar ${this.reason}${where}: ${this.detail}`
  }
}

/**
 * The kinds of entry a tar archive holds.
 *
 * @since 0.1.0
 */
export type EntryType =
  | "file"
  | "link"
  | "symlink"
  | "character-device"
  | "block-device"
  | "directory"
  | "fifo"
  | "contiguous-file"

/**
 * The header of a tar entry, with long names and PAX records already applied.
 *
 * @since 0.1.0
 */
export interface Header {
  /** The path as stored in the archive, not normalised. */
  readonly name: string
  readonly type: EntryType
  /** Bytes in the body (0 for anything but files). */
  readonly size: number
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly uname: string
  readonly gname: string
  readonly mtime: Date
  /** The target of a link; `""` for other entries. */
  readonly linkname: string
  readonly devmajor: number
  readonly devminor: number
  /** PAX records other than path, linkpath and size (extended attributes, precise times). */
  readonly pax: Readonly<Record<string, string>>
}

/**
 * The header of a regular file as ggcr's writers make them: owned by root with no user or
 * group names, dated at the Unix epoch, so that the archive does not depend on who made it or
 * when. Mode 0644 unless given.
 *
 * @since 0.1.0
 */
export const plainFileHeader = (name: string, size: number, mode: number = 0o644): Header => ({
  name,
  type: "file",
  size,
  mode,
  uid: 0,
  gid: 0,
  uname: "",
  gname: "",
  mtime: new Date(0),
  linkname: "",
  devmajor: 0,
  devminor: 0,
  pax: {}
})

/**
 * A tar entry: its header and its body. A body read from {@link read} can be read once, and
 * only until the next entry is pulled.
 *
 * @since 0.1.0
 */
export interface Entry<E = never, R = never> {
  readonly header: Header
  readonly body: Stream.Stream<Uint8Array, E, R>
}

/** The parts of a streamx stream (what tar-stream is built on) this module uses. */
interface EventSource {
  on(event: string, listener: (...args: Array<unknown>) => void): unknown
  off(event: string, listener: (...args: Array<unknown>) => void): unknown
  readonly destroyed: boolean
  readonly destroying?: boolean
}

interface ReadableLike extends EventSource {
  read(): unknown
}

interface WritableLike extends EventSource {
  write(chunk: Uint8Array): boolean
}

const PULL_FAILED = "tar stream ended before its end-of-archive marker"

const ignore = (): void => undefined

const corrupt = (cause: unknown): TarError =>
  new TarError({ reason: "Corrupt", detail: cause === undefined ? PULL_FAILED : describe(cause), cause })

/** The failure of a tar writer that closed before its end, unless a cause is known. */
const writerFailure = <E>(failure: Cause.Cause<E | TarError> | undefined, cause: unknown) =>
  failure !== undefined
    ? Effect.failCause(failure)
    : Effect.fail(
        new TarError({ reason: "BadEntry", detail: cause === undefined ? "tar writer closed early" : describe(cause), cause })
      )

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * Pulls one chunk at a time from a streamx readable, waiting for `readable`/`end` events.
 * `onFailure` decides what an `error` or a close before `end` fails with.
 */
const pullFrom = <E>(
  readable: ReadableLike,
  onFailure: (cause: unknown) => Effect.Effect<never, E>
): Effect.Effect<Uint8Array, Option.Option<E>> => {
  let ended = false
  let closed = false
  let failed = false
  let error: unknown = undefined
  let wake: (() => void) | undefined
  const notify = () => wake?.()
  readable.on("readable", notify)
  readable.on("end", () => {
    ended = true
    notify()
  })
  readable.on("error", (e) => {
    failed = true
    error = e
    notify()
  })
  readable.on("close", () => {
    closed = true
    notify()
  })
  return Effect.async<Uint8Array, Option.Option<E>>((resume) => {
    const attempt = (): boolean => {
      if (failed) {
        resume(Effect.mapError(onFailure(error), Option.some))
        return true
      }
      const chunk = readable.read()
      if (chunk instanceof Uint8Array) {
        resume(Effect.succeed(chunk))
        return true
      }
      if (ended) {
        resume(Effect.fail(Option.none()))
        return true
      }
      if (closed || readable.destroyed) {
        resume(Effect.mapError(onFailure(undefined), Option.some))
        return true
      }
      return false
    }
    if (attempt()) return
    wake = () => {
      if (attempt()) wake = undefined
    }
    return Effect.sync(() => {
      wake = undefined
    })
  })
}

/** Writes a chunk, waiting for `drain` when the writable asks for it. */
const writeTo = (writable: WritableLike, chunk: Uint8Array, what: string): Effect.Effect<void, TarError> =>
  Effect.async<void, TarError>((resume) => {
    const gone = () => new TarError({ reason: "BadEntry", detail: `${what} was closed while being written` })
    if (writable.destroyed || writable.destroying === true) {
      resume(Effect.fail(gone()))
      return
    }
    if (writable.write(chunk)) {
      resume(Effect.void)
      return
    }
    const cleanup = () => {
      writable.off("drain", onDrain)
      writable.off("close", onClose)
    }
    const onDrain = () => {
      cleanup()
      resume(Effect.void)
    }
    const onClose = () => {
      cleanup()
      resume(Effect.fail(gone()))
    }
    writable.on("drain", onDrain)
    writable.on("close", onClose)
    return Effect.sync(cleanup)
  })

const entryTypes: ReadonlySet<string> = new Set<EntryType>([
  "file",
  "link",
  "symlink",
  "character-device",
  "block-device",
  "directory",
  "fifo",
  "contiguous-file"
])

/** POSIX: readers treat an unknown type flag as a regular file. */
const entryType = (type: string | null | undefined): EntryType =>
  type !== null && type !== undefined && entryTypes.has(type) ? (type as EntryType) : "file"

const HEADER_RECORDS: ReadonlySet<string> = new Set(["path", "linkpath", "size"])

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === "object" && u !== null

const fromTarStream = (h: TarStream.Header): Header => {
  const pax: Record<string, string> = {}
  if (isRecord(h.pax)) {
    for (const [key, value] of Object.entries(h.pax)) {
      if (!HEADER_RECORDS.has(key) && typeof value === "string") pax[key] = value
    }
  }
  return {
    name: h.name,
    type: entryType(h.type),
    size: h.size ?? 0,
    mode: h.mode ?? 0,
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    uname: h.uname ?? "",
    gname: h.gname ?? "",
    mtime: h.mtime ?? new Date(0),
    linkname: h.linkname ?? "",
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
    pax
  }
}

interface Pending {
  readonly header: Header
  readonly source: ReadableLike & { resume(): unknown }
  readonly next: () => void
  released: boolean
}

/**
 * Reads a tar byte stream as a stream of entries. Each entry's body streams from the archive
 * and must be read before the next entry is pulled; a body left unread is skipped (its bytes
 * still flow, so a verifying source still checks them). The source is read to its very end.
 * Bytes that are not a tar archive fail with {@link TarError} `Corrupt`.
 *
 * @since 0.1.0
 */
export const read = <E, R>(
  tar: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<Entry<E | TarError>, E | TarError, R> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const extract = TarStream.extract()
      let failure: Cause.Cause<E | TarError> | undefined
      let pending: Pending | undefined
      let current: Pending | undefined
      let finished = false
      let wake: (() => void) | undefined
      const notify = () => wake?.()
      const fail = (cause: Cause.Cause<E | TarError>) => {
        if (failure === undefined) failure = cause
        notify()
      }
      const failedWith = (cause: unknown): Effect.Effect<never, E | TarError> =>
        failure !== undefined
          ? Effect.failCause(failure)
          : Effect.fail(corrupt(cause))

      extract.on("entry", (h, stream, next) => {
        const source = stream as unknown as Pending["source"]
        source.on("error", ignore)
        pending = { header: fromTarStream(h), source, next: () => next(), released: false }
        notify()
      })
      extract.on("finish", () => {
        finished = true
        notify()
      })
      extract.on("error", (e: unknown) =>
        fail(Cause.fail(new TarError({ reason: "Corrupt", detail: describe(e), cause: e })))
      )
      extract.on("close", notify)
      yield* Effect.addFinalizer(() => Effect.sync(() => extract.destroy()))

      const writable = extract as unknown as WritableLike
      yield* Stream.runForEach(tar, (chunk) => writeTo(writable, chunk, "tar parser")).pipe(
        Effect.andThen(Effect.sync(() => extract.end(undefined))),
        Effect.catchAllCause((cause) =>
          Effect.sync(() => {
            fail(cause)
            extract.destroy()
          })
        ),
        Effect.forkScoped
      )

      const bodyOf = (entry: Pending): Stream.Stream<Uint8Array, E | TarError> => {
        const pull = pullFrom(entry.source, failedWith)
        return Stream.repeatEffectOption(
          Effect.suspend(() =>
            entry.released
              ? Effect.fail(
                  Option.some(
                    new TarError({
                      reason: "BadEntry",
                      path: entry.header.name,
                      detail: "entry body read after the next entry was pulled"
                    })
                  )
                )
              : pull
          )
        )
      }

      const release = () => {
        const done = current
        if (done === undefined) return
        current = undefined
        done.released = true
        done.source.resume()
        done.next()
      }

      const nextEntry = Effect.suspend(() => {
        release()
        return Effect.async<Entry<E | TarError>, Option.Option<E | TarError>>((resume) => {
          const attempt = (): boolean => {
            if (failure !== undefined) {
              resume(Effect.failCause(Cause.map(failure, Option.some)))
              return true
            }
            if (pending !== undefined) {
              const entry = pending
              pending = undefined
              current = entry
              resume(Effect.succeed({ header: entry.header, body: bodyOf(entry) }))
              return true
            }
            if (finished) {
              resume(Effect.fail(Option.none()))
              return true
            }
            if (extract.destroyed) {
              resume(Effect.mapError(failedWith(undefined), Option.some))
              return true
            }
            return false
          }
          if (attempt()) return
          wake = () => {
            if (attempt()) wake = undefined
          }
          return Effect.sync(() => {
            wake = undefined
          })
        })
      })
      return Stream.repeatEffectOption(nextEntry)
    })
  )

const toTarStream = (header: Header): Partial<TarStream.Header> & Pick<TarStream.Header, "name"> => {
  const sized = header.type === "file" || header.type === "contiguous-file"
  return {
    name: header.name,
    type: header.type,
    size: sized ? header.size : 0,
    mode: header.mode,
    uid: header.uid,
    gid: header.gid,
    uname: header.uname,
    gname: header.gname,
    mtime: header.mtime,
    linkname: header.linkname,
    devmajor: header.devmajor,
    devminor: header.devminor,
    ...(Object.keys(header.pax).length > 0 ? { pax: { ...header.pax } } : {})
  }
}

const writeEntry = <E, R>(pack: TarStream.Pack, entry: Entry<E, R>): Effect.Effect<void, E | TarError, R> =>
  Effect.suspend(() => {
    const header = toTarStream(entry.header)
    const expected = header.size ?? 0
    const path = entry.header.name
    const done = Deferred.unsafeMake<void, TarError>(FiberId.none)
    const opened = Effect.try({
      try: () =>
        pack.entry(header, (error) => {
          Deferred.unsafeDone(
            done,
            error === null || error === undefined
              ? Exit.void
              : Exit.fail(new TarError({ reason: "BadEntry", path, detail: describe(error), cause: error }))
          )
        }),
      catch: (error) => new TarError({ reason: "BadEntry", path, detail: describe(error), cause: error })
    })
    return Effect.flatMap(opened, (sink) => {
      sink.on("error", ignore)
      return streamBody(sink as unknown as WritableLike & { end(): unknown }, entry.body, expected, path, done)
    })
  })

const streamBody = <E, R>(
  sink: WritableLike & { end(): unknown },
  body: Stream.Stream<Uint8Array, E, R>,
  expected: number,
  path: string,
  done: Deferred.Deferred<void, TarError>
): Effect.Effect<void, E | TarError, R> =>
  Effect.suspend(() => {
    let written = 0
    const copy =
      expected === 0
        ? Effect.void
        : Stream.runForEach(body, (chunk) => {
            written += chunk.byteLength
            return written > expected
              ? Effect.fail(
                  new TarError({
                    reason: "BadEntry",
                    path,
                    detail: `body is longer than the ${expected} bytes its header declares`
                  })
                )
              : writeTo(sink, chunk, `entry ${JSON.stringify(path)}`)
          })
    return copy.pipe(
      Effect.andThen(
        Effect.suspend(() =>
          written === expected
            ? Effect.sync(() => sink.end())
            : Effect.fail(
                new TarError({
                  reason: "BadEntry",
                  path,
                  detail: `body has ${written} bytes, its header declares ${expected}`
                })
              )
        )
      ),
      Effect.andThen(Deferred.await(done))
    )
  })

/**
 * Runs `put` for each item into one tar-stream pack in a forked fiber and streams the pack's
 * bytes; a failure of the items or of `put` fails the output stream.
 */
const packing = <A, E, R>(
  items: Stream.Stream<A, E, R>,
  put: (pack: TarStream.Pack, item: A) => Effect.Effect<void, E | TarError, R>
): Stream.Stream<Uint8Array, E | TarError, R> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const pack = TarStream.pack()
      let failure: Cause.Cause<E | TarError> | undefined
      const output = pullFrom(pack as unknown as ReadableLike, (cause) => writerFailure(failure, cause))
      yield* Effect.addFinalizer(() => Effect.sync(() => pack.destroy()))
      yield* Stream.runForEach(items, (item) => put(pack, item)).pipe(
        Effect.andThen(Effect.sync(() => pack.finalize())),
        Effect.catchAllCause((cause) =>
          Effect.sync(() => {
            failure = cause
            pack.destroy()
          })
        ),
        Effect.forkScoped
      )
      return Stream.repeatEffectOption(output)
    })
  )

/**
 * Writes entries as a tar byte stream (ustar, with PAX records for long or non-ASCII names
 * and for the records a header carries). Each body is streamed into the archive as it is
 * read; a body whose length differs from its header's size fails with {@link TarError}
 * `BadEntry`. Directory names are written as given.
 *
 * @since 0.1.0
 */
export const write = <E, R>(entries: Stream.Stream<Entry<E, R>, E, R>): Stream.Stream<Uint8Array, E | TarError, R> =>
  packing(entries, writeEntry)

/**
 * One archive for {@link rewrite}: its bytes and what to do with each of its entries.
 *
 * @since 0.1.0
 */
export interface Archive<E, R> {
  readonly bytes: Stream.Stream<Uint8Array, E, R>
  /**
   * The header to write for an entry (its body follows unchanged), `None` to leave the entry
   * out, or an error that stops the whole stream. Called in archive order.
   */
  readonly onEntry: (header: Header) => Either.Either<Option.Option<Header>, TarError>
  /** Called once every entry of the archive has been seen. */
  readonly onEnd?: (() => void) | undefined
}

/** Parses one archive into `pack`, entry by entry, piping kept bodies straight through. */
const rewriteInto = <E, R>(pack: TarStream.Pack, archive: Archive<E, R>): Effect.Effect<void, E | TarError, R> =>
  Effect.scoped(
    Effect.gen(function* () {
      const extract = TarStream.extract()
      const done = yield* Deferred.make<void, E | TarError>()
      const fail = (error: TarError) => Deferred.unsafeDone(done, Exit.fail(error))
      let finished = false
      let inflight = 0
      const settle = () => {
        if (finished && inflight === 0) Deferred.unsafeDone(done, Exit.void)
      }
      extract.on("entry", (h, stream, next) => {
        const source = stream as unknown as Pending["source"] & { pipe(sink: unknown): unknown }
        source.on("error", ignore)
        const decided = archive.onEntry(fromTarStream(h))
        if (Either.isLeft(decided)) {
          fail(decided.left)
          extract.destroy()
          return
        }
        if (Option.isNone(decided.right)) {
          source.on("end", () => next())
          source.resume()
          return
        }
        const header = decided.right.value
        inflight++
        const sink = Either.try({
          try: () =>
            pack.entry(toTarStream(header), (error) => {
              inflight--
              if (error !== null && error !== undefined) {
                fail(new TarError({ reason: "BadEntry", path: header.name, detail: describe(error), cause: error }))
              } else {
                next()
                settle()
              }
            }),
          catch: (error) =>
            new TarError({ reason: "BadEntry", path: header.name, detail: describe(error), cause: error })
        })
        if (Either.isLeft(sink)) {
          fail(sink.left)
          return
        }
        sink.right.on("error", ignore)
        source.pipe(sink.right)
      })
      extract.on("finish", () => {
        finished = true
        settle()
      })
      extract.on("error", (e: unknown) => fail(new TarError({ reason: "Corrupt", detail: describe(e), cause: e })))
      extract.on("close", () => {
        if (!finished) fail(new TarError({ reason: "Corrupt", detail: PULL_FAILED }))
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => extract.destroy()))
      const writable = extract as unknown as WritableLike
      yield* Stream.runForEach(archive.bytes, (chunk) => writeTo(writable, chunk, "tar parser")).pipe(
        Effect.andThen(Effect.sync(() => extract.end(undefined))),
        Effect.catchAllCause((cause) => Deferred.failCause(done, cause)),
        Effect.forkScoped
      )
      yield* Deferred.await(done)
      archive.onEnd?.()
    })
  )

/**
 * Parses archives one after the other into a single tar stream: each entry's header goes
 * through the archive's `onEntry`, and a kept entry's body is piped from the input archive to
 * the output as it is read, without an Effect stream per entry. Every archive is read to its
 * end. A failure of an archive's bytes, or an error from `onEntry`, fails the stream.
 *
 * @since 0.1.0
 */
export const rewrite = <E, R>(
  archives: Stream.Stream<Archive<E, R>, E, R>
): Stream.Stream<Uint8Array, E | TarError, R> =>
  packing(archives, rewriteInto)
