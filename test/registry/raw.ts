/**
 * Raw HTTP against a registry, with nothing of ours in between: `fetch` for whole requests,
 * `node:http` for request bodies streamed at the pace the server takes them, and a look at a
 * filesystem store's directory. Shared by the crash, bad-input and raw endpoint tests.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import * as Http from "node:http"
import { join, relative, sep } from "node:path"

/** The `sha256:<hex>` digest of bytes. */
export const sha256 = (bytes: Uint8Array | string): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

/** A reply read whole. */
export interface RawReply {
  readonly status: number
  readonly headers: Headers
  readonly body: Uint8Array
  readonly text: string
}

/** Options of {@link request}. */
export interface RawOptions {
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: Uint8Array | string
}

/** Sends one request with `fetch` and reads the reply whole. `path` may be absolute. */
export const request = async (base: string, method: string, path: string, options: RawOptions = {}): Promise<RawReply> => {
  const response = await fetch(new URL(path, base), {
    method,
    redirect: "manual",
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
    ...(options.body !== undefined ? { body: options.body } : {})
  })
  const body = new Uint8Array(await response.arrayBuffer())
  return { status: response.status, headers: response.headers, body, text: new TextDecoder().decode(body) }
}

/**
 * Sends one request with `node:http`, the path sent exactly as written: unlike `fetch`, no
 * `..` or `%2e%2e` segment is resolved before it leaves.
 */
export const requestRaw = (base: string, method: string, path: string, options: RawOptions = {}): Promise<RawReply> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(base)
    const req = Http.request({ hostname, port, method, path, headers: options.headers ?? {} }, (response) => {
      const parts: Array<Buffer> = []
      response.on("data", (d: Buffer) => parts.push(d))
      response.on("error", reject)
      response.on("end", () => {
        const body = new Uint8Array(Buffer.concat(parts))
        const headers = new Headers()
        for (const [key, value] of Object.entries(response.headers)) {
          if (typeof value === "string") headers.set(key, value)
        }
        resolve({ status: response.statusCode ?? 0, headers, body, text: new TextDecoder().decode(body) })
      })
    })
    req.on("error", reject)
    req.end(options.body)
  })

/** The OCI error codes of an error reply. */
export const errorCodes = (reply: RawReply): ReadonlyArray<string> =>
  (JSON.parse(reply.text) as { errors: ReadonlyArray<{ code: string }> }).errors.map((e) => e.code)

/** The number of bytes an upload holds, from the `Range: 0-<last>` of a status reply. */
export const uploadSize = (reply: RawReply): number => {
  const match = /^0-(\d+)$/.exec(reply.headers.get("range") ?? "")
  if (match === null) return -1
  const last = Number(match[1])
  // A fresh upload answers 0-0 although it holds nothing; the tests only read larger ones.
  return last === 0 ? 0 : last + 1
}

/** A body to stream: `total` bytes of `block` repeated, starting `offset` bytes into them. */
export interface RepeatedBody {
  readonly block: Uint8Array
  readonly total: number
  readonly offset?: number
}

/** The digest of `total` bytes of `block` repeated. */
export const repeatedDigest = (block: Uint8Array, total: number): string => {
  const hash = createHash("sha256")
  for (let at = 0; at < total; at += block.byteLength) hash.update(block.subarray(0, Math.min(block.byteLength, total - at)))
  return `sha256:${hash.digest("hex")}`
}

/** A request whose body is being streamed: how much has gone out, and how it ended. */
export interface Streaming {
  readonly sent: () => number
  /** The reply's status and body, or the error the request ended with (a killed server resets it). */
  readonly done: Promise<{ readonly status?: number; readonly text?: string; readonly error?: Error }>
}

/**
 * Streams a {@link RepeatedBody} as a request body, writing as fast as the server takes it
 * (waiting for `drain`), with `Content-Length` when `length` is set and chunked encoding
 * otherwise.
 */
export const stream = (
  url: string,
  method: string,
  body: RepeatedBody,
  headers: Readonly<Record<string, string>> = {}
): Streaming => {
  let sent = 0
  const done = new Promise<{ readonly status?: number; readonly text?: string; readonly error?: Error }>((resolve) => {
    const req = Http.request(url, { method, headers: { "content-type": "application/octet-stream", ...headers } })
    req.on("error", (error) => resolve({ error }))
    req.on("response", (response) => {
      let text = ""
      response.on("data", (d: Buffer) => {
        text += d.toString()
      })
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text }))
      response.on("error", (error) => resolve({ error }))
    })
    const size = body.block.byteLength
    let at = body.offset ?? 0
    const end = (body.offset ?? 0) + body.total
    const pump = () => {
      while (at < end) {
        const start = at % size
        const piece = body.block.subarray(start, Math.min(size, start + (end - at)))
        at += piece.byteLength
        sent += piece.byteLength
        if (!req.write(piece)) {
          req.once("drain", pump)
          return
        }
      }
      req.end()
    }
    pump()
  })
  return { sent: () => sent, done }
}

/** Waits until `check` gives a value that is not undefined, polling every 20 ms. */
export const waitFor = async <A>(what: string, check: () => Promise<A | undefined> | A | undefined, timeoutMillis = 30_000): Promise<A> => {
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Every file under a directory, as paths relative to it with `/` separators, sorted. */
export const filesUnder = (dir: string): Array<string> => {
  if (!existsSync(dir)) return []
  const out: Array<string> = []
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name)
      if (entry.isDirectory()) walk(path)
      else out.push(relative(dir, path).split(sep).join("/"))
    }
  }
  walk(dir)
  return out.sort()
}

/**
 * A filesystem store's directory as it stands: every file with its size, and the sha256 of
 * its content for files outside `uploads/` (whose bytes an upload session may still change).
 */
export const snapshot = (root: string): Record<string, string> =>
  Object.fromEntries(
    filesUnder(root).map((file) => {
      const path = join(root, file)
      return [file, file.startsWith("uploads/") ? `${statSync(path).size} bytes` : sha256(readFileSync(path))]
    })
  )

/** A `crane registry serve` process: its base URL and the process itself. */
export interface Served {
  readonly url: string
  readonly child: ChildProcess
  /** Stops it with a signal and waits for it to exit. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<void>
}

/** Starts `node BIN registry serve --address 127.0.0.1:0 --disk ROOT` and waits for its address. */
export const serve = (bin: string, root: string): Promise<Served> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "registry", "serve", "--address", "127.0.0.1:0", "--disk", root], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    }
    let out = ""
    let err = ""
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString()
    })
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString()
      const match = /serving on (\S+)/.exec(out)
      if (match?.[1] !== undefined) resolve({ url: `http://${match[1]}`, child, stop })
    })
    child.once("exit", (code, signal) => reject(new Error(`crane registry serve exited (${code ?? signal}): ${err}`)))
  })
