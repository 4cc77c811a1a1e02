import { describe, expect, it } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { readFileSync } from "node:fs"
import * as Reference from "../../../src/domain/Reference.js"
import * as RegistryTransportNode from "../../../src/layers/RegistryTransportNode.js"
import * as Keychain from "../../../src/services/Keychain.js"
import type { RegistryError } from "../../../src/services/RegistryError.js"
import * as RegistryTransport from "../../../src/services/RegistryTransport.js"
import { version } from "../../../src/version.js"
import { bearerChallenge, json, type Recorded, type Reply, type Server, serve } from "./server.js"

const text = new TextDecoder()

// A transport over Node's client with fast retries and the given credentials.
const provideTransport = (
  credentials: Record<string, Keychain.Credential> = {},
  options: RegistryTransportNode.Options = {}
) =>
  Effect.provide(
    RegistryTransportNode.layer({ retry: { base: "5 millis" }, ...options }).pipe(
      Layer.provide(Keychain.layerStatic(credentials))
    )
  )

const repoOn = (server: Server, path = "team/app") =>
  Either.getOrThrow(Reference.parseRepository(`${server.host}/${path}`))

const basicOf = (header: string | undefined) =>
  header?.startsWith("Basic ") === true ? Buffer.from(header.slice(6), "base64").toString("utf8") : undefined

const manifestBody = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json" })

