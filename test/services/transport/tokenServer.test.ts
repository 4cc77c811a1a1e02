/**
 * The Bearer token flow end to end: our registry app behind an auth gate that wants a token
 * for each request's scope (answering 401 with `WWW-Authenticate: Bearer realm,service,scope`
 * otherwise) and a token server issuing tokens for the scopes asked, both one Effect
 * `HttpServer` on 127.0.0.1. `Remote` pushes and pulls through it over Node's client; the
 * tests count what the token server was asked. (RegistryTransport.test.ts pins the same
 * rules one request at a time against a scripted server.)
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import * as MediaType from "../../../src/domain/MediaType.js"
import * as Random from "../../../src/domain/Random.js"
import * as Reference from "../../../src/domain/Reference.js"
import * as RegistryTransportNode from "../../../src/layers/RegistryTransportNode.js"
import * as Registry from "../../../src/registry/Registry.js"
import * as Keychain from "../../../src/services/Keychain.js"
import * as RegistryTransport from "../../../src/services/RegistryTransport.js"
import * as Remote from "../../../src/services/Remote.js"

interface Seen {
  readonly method: string
  readonly path: string
  readonly authorization: string | undefined
}

/** What the token server and the gate saw. */
interface Log {
  /** The scopes of each token request, in order. */
  readonly tokens: Array<ReadonlyArray<string>>
  /** Every request to the registry behind the gate. */
  readonly registry: Array<Seen>
}

const service = "test-registry"

// `repository:NAME:ACTIONS` scopes a request needs: pull to read, pull and push to write, and
// pull on the repository a blob is mounted from. None for `/v2/` itself.
const scopesFor = (method: string, url: URL): ReadonlyArray<string> => {
  const match = /^\/v2\/(.+?)\/(manifests|blobs|tags|referrers)\//.exec(url.pathname)
  if (match?.[1] === undefined) return []
  const read = method === "GET" || method === "HEAD"
  const own = `repository:${match[1]}:${read ? "pull" : "pull,push"}`
  const from = url.searchParams.get("from")
  return from !== null && url.searchParams.get("mount") !== null ? [own, `repository:${from}:pull`] : [own]
}

// True when the scopes granted hold every action of the scope needed.
const covers = (granted: ReadonlyArray<string>, needed: string): boolean => {
  const [kind, name, actions] = needed.split(":")
  return (actions ?? "").split(",").every((action) =>
    granted.some((g) => {
      const [gKind, gName, gActions] = g.split(":")
      return gKind === kind && gName === name && (gActions ?? "").split(",").includes(action)
    })
  )
}

// The token server at /token and the gate in front of the registry app, on one server.
const gatedRegistry = (log: Log) => {
  const issued = new Map<string, ReadonlyArray<string>>()
  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const origin = `http://${request.headers["host"] ?? "127.0.0.1"}`
    const url = new URL(request.url, origin)
    if (url.pathname === "/token") {
      const scopes = url.searchParams.getAll("scope")
      log.tokens.push(scopes)
      const token = `token-${log.tokens.length}`
      issued.set(token, scopes)
      return yield* HttpServerResponse.json({ token, expires_in: 300 })
    }
    const authorization = request.headers["authorization"]
    log.registry.push({ method: request.method, path: url.pathname, authorization })
    const granted = authorization?.startsWith("Bearer ") === true ? issued.get(authorization.slice(7)) : undefined
    const needed = scopesFor(request.method, url)
    if (granted === undefined || !needed.every((scope) => covers(granted, scope))) {
      const scope = needed.length > 0 ? `,scope="${needed.join(" ")}"` : ""
      return yield* HttpServerResponse.json(
        { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] },
        {
          status: 401,
          headers: { "www-authenticate": `Bearer realm="${origin}/token",service="${service}"${scope}` }
        }
      )
    }
    return yield* Registry.app
  })
}

// Starts the gated registry for the scope of a test and gives its host and log.
const startGated = Effect.gen(function*() {
  const log: Log = { tokens: [], registry: [] }
  const context = yield* Layer.build(
    HttpServer.serve(gatedRegistry(log)).pipe(
      Layer.provideMerge(NodeHttpServer.layer(() => Http.createServer(), { port: 0, host: "127.0.0.1" })),
      Layer.provide(Registry.layerMemory)
    )
  )
  const url = yield* Effect.provide(Registry.url, context)
  return { host: new URL(url).host, log }
})

// One transport (so one token cache) for the whole test.
const provideTransport = Effect.provide(
  RegistryTransportNode.layer({ retry: { base: "5 millis" } }).pipe(Layer.provide(Keychain.layerAnonymous))
)

const repo = (host: string, path: string) => Either.getOrThrow(Reference.parseRepository(`${host}/${path}`))
const tag = (repository: Reference.Repository, name: string) => Either.getOrThrow(Reference.withTag(repository, name))

