/**
 * Tar plumbing for `docker save` tarballs: scanning a tar stream into an index of its
 * entries (with where each body starts), streaming one entry's body either straight from
 * that offset or out of a fresh read of the tar, and resolving links between entries.
 *
 * Reading goes through tar-stream's extract; the tar is never held in memory: entries other
 * than the one asked for are skipped as they flow past.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { posix } from "node:path"
import * as TarStream from "tar-stream"
import { TarballError } from "./tarballError.js"

/** What kind of thing a tar entry is, as far as tarballs care. */
export type EntryKind = "file" | "symlink" | "link" | "directory" | "other"

/** An entry of a tar as seen by a scan. */
export interface EntryInfo {
  /** The entry's name, normalised by {@link normalize}. */
  readonly name: string
  readonly kind: EntryKind
  /** Size of the body in bytes. */
  readonly size: number
  /** The link target of a symlink or hard link, as written. */
  readonly linkname: string | undefined
  /** The first bytes of the body (up to 4), enough to tell its compression. */
  readonly head: Uint8Array
  /**
   * Where the body starts in the tar stream, in bytes: after the entry's own header and any
   * PAX or GNU long-name headers before it. Undefined when the parser did not tell.
   */
  readonly offset: number | undefined
}

/** The entries of a tar by name (the first entry of each name), and captured bodies. */
export interface Index {
  readonly entries: ReadonlyMap<string, EntryInfo>
  readonly captured: ReadonlyMap<string, Uint8Array>
}

const HEAD = 4

/**
 * The name of a tar entry as tarballs compare them (Go's `path.Clean`): `./a` and `a/` are
 * `a`, `a/../b` is `b`. Absolute names stay absolute and escaping names keep their `../`.
 */
export const normalize = (name: string): string => {
  const n = posix.normalize(name)
  const trimmed = n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n
  return trimmed === "." ? "" : trimmed
}

/** True for a normalised name that is absolute or leaves the archive's root. */
export const isUnsafe = (normalized: string): boolean =>
  normalized.startsWith("/") || normalized === ".." || normalized.startsWith("../")

const kindOf = (type: TarStream.Header["type"] | null | undefined): EntryKind => {
  switch (type) {
    case "file":
    case "contiguous-file":
      return "file"
    case "symlink":
      return "symlink"
    case "link":
      return "link"
    case "directory":
      return "directory"
    default:
      return "other"
  }
}

const failureOf = (cause: unknown): TarballError => {
  const message = cause instanceof Error ? cause.message : String(cause)
  return /unexpected end of data/i.test(message)
    ? new TarballError({ reason: "Truncated", detail: message, cause })
    : new TarballError({ reason: "Corrupt", detail: message, cause })
}

/**
 * The offset of the body of the entry whose header this is, as tar-stream's extract records
 * it (`byteOffset`: the bytes it had consumed once the entry's last header was read, long
 * headers included), when it is a sensible one.
 */
const bodyOffset = (header: TarStream.Header): number | undefined => {
  const recorded: unknown = (header as { readonly byteOffset?: unknown }).byteOffset
  return typeof recorded === "number" && Number.isSafeInteger(recorded) && recorded >= 512 && recorded % 512 === 0
    ? recorded
    : undefined
}

const toBytes = (data: unknown): Uint8Array =>
  data instanceof Uint8Array ? data : typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(0)

/** Joins byte arrays into a new one, so that nothing keeps the (larger) chunks they came from alive. */
const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }
  return out
}

/** Writes a chunk to tar-stream's extract, waiting while it is backed up. */
const writeChunk = (sink: TarStream.Extract, chunk: Uint8Array): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (sink.destroyed || sink.destroying || sink.write(chunk)) {
      resume(Effect.void)
      return
    }
    const done = () => {
      cleanup()
      resume(Effect.void)
    }
    const cleanup = () => {
      sink.off("drain", done)
      sink.off("close", done)
    }
    sink.on("drain", done)
    sink.on("close", done)
    return Effect.sync(cleanup)
  })

/** Runs the source into the extract and ends it; the source's failure is handed to `onFail`. */
const feed = <E>(
  source: Stream.Stream<Uint8Array, E>,
  sink: TarStream.Extract,
  onFail: (exit: Exit.Exit<never, E>) => void
): Effect.Effect<void> =>
  Stream.runForEach(source, (chunk) => writeChunk(sink, chunk)).pipe(
    Effect.zipRight(Effect.sync(() => sink.end(null))),
    Effect.onExit((exit) =>
      Effect.sync(() => {
        if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) onFail(Exit.failCause(exit.cause))
      })
    ),
    Effect.catchAllCause(() => Effect.void)
  )

/**
 * Reads a tar to its end and indexes its entries: kind, size, link target and the first
 * bytes of each body. Bodies of entries that `capture` picks (by normalised name and size)
 * are kept whole; every other body is skipped as it flows past.
 */