// A registry whose /v2/ asks for a Bearer token from its own /token endpoint, and whose
// manifests answer only to `Bearer <expected token>`.
const bearerRegistry = (options: {
  readonly tokenReply?: (request: Recorded, count: number) => Reply
  readonly accept?: (authorization: string | undefined) => boolean
} = {}) => {
  let tokens = 0
  return (request: Recorded, server: Server): Reply => {
    const realm = `${server.origin}/token`
    if (request.path === "/token") {
      tokens += 1
      return options.tokenReply?.(request, tokens) ?? json(200, { token: `token-${tokens}`, expires_in: 300 })
    }
    const accept = options.accept ?? ((a) => a !== undefined && a.startsWith("Bearer token-"))
    if (!accept(request.headers.authorization)) return bearerChallenge(realm, "test-registry")
    if (request.path === "/v2/") return json(200, {})
    return { status: 200, headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" }, body: manifestBody }
  }
}

const getManifest = (server: Server, access = RegistryTransport.pull(repoOn(server)), tag = "latest") =>
  RegistryTransport.execute(HttpClientRequest.get(`/v2/${access.repository?.path ?? "x"}/manifests/${tag}`), access)

describe("RegistryTransport: bearer tokens", () => {
  it.scopedLive("fetches an anonymous token for the request's scope and sends it", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry())
      const response = yield* getManifest(server)
      expect(text.decode(yield* RegistryTransport.readManifest(response))).toBe(manifestBody)
      const [token] = server.to("/token")
      expect(token?.url.searchParams.getAll("scope")).toEqual(["repository:team/app:pull"])
      expect(token?.url.searchParams.get("service")).toBe("test-registry")
      expect(token?.headers.authorization).toBeUndefined()
      expect(server.to("/v2/team").at(-1)?.headers.authorization).toBe("Bearer token-1")
    }).pipe(provideTransport()))

  it.scopedLive("sends Basic credentials to the token endpoint and only the token to the registry", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry())
      yield* getManifest(server).pipe(provideTransport({ [server.host]: Keychain.basic("alice", "s3cret") }))
      expect(basicOf(server.to("/token")[0]?.headers.authorization)).toBe("alice:s3cret")
      const registryAuth = server.to("/v2/team").map((r) => r.headers.authorization)
      expect(registryAuth.at(-1)).toBe("Bearer token-1")
      expect(registryAuth.some((a) => a?.startsWith("Basic"))).toBe(false)
    }))

  it.scopedLive("exchanges an identity token with an OAuth2 refresh_token POST", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry({
        tokenReply: (request) =>
          request.method === "POST" ? json(200, { access_token: "token-oauth", expires_in: 300 }) : json(405, {})
      }))
      yield* getManifest(server).pipe(provideTransport({ [server.host]: Keychain.identityToken("refresh-1") }))
      const [post] = server.to("/token")
      expect(post?.method).toBe("POST")
      expect(post?.headers["content-type"]).toBe("application/x-www-form-urlencoded")
      const form = new URLSearchParams(post?.body)
      expect(form.get("grant_type")).toBe("refresh_token")
      expect(form.get("refresh_token")).toBe("refresh-1")
      expect(form.get("scope")).toBe("repository:team/app:pull")
      expect(form.get("service")).toBe("test-registry")
      expect(form.get("client_id")).toBe("effect-containerregistry")
      expect(server.to("/v2/team").at(-1)?.headers.authorization).toBe("Bearer token-oauth")
    }))

  it.scopedLive("falls back to a GET when the token server has no OAuth2 endpoint", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry({
        tokenReply: (request, n) => request.method === "POST" ? json(404, {}) : json(200, { token: `token-${n}` })
      }))
      yield* getManifest(server).pipe(provideTransport({ [server.host]: Keychain.identityToken("refresh-1") }))
      expect(server.to("/token").map((r) => r.method)).toEqual(["POST", "GET"])
      expect(server.to("/v2/team").at(-1)?.headers.authorization).toBe("Bearer token-2")
    }))

  it.scopedLive("uses the password grant when asked to", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry({
        tokenReply: (request) => request.method === "POST" ? json(200, { token: "token-pw" }) : json(405, {})
      }))
      yield* getManifest(server).pipe(
        provideTransport({ [server.host]: Keychain.basic("alice", "s3cret") }, { oauthPassword: true })
      )
      const form = new URLSearchParams(server.to("/token")[0]?.body)
      expect(form.get("grant_type")).toBe("password")
      expect(form.get("username")).toBe("alice")
      expect(form.get("password")).toBe("s3cret")
      expect(server.to("/token")[0]?.headers.authorization).toBeUndefined()
    }))

  it.scopedLive("uses a refresh token handed out by the token server for the next exchange", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry({
        tokenReply: (request, n) =>
          request.method === "POST"
            ? json(200, { token: `token-${n}` })
            : json(200, { token: `token-${n}`, refresh_token: "handed-out" })
      }))
      yield* getManifest(server)
      yield* RegistryTransport.execute(
        HttpClientRequest.head("/v2/team/app/blobs/sha256:00"),
        RegistryTransport.push(repoOn(server))
      ).pipe(Effect.ignore)
      const [first, second] = server.to("/token")
      expect(first?.method).toBe("GET")
      expect(second?.method).toBe("POST")
      expect(new URLSearchParams(second?.body).get("refresh_token")).toBe("handed-out")
    }).pipe(provideTransport()))

  it.scopedLive("reuses a token for the same scopes and fetches another for new scopes", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry())
      yield* getManifest(server)
      yield* getManifest(server, RegistryTransport.pull(repoOn(server)), "v2")
      expect(server.to("/token")).toHaveLength(1)
      yield* getManifest(server, RegistryTransport.push(repoOn(server)))
      const scopes = server.to("/token").map((r) => r.url.searchParams.getAll("scope"))
      expect(scopes).toEqual([["repository:team/app:pull"], ["repository:team/app:pull,push"]])
    }).pipe(provideTransport()))

  it.scopedLive("pings /v2/ once per registry", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry())
      yield* Effect.all([getManifest(server), getManifest(server, undefined, "a"), getManifest(server, undefined, "b")], {
        concurrency: 3
      })
      expect(server.requests.filter((r) => r.path === "/v2/")).toHaveLength(1)
      expect(server.to("/token")).toHaveLength(1)
    }).pipe(provideTransport()))

  it.scopedLive("asks for the scope a 401 names, first, and sends the request again", () =>
    Effect.gen(function*() {
      const mountScope = "repository:other/src:pull"
      const server = yield* serve((request, self) => {
        if (request.path === "/token") {
          const scopes = request.url.searchParams.getAll("scope")
          return json(200, { token: scopes.includes(mountScope) ? "token-wide" : "token-narrow" })
        }
        const auth = request.headers.authorization
        if (request.path === "/v2/") return bearerChallenge(`${self.origin}/token`, "svc")
        if (auth === "Bearer token-wide") return { status: 201 }
        return bearerChallenge(`${self.origin}/token`, "svc", mountScope)
      })
      const response = yield* RegistryTransport.execute(
        HttpClientRequest.post("/v2/team/app/blobs/uploads/?mount=sha256:00&from=other/src"),
        RegistryTransport.push(repoOn(server))
      )
      expect(response.status).toBe(201)
      const scopes = server.to("/token").map((r) => r.url.searchParams.getAll("scope"))
      expect(scopes).toEqual([["repository:team/app:pull,push"], [mountScope, "repository:team/app:pull,push"]])
      expect(server.to("/v2/team").map((r) => r.headers.authorization)).toEqual([
        "Bearer token-narrow",
        "Bearer token-wide"
      ])
    }).pipe(provideTransport()))

  it.scopedLive("fails with the 401 after re-authenticating once", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry({ accept: (a) => a === "Bearer never" }))
      const error = yield* Effect.flip(getManifest(server))
      expect(error.reason).toBe("Status")
      expect(error.status).toBe(401)
      expect(error.code).toBe("UNAUTHORIZED")
      expect(server.to("/v2/team")).toHaveLength(2)
      expect(server.to("/token")).toHaveLength(2)
    }).pipe(provideTransport()))

  it.scoped("refreshes a token shortly before its expires_in runs out", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry({ tokenReply: (_, n) => json(200, { token: `token-${n}`, expires_in: 120 }) }))
      yield* getManifest(server)
      yield* TestClock.adjust("100 seconds")
      yield* getManifest(server)
      expect(server.to("/token")).toHaveLength(1)
      yield* TestClock.adjust("15 seconds")
      yield* getManifest(server)
      expect(server.to("/token")).toHaveLength(2)
      expect(server.to("/v2/team").at(-1)?.headers.authorization).toBe("Bearer token-2")
    }).pipe(provideTransport()))

  it.scoped("takes a token without expires_in to last 60 seconds", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry({ tokenReply: (_, n) => json(200, { token: `token-${n}` }) }))
      yield* getManifest(server)
      yield* TestClock.adjust("50 seconds")
      yield* getManifest(server)
      expect(server.to("/token")).toHaveLength(1)
      yield* TestClock.adjust("10 seconds")
      yield* getManifest(server)
      expect(server.to("/token")).toHaveLength(2)
    }).pipe(provideTransport()))

  it.scopedLive("sends a registry token from the keychain as is, with no exchange", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry({ accept: (a) => a === "Bearer from-config" }))
      yield* getManifest(server).pipe(provideTransport({ [server.host]: Keychain.registryToken("from-config") }))
      expect(server.to("/token")).toHaveLength(0)
      expect(server.to("/v2/team").at(-1)?.headers.authorization).toBe("Bearer from-config")
    }))

  it.scopedLive("refuses a token response over 64 KiB", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry({
        tokenReply: () => json(200, { token: "x".repeat(70 * 1024) })
      }))
      const error = yield* Effect.flip(getManifest(server))
      expect(error.reason).toBe("TooLarge")
      expect(error.url).toContain("/token")
    }).pipe(provideTransport()))

  it.scopedLive("reports a refused token exchange as Auth with the server's reason and no password", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry({
        tokenReply: () => json(401, { details: "incorrect username or password" })
      }))
      const error = yield* Effect.flip(
        getManifest(server).pipe(provideTransport({ [server.host]: Keychain.basic("alice", "s3cret-pw") }))
      )
      expect(error.reason).toBe("Auth")
      expect(error.status).toBe(401)
      expect(error.message).toContain("incorrect username or password")
      expect(error.message).not.toContain("s3cret-pw")
      expect(JSON.stringify(error)).not.toContain("s3cret-pw")
    }))

  it.scopedLive("refuses a realm on a link-local address", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => bearerChallenge("http://169.254.169.254/latest/meta-data", "svc"))
      const error = yield* Effect.flip(getManifest(server))
      expect(error.reason).toBe("UnsafeUrl")
      expect(error.message).toContain("169.254.169.254")
    }).pipe(provideTransport()))

  it.scopedLive("refuses a realm that is not http(s)", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => bearerChallenge("file:///etc/passwd", "svc"))
      const error = yield* Effect.flip(getManifest(server))
      expect(error.reason).toBe("UnsafeUrl")
    }).pipe(provideTransport()))

  it.scopedLive("fails Auth when the keychain cannot answer", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry())
      const failing = Keychain.make(() =>
        Effect.fail(new Keychain.KeychainError({ reason: "Malformed", path: "/x/config.json", detail: "not valid JSON" }))
      )
      const error = yield* Effect.flip(getManifest(server)).pipe(
        Effect.provide(RegistryTransportNode.layer().pipe(Layer.provide(Layer.succeed(Keychain.Keychain, failing))))
      )
      expect(error.reason).toBe("Auth")
      expect(error.message).toContain("/x/config.json")
    }))
})

