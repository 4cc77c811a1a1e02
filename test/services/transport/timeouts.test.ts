/**
 * The transport's timeouts against registries that go silent: one that accepts connections
 * and never answers, one that stops sending a body half-way, and slow but steady ones that
 * must not be cut off.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { createHash, randomBytes } from "node:crypto"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Digest from "../../../src/domain/Digest.js"
import * as Reference from "../../../src/domain/Reference.js"
import * as RegistryTransportNode from "../../../src/layers/RegistryTransportNode.js"
import * as Keychain from "../../../src/services/Keychain.js"
import * as RegistryTransport from "../../../src/services/RegistryTransport.js"
import * as Remote from "../../../src/services/Remote.js"

// A transport with small timeouts and quick retries.
const provideTransport = (options: RegistryTransportNode.Options = {}) =>
  Effect.provide(
    RegistryTransportNode.layer({
      retry: { base: "5 millis", attempts: 2 },
      responseTimeout: "300 millis",
      idleTimeout: "300 millis",
      ...options
    }).pipe(Layer.provide(Keychain.layerAnonymous))
  )

interface Silent {
  readonly host: string
  /** Connections accepted so far. */
  readonly accepted: () => number
  /** Connections the client has closed so far. */
  readonly closed: () => number
}

// A server that accepts connections, reads what is sent, and never answers.
const silentServer = Effect.acquireRelease(
  Effect.async<{ readonly info: Silent; readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>((resume) => {
    let accepted = 0
    let closed = 0
    const sockets = new Set<Net.Socket>()
    const server = Net.createServer((socket) => {
      accepted += 1
      sockets.add(socket)
      socket.on("data", () => undefined)
      socket.on("close", () => {
        closed += 1
        sockets.delete(socket)
      })
      socket.on("error", () => undefined)
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as Net.AddressInfo
      resume(Effect.succeed({
        info: { host: `127.0.0.1:${address.port}`, accepted: () => accepted, closed: () => closed },
        server,
        sockets
      }))
    })
  }),
  ({ server, sockets }) =>
    Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ info }) => info))

// An HTTP server on 127.0.0.1 whose handler the test writes.
const httpServer = (handler: Http.RequestListener) =>
  Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const server = Http.createServer(handler)
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map((server) => `127.0.0.1:${(server.address() as Net.AddressInfo).port}`))

const repoOn = (host: string) => Either.getOrThrow(Reference.parseRepository(`${host}/team/app`))

