/**
 * Rewriting layer tars while they stream, for `Mutate.time`: every entry keeps its name, mode,
 * owner, type and content; only its timestamps change. tar-stream parses the input and writes
 * the output; memory holds one entry's chunk at a time, never the layer.
 *
 * @since 0.1.0
 * @internal
 */
import type * as Stream from "effect/Stream"
import { Duplex } from "node:stream"
import * as TarStream from "tar-stream"
import { pipeThrough } from "./transform.js"

/** A tar header as tar-stream writes it, with the PAX records to write. */
interface Header extends TarStream.Header {
  pax?: Record<string, string> | undefined
}

/** The PAX records tar-stream read for an entry (an object of strings, or null). */
const paxOf = (header: TarStream.Header): ReadonlyArray<readonly [string, string]> =>
  typeof header.pax === "object" && header.pax !== null
    ? Object.entries(header.pax).flatMap(([key, value]) => (typeof value === "string" ? [[key, value] as const] : []))
    : []

/** PAX records tar-stream writes itself (path, linkpath) or that no longer hold (size). */
const rewrittenByPack: ReadonlySet<string> = new Set(["path", "linkpath", "size"])
/** PAX time records, set to the new time when the entry had them. */
const timeRecords: ReadonlySet<string> = new Set(["mtime", "atime", "ctime"])

const retimeHeader = (header: TarStream.Header, mtime: Date): Header => {
  const seconds = String(Math.floor(mtime.getTime() / 1000))
  let pax: Record<string, string> | undefined
  for (const [key, value] of paxOf(header)) {
    if (rewrittenByPack.has(key)) continue
    pax ??= {}
    pax[key] = timeRecords.has(key) ? seconds : value
  }
  return {
    name: header.name,
    mode: header.mode,
    uid: header.uid,
    gid: header.gid,
    size: header.size,
    mtime,
    type: header.type,
    linkname: header.linkname,
    uname: header.uname,
    gname: header.gname,
    devmajor: header.devmajor,
    devminor: header.devminor,
    ...(pax !== undefined ? { pax } : {})
  }
}

/**
 * A duplex whose writable side takes a tar and whose readable side gives the same tar with
 * every entry's modification time (and PAX atime/ctime, where present) set to `mtime`.
 */
const retimeDuplex = (mtime: Date): Duplex => {
  // tar-stream reads old v7 tars too when asked; its option type does not name it.
  const options: Parameters<typeof TarStream.extract>[0] & { readonly allowUnknownFormat: boolean } = {
    allowUnknownFormat: true
  }
  const extract = TarStream.extract(options)
  const pack = TarStream.pack()
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      if (extract.write(chunk)) callback()
      else extract.once("drain", () => callback())
    },
    final(callback) {
      extract.end(undefined)
      callback()
    },
    read() {
      pack.resume()
    },
    destroy(error, callback) {
      extract.destroy()
      pack.destroy()
      callback(error)
    }
  })
  extract.on("entry", (header, body, next) => {
    const sink = pack.entry(retimeHeader(header, mtime), (error) => {
      if (error) duplex.destroy(error)
      else next()
    })
    body.pipe(sink)
  })
  extract.on("finish", () => pack.finalize())
  extract.on("error", (error: Error) => duplex.destroy(error))
  pack.on("data", (chunk: unknown) => {
    if (!duplex.push(chunk)) pack.pause()
  })
  pack.on("end", () => duplex.push(null))
  pack.on("error", (error: Error) => duplex.destroy(error))
  return duplex
}

/**
 * The tar with every entry's timestamps set to `mtime` (whole seconds), rewritten while it
 * streams. A stream that is not a tar fails through `onError`.
 */
export const retime = <E, E2>(
  tar: Stream.Stream<Uint8Array, E>,
  mtime: Date,
  onError: (cause: unknown) => E2
): Stream.Stream<Uint8Array, E | E2> => pipeThrough(tar, () => retimeDuplex(mtime), onError)
