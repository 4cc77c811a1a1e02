/**
 * What the crane subcommands share: flags that take comma-separated lists like cobra's string
 * slices (`--entrypoint sh,-c`), `key=value` flags, and the way a command that moves bytes
 * shows progress.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Output from "./Output.js"
import * as ProgressBars from "./ProgressBars.js"

/**
 * A repeatable flag whose values may also be comma-separated, as cobra's `StringSlice`:
 * `-f a.tar -f b.tar` and `-f a.tar,b.tar` are the same.
 *
 * @since 0.1.0
 */
export const slice = (name: string, alias?: string): Options.Options<ReadonlyArray<string>> => {
  const base = Options.text(name)
  const named = alias === undefined ? base : Options.withAlias(base, alias)
  return named.pipe(
    Options.repeated,
    Options.map((values) => values.flatMap((v) => v.split(",")).filter((v) => v !== ""))
  )
}

/**
 * A repeatable `key=value` flag, keeping the order written.
 *
 * @since 0.1.0
 */
export const keyValues = (name: string, alias?: string): Options.Options<ReadonlyArray<string>> => {
  const base = Options.text(name)
  const named = alias === undefined ? base : Options.withAlias(base, alias)
  return Options.repeated(named)
}

/**
 * Splits `key=value` flag values, failing as a usage error on one without `=`.
 *
 * @since 0.1.0
 */
export const pairs = (values: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<readonly [string, string]>, Output.UsageError> =>
  Effect.forEach(values, (v) => {
    const eq = v.indexOf("=")
    return eq < 0
      ? Effect.fail(new Output.UsageError({ detail: `${v} must be formatted as key=value` }))
      : Effect.succeed([v.slice(0, eq), v.slice(eq + 1)] as const)
  })

/**
 * Runs a transfer with progress bars on stderr when it is a terminal.
 *
 * @since 0.1.0
 */
export const withProgress = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provide(effect, ProgressBars.layer)
