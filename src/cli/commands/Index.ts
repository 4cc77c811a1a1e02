/**
 * `crane index list`, `crane index filter` and `crane index append`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { slice, withProgress } from "../Common.js"
import * as CraneOptions from "../../crane/Options.js"
import * as Globals from "../Globals.js"
import * as Output from "../Output.js"

// Loaded when a command runs: starting crane compiles only what the command line needs.
const loadIndex = Effect.promise(() => import("../../crane/Index.js"))

const pad = (s: string, width: number): string => (s.length >= width ? s : s + " ".repeat(width - s.length))

const list = Command.make(
  "list",
  { index: Args.text({ name: "INDEX" }) },
  ({ index }) =>
    Effect.gen(function* () {
      const Index = yield* loadIndex
      const children = yield* Index.list(index, yield* Globals.options)
      yield* Output.lines([
        `${pad("Digest", 70)} ${pad("MediaType", 20)} Platform`,
        ...children.map((d) =>
          `${pad(d.digest, 70)} ${pad(d.mediaType, 20)} ${d.platform !== undefined ? CraneOptions.formatPlatform(d.platform) : "-"}`
        )
      ])
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("List the manifests in an index"))

const filter = Command.make(
  "filter",
  {
    index: Args.text({ name: "INDEX" }),
    platforms: slice("platform").pipe(
      Options.withDescription("Platform(s) to keep, os/arch[/variant][:osversion] (repeat or separate with commas)")
    ),
    tag: Options.text("tag").pipe(Options.withAlias("t"), Options.withDescription("Tag to apply to resulting image"), Options.optional)
  },
  ({ index, platforms, tag }) =>
    Effect.gen(function* () {
      const parsed: Array<Parameters<typeof CraneOptions.formatPlatform>[0]> = []
      for (const p of platforms) {
        const result = CraneOptions.platform(p)
        if (Either.isLeft(result)) return yield* new Output.UsageError({ detail: result.left.message })
        parsed.push(result.right)
      }
      const options = yield* Globals.options
      const Index = yield* loadIndex
      const pushed = yield* withProgress(Index.filter(index, parsed, { ...options, tag: Option.getOrUndefined(tag) }))
      yield* Output.line(CraneOptions.formatReference(pushed))
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Modifies a remote index by filtering based on platform"))

const append = Command.make(
  "append",
  {
    args: Args.text({ name: "BASE MANIFEST..." }).pipe(Args.repeated),
    manifests: slice("manifest", "m").pipe(Options.withDescription("References to manifests to append to the base index")),
    tag: Options.text("tag").pipe(Options.withAlias("t"), Options.withDescription("Tag to apply to resulting image"), Options.optional),
    dockerEmptyBase: Options.boolean("docker-empty-base").pipe(
      Options.withDescription("The empty base index is a Docker manifest list instead of an OCI index")
    ),
    noFlatten: Options.boolean("no-flatten").pipe(
      Options.withDescription("Append an index as it is rather than each of its children")
    )
  },
  ({ args, dockerEmptyBase, manifests, noFlatten, tag }) =>
    Effect.gen(function* () {
      const base = args[0]
      const all = [...manifests, ...args.slice(1)]
      const options = yield* Globals.options
      const Index = yield* loadIndex
      if (base === undefined) yield* Effect.logWarning("base unspecified, using empty index")
      const pushed = yield* withProgress(
        Index.append(base, all, { ...options, tag: Option.getOrUndefined(tag), dockerEmptyBase, flatten: !noFlatten })
      )
      if (Option.isSome(pushed)) yield* Output.line(CraneOptions.formatReference(pushed.value))
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Append manifests to a remote index (or a local OCI layout)"))

/**
 * The `index` command and its subcommands.
 *
 * @since 0.1.0
 */
export const command = Command.make("index", {}, () =>
  new Output.UsageError({ detail: "index needs a subcommand: list, filter or append" })).pipe(
  Command.withDescription("Modify an image index"),
  Command.withSubcommands([list, filter, append])
)