describe("RegistryTransport: Basic and anonymous registries", () => {
  it.scopedLive("sends Basic credentials to a registry that asks for Basic", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        basicOf(request.headers.authorization) === "bob:hunter2"
          ? { status: 200, body: manifestBody }
          : { status: 401, headers: { "www-authenticate": "Basic realm=\"Registry Realm\"" } }
      )
      yield* getManifest(server).pipe(provideTransport({ [server.host]: Keychain.basic("bob", "hunter2") }))
      expect(basicOf(server.to("/v2/team").at(-1)?.headers.authorization)).toBe("bob:hunter2")
      expect(server.to("/token")).toHaveLength(0)
    }))

  it.scopedLive("sends no Authorization to a registry that needs none", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => ({ status: 200, body: manifestBody }))
      yield* getManifest(server).pipe(provideTransport({ [server.host]: Keychain.basic("bob", "hunter2") }))
      expect(server.requests.every((r) => r.headers.authorization === undefined)).toBe(true)
    }))

  it.scopedLive("answers a challenge that appears after an open /v2/", () =>
    Effect.gen(function*() {
      const server = yield* serve((request, self) => {
        if (request.path === "/v2/") return json(200, {})
        if (request.path === "/token") return json(200, { token: "late" })
        return request.headers.authorization === "Bearer late"
          ? { status: 200, body: manifestBody }
          : bearerChallenge(`${self.origin}/token`, "svc", "repository:team/app:pull")
      })
      const response = yield* getManifest(server)
      expect(response.status).toBe(200)
      expect(server.to("/token")[0]?.url.searchParams.getAll("scope")).toEqual(["repository:team/app:pull"])
    }).pipe(provideTransport()))

  it.scopedLive("sends its User-Agent, with the caller's suffix, on every request", () =>
    Effect.gen(function*() {
      const server = yield* serve(bearerRegistry())
      yield* getManifest(server).pipe(provideTransport({}, { userAgent: "crane-test/1.0" }))
      const agents = new Set(server.requests.map((r) => r.headers["user-agent"]))
      expect([...agents]).toEqual([`effect-containerregistry/${version} crane-test/1.0`])
      expect(new Set(server.requests.map((r) => r.path))).toEqual(new Set(["/v2/", "/token", "/v2/team/app/manifests/latest"]))
    }))

  it.effect("works over any HttpClient, here one answering in-process without a socket", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const inProcess = HttpClient.make((request, url) =>
        Effect.sync(() => {
          seen.push(`${request.method} ${url.href} ${request.headers["authorization"] ?? "-"}`)
          const web = url.pathname === "/token"
            ? Response.json({ token: "in-process" })
            : request.headers["authorization"] === "Bearer in-process"
            ? new Response(manifestBody, { status: 200 })
            : new Response(null, {
              status: 401,
              headers: { "www-authenticate": "Bearer realm=\"https://registry.example/token\",service=\"example\"" }
            })
          return HttpClientResponse.fromWeb(request, web)
        })
      )
      const repository = Either.getOrThrow(Reference.parseRepository("registry.example/team/app"))
      const response = yield* RegistryTransport.execute(
        HttpClientRequest.get("/v2/team/app/manifests/latest"),
        RegistryTransport.pull(repository)
      ).pipe(
        Effect.provide(
          RegistryTransport.layer().pipe(
            Layer.provide(Layer.succeed(HttpClient.HttpClient, inProcess)),
            Layer.provide(Keychain.layerAnonymous)
          )
        )
      )
      expect(text.decode(yield* RegistryTransport.readManifest(response))).toBe(manifestBody)
      expect(seen).toEqual([
        "GET https://registry.example/v2/ -",
        "GET https://registry.example/token?scope=repository%3Ateam%2Fapp%3Apull&service=example -",
        "GET https://registry.example/v2/team/app/manifests/latest Bearer in-process"
      ])
    }))

  it("keeps the version constant equal to package.json's", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
      version: string
    }
    expect(version).toBe(pkg.version)
    expect(RegistryTransport.userAgent()).toBe(`effect-containerregistry/${pkg.version}`)
  })

  it.scopedLive("falls back to plain http for an insecure registry whose https fails", () =>
    Effect.gen(function*() {
      const server = yield* serve(() => ({ status: 200, body: manifestBody }))
      const registry = Either.getOrThrow(Reference.parseRegistry(server.host, { insecure: true }))
      const repository = Either.getOrThrow(Reference.parseRepository(`${server.host}/team/app`, { insecure: true }))
      expect(registry.insecure).toBe(true)
      const response = yield* RegistryTransport.execute(
        HttpClientRequest.get("/v2/team/app/manifests/latest"),
        RegistryTransport.pull(repository)
      )
      expect(response.status).toBe(200)
      expect(server.requests.map((r) => r.path)).toEqual(["/v2/", "/v2/team/app/manifests/latest"])
    }).pipe(provideTransport()))
})

