import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Path from "node:path"
import * as Keychain from "../../../src/services/Keychain.js"
import { b64, dockerKeychain, helperLog, installHelper, registry, repository, tempDir, write } from "./fixtures.js"

// A credential as plain data, secrets revealed, for comparisons.
const reveal = (c: Keychain.Credential) => {
  switch (c._tag) {
    case "Anonymous":
      return { _tag: c._tag }
    case "Basic":
      return { _tag: c._tag, username: c.username, password: Redacted.value(c.password) }
    default:
      return { _tag: c._tag, token: Redacted.value(c.token) }
  }
}

const resolveWith = (env: Record<string, string>, target: Keychain.Target) =>
  Effect.flatMap(dockerKeychain(env), (keychain) => keychain.resolve(target)).pipe(Effect.map(reveal))

// A home directory holding ~/.docker/config.json with the given content.
const homeWith = (dir: string, config: unknown) => {
  write(Path.join(dir, ".docker", "config.json"), typeof config === "string" ? config : JSON.stringify(config))
  return { HOME: dir }
}

describe("KeychainDockerConfig: auths", () => {
  it.scoped("is anonymous when there is no config file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      expect(yield* resolveWith({ HOME: dir }, registry("test.io"))).toEqual({ _tag: "Anonymous" })
    }))

  it.scoped("reads a base64 auth as user and password", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, { auths: { "test.io": { auth: b64("foo:bar") } } })
      expect(yield* resolveWith(env, registry("test.io"))).toEqual({ _tag: "Basic", username: "foo", password: "bar" })
    }))

  it.scoped("reads an unpadded base64 auth and a password containing colons", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, { auths: { "test.io": { auth: b64("foo:b:a:r1").replace(/=+$/, "") } } })
      expect(yield* resolveWith(env, registry("test.io"))).toEqual({ _tag: "Basic", username: "foo", password: "b:a:r1" })
    }))

  it.scoped("reads username and password fields", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, { auths: { "test.io": { username: "u", password: "p" } } })
      expect(yield* resolveWith(env, registry("test.io"))).toEqual({ _tag: "Basic", username: "u", password: "p" })
    }))

  it.scoped("reads identitytoken as an identity token and registrytoken as a registry token", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, {
        auths: {
          "id.io": { auth: b64("<token>:"), identitytoken: "refresh-1" },
          "reg.io": { registrytoken: "bearer-1" }
        }
      })
      expect(yield* resolveWith(env, registry("id.io"))).toEqual({ _tag: "IdentityToken", token: "refresh-1" })
      expect(yield* resolveWith(env, registry("reg.io"))).toEqual({ _tag: "RegistryToken", token: "bearer-1" })
    }))

  it.scoped("treats an empty entry as no credential", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, { auths: { "test.io": {} } })
      expect(yield* resolveWith(env, registry("test.io"))).toEqual({ _tag: "Anonymous" })
    }))

  it.scoped("matches keys written with a scheme and a /v1/ or /v2/ path", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, {
        auths: { "http://test.io/v1/": { auth: b64("baz:quux") }, "https://other.io/v2/": { auth: b64("o:p") } }
      })
      expect(yield* resolveWith(env, registry("test.io"))).toEqual({ _tag: "Basic", username: "baz", password: "quux" })
      expect(yield* resolveWith(env, registry("other.io"))).toEqual({ _tag: "Basic", username: "o", password: "p" })
    }))

  it.scoped("prefers the most specific repository key over the registry's", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, {
        auths: {
          "test.io": { auth: b64("registry:1") },
          "test.io/team": { auth: b64("team:2") },
          "test.io/team/app": { auth: b64("app:3") },
          "test.io/other": { auth: b64("other:4") }
        }
      })
      expect(yield* resolveWith(env, repository("test.io/team/app"))).toMatchObject({ username: "app" })
      expect(yield* resolveWith(env, repository("test.io/team/lib"))).toMatchObject({ username: "team" })
      expect(yield* resolveWith(env, repository("test.io/solo"))).toMatchObject({ username: "registry" })
      expect(yield* resolveWith(env, registry("test.io"))).toMatchObject({ username: "registry" })
    }))

  it.scoped("does not lend a repository key to the rest of the registry", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, { auths: { "test.io/team": { auth: b64("team:2") } } })
      expect(yield* resolveWith(env, repository("test.io/other/app"))).toEqual({ _tag: "Anonymous" })
    }))

  for (const key of ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"]) {
    it.scoped(`finds Docker Hub credentials stored under ${key}`, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const env = homeWith(dir, { auths: { [key]: { auth: b64("hub:pw") } } })
        expect(yield* resolveWith(env, registry("docker.io"))).toMatchObject({ username: "hub" })
        expect(yield* resolveWith(env, repository("ubuntu"))).toMatchObject({ username: "hub" })
      }))
  }

  it.scoped("prefers Docker Hub's legacy key over its aliases", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, {
        auths: { "docker.io": { auth: b64("alias:1") }, "https://index.docker.io/v1/": { auth: b64("legacy:2") } }
      })
      expect(yield* resolveWith(env, registry("index.docker.io"))).toMatchObject({ username: "legacy" })
    }))

  it.scoped("keeps a registry's port in its key", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, { auths: { "localhost:5000": { auth: b64("l:5000") } } })
      expect(yield* resolveWith(env, registry("localhost:5000"))).toMatchObject({ username: "l" })
      expect(yield* resolveWith(env, registry("localhost:5001"))).toEqual({ _tag: "Anonymous" })
    }))
})

