/**
 * A {@link Keychain.Keychain} backed by a docker credential helper (`docker-credential-<name>`,
 * as ggcr's `NewKeychainFromHelper`): `docker-credential-<name> get` is run with the server
 * URL on standard input and answers `{"ServerURL":...,"Username":...,"Secret":...}`; a user
 * name of `<token>` means the secret is an identity token. "credentials not found" is
 * anonymous, any other failure a `Helper` error.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type { PlatformError } from "@effect/platform/Error"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Keychain from "../services/Keychain.js"
import * as AuthKeys from "../services/internal/transport/authKeys.js"

/**
 * How a helper is run.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The `PATH` the helper is searched in (and runs with); the process's by default. */
  readonly path?: string | undefined
  /** How long a helper may take before it is stopped; 1 minute by default. */
  readonly timeout?: Duration.DurationInput | undefined
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/
const maxOutput = 64 * 1024

const HelperAnswer = Schema.Struct({
  Username: Schema.optionalWith(Schema.String, { nullable: true }),
  Secret: Schema.optionalWith(Schema.String, { nullable: true })
})
const decodeAnswer = Schema.decodeUnknownEither(Schema.parseJson(HelperAnswer))

// A process's output as text, keeping at most `maxOutput` bytes of it.
const text = (stream: Stream.Stream<Uint8Array, PlatformError>) =>
  stream.pipe(
    Stream.runFold(
      { size: 0, chunks: Chunk.empty<Uint8Array>() },
      (acc, chunk) =>
        acc.size >= maxOutput ? acc : { size: acc.size + chunk.byteLength, chunks: Chunk.append(acc.chunks, chunk) }
    ),
    Effect.map(({ chunks, size }) => {
      const all = new Uint8Array(size)
      let offset = 0
      for (const chunk of Chunk.toReadonlyArray(chunks)) {
        all.set(chunk, offset)
        offset += chunk.byteLength
      }
      return new TextDecoder().decode(all.subarray(0, maxOutput))
    })
  )

const clip = (s: string): string => {
  const line = s.replace(/\s+/g, " ").trim()
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}

/**
 * Asks the helper `docker-credential-<name>` for the credential of a server URL.
 *
 * @since 0.1.0
 */
export const get = (
  name: string,
  serverUrl: string,
  options: Options = {}
): Effect.Effect<Keychain.Credential, Keychain.KeychainError, CommandExecutor.CommandExecutor> => {
  const program = `docker-credential-${name}`
  const fail = (detail: string, cause?: unknown) =>
    Effect.fail(new Keychain.KeychainError({ reason: "Helper", helper: program, detail, cause }))
  if (!NAME.test(name)) return fail(`${JSON.stringify(name)} is not a credential helper name`)
  const base = Command.make(program, "get").pipe(Command.feed(serverUrl))
  const command = options.path === undefined ? base : Command.env(base, { PATH: options.path })
  return Effect.scoped(
    Effect.gen(function*() {
      const process = yield* Command.start(command)
      const [stdout, stderr, exitCode] = yield* Effect.all(
        [text(process.stdout), text(process.stderr), process.exitCode],
        { concurrency: "unbounded" }
      )
      return { stdout, stderr, exitCode }
    })
  ).pipe(
    Effect.timeoutFail({
      duration: options.timeout ?? Duration.minutes(1),
      onTimeout: () => new Keychain.KeychainError({ reason: "Helper", helper: program, detail: "timed out" })
    }),
    Effect.catchTags({
      BadArgument: (e) => fail(`cannot run: ${e.message}`, e),
      SystemError: (e) =>
        fail(e.reason === "NotFound" ? "not found on the PATH" : `cannot run: ${e.reason}`, e)
    }),
    Effect.flatMap(({ exitCode, stderr, stdout }) => {
      if (exitCode !== 0) {
        if (/credentials not found/i.test(`${stdout}\n${stderr}`)) return Effect.succeed(Keychain.anonymous)
        const said = clip(stderr !== "" ? stderr : stdout)
        return fail(`get exited with code ${exitCode}${said === "" ? "" : `: ${said}`}`)
      }
      const answer = decodeAnswer(stdout)
      if (Either.isLeft(answer)) return fail("answered with something other than JSON credentials")
      const { Secret: secret = "", Username: username = "" } = answer.right
      if (secret === "") return Effect.succeed(Keychain.anonymous)
      return Effect.succeed(
        username === "<token>" ? Keychain.identityToken(secret) : Keychain.basic(username, secret)
      )
    })
  )
}

/**
 * A keychain asking the helper `docker-credential-<name>` about each registry, by the key
 * docker uses for it (`https://index.docker.io/v1/` for Docker Hub, else `host[:port]`).
 *
 * @since 0.1.0
 */
export const make = (
  name: string,
  options: Options = {}
): Effect.Effect<Keychain.Keychain, never, CommandExecutor.CommandExecutor> =>
  Effect.map(Effect.context<CommandExecutor.CommandExecutor>(), (context) =>
    Keychain.make((target) =>
      get(name, AuthKeys.serverKey(AuthKeys.registryOf(target)), options).pipe(Effect.provide(context))
    ))

/**
 * Provides a keychain backed by the helper `docker-credential-<name>`.
 *
 * @since 0.1.0
 */
export const layer = (
  name: string,
  options: Options = {}
): Layer.Layer<Keychain.Keychain, never, CommandExecutor.CommandExecutor> =>
  Layer.effect(Keychain.Keychain, make(name, options))
