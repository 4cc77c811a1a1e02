/**
 * The `crane` program: the root command with its global flags and every subcommand, and the
 * run that turns a command line into an exit code (0 ok, 1 failure, 2 usage error), reporting
 * a failure as one line on stderr.
 *
 * @since 0.1.0
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as Args from "@effect/cli/Args"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { version } from "../version.js"
import * as Auth from "./commands/Auth.js"
import * as Build from "./commands/Build.js"
import * as Edit from "./commands/Edit.js"
import * as Index from "./commands/Index.js"
import * as Inspect from "./commands/Inspect.js"
import * as Layout from "./commands/Layout.js"
import * as Listing from "./commands/Listing.js"
import * as Registry from "./commands/Registry.js"
import * as Transfer from "./commands/Transfer.js"
import * as Validate from "./commands/Validate.js"
import * as Version from "./commands/Version.js"
import * as Globals from "./Globals.js"
import * as Output from "./Output.js"

const root = Command.make("crane", Globals.flags)

const help = <Name extends string, R, E, A>(command: Command.Command<Name, R, E, A>): string =>
  HelpDoc.toAnsiText(Command.getHelp(command, CliConfig.defaultConfig))

type Shell = "bash" | "zsh" | "fish"

// What the root command knows about itself once it is built (its help, its completions).
const self = {
  help: (): string => "",
  completions: (_shell: Shell): Effect.Effect<Array<string>> => Effect.succeed([])
}

const completion = Command.make(
  "completion",
  { shell: Args.choice<Shell>([["bash", "bash"], ["zsh", "zsh"], ["fish", "fish"]], { name: "SHELL" }) },
  ({ shell }) => Effect.flatMap(Effect.suspend(() => self.completions(shell)), Output.lines)
).pipe(Command.withDescription("Print a shell completion script (bash, zsh or fish)"))

/**
 * The root `crane` command with all its subcommands.
 *
 * @since 0.1.0
 */
export const crane = root.pipe(
  Command.withHandler(() =>
    Effect.zipRight(
      Effect.sync(() => void process.stderr.write(self.help())),
      new Output.UsageError({ detail: "a subcommand is required" })
    )
  ),
  Command.withSubcommands([
    Build.append,
    Auth.command,
    Inspect.blob,
    Listing.catalog,
    Inspect.config,
    Transfer.copy,
    Transfer.cp,
    Transfer.remove,
    Inspect.digest,
    Edit.command,
    Build.exportCommand,
    Build.flatten,
    Index.command,
    Layout.command,
    Listing.ls,
    Inspect.manifest,
    Build.mutate,
    Transfer.pull,
    Transfer.push,
    Build.rebase,
    Registry.command,
    Transfer.tag,
    Validate.command,
    Version.command,
    completion
  ]),
  Command.withDescription("Crane is a tool for managing container images"),
  Command.provide((config) => Globals.layer(config))
)

self.help = () => help(crane)
self.completions = (shell) =>
  shell === "bash"
    ? Command.getBashCompletions(crane, "crane")
    : shell === "zsh"
    ? Command.getZshCompletions(crane, "crane")
    : Command.getFishCompletions(crane, "crane")

const cli = Command.run(crane, { name: "crane", version, executable: "crane" })

const valued = new Set(["--platform", "--jobs", "-j", "--user-agent"])
const switches = new Set(["--insecure", "--verbose", "-v"])

/**
 * The arguments with the global flags moved in front of the subcommand, so that they may be
 * written anywhere, as with crane (`crane digest --platform linux/arm64 IMAGE`). A subcommand's
 * own flag of the same name stays where it is (`crane index filter --platform ...`), and
 * nothing after `--` moves.
 *
 * @since 0.1.0
 */
export const hoistGlobals = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  const globals: Array<string> = []
  const rest: Array<string> = []
  const path: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    if (arg === "--") {
      rest.push(...args.slice(i))
      break
    }
    const name = arg.startsWith("--") && arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg
    const own = name === "--platform" && path[0] === "index" && path[1] === "filter"
    if (!own && switches.has(name)) {
      globals.push(arg)
    } else if (!own && valued.has(name)) {
      globals.push(arg)
      if (name === arg && i + 1 < args.length) globals.push(args[++i] ?? "")
    } else {
      if (!arg.startsWith("-")) path.push(arg)
      rest.push(arg)
    }
  }
  return [...globals, ...rest]
}

// ANSI escape sequences (colours, bold) as @effect/cli writes them in help and errors.
const ansi = /\u001b\[[0-9;]*m/g

const plain = (args: ReadonlyArray<unknown>, tty: boolean | undefined): ReadonlyArray<unknown> =>
  tty === true && process.env["NO_COLOR"] === undefined
    ? args
    : args.map((arg) => (typeof arg === "string" ? arg.replace(ansi, "") : arg))

/**
 * The console @effect/cli prints help and parse errors through, without colours when the
 * stream it writes to is not a terminal (or `NO_COLOR` is set), as crane's output is.
 *
 * @since 0.1.0
 */
export const plainWhenPiped = (base: Console.Console): Console.Console => ({
  ...base,
  log: (...args) => base.log(...plain(args, process.stdout.isTTY)),
  error: (...args) => base.error(...plain(args, process.stderr.isTTY))
})

/**
 * Runs a command line (`process.argv`: runtime, script, then the arguments) and gives the
 * exit code. Never fails: every failure has been reported by then.
 *
 * @since 0.1.0
 */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<number> =>
  // With no arguments at all, crane prints its help and succeeds.
  Console.consoleWith((console) =>
    Effect.withConsole(
      cli([...argv.slice(0, 2), ...(argv.length > 2 ? hoistGlobals(argv.slice(2)) : ["--help"])]),
      plainWhenPiped(console)
    )
  ).pipe(
    Effect.as(Output.exitOk),
    Effect.catchAll((failure): Effect.Effect<number> => {
      const error: unknown = failure
      if (ValidationError.isValidationError(error)) {
        // The parser has printed what was wrong already.
        return Effect.succeed(ValidationError.isHelpRequested(error) ? Output.exitOk : Output.exitUsage)
      }
      if (error instanceof Output.Exit) return Effect.succeed(error.code)
      if (error instanceof Output.UsageError) return Effect.as(Output.reportError(error), Output.exitUsage)
      return Effect.as(Output.reportError(error), Output.exitFailure)
    }),
    Effect.catchAllDefect((defect) =>
      Effect.as(Output.reportError(defect, "internal error"), Output.exitFailure)
    ),
    Effect.provide(NodeContext.layer)
  )

/**
 * How the process ends: with the code {@link run} gave, 0 when interrupted by a signal (a
 * server stopped with Ctrl-C), 1 on anything unexpected.
 *
 * @since 0.1.0
 */
export const teardown = <E, A>(exit: Exit.Exit<A, E>, onExit: (code: number) => void): void => {
  if (Exit.isSuccess(exit)) onExit(typeof exit.value === "number" ? exit.value : Output.exitOk)
  else onExit(Cause.isInterruptedOnly(exit.cause) ? Output.exitOk : Output.exitFailure)
}
