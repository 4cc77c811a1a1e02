/**
 * `crane validate --remote IMAGE` / `--tarball FILE` (`--fast`): prints `PASS: ...` or
 * `FAIL: ...: what is wrong`, and exits 1 on a failure.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Globals from "../Globals.js"
import * as Output from "../Output.js"

// Loaded when a command runs: starting crane compiles only what the command line needs.
const loadValidate = Effect.promise(() => import("../../crane/Validate.js"))

const report = <E, R>(subject: string, check: Effect.Effect<void, E, R>) =>
  check.pipe(
    Effect.zipRight(Output.line(`PASS: ${subject}`)),
    Effect.catchAll((error) =>
      Effect.zipRight(
        Output.line(`FAIL: ${subject}: ${Output.errorLine(error)}`),
        Effect.fail(new Output.Exit({ code: Output.exitFailure }))
      )
    )
  )

/**
 * The `validate` command.
 *
 * @since 0.1.0
 */
export const command = Command.make(
  "validate",
  {
    tarball: Options.text("tarball").pipe(Options.withDescription("Path to tarball to validate"), Options.optional),
    remote: Options.text("remote").pipe(Options.withDescription("Name of remote image to validate"), Options.optional),
    fast: Options.boolean("fast").pipe(Options.withDescription("Skip downloading/digesting layers"))
  },
  ({ fast, remote, tarball }) =>
    Effect.gen(function* () {
      if (Option.isNone(tarball) && Option.isNone(remote)) {
        return yield* new Output.UsageError({ detail: "one of --remote or --tarball is required" })
      }
      const options = { ...(yield* Globals.options), fast }
      const Validate = yield* loadValidate
      if (Option.isSome(tarball)) yield* report(tarball.value, Validate.validateTarball(tarball.value, options))
      if (Option.isSome(remote)) yield* report(remote.value, Validate.validateRemote(remote.value, options))
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Validate that an image is well-formed"))
