import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { join } from "node:path"
import * as Auth from "../../src/crane/Auth.js"
import * as Keychain from "../../src/services/Keychain.js"

/** Runs with `DOCKER_CONFIG` set to a fresh directory, which it gives. */
const withDockerConfig = <A, E, R>(f: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const dir = join(yield* fs.makeTempDirectoryScoped({ prefix: "crane-auth-" }), "docker")
    return yield* f(dir).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["DOCKER_CONFIG", dir], ["HOME", "/nonexistent"]])))
    )
  })

const readJson = (path: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => Effect.map(fs.readFileString(path), (t) => JSON.parse(t) as unknown))

layer(NodeContext.layer)("crane Auth", (it) => {
  it.scoped("logs in by writing a base64 auth entry to $DOCKER_CONFIG/config.json", () =>
    withDockerConfig((dir) =>
      Effect.gen(function* () {
        const file = yield* Auth.login("registry.example.com:5000", { username: "alice", password: "s3cret" })
        expect(file).toBe(join(dir, "config.json"))
        expect(yield* readJson(file)).toEqual({
          auths: { "registry.example.com:5000": { auth: Buffer.from("alice:s3cret").toString("base64") } }
        })
        const fs = yield* FileSystem.FileSystem
        expect(((yield* fs.stat(file)).mode & 0o777).toString(8)).toBe("600")
      })
    ))

  it.scoped("files Docker Hub's credentials under its v1 URL and keeps the rest of the file", () =>
    withDockerConfig((dir) =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        yield* fs.makeDirectory(dir, { recursive: true })
        yield* fs.writeFileString(join(dir, "config.json"), JSON.stringify({ psFormat: "table", auths: { "gcr.io": { auth: "eDp5" } } }))
        yield* Auth.login("docker.io", { username: "bob", password: "pw" })
        const config = (yield* readJson(join(dir, "config.json"))) as { psFormat: string; auths: Record<string, unknown> }
        expect(config.psFormat).toBe("table")
        expect(Object.keys(config.auths).sort()).toEqual(["gcr.io", Auth.dockerHubKey])
      })
    ))

  it.scoped("refuses to log in without a user name and password", () =>
    withDockerConfig(() =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Auth.login("registry.example.com", { username: "", password: "" }))
        expect(error.message).toBe("username and password required")
      })
    ))

  it.scoped("refuses a config file that is not a JSON object", () =>
    withDockerConfig((dir) =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        yield* fs.makeDirectory(dir, { recursive: true })
        yield* fs.writeFileString(join(dir, "config.json"), "[1,2]")
        const error = yield* Effect.flip(Auth.login("registry.example.com", { username: "a", password: "b" }))
        expect(error._tag === "AuthError" && error.reason).toBe("Malformed")
      })
    ))

  it.scoped("logs out by removing the registry's entry", () =>
    withDockerConfig((dir) =>
      Effect.gen(function* () {
        yield* Auth.login("one.example.com", { username: "a", password: "b" })
        yield* Auth.login("two.example.com", { username: "c", password: "d" })
        yield* Auth.logout("one.example.com")
        const config = (yield* readJson(join(dir, "config.json"))) as { auths: Record<string, unknown> }
        expect(Object.keys(config.auths)).toEqual(["two.example.com"])
      })
    ))

  it.effect("answers a registry's credential as a credential helper does", () =>
    Effect.gen(function* () {
      const found = yield* Auth.get("registry.example.com").pipe(
        Effect.provide(Keychain.layerStatic({ "registry.example.com": Keychain.basic("alice", "s3cret") }))
      )
      expect(found).toEqual(Option.some({ Username: "alice", Secret: "s3cret" }))
    }))

  it.effect("answers an identity token with the user name <token>", () =>
    Effect.gen(function* () {
      const found = yield* Auth.get("registry.example.com").pipe(
        Effect.provide(Keychain.layerStatic({ "registry.example.com": Keychain.identityToken("refresh") }))
      )
      expect(found).toEqual(Option.some({ Username: "<token>", Secret: "refresh" }))
    }))

  it.effect("answers nothing for a registry the keychain does not know", () =>
    Effect.gen(function* () {
      const found = yield* Auth.get("registry.example.com").pipe(Effect.provide(Keychain.layerAnonymous))
      expect(Option.isNone(found)).toBe(true)
    }))

  it.effect("gets the bearer token a registry's token server grants for the scopes asked", () =>
    Effect.gen(function* () {
      const scopes: Array<string> = []
      // A registry that asks for a token, and its token server.
      const registry = HttpClient.make((request, url) =>
        Effect.sync(() => {
          if (url.pathname === "/token") {
            scopes.push(...url.searchParams.getAll("scope"))
            return HttpClientResponse.fromWeb(request, new Response(JSON.stringify({ token: "granted-token" })))
          }
          const authorized = request.headers["authorization"] === "Bearer granted-token"
          return HttpClientResponse.fromWeb(
            request,
            new Response("{}", {
              status: authorized ? 200 : 401,
              headers: authorized ? {} : { "www-authenticate": 'Bearer realm="https://registry.example.com/token",service="reg"' }
            })
          )
        })
      )
      const token = yield* Auth.token("registry.example.com/team/app", { push: true, mounts: ["registry.example.com/team/base"] }).pipe(
        Effect.provide(Layer.merge(Layer.succeed(HttpClient.HttpClient, registry), Keychain.layerAnonymous))
      )
      expect(Option.map(token, Redacted.value)).toEqual(Option.some("granted-token"))
      expect(scopes).toEqual(["repository:team/app:pull,push", "repository:team/base:pull"])
    }))
})