describe("KeychainDockerConfig: malformed files", () => {
  it.scoped("fails Malformed on a file that is not JSON, without quoting it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, `{"auths":{"test.io":{"auth":"${b64("leak:SECRETVALUE")}"}}`)
      const error = yield* Effect.flip(resolveWith(env, registry("test.io")))
      expect(error._tag).toBe("KeychainError")
      expect(error.reason).toBe("Malformed")
      expect(error.path).toBe(Path.join(dir, ".docker", "config.json"))
      expect(error.message).not.toContain(b64("leak:SECRETVALUE"))
    }))

  it.scoped("names the field that has the wrong type but not its value", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, { auths: { "test.io": { password: 123456789 } } })
      const error = yield* Effect.flip(resolveWith(env, registry("test.io")))
      expect(error.reason).toBe("Malformed")
      expect(error.message).toContain("auths.test.io.password")
      expect(error.message).not.toContain("123456789")
    }))

  it.scoped("fails Malformed on an auth that is not user:password", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, { auths: { "test.io": { auth: b64("no-colon-here") } } })
      const error = yield* Effect.flip(resolveWith(env, registry("test.io")))
      expect(error.reason).toBe("Malformed")
      expect(error.detail).toContain("\"test.io\"")
    }))

  it.scoped("reads an empty file as no credentials", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      expect(yield* resolveWith(homeWith(dir, ""), registry("test.io"))).toEqual({ _tag: "Anonymous" })
    }))
})

describe("KeychainDockerConfig: where the file is", () => {
  const entry = (user: string) => JSON.stringify({ auths: { "test.io": { auth: b64(`${user}:pw`) } } })

  it.scoped("reads $DOCKER_CONFIG/config.json before ~/.docker/config.json", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      write(Path.join(dir, "home", ".docker", "config.json"), entry("home"))
      write(Path.join(dir, "dc", "config.json"), entry("docker-config"))
      const env = { HOME: Path.join(dir, "home"), DOCKER_CONFIG: Path.join(dir, "dc") }
      expect(yield* resolveWith(env, registry("test.io"))).toMatchObject({ username: "docker-config" })
    }))

  it.scoped("does not read ~/.docker when DOCKER_CONFIG points elsewhere, as docker", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      write(Path.join(dir, "home", ".docker", "config.json"), entry("home"))
      const env = { HOME: Path.join(dir, "home"), DOCKER_CONFIG: Path.join(dir, "empty") }
      expect(yield* resolveWith(env, registry("test.io"))).toEqual({ _tag: "Anonymous" })
    }))

  it.scoped("reads $REGISTRY_AUTH_FILE when there is no docker config", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = write(Path.join(dir, "auth.json"), entry("registry-auth-file"))
      write(Path.join(dir, "run", "containers", "auth.json"), entry("xdg-runtime"))
      const env = { HOME: Path.join(dir, "home"), REGISTRY_AUTH_FILE: file, XDG_RUNTIME_DIR: Path.join(dir, "run") }
      expect(yield* resolveWith(env, registry("test.io"))).toMatchObject({ username: "registry-auth-file" })
    }))

  it.scoped("reads podman's auth.json under $XDG_RUNTIME_DIR", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      write(Path.join(dir, "run", "containers", "auth.json"), entry("xdg-runtime"))
      write(Path.join(dir, "config", "containers", "auth.json"), entry("xdg-config"))
      const env = { HOME: Path.join(dir, "home"), XDG_RUNTIME_DIR: Path.join(dir, "run"), XDG_CONFIG_HOME: Path.join(dir, "config") }
      expect(yield* resolveWith(env, registry("test.io"))).toMatchObject({ username: "xdg-runtime" })
    }))

  it.scoped("reads podman's auth.json under $XDG_CONFIG_HOME, or ~/.config", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      write(Path.join(dir, "config", "containers", "auth.json"), entry("xdg-config"))
      write(Path.join(dir, "home", ".config", "containers", "auth.json"), entry("home-config"))
      const home = Path.join(dir, "home")
      expect(yield* resolveWith({ HOME: home, XDG_CONFIG_HOME: Path.join(dir, "config") }, registry("test.io")))
        .toMatchObject({ username: "xdg-config" })
      expect(yield* resolveWith({ HOME: home }, registry("test.io"))).toMatchObject({ username: "home-config" })
    }))

  it.scoped("reads only the file it is given, when given one", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, entry("home"))
      const explicit = write(Path.join(dir, "explicit.json"), entry("explicit"))
      const keychain = yield* dockerKeychain(env, { path: explicit })
      expect(reveal(yield* keychain.resolve(registry("test.io")))).toMatchObject({ username: "explicit" })
      const missing = yield* dockerKeychain(env, { path: Path.join(dir, "missing.json") })
      expect(yield* missing.resolve(registry("test.io"))).toEqual(Keychain.anonymous)
    }))

  it.scoped("sees a file written after the keychain was made", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const keychain = yield* dockerKeychain({ HOME: dir })
      expect(yield* keychain.resolve(registry("test.io"))).toEqual(Keychain.anonymous)
      homeWith(dir, entry("later"))
      expect(reveal(yield* keychain.resolve(registry("test.io")))).toMatchObject({ username: "later" })
    }))
})

