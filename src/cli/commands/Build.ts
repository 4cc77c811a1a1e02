/**
 * `crane append`, `crane mutate`, `crane rebase`, `crane flatten` and `crane export`: making
 * new images out of old ones, and the filesystem of an image as a tar.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as CraneOptions from "../../crane/Options.js"
import { keyValues, pairs, slice, withProgress } from "../Common.js"
import * as Globals from "../Globals.js"
import * as Output from "../Output.js"

// Loaded when a command runs: starting crane compiles only what the command line needs.
const loadAppend = Effect.promise(() => import("../../crane/Append.js"))
const loadExport = Effect.promise(() => import("../../crane/Export.js"))
const loadFlatten = Effect.promise(() => import("../../crane/Flatten.js"))
const loadMutate = Effect.promise(() => import("../../crane/Mutate.js"))
const loadPull = Effect.promise(() => import("../../crane/Pull.js"))
const loadPush = Effect.promise(() => import("../../crane/Push.js"))
const loadRebase = Effect.promise(() => import("../../crane/Rebase.js"))

/**
 * `crane append -f LAYER.tar [-b BASE] -t TAG` (`--oci-empty-base`, `-o FILE`,
 * `--set-base-image-annotations`): prints the reference by digest of the pushed image.
 *
 * @since 0.1.0
 */
