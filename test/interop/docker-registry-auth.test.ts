/**
 * `Remote` against the CNCF distribution registry 2.8 (Debian's docker-registry) behind
 * htpasswd Basic auth: the right credentials push and pull; wrong or missing ones fail at once
 * with the registry's UNAUTHORIZED, after a handful of requests, never retried in a loop.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Random from "../../src/domain/Random.js"
import * as Reference from "../../src/domain/Reference.js"
import * as Keychain from "../../src/services/Keychain.js"
import * as RegistryError from "../../src/services/RegistryError.js"
import * as RegistryTransport from "../../src/services/RegistryTransport.js"
import * as Remote from "../../src/services/Remote.js"
import { hasDockerRegistry, password, startAuthRegistry, username } from "./authRegistry.js"

interface Seen {
  readonly method: string
  readonly path: string
  readonly authorization: string | undefined
}

// The registry for the scope of a test, and a transport to it with the given credentials
// whose requests are recorded.
const withRegistry = (credential: Keychain.Credential | undefined) =>
  Effect.gen(function*() {
    const running = yield* Effect.acquireRelease(
      Effect.promise(() => startAuthRegistry()),
      (r) => Effect.promise(() => r.stop())
    )
    const seen: Array<Seen> = []
    const client = Layer.effect(
      HttpClient.HttpClient,
      Effect.map(HttpClient.HttpClient, (c) =>
        HttpClient.tapRequest(c, (request) =>
          Effect.sync(() =>
            seen.push({
              method: request.method,
              path: new URL(request.url).pathname,
              authorization: request.headers["authorization"]
            })
          )))
    ).pipe(Layer.provide(NodeHttpClient.layer))
    const keychain = credential === undefined
      ? Keychain.layerAnonymous
      : Keychain.layerStatic({ [running.host]: credential })
    const transport = RegistryTransport.layer({ retry: { base: "5 millis" } }).pipe(
      Layer.provide(Layer.merge(client, keychain))
    )
    const repo = Either.getOrThrow(Reference.parseRepository(`${running.host}/secured/app`))
    return { repo, seen, transport }
  })

const tag = (repo: Reference.Repository, name: string) => Either.getOrThrow(Reference.withTag(repo, name))

const image = Random.image({ layers: 2, layerSize: 10_000, seed: "htpasswd", mediaType: MediaType.OCI_MANIFEST })

const basicOf = (header: string | undefined) =>
  header?.startsWith("Basic ") === true ? Buffer.from(header.slice(6), "base64").toString("utf8") : undefined

describe.skipIf(!hasDockerRegistry)("Remote against docker-registry with htpasswd", () => {
  it.scopedLive("pushes and pulls with the right user and password, sent as Basic auth", () =>
    Effect.gen(function*() {
      const { repo, seen, transport } = yield* withRegistry(Keychain.basic(username, password))
      const img = yield* image
      yield* Remote.write(tag(repo, "v1"), img).pipe(Effect.provide(transport))
      const pulled = yield* Remote.image(tag(repo, "v1")).pipe(Effect.provide(transport))
      expect(yield* pulled.digest).toBe(yield* img.digest)
      const config = yield* pulled.rawConfigFile.pipe(Effect.provide(transport))
      expect(Buffer.compare(config, yield* img.rawConfigFile)).toBe(0)
      const tags = yield* Remote.list(repo).pipe(Effect.provide(transport))
      expect(tags).toEqual(["v1"])
      const afterPing = seen.filter((s) => s.path !== "/v2/")
      expect(afterPing.length).toBeGreaterThan(5)
      for (const s of afterPing) expect(basicOf(s.authorization)).toBe(`${username}:${password}`)
    }))

  it.scopedLive("fails a pull with wrong credentials with UNAUTHORIZED, quickly and after few requests", () =>
    Effect.gen(function*() {
      const { repo, seen, transport } = yield* withRegistry(Keychain.basic(username, "wrong-pw"))
      const started = Date.now()
      const error = yield* Effect.flip(Remote.image(tag(repo, "v1")).pipe(Effect.provide(transport)))
      expect(error).toBeInstanceOf(RegistryError.RegistryError)
      expect(error._tag).toBe("RegistryError")
      if (error._tag !== "RegistryError") return
      expect(error.status).toBe(401)
      expect(error.code).toBe("UNAUTHORIZED")
      expect(error.message).toContain("UNAUTHORIZED")
      expect(error.message).not.toContain("wrong-pw")
      // the ping, the request, and the one try again with the credentials read afresh
      expect(seen.length).toBeLessThanOrEqual(3)
      expect(Date.now() - started).toBeLessThan(5_000)
    }))

  it.scopedLive("fails a push with wrong credentials with UNAUTHORIZED, uploading nothing", () =>
    Effect.gen(function*() {
      const { repo, seen, transport } = yield* withRegistry(Keychain.basic("mallory", password))
      const error = yield* Effect.flip(Remote.write(tag(repo, "v1"), yield* image).pipe(Effect.provide(transport)))
      expect(error._tag).toBe("RegistryError")
      if (error._tag !== "RegistryError") return
      expect(error.code).toBe("UNAUTHORIZED")
      expect(seen.filter((s) => s.method === "PUT" || s.method === "PATCH" || s.method === "POST")).toEqual([])
      expect(seen.length).toBeLessThanOrEqual(3)
    }))

  it.scopedLive("fails without credentials with UNAUTHORIZED and sends no Authorization header", () =>
    Effect.gen(function*() {
      const { repo, seen, transport } = yield* withRegistry(undefined)
      const error = yield* Effect.flip(Remote.head(tag(repo, "v1")).pipe(Effect.provide(transport)))
      expect(error._tag).toBe("RegistryError")
      if (error._tag !== "RegistryError") return
      expect(error.status).toBe(401)
      expect(seen.every((s) => s.authorization === undefined)).toBe(true)
      expect(seen.length).toBeLessThanOrEqual(3)
    }))
})
