import { describe, expect, it } from "@effect/vitest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { inspect } from "node:util"
import * as KeychainCredentialHelper from "../../../src/layers/KeychainCredentialHelper.js"
import * as Keychain from "../../../src/services/Keychain.js"
import { helperLog, installHelper, registry, repository, tempDir } from "./fixtures.js"

const usernameOf = (c: Keychain.Credential) => (c._tag === "Basic" ? c.username : c._tag)

describe("Keychain.fromEntries", () => {
  const keychain = Keychain.fromEntries({
    "gcr.io": Keychain.basic("gcr", "1"),
    "docker.io": Keychain.basic("hub", "2"),
    "https://quay.io": Keychain.basic("quay", "3"),
    "gcr.io/project": Keychain.basic("project", "4")
  })

  it.effect("finds a registry by its host", () =>
    Effect.gen(function*() {
      expect(usernameOf(yield* keychain.resolve(registry("gcr.io")))).toBe("gcr")
      expect(usernameOf(yield* keychain.resolve(registry("quay.io")))).toBe("quay")
    }))

  it.effect("finds Docker Hub under any of its names", () =>
    Effect.gen(function*() {
      expect(usernameOf(yield* keychain.resolve(registry("index.docker.io")))).toBe("hub")
      expect(usernameOf(yield* keychain.resolve(repository("ubuntu")))).toBe("hub")
    }))

  it.effect("finds a repository under its namespace's key", () =>
    Effect.gen(function*() {
      expect(usernameOf(yield* keychain.resolve(repository("gcr.io/project/image")))).toBe("project")
      expect(usernameOf(yield* keychain.resolve(repository("gcr.io/elsewhere/image")))).toBe("gcr")
    }))

  it.effect("is anonymous for registries it does not know", () =>
    Effect.gen(function*() {
      expect(yield* keychain.resolve(registry("ghcr.io"))).toEqual(Keychain.anonymous)
    }))
})

describe("Keychain.multi", () => {
  const a = Keychain.fromEntries({ "a.io": Keychain.basic("first-a", "1") })
  const b = Keychain.fromEntries({ "a.io": Keychain.basic("second-a", "2"), "b.io": Keychain.basic("second-b", "3") })

  it.effect("answers with the first keychain that knows the registry", () =>
    Effect.gen(function*() {
      const both = Keychain.multi(a, b)
      expect(usernameOf(yield* both.resolve(registry("a.io")))).toBe("first-a")
      expect(usernameOf(yield* both.resolve(registry("b.io")))).toBe("second-b")
      expect(yield* both.resolve(registry("c.io"))).toEqual(Keychain.anonymous)
    }))

  it.effect("fails when a keychain it asks fails", () =>
    Effect.gen(function*() {
      const failing = Keychain.make(() => Effect.fail(new Keychain.KeychainError({ reason: "Io", detail: "disk on fire" })))
      const error = yield* Effect.flip(Keychain.multi(failing, b).resolve(registry("b.io")))
      expect(error.reason).toBe("Io")
    }))

  it.effect("stops asking once a keychain has answered", () =>
    Effect.gen(function*() {
      const failing = Keychain.make(() => Effect.fail(new Keychain.KeychainError({ reason: "Io", detail: "never asked" })))
      expect(usernameOf(yield* Keychain.multi(b, failing).resolve(registry("b.io")))).toBe("second-b")
    }))
})

describe("Keychain credentials", () => {
  it("never show their secrets when printed", () => {
    const credentials = [Keychain.basic("user", "pw-SECRET"), Keychain.identityToken("id-SECRET"), Keychain.registryToken("reg-SECRET")]
    for (const c of credentials) {
      expect(JSON.stringify(c)).not.toContain("SECRET")
      expect(inspect(c, { depth: 5 })).not.toContain("SECRET")
    }
    const basic = credentials[0]
    expect(basic?._tag === "Basic" && Redacted.value(basic.password)).toBe("pw-SECRET")
  })

  it.effect("are served by the layers for the service tag", () =>
    Effect.gen(function*() {
      expect(yield* Keychain.resolve(registry("x.io")).pipe(Effect.provide(Keychain.layerAnonymous))).toEqual(
        Keychain.anonymous
      )
      const fromStatic = yield* Keychain.resolve(registry("x.io")).pipe(
        Effect.provide(Keychain.layerStatic({ "x.io": Keychain.registryToken("t") }))
      )
      expect(fromStatic._tag).toBe("RegistryToken")
    }))
})

describe("KeychainCredentialHelper", () => {
  it.scoped("asks its helper for every registry by docker's key", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const PATH = installHelper(dir)
      const keychain = yield* KeychainCredentialHelper.make("test", { path: PATH })
      expect(usernameOf(yield* keychain.resolve(registry("helped.io")))).toBe("helper-user")
      expect(usernameOf(yield* keychain.resolve(repository("alpine")))).toBe("hub-user")
      expect(yield* keychain.resolve(registry("unknown.io"))).toEqual(Keychain.anonymous)
      expect(helperLog(dir)).toEqual(["get helped.io", "get https://index.docker.io/v1/", "get unknown.io"])
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("is provided as a layer", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const PATH = installHelper(dir)
      const credential = yield* Keychain.resolve(registry("token.io")).pipe(
        Effect.provide(KeychainCredentialHelper.layer("test", { path: PATH }).pipe(Layer.provide(NodeContext.layer)))
      )
      expect(credential._tag).toBe("IdentityToken")
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))))
})
