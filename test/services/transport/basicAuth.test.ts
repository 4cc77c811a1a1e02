/**
 * Refused credentials: Basic credentials a registry refuses are sent again only when the
 * keychain, read afresh, gives other ones; and a refused HEAD, which has no body, still
 * carries the error code its status stands for.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Reference from "../../../src/domain/Reference.js"
import * as RegistryTransportNode from "../../../src/layers/RegistryTransportNode.js"
import * as Keychain from "../../../src/services/Keychain.js"
import * as RegistryTransport from "../../../src/services/RegistryTransport.js"
import { type Server, serve } from "./server.js"

const provideWith = (keychain: Keychain.Keychain) =>
  Effect.provide(
    RegistryTransportNode.layer({ retry: { base: "5 millis" } }).pipe(
      Layer.provide(Layer.succeed(Keychain.Keychain, keychain))
    )
  )

const repoOn = (server: Server) => Either.getOrThrow(Reference.parseRepository(`${server.host}/team/app`))

const basicOf = (header: string | undefined) =>
  header?.startsWith("Basic ") === true ? Buffer.from(header.slice(6), "base64").toString("utf8") : undefined

// A registry that wants Basic `bob:right`, answering 401 with the spec's error body otherwise.
const basicRegistry = () =>
  serve((request) =>
    basicOf(request.headers.authorization) === "bob:right"
      ? { status: 200, headers: { "content-type": "application/json" }, body: "{}" }
      : {
        status: 401,
        headers: { "www-authenticate": "Basic realm=\"test\"", "content-type": "application/json" },
        body: JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] })
      }
  )

const getManifest = (server: Server) =>
  RegistryTransport.execute(HttpClientRequest.get("/v2/team/app/manifests/latest"), RegistryTransport.pull(repoOn(server)))

describe("RegistryTransport: refused credentials", () => {
  it.scopedLive("does not send refused Basic credentials a second time when the keychain gives the same", () =>
    Effect.gen(function*() {
      const server = yield* basicRegistry()
      const error = yield* Effect.flip(
        getManifest(server).pipe(provideWith(Keychain.fromEntries({ [server.host]: Keychain.basic("bob", "wrong") })))
      )
      expect(error.status).toBe(401)
      expect(error.code).toBe("UNAUTHORIZED")
      expect(server.to("/v2/team")).toHaveLength(1)
    }))

  it.scopedLive("sends the request again when the keychain, read afresh, gives other credentials", () =>
    Effect.gen(function*() {
      const server = yield* basicRegistry()
      let reads = 0
      const changing = Keychain.make(() =>
        Effect.sync(() => {
          reads += 1
          return Keychain.basic("bob", reads === 1 ? "stale" : "right")
        })
      )
      const response = yield* getManifest(server).pipe(provideWith(changing))
      expect(response.status).toBe(200)
      expect(server.to("/v2/team").map((r) => basicOf(r.headers.authorization))).toEqual(["bob:stale", "bob:right"])
    }))

  it.scopedLive("names UNAUTHORIZED for a HEAD refused with 401, though the answer has no body", () =>
    Effect.gen(function*() {
      const server = yield* basicRegistry()
      const error = yield* Effect.flip(
        RegistryTransport.execute(
          HttpClientRequest.head("/v2/team/app/manifests/latest"),
          RegistryTransport.pull(repoOn(server))
        ).pipe(provideWith(Keychain.alwaysAnonymous))
      )
      expect(error.status).toBe(401)
      expect(error.code).toBe("UNAUTHORIZED")
      expect(error.message).toContain("401 UNAUTHORIZED")
    }))

  it.scopedLive("names DENIED for a HEAD refused with 403", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => (request.path === "/v2/" ? { status: 200 } : { status: 403 }))
      const error = yield* Effect.flip(
        RegistryTransport.execute(
          HttpClientRequest.head("/v2/team/app/blobs/sha256:00"),
          RegistryTransport.pull(repoOn(server))
        ).pipe(provideWith(Keychain.alwaysAnonymous))
      )
      expect(error.status).toBe(403)
      expect(error.code).toBe("DENIED")
    }))
})
