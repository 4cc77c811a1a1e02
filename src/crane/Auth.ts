/**
 * Credentials as `crane auth` handles them: logging in and out writes docker's `config.json`
 * (in `$DOCKER_CONFIG`, else `~/.docker`) the way `docker login` does, with a base64 `auth`
 * entry, or through the credential helper the file names for the registry; `get` answers as a
 * credential helper would, from the keychain in the context.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Os from "node:os"
import * as Reference from "../domain/Reference.js"
import type { InvalidReference } from "../domain/Errors.js"
import * as Keychain from "../services/Keychain.js"
import type { RegistryError } from "../services/RegistryError.js"
import * as RegistryTransport from "../services/RegistryTransport.js"

/**
 * Why credentials could not be stored or erased.
 *
 * @since 0.1.0
 */
export type AuthErrorReason = "Malformed" | "Io" | "Helper" | "MissingCredentials"

/**
 * Credentials could not be stored or erased: the config file is not a JSON object
 * (`Malformed`), it could not be read or written (`Io`), the credential helper failed
 * (`Helper`), or no user name and password were given (`MissingCredentials`). Never contains a
 * secret.
 *
 * @since 0.1.0
 */
export class AuthError extends Data.TaggedError("AuthError")<{
  readonly reason: AuthErrorReason
  readonly detail: string
  readonly path?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.path !== undefined ? `${this.path}: ` : ""}${this.detail}`
  }
}

/**
 * The key docker files Docker Hub's credentials under.
 *
 * @since 0.1.0
 */
export const dockerHubKey = "https://index.docker.io/v1/"

/**
 * The key a registry's credentials are stored under: {@link dockerHubKey} for Docker Hub, else
 * `host[:port]`.
 *
 * @since 0.1.0
 */
export const serverKey = (registry: Reference.Registry): string =>
  Reference.isDockerHub(registry) ? dockerHubKey : Reference.registryHost(registry)

const variable = (name: string) =>
  Config.string(name).pipe(Config.option, Effect.map(Option.getOrUndefined), Effect.orElseSucceed(() => undefined))

/**
 * The config file `crane auth login` writes: `$DOCKER_CONFIG/config.json`, else
 * `~/.docker/config.json`.
 *
 * @since 0.1.0
 */
export const configPath: Effect.Effect<string, never, Path.Path> = Effect.gen(function* () {
  const path = yield* Path.Path
  const dir = yield* variable("DOCKER_CONFIG")
  if (dir !== undefined && dir !== "") return path.join(dir, "config.json")
  const home = (yield* variable("HOME")) ?? Os.homedir()
  return path.join(home, ".docker", "config.json")
})

type JsonObject = { [key: string]: unknown }

const isObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null && !Array.isArray(u)

const readConfig = (file: string): Effect.Effect<JsonObject, AuthError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
    if (!exists) return {}
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => new AuthError({ reason: "Io", path: file, detail: `cannot read: ${e.message}`, cause: e }))
    )
    if (text.trim() === "") return {}
    const parsed = Either.try(() => JSON.parse(text) as unknown)
    if (Either.isLeft(parsed) || !isObject(parsed.right)) {
      return yield* new AuthError({ reason: "Malformed", path: file, detail: "not a JSON object" })
    }
    return parsed.right
  })

const writeConfig = (file: string, config: JsonObject): Effect.Effect<void, AuthError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const io = (what: string) => (e: { readonly message: string }) =>
      new AuthError({ reason: "Io", path: file, detail: `cannot ${what}: ${e.message}`, cause: e })
    yield* fs.makeDirectory(path.dirname(file), { recursive: true, mode: 0o700 }).pipe(Effect.mapError(io("create its directory")))
    const temporary = `${file}.tmp-${process.pid}-${Date.now()}`
    yield* fs.writeFileString(temporary, `${JSON.stringify(config, null, "\t")}\n`, { mode: 0o600 }).pipe(
      Effect.mapError(io("write")),
      Effect.zipRight(fs.rename(temporary, file).pipe(Effect.mapError(io("replace")))),
      Effect.tapError(() => fs.remove(temporary).pipe(Effect.ignore))
    )
  })

const authsOf = (config: JsonObject): JsonObject => (isObject(config["auths"]) ? { ...config["auths"] } : {})

/** The credential helper docker would store this registry's credentials with, if any. */
const helperFor = (config: JsonObject, registry: Reference.Registry): string | undefined => {
  const helpers = isObject(config["credHelpers"]) ? config["credHelpers"] : {}
  const host = Reference.registryHost(registry)
  const named = helpers[host] ?? (Reference.isDockerHub(registry) ? helpers[dockerHubKey] : undefined)
  if (typeof named === "string" && named !== "") return named
  const store = config["credsStore"]
  return typeof store === "string" && store !== "" ? store : undefined
}

const runHelper = (
  name: string,
  action: "store" | "erase",
  input: string
): Effect.Effect<void, AuthError, CommandExecutor.CommandExecutor> => {
  const program = `docker-credential-${name}`
  const fail = (detail: string, cause?: unknown) => new AuthError({ reason: "Helper", detail: `${program} ${action}: ${detail}`, cause })
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) return Effect.fail(fail("not a credential helper name"))
  return Command.make(program, action).pipe(
    Command.feed(input),
    Command.exitCode,
    Effect.mapError((e) => fail(e.message, e)),
    Effect.flatMap((code) => (code === 0 ? Effect.void : Effect.fail(fail(`exited with code ${code}`))))
  )
}

/**
 * What `login` needs: a user name and a password.
 *
 * @since 0.1.0
 */
export interface LoginOptions {
  readonly username: string
  readonly password: string | Redacted.Redacted<string>
}

/**
 * Stores credentials for a registry (`crane auth login`): through the credential helper the
 * config file names for it (`credHelpers`, else `credsStore`), or as a base64 `auth` entry in
 * the file's `auths`. The rest of the file is kept. Gives the path of the file.
 *
 * @since 0.1.0
 */
export const login = (
  server: string,
  options: LoginOptions
): Effect.Effect<string, AuthError | InvalidReference, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
  Effect.gen(function* () {
    const registry = yield* Reference.parseRegistry(server)
    const password = Redacted.isRedacted(options.password) ? Redacted.value(options.password) : options.password
    if (options.username === "" && password === "") {
      return yield* new AuthError({ reason: "MissingCredentials", detail: "username and password required" })
    }
    const file = yield* configPath
    const config = yield* readConfig(file)
    const key = serverKey(registry)
    const auths = authsOf(config)
    const helper = helperFor(config, registry)
    if (helper !== undefined) {
      yield* runHelper(helper, "store", JSON.stringify({ ServerURL: key, Username: options.username, Secret: password }))
      auths[key] = {}
    } else {
      auths[key] = { auth: Encoding.encodeBase64(`${options.username}:${password}`) }
    }
    yield* writeConfig(file, { ...config, auths })
    return file
  })

/**
 * Removes a registry's credentials (`crane auth logout`), from its credential helper and from
 * the file. Gives the path of the file.
 *
 * @since 0.1.0
 */
export const logout = (
  server: string
): Effect.Effect<string, AuthError | InvalidReference, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
  Effect.gen(function* () {
    const registry = yield* Reference.parseRegistry(server)
    const file = yield* configPath
    const config = yield* readConfig(file)
    const key = serverKey(registry)
    const helper = helperFor(config, registry)
    if (helper !== undefined) yield* runHelper(helper, "erase", key)
    const auths = authsOf(config)
    const keys = Reference.isDockerHub(registry)
      ? [dockerHubKey, "index.docker.io", "docker.io", "registry-1.docker.io"]
      : [key, `https://${key}`, `http://${key}`]
    for (const k of keys) delete auths[k]
    yield* writeConfig(file, { ...config, auths })
    return file
  })

