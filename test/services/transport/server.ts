// A tiny HTTP server on 127.0.0.1 for transport tests: each test gives a handler that plays
// the registry (or token server, or blob storage) and reads back what was asked of it.
import * as Effect from "effect/Effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

export interface Recorded {
  readonly method: string
  readonly path: string
  readonly url: URL
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

export interface Reply {
  readonly status?: number
  readonly headers?: Record<string, string | ReadonlyArray<string>>
  readonly body?: string | Uint8Array
  /** Destroy the connection instead of answering. */
  readonly drop?: boolean
}

export type Handler = (request: Recorded, server: Server) => Reply

export interface Server {
  /** `127.0.0.1:port` */
  readonly host: string
  readonly port: number
  /** `http://127.0.0.1:port` */
  readonly origin: string
  readonly requests: Array<Recorded>
  /** Requests whose path starts with `prefix`. */
  readonly to: (prefix: string) => ReadonlyArray<Recorded>
}

/**
 * Starts a server for the scope of the test. `hostname` is what the origin is written with:
 * `127.0.0.1` by default, or `localhost` for a "different host" on the same machine.
 */
export const serve = (handler: Handler, hostname: "127.0.0.1" | "localhost" = "127.0.0.1") =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Server; readonly http: Http.Server }>((resume) => {
      const requests: Array<Recorded> = []
      let self: Server | undefined
      const http = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "x"}`)
          const recorded: Recorded = {
            method: req.method ?? "GET",
            path: url.pathname,
            url,
            headers: req.headers,
            body: Buffer.concat(chunks).toString("utf8")
          }
          requests.push(recorded)
          const reply = handler(recorded, self!)
          if (reply.drop === true) {
            req.socket.destroy()
            return
          }
          res.writeHead(reply.status ?? 200, reply.headers as Http.OutgoingHttpHeaders)
          res.end(reply.body ?? "")
        })
      })
      http.listen(0, "127.0.0.1", () => {
        const port = (http.address() as AddressInfo).port
        self = {
          host: `${hostname}:${port}`,
          port,
          origin: `http://${hostname}:${port}`,
          requests,
          to: (prefix) => requests.filter((r) => r.path.startsWith(prefix))
        }
        resume(Effect.succeed({ server: self, http }))
      })
    }),
    ({ http }) =>
      Effect.async<void>((resume) => {
        http.closeAllConnections()
        http.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ server }) => server))

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})

export const bearerChallenge = (realm: string, service: string, scope?: string): Reply => ({
  status: 401,
  headers: {
    "www-authenticate": scope === undefined
      ? `Bearer realm="${realm}",service="${service}"`
      : `Bearer realm="${realm}",service="${service}",scope="${scope}"`,
    "content-type": "application/json"
  },
  body: JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] })
})
