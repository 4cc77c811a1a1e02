/**
 * The flags every crane command accepts, wherever they are written on the command line
 * (`--insecure`, `--platform`, `-v/--verbose`, `-j/--jobs`, `--user-agent`), and the services
 * they set up for the command that runs: the registry transport, the log level and the
 * options handed to the crane functions.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as CraneOptions from "../crane/Options.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import { version } from "../version.js"

/**
 * The global flags as parsed.
 *
 * @since 0.1.0
 */
export interface Flags {
  readonly insecure: boolean
  readonly platform: Option.Option<NonNullable<CraneOptions.Options["platform"]>>
  readonly verbose: boolean
  readonly jobs: Option.Option<number>
  readonly userAgent: Option.Option<string>
}

const platformFlag = Options.text("platform").pipe(
  Options.withDescription(
    "Specifies the platform in the form os/arch[/variant][:osversion] (e.g. linux/amd64); \"all\" for every platform"
  ),
  Options.mapEffect((text) =>
    text === "all"
      ? Effect.succeed(Option.none<NonNullable<CraneOptions.Options["platform"]>>())
      : Either.match(CraneOptions.platform(text), {
        onLeft: (e) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(e.message))),
        onRight: (p) => Effect.succeed(Option.some(p))
      })
  ),
  Options.optional,
  Options.map(Option.flatten)
)

/**
 * The global flags.
 *
 * @since 0.1.0
 */
export const flags = {
  insecure: Options.boolean("insecure").pipe(
    Options.withDescription("Allow image references to be fetched without TLS, and accept any certificate")
  ),
  platform: platformFlag,
  verbose: Options.boolean("verbose").pipe(
    Options.withAlias("v"),
    Options.withDescription("Enable debug logs (every HTTP request, without credentials)")
  ),
  jobs: Options.integer("jobs").pipe(
    Options.withAlias("j"),
    Options.withDescription("The maximum number of concurrent transfers (default 4)"),
    Options.optional
  ),
  userAgent: Options.text("user-agent").pipe(
    Options.withDescription("Appended to the User-Agent header of registry requests"),
    Options.optional
  )
}

/**
 * What a command reads from the global flags.
 *
 * @since 0.1.0
 */
export interface Globals {
  readonly flags: Flags
  /** The options for crane functions. */
  readonly options: CraneOptions.Options
}

/**
 * The service tag of {@link Globals}.
 *
 * @since 0.1.0
 */
export const Globals: Context.Tag<Globals, Globals> = Context.GenericTag<Globals>("effect-containerregistry/cli/Globals")

/**
 * The crane options of the running command.
 *
 * @since 0.1.0
 */
export const options: Effect.Effect<CraneOptions.Options, never, Globals> = Effect.map(Globals, (g) => g.options)

const levelTag: Readonly<Partial<Record<LogLevel.LogLevel["_tag"], string>>> = {
  Warning: "Warning: ",
  Error: "Error: ",
  Fatal: "Error: ",
  Debug: "",
  Trace: ""
}

const render = (message: unknown): string =>
  Array.isArray(message) ? message.map(render).join(" ") : typeof message === "string" ? message : String(message)

/**
 * A logger writing one line per message to stderr, so that nothing but a command's output
 * reaches stdout.
 *
 * @since 0.1.0
 */
export const stderrLogger: Logger.Logger<unknown, void> = Logger.make(({ logLevel, message }) => {
  process.stderr.write(`${levelTag[logLevel._tag] ?? ""}${render(message)}\n`)
})

/**
 * The registry transport for the commands that talk to a registry, set up from the global
 * flags (`--insecure`, `--verbose`, `--user-agent`). Its code is loaded only when such a
 * command runs, so that `crane version` does not compile the HTTP stack.
 *
 * @since 0.1.0
 */
export const transport: Layer.Layer<RegistryTransport.RegistryTransport, never, Globals> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const { flags } = yield* Globals
    const Transport = yield* Effect.promise(() => import("../crane/Transport.js"))
    return Transport.layer({
      insecure: flags.insecure,
      logRequests: flags.verbose,
      userAgent: Option.getOrElse(flags.userAgent, () => `crane/${version}`)
    })
  })
)

/**
 * The services every command runs with, from the global flags.
 *
 * @since 0.1.0
 */
export const layer = (flags: Flags): Layer.Layer<Globals> =>
  Layer.mergeAll(
    Layer.succeed(Globals, {
      flags,
      options: {
        insecure: flags.insecure,
        ...(Option.isSome(flags.platform) ? { platform: flags.platform.value } : {}),
        ...(Option.isSome(flags.jobs) ? { jobs: flags.jobs.value } : {})
      }
    }),
    Logger.replace(Logger.defaultLogger, stderrLogger),
    Logger.minimumLogLevel(flags.verbose ? LogLevel.Debug : LogLevel.Info)
  )
