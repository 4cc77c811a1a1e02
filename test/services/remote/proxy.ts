/**
 * A proxy on 127.0.0.1 in front of our registry that misbehaves on demand: it breaks
 * connections part-way through a body, flips bytes, ignores ranges, rewrites headers or
 * answers by itself. Tests set what it does with {@link Proxy}.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Registry from "../../../src/registry/Registry.js"
import { type Env, envOver } from "./support.js"

/** A request as the proxy saw it. */
export interface Seen {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: Http.IncomingHttpHeaders
}

/** What the proxy does with one request. */
export interface Tweak {
  /** Answer this instead of forwarding (after reading the request body). */
  readonly reply?: { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  /** Pass on only this many bytes of the answer's body, then break the connection. */
  readonly cutAfter?: number
  /** Flip the byte at this offset of the answer's body. */
  readonly corruptAt?: number
  /** Headers to set on the answer (`undefined` removes one). */
  readonly headers?: Readonly<Record<string, string | undefined>>
  /** Rewrite a relative `Location` of the answer to an absolute URL on this origin. */
  readonly absoluteLocation?: string
  /** Forward without the request's `Range` header. */
  readonly dropRange?: boolean
}

/** Decides what the proxy does with a request; `undefined` forwards it as it is. */
export type Tweaker = (request: Seen) => Tweak | undefined

/** The proxy of a test: what it saw, and what it should do from now on. */
export interface ProxyControl {
  readonly origin: string
  readonly seen: Array<Seen>
  readonly set: (tweaker: Tweaker | undefined) => void
}

/** The proxy in front of the registry under test. */
export class Proxy extends Context.Tag("test/remote/Proxy")<Proxy, ProxyControl>() {}

const forward = (upstream: URL, req: Http.IncomingMessage, res: Http.ServerResponse, tweak: Tweak) => {
  const headers = { ...req.headers, host: upstream.host }
  if (tweak.dropRange === true) delete headers.range
  const out = Http.request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
    (answer) => {
      const replyHeaders: Http.OutgoingHttpHeaders = { ...answer.headers }
      for (const [key, value] of Object.entries(tweak.headers ?? {})) {
        if (value === undefined) delete replyHeaders[key.toLowerCase()]
        else replyHeaders[key.toLowerCase()] = value
      }
      const location = answer.headers.location
      if (tweak.absoluteLocation !== undefined && location !== undefined && location.startsWith("/")) {
        replyHeaders.location = `${tweak.absoluteLocation}${location}`
      }
      res.writeHead(answer.statusCode ?? 502, replyHeaders)
      let sent = 0
      answer.on("data", (chunk: Buffer) => {
        let part = chunk
        if (tweak.corruptAt !== undefined && tweak.corruptAt >= sent && tweak.corruptAt < sent + part.byteLength) {
          part = Buffer.from(part)
          const at = tweak.corruptAt - sent
          part[at] = (part[at] ?? 0) ^ 0xff
        }
        if (tweak.cutAfter !== undefined) {
          const left = tweak.cutAfter - sent
          if (left <= 0) return
          if (part.byteLength >= left) {
            res.write(part.subarray(0, left))
            sent += left
            answer.destroy()
            // let the bytes reach the client before the connection goes
            setTimeout(() => res.socket?.destroy(), 50)
            return
          }
        }
        sent += part.byteLength
        res.write(part)
      })
      answer.on("end", () => {
        if (tweak.cutAfter === undefined || sent < tweak.cutAfter) res.end()
      })
    }
  )
  out.on("error", () => res.destroy())
  req.pipe(out)
}

/**
 * Our registry (memory stores) behind the proxy, with a transport reaching it through the
 * proxy and recording requests.
 */
export const behindProxy: Layer.Layer<Env | Proxy, unknown> = Layer.unwrapScoped(
  Effect.gen(function*() {
    const context = yield* Layer.build(Registry.layerServer().pipe(Layer.provide(Registry.layerMemory)))
    const upstream = new URL(yield* Effect.provide(Registry.url, context))
    let tweaker: Tweaker | undefined
    const seen: Array<Seen> = []
    const server = yield* Effect.acquireRelease(
      Effect.async<Http.Server>((resume) => {
        const http = Http.createServer((req, res) => {
          const url = new URL(req.url ?? "/", "http://proxy")
          const request: Seen = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers }
          seen.push(request)
          const tweak = tweaker?.(request) ?? {}
          const reply = tweak.reply
          if (reply !== undefined) {
            req.resume()
            req.on("end", () => {
              res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers })
              res.end(reply.body ?? "")
            })
            return
          }
          forward(upstream, req, res, tweak)
        })
        http.listen(0, "127.0.0.1", () => resume(Effect.succeed(http)))
      }),
      (http) =>
        Effect.async<void>((resume) => {
          http.closeAllConnections()
          http.close(() => resume(Effect.void))
        })
    )
    const port = (server.address() as AddressInfo).port
    const control: ProxyControl = {
      origin: `http://127.0.0.1:${port}`,
      seen,
      set: (next) => {
        tweaker = next
      }
    }
    return Layer.merge(
      envOver({ name: "ours behind a proxy", host: `127.0.0.1:${port}`, ours: true }, NodeHttpClient.layer),
      Layer.succeed(Proxy, control)
    )
  })
)

/** Runs `effect` with the proxy doing what `tweaker` says, and forwarding again after. */
export const withTweak = <A, E, R>(tweaker: Tweaker, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.flatMap(Proxy, (proxy) => Effect.sync(() => proxy.set(tweaker))),
    () => effect,
    () => Effect.flatMap(Proxy, (proxy) => Effect.sync(() => proxy.set(undefined)))
  )

/** A tweak applied to the first matching request only. */
export const once = (matches: (request: Seen) => boolean, tweak: Tweak): Tweaker => {
  let done = false
  return (request) => {
    if (done || !matches(request)) return undefined
    done = true
    return tweak
  }
}