export const scan = <E>(
  source: Stream.Stream<Uint8Array, E>,
  capture: (name: string, size: number) => boolean
): Effect.Effect<Index, E | TarballError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const extract = TarStream.extract()
      yield* Effect.addFinalizer(() => Effect.sync(() => extract.destroy()))
      const result = yield* Deferred.make<Index, E | TarballError>()
      const entries = new Map<string, EntryInfo>()
      const captured = new Map<string, Uint8Array>()
      extract.on("entry", (header, body, next) => {
        const name = normalize(header.name)
        const kind = kindOf(header.type)
        const keep = kind === "file" && !captured.has(name) && capture(name, header.size)
        const parts: Array<Uint8Array> = []
        let head: Uint8Array = new Uint8Array(0)
        body.on("error", () => {})
        body.on("data", (data: unknown) => {
          const bytes = toBytes(data)
          if (head.byteLength < HEAD) head = concat([head, bytes.subarray(0, HEAD - head.byteLength)])
          if (keep) parts.push(bytes)
        })
        body.on("end", () => {
          if (!entries.has(name)) {
            const linkname = kind === "symlink" || kind === "link" ? header.linkname : undefined
            entries.set(name, { name, kind, size: header.size, linkname, head, offset: bodyOffset(header) })
            if (keep) captured.set(name, concat(parts))
          }
          next()
        })
        body.resume()
      })
      extract.on("finish", () => Deferred.unsafeDone(result, Exit.succeed({ entries, captured })))
      extract.on("error", (cause) => Deferred.unsafeDone(result, Exit.fail(failureOf(cause))))
      yield* Effect.forkScoped(feed(source, extract, (exit) => Deferred.unsafeDone(result, exit)))
      return yield* Deferred.await(result)
    })
  )

/**
 * The body of the first regular file named `name` (normalised) in a tar, read from a fresh
 * run of the source: entries before it are skipped, reading stops once it is out. Fails with
 * `EntryNotFound` when the tar ends without it, `Truncated` when the tar ends inside it.
 */
export const entryBody = <E>(source: Stream.Stream<Uint8Array, E>, name: string): Stream.Stream<Uint8Array, E | TarballError> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const extract = TarStream.extract()
      yield* Effect.addFinalizer(() => Effect.sync(() => extract.destroy()))
      const found = yield* Deferred.make<AsyncIterable<unknown>, E | TarballError>()
      const failed = yield* Deferred.make<never, E | TarballError>()
      let matched = false
      const fail = (exit: Exit.Exit<never, E | TarballError>) => {
        Deferred.unsafeDone(found, exit)
        Deferred.unsafeDone(failed, exit)
      }
      extract.on("entry", (header, body, next) => {
        body.on("error", () => {})
        if (!matched && kindOf(header.type) === "file" && normalize(header.name) === name) {
          matched = true
          Deferred.unsafeDone(found, Exit.succeed(body))
          return
        }
        body.on("end", () => next())
        body.resume()
      })
      extract.on("finish", () => {
        if (!matched) fail(Exit.fail(new TarballError({ reason: "EntryNotFound", path: name })))
      })
      extract.on("error", (cause) => fail(Exit.fail(failureOf(cause))))
      yield* Effect.forkScoped(feed(source, extract, fail))
      const body = yield* Deferred.await(found)
      return Stream.fromAsyncIterable(body, failureOf).pipe(
        Stream.map(toBytes),
        Stream.interruptWhenDeferred(failed)
      )
    })
  )

/**
 * Reads bytes `[offset, offset + length)` of a tar, as a file does when opened at an offset.
 */
export type RangeReader<E> = (offset: number, length: number) => Stream.Stream<Uint8Array, E>

/**
 * The body of a regular file entry read straight from where the scan found it, through
 * `read`, without going over the entries before it. The bytes are checked on the way: they
 * must start as the scan saw them (else `Corrupt`: the tar changed since) and there must be
 * exactly `size` of them (else `Truncated`).
 */
export const entryAt = <E>(
  read: RangeReader<E>,
  entry: EntryInfo,
  offset: number
): Stream.Stream<Uint8Array, E | TarballError> =>
  Stream.suspend(() => {
    let seen = 0
    const check = (chunk: Uint8Array): Effect.Effect<Uint8Array, TarballError> => {
      const at = seen
      seen += chunk.byteLength
      if (seen > entry.size) {
        return Effect.fail(new TarballError({ reason: "Corrupt", path: entry.name, detail: `more than ${entry.size} bytes read at offset ${offset}` }))
      }
      for (let i = at; i < entry.head.byteLength && i < seen; i++) {
        if (chunk[i - at] !== entry.head[i]) {
          return Effect.fail(
            new TarballError({ reason: "Corrupt", path: entry.name, detail: `the bytes at offset ${offset} are not the ones first read there; did the file change?` })
          )
        }
      }
      return Effect.succeed(chunk)
    }
    return read(offset, entry.size).pipe(
      Stream.mapEffect(check),
      Stream.concat(
        Stream.suspend(() =>
          seen < entry.size
            ? Stream.fail(new TarballError({ reason: "Truncated", path: entry.name, detail: `${seen} of ${entry.size} bytes` }))
            : Stream.empty
        )
      )
    )
  })

/**
 * Follows symlinks (relative to the link's directory) and hard links (relative to the
 * archive's root) to the regular file a name stands for.
 */
export const resolve = (index: Index, name: string): Effect.Effect<EntryInfo, TarballError> =>
  Effect.suspend(() => {
    const visited = new Set<string>()
    let current = normalize(name)
    for (;;) {
      if (isUnsafe(current)) {
        return Effect.fail(
          new TarballError({ reason: "UnsafePath", path: current === name ? name : `${name} -> ${current}` })
        )
      }
      if (visited.has(current)) return Effect.fail(new TarballError({ reason: "LinkCycle", path: name }))
      visited.add(current)
      const entry = index.entries.get(current)
      if (entry === undefined || entry.kind === "directory" || entry.kind === "other") {
        return Effect.fail(
          new TarballError({ reason: "EntryNotFound", path: current, ...(current !== name ? { detail: `linked from ${name}` } : {}) })
        )
      }
      if (entry.kind === "file") return Effect.succeed(entry)
      const target = entry.linkname ?? ""
      if (posix.isAbsolute(target)) {
        return Effect.fail(new TarballError({ reason: "UnsafePath", path: `${current} -> ${target}` }))
      }
      current = normalize(entry.kind === "symlink" ? posix.join(posix.dirname(current), target) : target)
    }
  })
