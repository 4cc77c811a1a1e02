/**
 * `crane edit config IMAGE`, `crane edit manifest IMAGE` and `crane edit fs IMAGE -f FILE`: the
 * new content is read from stdin, or, when stdin and stdout are both a terminal, made in
 * `$EDITOR` (vi by default) from the current one, as ggcr's crane does. Each prints the
 * reference the result was pushed to.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as EditCommand from "../../crane/EditCommand.js"
import { withProgress } from "../Common.js"
import * as Globals from "../Globals.js"
import * as Output from "../Output.js"

// Loaded when a command runs: starting crane compiles only what the command line needs.
const loadEdit = Effect.promise(() => import("../../crane/EditCommand.js"))

/** ggcr's test: the editor is opened only when both stdin and stdout are terminals. */
const interactive = (): boolean => process.stdin.isTTY === true && process.stdout.isTTY === true

const stdin = NodeStream.fromReadable(() => process.stdin, (cause) => new Output.OutputError({ target: "stdin", cause }))

/** Where the new content comes from: `$EDITOR` on a terminal, else stdin. */
const source: Effect.Effect<
  EditCommand.Source<EditCommand.EditCommandError | Output.OutputError, CommandExecutor.CommandExecutor>
> = Effect.map(loadEdit, (Edit) =>
  interactive() ? Edit.externalEditor(process.env["EDITOR"]) : Edit.content(stdin))

/** Progress bars, unless an editor has the terminal: bars drawn around it would garble it. */
const progress = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  interactive() ? effect : withProgress(effect)

const tagFlag = Options.text("tag").pipe(
  Options.withAlias("t"),
  Options.withDescription("New tag reference to apply to mutated image. If not provided, uses original tag or pushes a new digest."),
  Options.optional
)

const config = Command.make(
  "config",
  { image: Args.text({ name: "IMAGE" }), tag: tagFlag },
  ({ image, tag }) =>
    Effect.gen(function* () {
      const Edit = yield* loadEdit
      const options = { ...(yield* Globals.options), tag: Option.getOrUndefined(tag) }
      const edited = yield* progress(Edit.editConfig(image, yield* source, options))
      yield* Output.line(edited.name)
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Edit an image's config file."))

const manifest = Command.make(
  "manifest",
  {
    image: Args.text({ name: "IMAGE" }),
    tag: tagFlag,
    mediaType: Options.text("media-type").pipe(
      Options.withAlias("m"),
      Options.withDescription("Override the mediaType used as the Content-Type for PUT"),
      Options.optional
    )
  },
  ({ image, mediaType, tag }) =>
    Effect.gen(function* () {
      const Edit = yield* loadEdit
      const options = {
        ...(yield* Globals.options),
        tag: Option.getOrUndefined(tag),
        mediaType: Option.getOrUndefined(mediaType)
      }
      const edited = yield* Edit.editManifest(image, yield* source, options)
      yield* Output.line(edited.name)
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Edit an image's manifest."))

const fs = Command.make(
  "fs",
  {
    image: Args.text({ name: "IMAGE" }),
    filename: Options.text("filename").pipe(Options.withAlias("f"), Options.withDescription("Edit the given filename")),
    tag: tagFlag
  },
  ({ filename, image, tag }) =>
    Effect.gen(function* () {
      const Edit = yield* loadEdit
      const options = {
        ...(yield* Globals.options),
        tag: Option.getOrUndefined(tag),
        createdBy: ["crane", ...process.argv.slice(2)].join(" ")
      }
      const edited = yield* progress(Edit.editFile(image, filename, yield* source, options))
      yield* Output.line(edited.name)
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Edit the contents of an image's filesystem."))

/**
 * The `edit` command and its subcommands.
 *
 * @since 0.1.0
 */
export const command = Command.make("edit", {}, () =>
  new Output.UsageError({ detail: "edit needs a subcommand: config, manifest or fs" })).pipe(
  Command.withDescription("Edit the contents of an image."),
  Command.withSubcommands([config, manifest, fs])
)
