/**
 * A {@link Keychain.Keychain} reading docker's `config.json` (or podman's `auth.json`), as
 * ggcr's `DefaultKeychain`: `auths` entries (base64 `auth`, `username`/`password`,
 * `identitytoken`, `registrytoken`), `credHelpers` per registry and `credsStore` for all,
 * run as `docker-credential-<name> get`.
 *
 * The file is the first that exists of: `$DOCKER_CONFIG/config.json` (or, when
 * `DOCKER_CONFIG` is unset, `~/.docker/config.json`), `$REGISTRY_AUTH_FILE`,
 * `$XDG_RUNTIME_DIR/containers/auth.json`, `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`.
 * The variables are read through Effect's `Config` when the keychain is made (so a
 * `ConfigProvider` can set them); the file is read at each lookup, so a `docker login` is
 * seen at once. No file means anonymous; a malformed file is a `Malformed` error.
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Os from "node:os"
import * as Keychain from "../services/Keychain.js"
import * as AuthKeys from "../services/internal/transport/authKeys.js"
import * as KeychainCredentialHelper from "./KeychainCredentialHelper.js"

/**
 * Where the keychain looks.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Read only this file (missing: anonymous) instead of searching the usual places. */
  readonly path?: string | undefined
  /** How long a credential helper may take; 1 minute by default. */
  readonly helperTimeout?: KeychainCredentialHelper.Options["timeout"]
}

const nullable = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { nullable: true })

const AuthEntry = Schema.Struct({
  auth: nullable(Schema.String),
  username: nullable(Schema.String),
  password: nullable(Schema.String),
  identitytoken: nullable(Schema.String),
  registrytoken: nullable(Schema.String)
})

/**
 * One `auths` entry of a config file.
 *
 * @since 0.1.0
 */
export type AuthEntry = typeof AuthEntry.Type

const ConfigFileSchema = Schema.Struct({
  auths: nullable(Schema.Record({ key: Schema.String, value: AuthEntry })),
  credHelpers: nullable(Schema.Record({ key: Schema.String, value: Schema.String })),
  credsStore: nullable(Schema.String)
})

/**
 * The parts of a docker `config.json` (or podman `auth.json`) that hold credentials; other
 * fields are ignored.
 *
 * @since 0.1.0
 */
export type ConfigFile = typeof ConfigFileSchema.Type

const decodeConfig = Schema.decodeUnknownEither(ConfigFileSchema)

const malformed = (path: string, detail: string) => new Keychain.KeychainError({ reason: "Malformed", path, detail })

/**
 * Parses the text of a config file. Problems are reported by where they are (`auths.gcr.io.auth`),
 * never by the values found there.
 *
 * @since 0.1.0
 */
export const parseConfig = (text: string, path: string): Either.Either<ConfigFile, Keychain.KeychainError> => {
  if (text.trim() === "") return Either.right({})
  const json = Either.try(() => JSON.parse(text) as unknown)
  if (Either.isLeft(json)) return Either.left(malformed(path, "not valid JSON"))
  return Either.mapLeft(decodeConfig(json.right), (error) => {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
    const where = issue === undefined || issue.path.length === 0 ? "the top level" : issue.path.map(String).join(".")
    return malformed(path, `${where} ${issue?._tag === "Missing" ? "is missing" : "does not have the expected type"}`)
  })
}

/**
 * The credential an `auths` entry holds, most specific first: `registrytoken`,
 * `identitytoken`, base64 `auth` (`user:password`), `username` and `password`. `None` for an
 * entry without any (docker writes `{}` entries when a helper holds the secret).
 *
 * @since 0.1.0
 */
export const entryCredential = (
  entry: AuthEntry,
  key: string,
  path: string
): Either.Either<Option.Option<Keychain.Credential>, Keychain.KeychainError> => {
  if (entry.registrytoken !== undefined && entry.registrytoken !== "") {
    return Either.right(Option.some(Keychain.registryToken(entry.registrytoken)))
  }
  if (entry.identitytoken !== undefined && entry.identitytoken !== "") {
    return Either.right(Option.some(Keychain.identityToken(entry.identitytoken)))
  }
  if (entry.auth !== undefined && entry.auth.trim() !== "") {
    const field = entry.auth.trim()
    const padded = field.padEnd(field.length + ((4 - (field.length % 4)) % 4), "=")
    const decoded = Encoding.decodeBase64String(padded)
    const colon = Either.isRight(decoded) ? decoded.right.indexOf(":") : -1
    if (Either.isLeft(decoded) || colon < 0) {
      return Either.left(malformed(path, `the "auth" of ${JSON.stringify(key)} is not base64 of user:password`))
    }
    const username = decoded.right.slice(0, colon)
    const password = decoded.right.slice(colon + 1)
    return Either.right(username === "" && password === "" ? Option.none() : Option.some(Keychain.basic(username, password)))
  }
  if (entry.username !== undefined && entry.username !== "" && entry.password !== undefined && entry.password !== "") {
    return Either.right(Option.some(Keychain.basic(entry.username, entry.password)))
  }
  return Either.right(Option.none())
}

