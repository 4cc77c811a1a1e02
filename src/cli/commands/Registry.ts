/**
 * `crane registry serve`: the embedded registry on an address (`--address`, `$PORT`, or a
 * free port on 127.0.0.1), in memory or in a directory (`--disk`). Prints the address it
 * listens on, then serves until interrupted, purging uploads abandoned for over a day at
 * start and then hourly (`Serve`'s defaults).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Globals from "../Globals.js"
import * as Output from "../Output.js"

// Loaded when a command runs: starting crane compiles only what the command line needs.
const loadServe = Effect.promise(() => import("../../crane/Serve.js"))

const serve = Command.make(
  "serve",
  {
    address: Options.text("address").pipe(
      Options.withDescription("Address to listen on, as host:port (default 127.0.0.1 and $PORT or a free port)"),
      Options.optional
    ),
    disk: Options.text("disk").pipe(
      Options.withDescription("Directory to keep the registry's content in (in memory when absent)"),
      Options.optional
    )
  },
  ({ address, disk }) =>
    Effect.gen(function* () {
      const { flags } = yield* Globals.Globals
      const written = Option.getOrElse(address, () => {
        const port = process.env["PORT"]
        return port !== undefined && port !== "" ? port : "0"
      })
      const Serve = yield* loadServe
      const parsed = Serve.parseAddress(written)
      if (Either.isLeft(parsed)) return yield* new Output.UsageError({ detail: parsed.left.message })
      if (Option.isSome(disk)) yield* Output.note(`storing content in ${disk.value}`)
      return yield* Serve.serve(
        {
          address: parsed.right,
          disk: Option.getOrUndefined(disk),
          logRequests: flags.verbose
        },
        (listening) => Output.line(`serving on ${listening}`)
      )
    })
).pipe(Command.withDescription("Serve a registry implementation until interrupted"))

/**
 * The `registry` command and its `serve` subcommand.
 *
 * @since 0.1.0
 */
export const command = Command.make("registry", {}, () =>
  new Output.UsageError({ detail: "registry needs a subcommand: serve" })).pipe(
  Command.withDescription("Run the embedded registry"),
  Command.withSubcommands([serve])
)
