/**
 * The body reader over Node-like sources: pieces handed on whole and in order, the source
 * paused while the queue is full, the idle timeout only while the consumer waits, a close
 * before the end as a failure, and the source destroyed when the consumer stops early.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Http from "node:http"
import type * as Net from "node:net"
import { PassThrough } from "node:stream"
import * as ReadableBody from "../../src/services/internal/readableBody.js"

type Failure = { readonly _tag: "Failed"; readonly cause: unknown } | { readonly _tag: "Idle" }
const failure = (cause: unknown): Failure => ({ _tag: "Failed", cause })
const idle = (): Failure => ({ _tag: "Idle" })

const sourceOf = (pass: PassThrough) => {
  const source = ReadableBody.sourceOf({ source: pass })
  if (source === undefined) expect.fail("a PassThrough is a source")
  return source
}

// The body of a PassThrough, with an idle timeout of `millis`.
const body = (pass: PassThrough, millis: number) =>
  ReadableBody.stream(sourceOf(pass), failure, { idle: { millis, onIdle: idle } })

describe("readableBody", () => {
  it("recognises a Node readable under `source` and nothing else", () => {
    expect(ReadableBody.sourceOf({ source: new PassThrough() })).toBeDefined()
    expect(ReadableBody.sourceOf({ source: {} })).toBeUndefined()
    expect(ReadableBody.sourceOf({})).toBeUndefined()
    expect(ReadableBody.sourceOf(null)).toBeUndefined()
    // Wrappers keeping the message as `original` are looked through.
    expect(ReadableBody.sourceOf({ original: { original: { source: new PassThrough() } } })).toBeDefined()
  })

  it.live("finds the source under @effect/platform-node's client responses, and reads them whole", () =>
    Effect.gen(function* () {
      const body = Buffer.alloc(3 * 1024 * 1024, 5)
      const server = Http.createServer((_req, res) => res.end(body))
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => void server.close())
      )
      const port = (server.address() as Net.AddressInfo).port
      const client = yield* HttpClient.HttpClient
      const response = yield* client.get(`http://127.0.0.1:${port}/`)
      const source = ReadableBody.sourceOf(response)
      expect(source).toBeDefined()
      if (source === undefined) return
      const read = yield* Stream.runCollect(ReadableBody.stream(source, failure, { owner: response }))
      expect(Buffer.concat(Chunk.toReadonlyArray(read)).equals(body)).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layer)))

  it.live("hands on every piece, in order, without copying", () =>
    Effect.gen(function* () {
      const pass = new PassThrough()
      const pieces = [Buffer.from("one "), Buffer.from("two "), Buffer.from("three")]
      setTimeout(() => {
        for (const piece of pieces) pass.write(piece)
        pass.end()
      }, 5)
      const out = Chunk.toReadonlyArray(yield* Stream.runCollect(body(pass, 1000)))
      expect(Buffer.concat(out).toString()).toBe("one two three")
      // The same buffers came through (PassThrough keeps them as written).
      expect(out.every((piece) => pieces.some((p) => p.buffer === piece.buffer))).toBe(true)
    }))

  it.live("pauses the source while the consumer holds back, and resumes it when it reads", () =>
    Effect.gen(function* () {
      const pass = new PassThrough({ highWaterMark: 1024 })
      const source = sourceOf(pass)
      const piece = Buffer.alloc(1024 * 1024, 7)
      let written = 0
      // A producer that writes as long as the stream lets it.
      const produce = () => {
        while (written < 16) {
          written++
          if (!pass.write(piece)) return pass.once("drain", produce)
        }
        pass.end()
        return undefined
      }
      let total = 0
      let writtenAtFirstRead = -1
      yield* Stream.runForEach(ReadableBody.stream(source, failure, { idle: { millis: 5000, onIdle: idle } }), (bytes) =>
        Effect.gen(function* () {
          if (writtenAtFirstRead < 0) {
            yield* Effect.sleep("50 millis")
            writtenAtFirstRead = written
          }
          total += bytes.byteLength
        })
      ).pipe(Effect.zipLeft(Effect.sync(produce), { concurrent: true }))
      expect(total).toBe(16 * 1024 * 1024)
      // While the first piece was held, the reader queued at most its high-water mark (2 MiB)
      // plus what the PassThrough buffers: the producer was held back, not run to the end.
      expect(writtenAtFirstRead).toBeGreaterThan(0)
      expect(writtenAtFirstRead).toBeLessThan(16)
    }))

  it.live("fails with the idle error when nothing comes while the consumer waits", () =>
    Effect.gen(function* () {
      const pass = new PassThrough()
      pass.write(Buffer.from("first"))
      const result = yield* Stream.runCollect(body(pass, 100)).pipe(Effect.either)
      expect(Either.isLeft(result) && result.left._tag).toBe("Idle")
      expect(pass.destroyed).toBe(true)
    }))

  it.live("does not time out while the consumer is busy", () =>
    Effect.gen(function* () {
      const pass = new PassThrough()
      pass.write(Buffer.from("a"))
      pass.end(Buffer.from("b"))
      const out = yield* Stream.runForEach(
        body(pass, 50),
        () => Effect.sleep("150 millis")
      ).pipe(Effect.either)
      expect(Either.isRight(out)).toBe(true)
    }))

  it.live("fails when the source closes before its end, or errors", () =>
    Effect.gen(function* () {
      const closed = new PassThrough()
      setTimeout(() => closed.destroy(), 5)
      const early = yield* Stream.runCollect(body(closed, 1000)).pipe(Effect.either)
      expect(Either.isLeft(early) && early.left._tag).toBe("Failed")

      const broken = new PassThrough()
      const boom = new Error("boom")
      setTimeout(() => broken.destroy(boom), 5)
      const failed = yield* Stream.runCollect(body(broken, 1000)).pipe(Effect.either)
      expect(Either.isLeft(failed) && failed.left._tag === "Failed" && failed.left.cause).toBe(boom)
    }))

  it.live("destroys the source when the consumer stops early, and not after its end", () =>
    Effect.gen(function* () {
      const pass = new PassThrough()
      pass.write(Buffer.from("abc"))
      const first = yield* Stream.runHead(body(pass, 1000))
      expect(first._tag).toBe("Some")
      expect(pass.destroyed).toBe(true)

      const whole = new PassThrough()
      whole.end(Buffer.from("abc"))
      yield* Stream.runDrain(body(whole, 1000))
      expect(whole.readableEnded).toBe(true)
    }))
})