/**
 * The environment variables that decide where the file is.
 *
 * @since 0.1.0
 */
export interface Environment {
  readonly DOCKER_CONFIG?: string | undefined
  readonly HOME?: string | undefined
  readonly REGISTRY_AUTH_FILE?: string | undefined
  readonly XDG_RUNTIME_DIR?: string | undefined
  readonly XDG_CONFIG_HOME?: string | undefined
}

/**
 * The files searched, in order (see the module's documentation).
 *
 * @since 0.1.0
 */
export const candidates = (env: Environment, path: Path.Path): ReadonlyArray<string> => {
  const set = (s: string | undefined): s is string => s !== undefined && s !== ""
  const out: Array<string> = []
  if (set(env.DOCKER_CONFIG)) out.push(path.join(env.DOCKER_CONFIG, "config.json"))
  else if (set(env.HOME)) out.push(path.join(env.HOME, ".docker", "config.json"))
  if (set(env.REGISTRY_AUTH_FILE)) out.push(env.REGISTRY_AUTH_FILE)
  if (set(env.XDG_RUNTIME_DIR)) out.push(path.join(env.XDG_RUNTIME_DIR, "containers", "auth.json"))
  const configHome = set(env.XDG_CONFIG_HOME)
    ? env.XDG_CONFIG_HOME
    : set(env.HOME)
    ? path.join(env.HOME, ".config")
    : undefined
  if (configHome !== undefined) out.push(path.join(configHome, "containers", "auth.json"))
  return out
}

const variable = (name: string) =>
  Config.string(name).pipe(Config.option, Effect.map(Option.getOrUndefined), Effect.orElseSucceed(() => undefined))

/**
 * Makes the keychain, reading `DOCKER_CONFIG`, `HOME` (the user's home directory when
 * unset), `REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR`, `XDG_CONFIG_HOME` and `PATH` (where
 * helpers are searched) through `Config`.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<
  Keychain.Keychain,
  never,
  FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const context = yield* Effect.context<CommandExecutor.CommandExecutor>()
    const env: Environment = {
      DOCKER_CONFIG: yield* variable("DOCKER_CONFIG"),
      HOME: (yield* variable("HOME")) ?? Os.homedir(),
      REGISTRY_AUTH_FILE: yield* variable("REGISTRY_AUTH_FILE"),
      XDG_RUNTIME_DIR: yield* variable("XDG_RUNTIME_DIR"),
      XDG_CONFIG_HOME: yield* variable("XDG_CONFIG_HOME")
    }
    const helperOptions: KeychainCredentialHelper.Options = {
      path: yield* variable("PATH"),
      timeout: options.helperTimeout
    }
    const files = options.path !== undefined ? [options.path] : candidates(env, path)

    // The first candidate that is a file, with its text; `None` when there is none.
    const readFirst = Effect.gen(function*() {
      for (const file of files) {
        const info = yield* fs.stat(file).pipe(Effect.option)
        if (Option.isNone(info) || info.value.type !== "File") continue
        const text = yield* fs.readFileString(file).pipe(
          Effect.mapError((e) =>
            new Keychain.KeychainError({ reason: "Io", path: file, detail: `cannot read: ${e.message}`, cause: e })
          )
        )
        return Option.some({ file, text })
      }
      return Option.none()
    })

    const helper = (name: string, registry: AuthKeys.Target) =>
      KeychainCredentialHelper.get(name, AuthKeys.serverKey(AuthKeys.registryOf(registry)), helperOptions).pipe(
        Effect.provide(context)
      )

    return Keychain.make((target) =>
      Effect.gen(function*() {
        const found = yield* readFirst
        if (Option.isNone(found)) return Keychain.anonymous
        const { file, text } = found.value
        const config = yield* parseConfig(text, file)
        const registry = AuthKeys.registryOf(target)
        const helperName = AuthKeys.lookup(Object.entries(config.credHelpers ?? {}), registry)?.value
        if (helperName !== undefined && helperName !== "") {
          const credential = yield* helper(helperName, registry)
          if (!Keychain.isAnonymous(credential)) return credential
        }
        if (config.credsStore !== undefined && config.credsStore !== "") {
          const credential = yield* helper(config.credsStore, registry)
          if (!Keychain.isAnonymous(credential)) return credential
        }
        const entry = AuthKeys.lookup(Object.entries(config.auths ?? {}), target)
        if (entry === undefined) return Keychain.anonymous
        const credential = yield* entryCredential(entry.value, entry.key, file)
        return Option.getOrElse(credential, () => Keychain.anonymous)
      })
    )
  })

/**
 * Provides the keychain (see {@link make}).
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Keychain.Keychain, never, FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor> =>
  Layer.effect(Keychain.Keychain, make(options))

/**
 * Provides the keychain with Node's file system and process runner.
 *
 * @since 0.1.0
 */
export const layerNode = (options: Options = {}): Layer.Layer<Keychain.Keychain> =>
  layer(options).pipe(
    Layer.provide(NodeCommandExecutor.layer),
    Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
  )