describe("RegistryTransport: errors and retries", () => {
  it.scopedLive("decodes the registry's error body into a RegistryError with its code", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path === "/v2/"
          ? json(200, {})
          : json(404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: { Tag: "nope" } }] })
      )
      const error = yield* Effect.flip(getManifest(server, undefined, "nope"))
      expect(error._tag).toBe("RegistryError")
      expect(error.reason).toBe("Status")
      expect(error.status).toBe(404)
      expect(error.code).toBe("MANIFEST_UNKNOWN")
      expect(error.errors?.[0]?.detail).toEqual({ Tag: "nope" })
      expect(error.message).toBe(
        `GET http://${server.host}/v2/team/app/manifests/nope: 404 MANIFEST_UNKNOWN: manifest unknown; {"Tag":"nope"}`
      )
    }).pipe(provideTransport()))

  it.scopedLive("does not retry a 404", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path === "/v2/" ? json(200, {}) : json(404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "x" }] })
      )
      yield* Effect.flip(getManifest(server))
      expect(server.to("/v2/team")).toHaveLength(1)
    }).pipe(provideTransport()))

  it.scopedLive("returns an expected non-2xx status instead of failing", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => (request.path === "/v2/" ? json(200, {}) : { status: 404 }))
      const response = yield* RegistryTransport.execute(
        HttpClientRequest.head("/v2/team/app/blobs/sha256:00"),
        RegistryTransport.pull(repoOn(server)),
        { expected: [200, 404] }
      )
      expect(response.status).toBe(404)
    }).pipe(provideTransport()))

  it.scopedLive("waits as long as Retry-After asks before retrying a 503", () =>
    Effect.gen(function*() {
      let calls = 0
      const server = yield* serve((request) => {
        if (request.path === "/v2/") return json(200, {})
        calls += 1
        return calls === 1 ? { status: 503, headers: { "retry-after": "1" } } : { status: 200, body: manifestBody }
      })
      const started = Date.now()
      const response = yield* getManifest(server)
      expect(response.status).toBe(200)
      expect(Date.now() - started).toBeGreaterThanOrEqual(950)
      expect(server.to("/v2/team")).toHaveLength(2)
    }).pipe(provideTransport()))

  it.scopedLive("retries 429 and reports the rate limit when the tries run out", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path === "/v2/" ? json(200, {}) : json(
          429,
          { errors: [{ code: "TOOMANYREQUESTS", message: "You have reached your pull rate limit." }] },
          { "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600", "retry-after": "0" }
        )
      )
      const error = yield* Effect.flip(getManifest(server))
      expect(server.to("/v2/team")).toHaveLength(3)
      expect(error.status).toBe(429)
      expect(error.code).toBe("TOOMANYREQUESTS")
      expect(error.rateLimit).toEqual({ limit: 100, remaining: 0, windowSeconds: 21600 })
      expect(error.message).toContain("rate limit 0 of 100 left per 21600s")
    }).pipe(provideTransport()))

  it.scopedLive("does not wait out a Retry-After longer than the cap", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path === "/v2/" ? json(200, {}) : { status: 429, headers: { "retry-after": "3600" } }
      )
      const error = yield* Effect.flip(getManifest(server))
      expect(server.to("/v2/team")).toHaveLength(1)
      expect(error.retryAfterMillis).toBe(3_600_000)
    }).pipe(provideTransport()))

  it.scopedLive("stops after the configured number of tries", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => (request.path === "/v2/" ? json(200, {}) : { status: 502 }))
      const error = yield* Effect.flip(getManifest(server).pipe(provideTransport({}, { retry: { attempts: 5, base: "1 millis" } })))
      expect(error.status).toBe(502)
      expect(server.to("/v2/team")).toHaveLength(5)
    }))

  it.scopedLive("retries a dropped connection", () =>
    Effect.gen(function*() {
      let calls = 0
      const server = yield* serve((request) => {
        if (request.path === "/v2/") return json(200, {})
        calls += 1
        return calls === 1 ? { drop: true } : { status: 200, body: manifestBody }
      })
      const response = yield* getManifest(server)
      expect(text.decode(yield* RegistryTransport.readManifest(response))).toBe(manifestBody)
      expect(server.to("/v2/team")).toHaveLength(2)
    }).pipe(provideTransport()))

  it.scopedLive("fails with a Transport error when nothing listens", () =>
    Effect.gen(function*() {
      const closed = Either.getOrThrow(Reference.parseRepository(`127.0.0.1:1/team/app`))
      const error = yield* Effect.flip(
        RegistryTransport.execute(HttpClientRequest.get("/v2/"), RegistryTransport.pull(closed)).pipe(
          provideTransport({}, { retry: { attempts: 2, base: "1 millis" } })
        )
      )
      expect(error.reason).toBe("Transport")
      expect(error.errno).toBe("ECONNREFUSED")
    }))

  it.scopedLive("sends a streamed body once, even when the answer is retryable", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => (request.path === "/v2/" ? json(200, {}) : { status: 503 }))
      const request = HttpClientRequest.patch("/v2/team/app/blobs/uploads/abc").pipe(
        HttpClientRequest.bodyStream(Stream.make(new TextEncoder().encode("chunk")), { contentLength: 5 })
      )
      expect(RegistryTransport.isReplayable(request)).toBe(false)
      const error = yield* Effect.flip(RegistryTransport.execute(request, RegistryTransport.push(repoOn(server))))
      expect(error.status).toBe(503)
      expect(server.to("/v2/team")).toHaveLength(1)
      expect(server.to("/v2/team")[0]?.body).toBe("chunk")
    }).pipe(provideTransport()))

  it.scopedLive("retries a streamed body marked retryable, running the stream again", () =>
    Effect.gen(function*() {
      let calls = 0
      const server = yield* serve((request) => {
        if (request.path === "/v2/") return json(200, {})
        calls += 1
        return calls === 1 ? { status: 503 } : { status: 202 }
      })
      const request = HttpClientRequest.patch("/v2/team/app/blobs/uploads/abc").pipe(
        HttpClientRequest.bodyStream(Stream.make(new TextEncoder().encode("chunk")), { contentLength: 5 })
      )
      const response = yield* RegistryTransport.execute(request, RegistryTransport.push(repoOn(server)), {
        retryable: true
      })
      expect(response.status).toBe(202)
      expect(server.to("/v2/team").map((r) => r.body)).toEqual(["chunk", "chunk"])
    }).pipe(provideTransport()))

  it.scopedLive("does not send a streamed body again to follow a 307", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path === "/v2/" ? json(200, {}) : { status: 307, headers: { location: "/v2/team/app/elsewhere" } }
      )
      const request = HttpClientRequest.put("/v2/team/app/blobs/uploads/abc?digest=sha256:00").pipe(
        HttpClientRequest.bodyStream(Stream.make(new TextEncoder().encode("chunk")), { contentLength: 5 })
      )
      const error = yield* Effect.flip(RegistryTransport.execute(request, RegistryTransport.push(repoOn(server))))
      expect(error.reason).toBe("Redirect")
      expect(server.to("/v2/team/app/elsewhere")).toHaveLength(0)
    }).pipe(provideTransport()))

  it.scopedLive("keeps secrets out of messages: passwords, tokens and signed query values", () =>
    Effect.gen(function*() {
      const server = yield* serve((request, self) => {
        if (request.path === "/token") return json(200, { token: "tok-SECRET" })
        if (request.headers.authorization !== "Bearer tok-SECRET") return bearerChallenge(`${self.origin}/token`, "svc")
        return json(500, { errors: [{ code: "UNKNOWN", message: "boom" }] })
      })
      const error = yield* Effect.flip(
        RegistryTransport.execute(
          HttpClientRequest.get("/v2/team/app/blobs/sha256:00?X-Signature=sig-SECRET&digest=sha256:00"),
          RegistryTransport.pull(repoOn(server))
        ).pipe(provideTransport({ [server.host]: Keychain.basic("alice", "pw-SECRET") }))
      )
      expect(error.status).toBe(500)
      expect(error.message).toContain("X-Signature=REDACTED")
      expect(error.message).toContain("digest=sha256%3A00")
      for (const shown of [error.message, String(error), JSON.stringify(error)]) {
        expect(shown).not.toMatch(/SECRET/)
      }
    }))
})