const getManifest = (host: string) =>
  RegistryTransport.execute(HttpClientRequest.get("/v2/team/app/manifests/latest"), RegistryTransport.pull(repoOn(host)))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("RegistryTransport timeouts", () => {
  it("waits 60 seconds for headers and for body bytes unless told otherwise", () => {
    expect(Duration.toMillis(RegistryTransport.defaultResponseTimeout)).toBe(60_000)
    expect(Duration.toMillis(RegistryTransport.defaultIdleTimeout)).toBe(60_000)
  })

  it.scopedLive("fails with a Transport error naming the wait when a registry accepts and never answers", () =>
    Effect.gen(function*() {
      const silent = yield* silentServer
      const started = Date.now()
      const error = yield* Effect.flip(getManifest(silent.host).pipe(provideTransport()))
      const elapsed = Date.now() - started
      expect(error.reason).toBe("Transport")
      expect(error.errno).toBe("ETIMEDOUT")
      expect(error.message).toContain("no response within 300ms")
      expect(error.url).toBe(`http://${silent.host}/v2/`)
      // two tries of 300 ms each, not a hang
      expect(elapsed).toBeGreaterThanOrEqual(550)
      expect(elapsed).toBeLessThan(5_000)
    }))

  it.scopedLive("retries a timed-out request like a lost connection, closing each connection it gives up on", () =>
    Effect.gen(function*() {
      const silent = yield* silentServer
      yield* Effect.flip(getManifest(silent.host).pipe(provideTransport({ retry: { base: "5 millis", attempts: 3 } })))
      expect(silent.accepted()).toBe(3)
      yield* Effect.promise(async () => {
        for (let i = 0; i < 100 && silent.closed() < 3; i++) await sleep(10)
      })
      expect(silent.closed()).toBe(3)
    }))

  it.scopedLive("fails reading a body that stops half-way once nothing has come for the idle timeout", () =>
    Effect.gen(function*() {
      const host = yield* httpServer((req, res) => {
        if (req.url === "/v2/") {
          res.writeHead(200, { "content-type": "application/json" }).end("{}")
          return
        }
        res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "content-length": "100" })
        res.write("{\"schemaVersion\":2,")
      })
      const started = Date.now()
      const error = yield* Effect.flip(
        Effect.flatMap(getManifest(host), RegistryTransport.readManifest).pipe(provideTransport())
      )
      expect(error.reason).toBe("Transport")
      expect(error.errno).toBe("ETIMEDOUT")
      expect(error.message).toContain("no data received for 300ms")
      expect(Date.now() - started).toBeLessThan(3_000)
    }))

  it.scopedLive("reads a slow body to its end while bytes keep coming within the idle timeout", () =>
    Effect.gen(function*() {
      const parts = ["{\"schemaVersion\":2,", "\"mediaType\":", "\"application/vnd.oci.image.manifest.v1+json\"", "}"]
      const host = yield* httpServer((req, res) => {
        if (req.url === "/v2/") {
          res.writeHead(200, { "content-type": "application/json" }).end("{}")
          return
        }
        res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" })
        let i = 0
        const next = () => {
          const part = parts[i++]
          if (part === undefined) {
            res.end()
            return
          }
          res.write(part)
          setTimeout(next, 150)
        }
        next()
      })
      const bytes = yield* Effect.flatMap(getManifest(host), RegistryTransport.readManifest).pipe(provideTransport())
      expect(new TextDecoder().decode(bytes)).toBe(parts.join(""))
    }))

  it.scopedLive("counts the response timeout from the end of a streamed upload, not its start", () =>
    Effect.gen(function*() {
      let received = 0
      const host = yield* httpServer((req, res) => {
        if (req.url === "/v2/") {
          res.writeHead(200, { "content-type": "application/json" }).end("{}")
          return
        }
        req.on("data", (chunk: Buffer) => {
          received += chunk.byteLength
        })
        req.on("end", () => res.writeHead(201).end())
      })
      // four pieces 200 ms apart: 600 ms of sending, twice the response timeout
      const body = Stream.fromIterable([1, 2, 3, 4]).pipe(
        Stream.mapEffect((i) => Effect.as(i === 1 ? Effect.void : Effect.sleep("200 millis"), new Uint8Array(1000).fill(i)))
      )
      const response = yield* RegistryTransport.execute(
        HttpClientRequest.put("/v2/team/app/blobs/uploads/x").pipe(
          HttpClientRequest.bodyStream(body, { contentType: "application/octet-stream", contentLength: 4000 })
        ),
        RegistryTransport.push(repoOn(host))
      ).pipe(provideTransport())
      expect(response.status).toBe(201)
      expect(received).toBe(4000)
    }))

  it.scopedLive("resumes a blob download that stalls, from the byte it reached", () =>
    Effect.gen(function*() {
      const blob = randomBytes(64 * 1024)
      const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`
      const ranges: Array<string | undefined> = []
      const host = yield* httpServer((req, res) => {
        if (req.url === "/v2/") {
          res.writeHead(200, { "content-type": "application/json" }).end("{}")
          return
        }
        if (req.method === "HEAD") {
          res.writeHead(200, { "content-length": String(blob.byteLength), "docker-content-digest": digest }).end()
          return
        }
        const range = req.headers.range
        ranges.push(range)
        if (range === undefined) {
          // half the blob, then silence
          res.writeHead(200, { "content-length": String(blob.byteLength) })
          res.write(blob.subarray(0, 32 * 1024))
          return
        }
        const from = Number(/bytes=(\d+)-/.exec(range)?.[1] ?? "0")
        res.writeHead(206, {
          "content-length": String(blob.byteLength - from),
          "content-range": `bytes ${from}-${blob.byteLength - 1}/${blob.byteLength}`
        })
        res.end(blob.subarray(from))
      })
      const ref = Reference.withDigest(repoOn(host), Either.getOrThrow(Digest.parse(digest)))
      const chunks = yield* Effect.flatMap(Remote.layer(ref), (layer) => Stream.runCollect(layer.compressed)).pipe(
        provideTransport()
      )
      expect(Buffer.compare(Buffer.concat(Chunk.toReadonlyArray(chunks)), blob)).toBe(0)
      expect(ranges).toEqual([undefined, "bytes=32768-"])
    }))
})
