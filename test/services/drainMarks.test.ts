/**
 * Backpressure of byte streams written by @effect/platform-node: to a Node Writable (the CLI's
 * stdout), and as a streamed HTTP request body through the transport. A source of one-piece
 * chunks must stop being pulled while the writer is full.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeSink from "@effect/platform-node/NodeSink"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Reference from "../../src/domain/Reference.js"
import * as RegistryTransportNode from "../../src/layers/RegistryTransportNode.js"
import { withDrainMarks } from "../../src/services/internal/drainMarks.js"
import * as Keychain from "../../src/services/Keychain.js"
import * as RegistryTransport from "../../src/services/RegistryTransport.js"
import { slowWritable } from "./slowWritable.js"

const KiB = 1024
const MiB = 1024 * KiB

// `count` one-piece chunks of `size` bytes (as file reads give), counting how many have been
// pulled.
const counted = (count: number, size: number) => {
  let pulled = 0
  const stream = Stream.range(1, count, 1).pipe(
    Stream.map((i) => {
      pulled += 1
      return new Uint8Array(size).fill(i % 256)
    })
  )
  return { stream, pulled: () => pulled }
}

describe("withDrainMarks", () => {
  it.live("adds an empty piece after each chunk and nothing else", () =>
    Effect.gen(function*() {
      const chunks = yield* Stream.fromIterable([new Uint8Array([1, 2]), new Uint8Array([3])]).pipe(
        Stream.rechunk(1),
        withDrainMarks,
        Stream.chunks,
        Stream.runCollect
      )
      expect(Array.from(chunks, (chunk) => Array.from(chunk, (piece) => Array.from(piece)))).toEqual([
        [[1, 2], []],
        [[3], []]
      ])
    }))

  it.live("keeps a slow Writable's queue near its high-water mark", () =>
    Effect.gen(function*() {
      const slow = slowWritable(16 * KiB)
      const source = counted(64, 4 * KiB)
      yield* Stream.run(withDrainMarks(source.stream), NodeSink.fromWritable(() => slow.writable, (cause) => cause))
      expect(source.pulled()).toBe(64)
      expect(slow.written()).toBe(64 * 4 * KiB)
      // Without the marks the whole source (256 KiB) is queued at once.
      expect(slow.most()).toBeLessThanOrEqual(16 * KiB + 4 * KiB)
    }))
})

describe("RegistryTransport streamed request bodies", () => {
  it.scopedLive("stop pulling the source while the registry does not read", () =>
    Effect.gen(function*() {
      let received = 0
      let release: (() => void) | undefined
      const server = yield* Effect.acquireRelease(
        Effect.async<Http.Server>((resume) => {
          const s = Http.createServer((req, res) => {
            if (req.url === "/v2/") {
              res.writeHead(200, { "content-type": "application/json" }).end("{}")
              return
            }
            // Read nothing until released.
            req.pause()
            release = () => {
              req.on("data", (chunk: Buffer) => {
                received += chunk.byteLength
              })
              req.on("end", () => res.writeHead(201).end())
              req.resume()
            }
          })
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) =>
          Effect.async<void>((resume) => {
            s.closeAllConnections()
            s.close(() => resume(Effect.void))
          })
      )
      const host = `127.0.0.1:${(server.address() as Net.AddressInfo).port}`
      const repository = Either.getOrThrow(Reference.parseRepository(`${host}/team/app`))
      const source = counted(64, MiB)
      const upload = yield* RegistryTransport.execute(
        HttpClientRequest.put("/v2/team/app/blobs/uploads/x").pipe(
          HttpClientRequest.bodyStream(source.stream, { contentType: "application/octet-stream", contentLength: 64 * MiB })
        ),
        RegistryTransport.push(repository)
      ).pipe(
        Effect.provide(RegistryTransportNode.layer().pipe(Layer.provide(Keychain.layerAnonymous))),
        Effect.fork
      )
      yield* Effect.sleep("1 second")
      // The socket buffers hold a few MiB; without backpressure all 64 are pulled at once.
      expect(source.pulled()).toBeLessThan(24)
      expect(release).toBeDefined()
      release?.()
      const response = yield* Fiber.join(upload)
      expect(response.status).toBe(201)
      expect(received).toBe(64 * MiB)
      expect(source.pulled()).toBe(64)
    }))
})