/**
 * A credential as a credential helper answers (`{"Username":...,"Secret":...}`); an identity
 * token has the user name `<token>`.
 *
 * @since 0.1.0
 */
export interface HelperCredential {
  readonly Username: string
  readonly Secret: string
}

/**
 * The credential the keychain in the context has for a registry (`crane auth get`), in the
 * form credential helpers answer with; `None` when it has none.
 *
 * @since 0.1.0
 */
export const get = (
  server: string
): Effect.Effect<Option.Option<HelperCredential>, Keychain.KeychainError | InvalidReference, Keychain.Keychain> =>
  Effect.gen(function* () {
    const registry = yield* Reference.parseRegistry(server)
    const credential = yield* Keychain.resolve(registry)
    switch (credential._tag) {
      case "Anonymous":
        return Option.none()
      case "Basic":
        return Option.some({ Username: credential.username, Secret: Redacted.value(credential.password) })
      case "IdentityToken":
      case "RegistryToken":
        return Option.some({ Username: "<token>", Secret: Redacted.value(credential.token) })
    }
  })

/**
 * Options of {@link token}.
 *
 * @since 0.1.0
 */
export interface TokenOptions {
  /** Ask for push (and pull) rights instead of pull only. */
  readonly push?: boolean | undefined
  /** Repositories of the same registry to ask pull rights on too (to mount blobs from). */
  readonly mounts?: ReadonlyArray<string> | undefined
  /** Appended to the `User-Agent` header. */
  readonly userAgent?: string | undefined
}

/**
 * The bearer token a registry's token server grants for a repository (`crane auth token`),
 * obtained the way every request obtains one (ping, challenge, exchange with the keychain's
 * credential); `None` when the registry asks for no token (no authentication, or Basic).
 *
 * @since 0.1.0
 */
export const token = (
  repository: string,
  options: TokenOptions = {}
): Effect.Effect<
  Option.Option<Redacted.Redacted<string>>,
  RegistryError | InvalidReference,
  HttpClient.HttpClient | Keychain.Keychain
> =>
  Effect.gen(function* () {
    const repo = yield* Reference.parseRepository(repository)
    const mounts = yield* Effect.forEach(options.mounts ?? [], (m) => Reference.parseRepository(m))
    let granted: Redacted.Redacted<string> | undefined
    const client = HttpClient.tapRequest(yield* HttpClient.HttpClient, (request) =>
      Effect.sync(() => {
        const header = request.headers["authorization"]
        if (header !== undefined && header.startsWith("Bearer ")) granted = Redacted.make(header.slice(7))
      }))
    const transport = yield* RegistryTransport.make({ userAgent: options.userAgent, retry: false }).pipe(
      Effect.provideService(HttpClient.HttpClient, client)
    )
    const access = RegistryTransport.access(
      repo,
      options.push === true ? ["pull", "push"] : "pull",
      mounts.map((m) => Reference.scope(m, "pull"))
    )
    yield* transport.execute(HttpClientRequest.get("/v2/"), access, { expected: [200, 401, 403, 404] })
    return Option.fromNullable(granted)
  })
