/**
 * Credentials for registries, as ggcr's `authn`: a {@link Credential} is anonymous, a user and
 * password, an identity (OAuth2 refresh) token, or a registry (bearer) token; a
 * {@link Keychain} finds the credential for a registry or repository. Secrets are held as
 * `Redacted` values, so logging a credential never shows them.
 *
 * Keychains here: {@link alwaysAnonymous}, {@link fromEntries} (a fixed map) and
 * {@link multi} (the first that knows). Docker's `config.json` and credential helpers are in
 * `layers/KeychainDockerConfig` and `layers/KeychainCredentialHelper`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Reference from "../domain/Reference.js"
import * as AuthKeys from "./internal/transport/authKeys.js"

/**
 * No credential: requests go out without one (tokens are still fetched anonymously).
 *
 * @since 0.1.0
 */
export interface Anonymous {
  readonly _tag: "Anonymous"
}

/**
 * A user name and password, sent as HTTP Basic auth to the registry or its token server.
 *
 * @since 0.1.0
 */
export interface Basic {
  readonly _tag: "Basic"
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

/**
 * An identity token (OAuth2 refresh token, docker's `identitytoken`), exchanged for registry
 * tokens with `grant_type=refresh_token`.
 *
 * @since 0.1.0
 */
export interface IdentityToken {
  readonly _tag: "IdentityToken"
  readonly token: Redacted.Redacted<string>
}

/**
 * A registry token (docker's `registrytoken`), sent as is as `Authorization: Bearer`.
 *
 * @since 0.1.0
 */
export interface RegistryToken {
  readonly _tag: "RegistryToken"
  readonly token: Redacted.Redacted<string>
}

/**
 * A credential for a registry.
 *
 * @since 0.1.0
 */
export type Credential = Anonymous | Basic | IdentityToken | RegistryToken

/**
 * The anonymous credential.
 *
 * @since 0.1.0
 */
export const anonymous: Credential = { _tag: "Anonymous" }

const secret = (s: string | Redacted.Redacted<string>): Redacted.Redacted<string> =>
  Redacted.isRedacted(s) ? s : Redacted.make(s)

/**
 * A user name and password.
 *
 * @since 0.1.0
 */
export const basic = (username: string, password: string | Redacted.Redacted<string>): Credential => ({
  _tag: "Basic",
  username,
  password: secret(password)
})

/**
 * An identity (refresh) token.
 *
 * @since 0.1.0
 */
export const identityToken = (token: string | Redacted.Redacted<string>): Credential => ({
  _tag: "IdentityToken",
  token: secret(token)
})

/**
 * A registry (bearer) token.
 *
 * @since 0.1.0
 */
export const registryToken = (token: string | Redacted.Redacted<string>): Credential => ({
  _tag: "RegistryToken",
  token: secret(token)
})

/**
 * True for the anonymous credential.
 *
 * @since 0.1.0
 */
export const isAnonymous = (credential: Credential): credential is Anonymous => credential._tag === "Anonymous"

/**
 * What a credential is looked up for: a registry, or a repository in one (configs may hold
 * credentials for `registry.io/namespace`).
 *
 * @since 0.1.0
 */
export type Target = Reference.Registry | Reference.Repository

/** Why a keychain could not answer. */
export type KeychainErrorReason = "Malformed" | "Helper" | "Io"

/**
 * A keychain that could not answer: a credentials file that is not valid (`Malformed`), a
 * credential helper that failed (`Helper`), or a file that could not be read (`Io`). A
 * missing file is not an error: it means anonymous. Messages never contain secrets.
 *
 * @since 0.1.0
 */
export class KeychainError extends Data.TaggedError("KeychainError")<{
  readonly reason: KeychainErrorReason
  readonly detail: string
  /** The file concerned, for `Malformed` and `Io`. */
  readonly path?: string | undefined
  /** The helper program concerned, for `Helper`. */
  readonly helper?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const subject = this.path !== undefined
      ? ` ${this.path}`
      : this.helper !== undefined
      ? ` ${this.helper}`
      : ""
    return `keychain (${this.reason})${subject}: ${this.detail}`
  }
}

/**
 * Finds the credential for a registry or repository.
 *
 * @since 0.1.0
 */
export interface Keychain {
  /** The credential for a target; anonymous when nothing is known for it. */
  readonly resolve: (target: Target) => Effect.Effect<Credential, KeychainError>
}

/**
 * The service tag of a {@link Keychain}.
 *
 * @since 0.1.0
 */
export const Keychain: Context.Tag<Keychain, Keychain> = Context.GenericTag<Keychain>(
  "effect-containerregistry/Keychain"
)

/**
 * Builds a {@link Keychain} from its operation.
 *
 * @since 0.1.0
 */
export const make = (resolve: Keychain["resolve"]): Keychain => Keychain.of({ resolve })

/**
 * The keychain that knows nothing: every registry is anonymous.
 *
 * @since 0.1.0
 */
export const alwaysAnonymous: Keychain = make(() => Effect.succeed(anonymous))

/**
 * A keychain over a fixed map, keyed as docker's `config.json` is: `gcr.io`, `localhost:5000`,
 * `https://index.docker.io/v1/` (or `docker.io`, `index.docker.io`, `registry-1.docker.io`
 * for Docker Hub), keys with a scheme or a `/v1/` or `/v2/` path, and `host/namespace` keys
 * for a part of a registry (the most specific wins).
 *
 * @since 0.1.0
 */
export const fromEntries = (
  entries: Iterable<readonly [string, Credential]> | Readonly<Record<string, Credential>>
): Keychain => {
  const list: ReadonlyArray<readonly [string, Credential]> = Symbol.iterator in entries
    ? Array.from(entries)
    : Object.entries(entries)
  return make((target) => Effect.succeed(AuthKeys.lookup(list, target)?.value ?? anonymous))
}

/**
 * A keychain asking each keychain in turn and answering with the first credential that is
 * not anonymous (ggcr's `NewMultiKeychain`). An error from any keychain asked is the answer.
 *
 * @since 0.1.0
 */
export const multi = (...keychains: ReadonlyArray<Keychain>): Keychain =>
  make((target) =>
    Effect.gen(function*() {
      for (const keychain of keychains) {
        const credential = yield* keychain.resolve(target)
        if (!isAnonymous(credential)) return credential
      }
      return anonymous
    })
  )

/**
 * Resolves a target's credential with the keychain in the context.
 *
 * @since 0.1.0
 */
export const resolve = (target: Target): Effect.Effect<Credential, KeychainError, Keychain> =>
  Effect.flatMap(Keychain, (keychain) => keychain.resolve(target))

/**
 * Provides the keychain that answers anonymous for everything.
 *
 * @since 0.1.0
 */
export const layerAnonymous: Layer.Layer<Keychain> = Layer.succeed(Keychain, alwaysAnonymous)

/**
 * Provides a keychain over a fixed map (see {@link fromEntries}).
 *
 * @since 0.1.0
 */
export const layerStatic = (
  entries: Iterable<readonly [string, Credential]> | Readonly<Record<string, Credential>>
): Layer.Layer<Keychain> => Layer.succeed(Keychain, fromEntries(entries))