describe("RegistryTransport: redirects", () => {
  it.scopedLive("drops the Authorization header when a redirect leaves the registry's host", () =>
    Effect.gen(function*() {
      const storage = yield* serve(() => ({ status: 200, body: "blob bytes" }), "localhost")
      const server = yield* serve(bearerRegistry({
        accept: (a) => a === "Bearer token-1"
      }))
      const redirecting = yield* serve((request, self) => {
        if (request.path === "/token") return json(200, { token: "token-1" })
        if (request.headers.authorization !== "Bearer token-1") return bearerChallenge(`${self.origin}/token`, "svc")
        if (request.path === "/v2/") return json(200, {})
        return { status: 307, headers: { location: `${storage.origin}/blobs/abc?sig=signed` } }
      })
      expect(server.host).not.toBe(redirecting.host)
      const response = yield* RegistryTransport.execute(
        HttpClientRequest.get("/v2/team/app/blobs/sha256:00"),
        RegistryTransport.pull(repoOn(redirecting))
      )
      expect(text.decode(yield* RegistryTransport.readBytes(response, 1024))).toBe("blob bytes")
      expect(redirecting.to("/v2/team")[0]?.headers.authorization).toBe("Bearer token-1")
      expect(storage.requests).toHaveLength(1)
      expect(storage.requests[0]?.headers.authorization).toBeUndefined()
      expect(storage.requests[0]?.url.searchParams.get("sig")).toBe("signed")
    }).pipe(provideTransport()))

  it.scopedLive("keeps the Authorization header on a redirect within the registry", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => {
        if (basicOf(request.headers.authorization) !== "bob:pw") {
          return { status: 401, headers: { "www-authenticate": "Basic realm=\"r\"" } }
        }
        if (request.path === "/v2/team/app/blobs/sha256:00") return { status: 302, headers: { location: "/data/00" } }
        return { status: 200, body: "same host" }
      })
      const response = yield* RegistryTransport.execute(
        HttpClientRequest.get("/v2/team/app/blobs/sha256:00"),
        RegistryTransport.pull(repoOn(server))
      ).pipe(provideTransport({ [server.host]: Keychain.basic("bob", "pw") }))
      expect(text.decode(yield* RegistryTransport.readBytes(response, 1024))).toBe("same host")
      expect(basicOf(server.to("/data")[0]?.headers.authorization)).toBe("bob:pw")
    }))

  it.scopedLive("refuses a redirect to a link-local address", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path === "/v2/" ? json(200, {}) : { status: 302, headers: { location: "http://169.254.169.254/latest" } }
      )
      const error = yield* Effect.flip(getManifest(server))
      expect(error.reason).toBe("UnsafeUrl")
      expect(error.status).toBe(302)
    }).pipe(provideTransport()))

  it.scopedLive("stops after the maximum number of redirects", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path === "/v2/" ? json(200, {}) : { status: 302, headers: { location: `${request.path}x` } }
      )
      const error = yield* Effect.flip(getManifest(server).pipe(provideTransport({}, { maxRedirects: 3 })))
      expect(error.reason).toBe("Redirect")
      expect(server.to("/v2/team")).toHaveLength(4)
    }))

  it.scopedLive("turns a POST into a GET on a 303", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => {
        if (request.path === "/v2/") return json(200, {})
        if (request.method === "POST") return { status: 303, headers: { location: "/v2/team/app/done" } }
        return { status: 200, body: request.method }
      })
      const response = yield* RegistryTransport.execute(
        HttpClientRequest.post("/v2/team/app/blobs/uploads/").pipe(HttpClientRequest.bodyText("payload")),
        RegistryTransport.push(repoOn(server))
      )
      expect(text.decode(yield* RegistryTransport.readBytes(response, 100))).toBe("GET")
      expect(server.to("/v2/team/app/done")[0]?.body).toBe("")
    }).pipe(provideTransport()))
})

