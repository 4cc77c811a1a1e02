import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Serve from "../../src/crane/Serve.js"

/** Starts a server for the rest of the scope and answers its `host:port`. */
const start = (options: Serve.ServeOptions) =>
  Effect.flatMap(Layer.build(Serve.layer(options).pipe(Layer.provide(NodeContext.layer))), (context) =>
    Effect.provide(Serve.address, context))

/** Starts an upload session and answers its URL. */
const startUpload = (address: string) =>
  Effect.gen(function* () {
    const response = yield* HttpClient.execute(HttpClientRequest.post(`http://${address}/v2/test/purge/blobs/uploads/`))
    expect(response.status).toBe(202)
    return new URL(response.headers["location"] ?? "", `http://${address}`).toString()
  })

/** The status of `GET <upload>`: 204 while the upload is there, 404 once it is gone. */
const uploadStatus = (upload: string) => Effect.map(HttpClient.get(upload), (response) => response.status)

/** A pause in real time, whatever clock the test runs with. */
const pause = (millis: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/** Polls (in real time) until the upload is gone, for at most about three seconds. */
const gone = (upload: string, tries = 60): Effect.Effect<void, unknown, HttpClient.HttpClient> =>
  Effect.flatMap(uploadStatus(upload), (status) =>
    status === 404
      ? Effect.void
      : tries <= 1
      ? Effect.fail(`the upload is still there (${status})`)
      : Effect.zipRight(pause(50), gone(upload, tries - 1)))

describe("crane Serve", () => {
  it("reads host:port", () => {
    expect(Serve.parseAddress("127.0.0.1:5000")).toEqual(Either.right({ host: "127.0.0.1", port: 5000 }))
  })

  it("reads :port and a bare port as any host on that port", () => {
    expect(Serve.parseAddress(":5000")).toEqual(Either.right({ host: "", port: 5000 }))
    expect(Serve.parseAddress("5000")).toEqual(Either.right({ host: "", port: 5000 }))
  })

  it("reads a bracketed IPv6 address", () => {
    expect(Serve.parseAddress("[::1]:5000")).toEqual(Either.right({ host: "::1", port: 5000 }))
  })

  it("refuses a port out of range and an IPv6 address without brackets", () => {
    expect(Either.isLeft(Serve.parseAddress("127.0.0.1:70000"))).toBe(true)
    expect(Either.isLeft(Serve.parseAddress("::1:5000"))).toBe(true)
  })

  it.scoped("serves the registry API on a free loopback port", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(Serve.layer().pipe(Layer.provide(NodeContext.layer)))
      const address = yield* Effect.provide(Serve.address, context)
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/)
      const response = yield* HttpClient.get(`http://${address}/v2/`)
      expect(response.status).toBe(200)
      expect(response.headers["docker-distribution-api-version"]).toBe("registry/2.0")
    }).pipe(Effect.provide(NodeHttpClient.layer)))

  it.scoped("purges, with the default schedule, an upload once it is more than a day old", () =>
    Effect.gen(function* () {
      const address = yield* start({})
      const upload = yield* startUpload(address)
      expect(yield* uploadStatus(upload)).toBe(204)
      // Hourly purges find it young enough for 23 hours...
      yield* TestClock.adjust("23 hours")
      expect(yield* uploadStatus(upload)).toBe(204)
      // ...and the one after it turned a day old removes it.
      yield* TestClock.adjust("2 hours")
      yield* gone(upload)
    }).pipe(Effect.provide(NodeHttpClient.layer)))

  it.scopedLive("purges stale uploads while it runs, and keeps fresh ones", () =>
    Effect.gen(function* () {
      const address = yield* start({ purgeUploads: { interval: "100 millis", olderThan: "600 millis" } })
      const stale = yield* startUpload(address)
      yield* Effect.sleep("300 millis")
      const fresh = yield* startUpload(address)
      yield* gone(stale)
      expect(yield* uploadStatus(fresh)).toBe(204)
      yield* gone(fresh)
    }).pipe(Effect.provide(NodeHttpClient.layer)))

  it.scopedLive("purges on start the stale uploads a directory kept from an earlier run", () => {
    const disk = mkdtempSync(join(tmpdir(), "serve-purge-"))
    return Effect.gen(function* () {
      const upload = yield* Effect.scoped(
        Effect.gen(function* () {
          const address = yield* start({ disk, purgeUploads: false })
          const url = yield* startUpload(address)
          expect(readdirSync(join(disk, "uploads"))).toHaveLength(1)
          return new URL(url).pathname
        })
      )
      yield* Effect.sleep("50 millis")
      // An interval far away: only the purge at start can remove it.
      const address = yield* start({ disk, purgeUploads: { interval: "1 hour", olderThan: "10 millis" } })
      yield* gone(`http://${address}${upload}`)
      expect(readdirSync(join(disk, "uploads"))).toHaveLength(0)
    }).pipe(
      Effect.provide(NodeHttpClient.layer),
      Effect.ensuring(Effect.sync(() => rmSync(disk, { recursive: true, force: true })))
    )
  })

  it.scopedLive("never purges when told not to", () =>
    Effect.gen(function* () {
      const address = yield* start({ purgeUploads: false })
      const upload = yield* startUpload(address)
      yield* Effect.sleep("200 millis")
      expect(yield* uploadStatus(upload)).toBe(204)
    }).pipe(Effect.provide(NodeHttpClient.layer)))
})
