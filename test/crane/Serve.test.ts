import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Serve from "../../src/crane/Serve.js"

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
})
