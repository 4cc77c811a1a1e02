/**
 * `crane auth login`, `logout`, `get` and `token`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { version } from "../../version.js"
import * as Globals from "../Globals.js"
import * as Output from "../Output.js"

// Loaded when a command runs: starting crane compiles only what the command line needs.
const loadAuth = Effect.promise(() => import("../../crane/Auth.js"))
const loadTransport = Effect.promise(() => import("../../crane/Transport.js"))
const loadCraneError = Effect.promise(() => import("../../crane/CraneError.js"))

const stdinText = NodeStream.fromReadable(
  () => process.stdin,
  (cause) => new Output.OutputError({ target: "stdin", cause })
).pipe(Stream.decodeText(), Stream.mkString)

const login = Command.make(
  "login",
  {
    server: Args.text({ name: "SERVER" }),
    username: Options.text("username").pipe(Options.withAlias("u"), Options.withDescription("Username"), Options.withDefault("")),
    password: Options.text("password").pipe(Options.withAlias("p"), Options.withDescription("Password"), Options.withDefault("")),
    passwordStdin: Options.boolean("password-stdin").pipe(Options.withDescription("Take the password from stdin"))
  },
  ({ password, passwordStdin, server, username }) =>
    Effect.gen(function* () {
      const Auth = yield* loadAuth
      const secret = passwordStdin ? (yield* stdinText).replace(/\r?\n$/, "") : password
      const file = yield* Auth.login(server, { username, password: Redacted.make(secret) })
      yield* Output.note(`logged in via ${file}`)
    })
).pipe(Command.withDescription("Log in to a registry"))

const logout = Command.make(
  "logout",
  { server: Args.text({ name: "SERVER" }) },
  ({ server }) =>
    Effect.gen(function* () {
      const Auth = yield* loadAuth
      const file = yield* Auth.logout(server)
      yield* Output.note(`logged out via ${file}`)
    })
).pipe(Command.withDescription("Log out of a registry"))

const get = Command.make(
  "get",
  { server: Args.text({ name: "REGISTRY_ADDR" }).pipe(Args.optional) },
  ({ server }) =>
    Effect.gen(function* () {
      const Auth = yield* loadAuth
      const Transport = yield* loadTransport
      const address = Option.isSome(server) ? server.value : (yield* stdinText).trim()
      const found = yield* Auth.get(address).pipe(Effect.provide(Transport.layerKeychain))
      if (Option.isNone(found)) {
        // What credential helpers answer, so that crane can serve as one.
        yield* Output.line("credentials not found in native keychain")
        return yield* new Output.Exit({ code: Output.exitFailure })
      }
      yield* Output.line(JSON.stringify(found.value))
    })
).pipe(Command.withDescription("Implements a credential helper"))

const token = Command.make(
  "token",
  {
    repository: Args.text({ name: "REPO" }),
    header: Options.boolean("header").pipe(Options.withAlias("H"), Options.withDescription("Output in header format")),
    push: Options.boolean("push").pipe(Options.withDescription("Request push scopes")),
    mounts: Options.text("mount").pipe(Options.withAlias("m"), Options.withDescription("Scopes to mount from"), Options.repeated)
  },
  ({ header, mounts, push, repository }) =>
    Effect.gen(function* () {
      const { flags } = yield* Globals.Globals
      const Auth = yield* loadAuth
      const Transport = yield* loadTransport
      const { CraneError } = yield* loadCraneError
      const granted = yield* Auth.token(repository, {
        push,
        mounts,
        userAgent: Option.getOrElse(flags.userAgent, () => `crane/${version}`)
      }).pipe(Effect.provide(NodeHttpClient.layer), Effect.provide(Transport.layerKeychain))
      if (Option.isNone(granted)) {
        return yield* new CraneError({ reason: "Unsupported", detail: `the registry of ${repository} issues no tokens` })
      }
      const value = Redacted.value(granted.value)
      if (header) return yield* Output.print(`Authorization: Bearer ${value}`)
      yield* Output.line(JSON.stringify({ token: value, access_token: value }))
    })
).pipe(Command.withDescription("Retrieves a token for a remote repo"))

/**
 * The `auth` command and its subcommands.
 *
 * @since 0.1.0
 */
export const command = Command.make("auth", {}, () =>
  new Output.UsageError({ detail: "auth needs a subcommand: get, login, logout or token" })).pipe(
  Command.withDescription("Log in or access credentials"),
  Command.withSubcommands([get, login, logout, token])
)