export const append = Command.make(
  "append",
  {
    base: Options.text("base").pipe(
      Options.withAlias("b"),
      Options.withDescription("Name of base image to append to (an empty image when absent)"),
      Options.optional
    ),
    newTag: Options.text("new_tag").pipe(Options.withAlias("t"), Options.withDescription("Tag to apply to resulting image")),
    newLayers: slice("new_layer", "f").pipe(Options.withDescription("Path to tarball to append to image (- for stdin)")),
    output: Options.text("output").pipe(
      Options.withAlias("o"),
      Options.withDescription("Path to new tarball of resulting image (instead of pushing it)"),
      Options.optional
    ),
    annotate: Options.boolean("set-base-image-annotations").pipe(
      Options.withDescription("Annotate the resulting image as being based on the base image")
    ),
    ociEmptyBase: Options.boolean("oci-empty-base").pipe(
      Options.withDescription("The empty base image has OCI media types instead of Docker's")
    )
  },
  ({ annotate, base, newLayers, newTag, ociEmptyBase, output }) =>
    Effect.gen(function* () {
      if (newLayers.length === 0) return yield* new Output.UsageError({ detail: "at least one --new_layer (-f) is required" })
      if (ociEmptyBase && Option.isSome(base)) {
        return yield* new Output.UsageError({ detail: "--oci-empty-base and --base cannot be used together" })
      }
      const options = yield* Globals.options
      if (Option.isNone(base)) yield* Effect.logWarning("base unspecified, using empty image")
      const [Append, Pull, Push] = yield* Effect.all([loadAppend, loadPull, loadPush])
      const image = yield* Append.build(newLayers, {
        ...options,
        base: Option.getOrUndefined(base),
        ociEmptyBase,
        baseAnnotations: annotate
      })
      if (Option.isSome(output)) {
        return yield* Pull.saveTarball([[yield* CraneOptions.reference(newTag, options), image]], output.value)
      }
      const pushed = yield* withProgress(Push.pushItem(image, newTag, options))
      yield* Output.line(CraneOptions.formatReference(pushed))
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Append contents of a tarball to a remote image"))

/**
 * `crane mutate IMAGE` with edits (`--label`, `--annotation`, `--env`, `--entrypoint`,
 * `--cmd`, `--user`, `--workdir`, `--exposed-ports`, `--set-platform`, `--append`) and a
 * destination (`-t`, `--repo`, `-o`): prints the reference by digest of the result.
 *
 * @since 0.1.0
 */
export const mutate = Command.make(
  "mutate",
  {
    image: Args.text({ name: "IMAGE" }),
    annotations: keyValues("annotation", "a").pipe(Options.withDescription("New annotations to add (key=value)")),
    labels: keyValues("label", "l").pipe(Options.withDescription("New labels to add (key=value)")),
    env: keyValues("env", "e").pipe(Options.withDescription("New environment variable to set (key=value)")),
    entrypoint: slice("entrypoint").pipe(Options.withDescription("New entrypoint to set (comma-separated)")),
    cmd: slice("cmd").pipe(Options.withDescription("New cmd to set (comma-separated)")),
    repo: Options.text("repo").pipe(
      Options.withDescription("Repository to push the mutated image to, by digest"),
      Options.optional
    ),
    tag: Options.text("tag").pipe(
      Options.withAlias("t"),
      Options.withDescription("New tag reference to apply to mutated image (default: by digest to the original repository)"),
      Options.optional
    ),
    output: Options.text("output").pipe(
      Options.withAlias("o"),
      Options.withDescription("Path to new tarball of resulting image (instead of pushing it)"),
      Options.optional
    ),
    append: slice("append").pipe(Options.withDescription("Path to tarball to append to image")),
    user: Options.text("user").pipe(Options.withAlias("u"), Options.withDescription("New user to set"), Options.optional),
    workdir: Options.text("workdir").pipe(
      Options.withAlias("w"),
      Options.withDescription("New working dir to set"),
      Options.optional
    ),
    exposedPorts: slice("exposed-ports").pipe(Options.withDescription("New ports to expose")),
    setPlatform: Options.text("set-platform").pipe(
      Options.withDescription("New platform to set in the form os/arch[/variant][:osversion] (e.g. linux/amd64)"),
      Options.optional
    )
  },
  (flags) =>
    Effect.gen(function* () {
      const options = yield* Globals.options
      const [Mutate, Pull] = yield* Effect.all([loadMutate, loadPull])
      let platform: CraneOptions.Options["platform"]
      if (Option.isSome(flags.setPlatform)) {
        const parsed = CraneOptions.platform(flags.setPlatform.value)
        if (Either.isLeft(parsed)) return yield* new Output.UsageError({ detail: parsed.left.message })
        platform = parsed.right
      }
      const edits = {
        ...options,
        annotations: yield* pairs(flags.annotations),
        labels: yield* pairs(flags.labels),
        env: yield* pairs(flags.env),
        entrypoint: flags.entrypoint,
        cmd: flags.cmd,
        user: Option.getOrUndefined(flags.user),
        workdir: Option.getOrUndefined(flags.workdir),
        exposedPorts: flags.exposedPorts,
        platform,
        append: flags.append,
        tag: Option.getOrUndefined(flags.tag),
        repo: Option.getOrUndefined(flags.repo)
      }
      if (Option.isSome(flags.output)) {
        const image = yield* Mutate.mutated(flags.image, edits)
        const ref = yield* CraneOptions.reference(edits.repo ?? edits.tag ?? flags.image, options)
        return yield* Pull.saveTarball([[ref, image]], flags.output.value)
      }
      const pushed = yield* withProgress(Mutate.mutate(flags.image, edits))
      yield* Output.line(CraneOptions.formatReference(pushed))
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription(
    "Modify image labels, annotations, config and layers; the result is pushed to the registry"
  )
)

/**
 * `crane rebase IMAGE --old_base OLD --new_base NEW [-t TAG]`: prints the reference by digest
 * of the rebased image.
 *
 * @since 0.1.0
 */
export const rebase = Command.make(
  "rebase",
  {
    image: Args.text({ name: "IMAGE" }).pipe(Args.optional),
    original: Options.text("original").pipe(
      Options.withDescription("Original image to rebase (deprecated: use the argument)"),
      Options.optional
    ),
    oldBase: Options.text("old_base").pipe(Options.withDescription("Old base image to remove"), Options.optional),
    newBase: Options.text("new_base").pipe(Options.withDescription("New base image to insert"), Options.optional),
    tag: Options.text("tag").pipe(
      Options.withAlias("t"),
      Options.withDescription("Tag to apply to rebased image"),
      Options.optional
    ),
    rebased: Options.text("rebased").pipe(
      Options.withDescription("Tag to apply to rebased image (deprecated: use --tag)"),
      Options.optional
    )
  },
  (flags) =>
    Effect.gen(function* () {
      if (Option.isSome(flags.image) && Option.isSome(flags.original)) {
        return yield* new Output.UsageError({ detail: "cannot use --original with positional argument" })
      }
      const original = Option.orElse(flags.image, () => flags.original)
      if (Option.isNone(original)) return yield* new Output.UsageError({ detail: "an image to rebase is required" })
      const options = yield* Globals.options
      const Rebase = yield* loadRebase
      const result = yield* withProgress(
        Rebase.rebase(original.value, {
          ...options,
          oldBase: Option.getOrUndefined(flags.oldBase),
          newBase: Option.getOrUndefined(flags.newBase),
          tag: Option.getOrUndefined(Option.orElse(flags.tag, () => flags.rebased))
        })
      )
      if (!result.changed) yield* Effect.logWarning("rebasing was no-op")
      yield* Output.line(CraneOptions.formatReference(result.ref))
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Rebase an image onto a new base image"))

/**
 * `crane flatten IMAGE [-t TAG]`: prints the reference by digest of the flattened image.
 *
 * @since 0.1.0
 */
export const flatten = Command.make(
  "flatten",
  {
    image: Args.text({ name: "IMAGE" }),
    tag: Options.text("tag").pipe(
      Options.withAlias("t"),
      Options.withDescription("New tag to apply to flattened image (default: by digest to the original repository)"),
      Options.optional
    )
  },
  ({ image, tag }) =>
    Effect.gen(function* () {
      const options = yield* Globals.options
      const Flatten = yield* loadFlatten
      const pushed = yield* withProgress(Flatten.flatten(image, { ...options, tag: Option.getOrUndefined(tag) }))
      yield* Output.line(CraneOptions.formatReference(pushed))
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Flatten an image's layers into a single layer"))

const stdinToFile = (path: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    NodeStream.fromReadable(() => process.stdin, (cause) => new Output.OutputError({ target: "stdin", cause })).pipe(
      Stream.run(fs.sink(path))
    ))

/**
 * `crane export IMAGE|- [TARBALL|-]`: the image's filesystem as a tar, to stdout or a file; `-`
 * as the image reads a `docker save` tarball from stdin.
 *
 * @since 0.1.0
 */
export const exportCommand = Command.make(
  "export",
  { args: Args.text({ name: "IMAGE|- TARBALL|-" }).pipe(Args.between(1, 2)) },
  ({ args }) =>
    Effect.scoped(
      Effect.gen(function* () {
        const src = args[0] ?? "-"
        const dst = args[1] ?? "-"
        const fs = yield* FileSystem.FileSystem
        const Export = yield* loadExport
        const write = <E, R>(tar: Stream.Stream<Uint8Array, E, R>) =>
          dst === "-" ? Output.stream(tar) : Stream.run(tar, fs.sink(dst))
        if (src !== "-") return yield* write(Export.fromReference(src, yield* Globals.options))
        const temp = yield* fs.makeTempFileScoped({ prefix: "crane" })
        yield* stdinToFile(temp)
        yield* write(Export.fromTarball(temp))
      })
    )
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Export filesystem of a container image as a tarball"))