describe("RegistryTransport: response helpers", () => {
  it.scopedLive("resolves a relative Location against the request URL", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path === "/v2/" ? json(200, {}) : { status: 202, headers: { location: "/v2/team/app/blobs/uploads/u1?_state=s" } }
      )
      const response = yield* RegistryTransport.execute(
        HttpClientRequest.post("/v2/team/app/blobs/uploads/"),
        RegistryTransport.push(repoOn(server))
      )
      const url = yield* RegistryTransport.location(response)
      expect(url.href).toBe(`http://${server.host}/v2/team/app/blobs/uploads/u1?_state=s`)
    }).pipe(provideTransport()))

  it.scopedLive("follows Link pagination to the next page and stops on the last", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) => {
        if (request.path === "/v2/") return json(200, {})
        return request.url.searchParams.get("last") === null
          ? json(200, { tags: ["a", "b"] }, { link: "</v2/team/app/tags/list?last=b&n=2>; rel=\"next\"" })
          : json(200, { tags: ["c"] })
      })
      const access = RegistryTransport.pull(repoOn(server))
      const first = yield* RegistryTransport.execute(HttpClientRequest.get("/v2/team/app/tags/list?n=2"), access)
      const next = yield* RegistryTransport.nextPage(first)
      expect(Option.map(next, (u) => u.href)).toEqual(Option.some(`http://${server.host}/v2/team/app/tags/list?last=b&n=2`))
      const second = yield* RegistryTransport.execute(
        HttpClientRequest.get(Option.getOrThrow(next)),
        access
      )
      expect(Option.isNone(yield* RegistryTransport.nextPage(second))).toBe(true)
    }).pipe(provideTransport()))

  it.scopedLive("refuses a body whose Content-Length is over the cap without reading it", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path === "/v2/"
          ? json(200, {})
          : { status: 200, headers: { "content-length": "2048" }, body: "x".repeat(2048) }
      )
      const response = yield* getManifest(server)
      const error: RegistryError = yield* Effect.flip(RegistryTransport.readBytes(response, 1024))
      expect(error.reason).toBe("TooLarge")
      expect(error.message).toBe(
        `GET http://${server.host}/v2/team/app/manifests/latest: response too large: ` +
          "the response body is 2048 bytes, over the limit of 1024 bytes"
      )
    }).pipe(provideTransport()))

  it.scopedLive("stops reading a body without Content-Length once it passes the cap", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path === "/v2/" ? json(200, {}) : { status: 200, body: "x".repeat(4096) }
      )
      const response = yield* getManifest(server)
      expect(response.headers["content-length"]).toBeUndefined()
      const error = yield* Effect.flip(RegistryTransport.readBytes(response, 1000))
      expect(error.reason).toBe("TooLarge")
      expect(error.detail).toContain("over the limit of 1000 bytes")
    }).pipe(provideTransport()))

  it.scopedLive("reads a body up to the cap", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path === "/v2/" ? json(200, {}) : { status: 200, body: "x".repeat(1000) }
      )
      const response = yield* getManifest(server)
      expect((yield* RegistryTransport.readBytes(response, 1000)).byteLength).toBe(1000)
    }).pipe(provideTransport()))
})