const image = (seed: string) => Random.image({ layers: 3, layerSize: 8_000, seed, mediaType: MediaType.OCI_MANIFEST })

describe("Bearer tokens from a token server in front of our registry", () => {
  it.scopedLive("pushes an image and pulls it back, each request carrying a token for its scope", () =>
    Effect.gen(function*() {
      const { host, log } = yield* startGated
      const app = repo(host, "team/app")
      const img = yield* image("bearer-roundtrip")
      yield* Remote.write(tag(app, "v1"), img)
      const pulled = yield* Remote.image(tag(app, "v1"))
      expect(yield* pulled.digest).toBe(yield* img.digest)
      for (const layer of yield* pulled.layers) yield* Stream.runDrain(layer.compressed)
      const config = yield* pulled.rawConfigFile
      expect(Buffer.compare(config, yield* img.rawConfigFile)).toBe(0)
      const refused = log.registry.filter((s) => s.path !== "/v2/" && s.authorization === undefined)
      expect(refused).toEqual([])
      const blobReads = log.registry.filter((s) => s.method === "GET" && s.path.includes("/blobs/sha256:"))
      expect(blobReads.length).toBe(4)
      expect(new Set(blobReads.map((s) => s.authorization))).toEqual(new Set(["Bearer token-2"]))
    }).pipe(provideTransport))

  it.scopedLive("asks the token server once per scope set, not once per request", () =>
    Effect.gen(function*() {
      const { host, log } = yield* startGated
      const app = repo(host, "team/app")
      yield* Remote.write(tag(app, "v1"), yield* image("bearer-cache-1"))
      yield* Remote.write(tag(app, "v2"), yield* image("bearer-cache-2"))
      expect(log.tokens).toEqual([["repository:team/app:pull,push"]])
      const pushRequests = log.registry.filter((s) => s.path !== "/v2/").length
      expect(pushRequests).toBeGreaterThan(15)
      for (const name of ["v1", "v2"]) {
        const pulled = yield* Remote.image(tag(app, name))
        yield* pulled.rawConfigFile
      }
      yield* Remote.list(app)
      expect(log.tokens).toEqual([["repository:team/app:pull,push"], ["repository:team/app:pull"]])
    }).pipe(provideTransport))

  it.scopedLive("asks for a push token when pushing after a pull token was enough", () =>
    Effect.gen(function*() {
      const { host, log } = yield* startGated
      const app = repo(host, "team/app")
      const first = yield* image("bearer-upgrade")
      yield* Remote.write(tag(app, "base"), first)
      log.tokens.length = 0
      // a new transport: nothing cached
      yield* Effect.gen(function*() {
        const pulled = yield* Remote.image(tag(app, "base"))
        yield* Remote.write(tag(app, "copy"), pulled)
      }).pipe(provideTransport)
      expect(log.tokens).toEqual([["repository:team/app:pull"], ["repository:team/app:pull,push"]])
      expect((yield* Remote.head(tag(app, "copy"))).digest).toBe(yield* first.digest)
    }).pipe(provideTransport))

  it.scopedLive("adds the scope a 401 names to its token request and sends the request again", () =>
    Effect.gen(function*() {
      const { host, log } = yield* startGated
      const app = repo(host, "team/app")
      // an upload asked for with read access only: the gate names the push scope it wants
      const response = yield* RegistryTransport.execute(
        HttpClientRequest.post(`/v2/${app.path}/blobs/uploads/`),
        RegistryTransport.pull(app)
      )
      expect(response.status).toBe(202)
      expect(log.tokens).toEqual([["repository:team/app:pull"], ["repository:team/app:pull,push", "repository:team/app:pull"]])
      const posts = log.registry.filter((s) => s.method === "POST")
      expect(posts.map((s) => s.authorization)).toEqual(["Bearer token-1", "Bearer token-2"])
    }).pipe(provideTransport))

  it.scopedLive("mounts a blob from another repository with a token that covers both", () =>
    Effect.gen(function*() {
      const { host, log } = yield* startGated
      const source = repo(host, "team/source")
      const target = repo(host, "team/target")
      const img = yield* image("bearer-mount")
      yield* Remote.write(tag(source, "v1"), img)
      log.registry.length = 0
      yield* Remote.write(tag(target, "v1"), img, { mountFrom: source })
      expect(log.tokens.at(-1)).toEqual(["repository:team/target:pull,push", "repository:team/source:pull"])
      const uploads = log.registry.filter((s) => s.method === "PUT" && s.path.includes("/blobs/uploads/"))
      expect(uploads).toEqual([])
      expect((yield* Remote.head(tag(target, "v1"))).digest).toBe(yield* img.digest)
    }).pipe(provideTransport))
})