describe("KeychainDockerConfig: credential helpers", () => {
  it.scoped("asks the registry's credHelper, with the server on standard input", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const PATH = installHelper(dir)
      const env = { ...homeWith(dir, { credHelpers: { "helped.io": "test" } }), PATH }
      expect(yield* resolveWith(env, registry("helped.io"))).toEqual({
        _tag: "Basic",
        username: "helper-user",
        password: "helper-pass"
      })
      expect(helperLog(dir)).toEqual(["get helped.io"])
    }))

  it.scoped("does not run a registry's helper for other registries", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const PATH = installHelper(dir)
      const env = {
        ...homeWith(dir, { credHelpers: { "helped.io": "test" }, auths: { "plain.io": { auth: b64("p:w") } } }),
        PATH
      }
      expect(yield* resolveWith(env, registry("plain.io"))).toMatchObject({ username: "p" })
      expect(helperLog(dir)).toEqual([])
    }))

  it.scoped("takes a <token> user name from a helper as an identity token", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const PATH = installHelper(dir)
      const env = { ...homeWith(dir, { credHelpers: { "token.io": "test" } }), PATH }
      expect(yield* resolveWith(env, registry("token.io"))).toEqual({ _tag: "IdentityToken", token: "refresh-xyz" })
    }))

  it.scoped("asks the credsStore for Docker Hub by its legacy key", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const PATH = installHelper(dir)
      const env = { ...homeWith(dir, { credsStore: "test", auths: { "https://index.docker.io/v1/": {} } }), PATH }
      expect(yield* resolveWith(env, repository("library/ubuntu"))).toMatchObject({ username: "hub-user" })
      expect(helperLog(dir)).toEqual(["get https://index.docker.io/v1/"])
    }))

  it.scoped("falls back to auths when the helper has no credentials", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const PATH = installHelper(dir)
      const env = { ...homeWith(dir, { credsStore: "test", auths: { "test.io": { auth: b64("file:pw") } } }), PATH }
      expect(yield* resolveWith(env, registry("test.io"))).toMatchObject({ username: "file" })
      expect(yield* resolveWith(env, registry("unknown.io"))).toEqual({ _tag: "Anonymous" })
    }))

  it.scoped("fails Helper with what the helper said when it fails", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const PATH = installHelper(dir)
      const env = { ...homeWith(dir, { credHelpers: { "broken.io": "test" } }), PATH }
      const error = yield* Effect.flip(resolveWith(env, registry("broken.io")))
      expect(error.reason).toBe("Helper")
      expect(error.helper).toBe("docker-credential-test")
      expect(error.message).toBe("keychain (Helper) docker-credential-test: get exited with code 3: the keyring is locked")
    }))

  it.scoped("fails Helper when the helper answers with something other than JSON", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const PATH = installHelper(dir)
      const env = { ...homeWith(dir, { credHelpers: { "garbled.io": "test" } }), PATH }
      const error = yield* Effect.flip(resolveWith(env, registry("garbled.io")))
      expect(error.reason).toBe("Helper")
    }))

  it.scoped("fails Helper when the helper is not installed", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = { ...homeWith(dir, { credsStore: "definitely-not-installed" }), PATH: Path.join(dir, "nothing") }
      const error = yield* Effect.flip(resolveWith(env, registry("test.io")))
      expect(error.reason).toBe("Helper")
      expect(error.message).toContain("docker-credential-definitely-not-installed")
    }))

  it.scoped("refuses a helper name that is a path", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const env = homeWith(dir, { credsStore: "../../bin/sh" })
      const error = yield* Effect.flip(resolveWith(env, registry("test.io")))
      expect(error.reason).toBe("Helper")
      expect(error.detail).toContain("not a credential helper name")
    }))
})
