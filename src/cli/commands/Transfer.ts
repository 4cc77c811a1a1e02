/**
 * `crane copy` (`cp`), `crane pull`, `crane push`, `crane tag` and `crane delete`: moving
 * images between registries and local files, with progress bars on a terminal.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { withProgress } from "../Common.js"
import * as CraneOptions from "../../crane/Options.js"
import * as Globals from "../Globals.js"
import * as Output from "../Output.js"

// Loaded when a command runs: starting crane compiles only what the command line needs.
const loadCopy = Effect.promise(() => import("../../crane/Copy.js"))
const loadPull = Effect.promise(() => import("../../crane/Pull.js"))
const loadPush = Effect.promise(() => import("../../crane/Push.js"))
const loadTag = Effect.promise(() => import("../../crane/Tag.js"))

const copyConfig = {
  src: Args.text({ name: "SRC" }),
  dst: Args.text({ name: "DST" }),
  allTags: Options.boolean("all-tags").pipe(
    Options.withAlias("a"),
    Options.withDescription("Copy all tags from SRC to DST")
  ),
  noClobber: Options.boolean("no-clobber").pipe(
    Options.withAlias("n"),
    Options.withDescription("Avoid overwriting existing tags in DST")
  )
}

const copyHandler = ({ allTags, dst, noClobber, src }: {
  readonly src: string
  readonly dst: string
  readonly allTags: boolean
  readonly noClobber: boolean
}) =>
  Effect.gen(function* () {
    const options = { ...(yield* Globals.options), noClobber }
    const Copy = yield* loadCopy
    if (allTags) {
      yield* withProgress(Copy.copyRepository(src, dst, options))
    } else {
      yield* withProgress(Copy.copy(src, dst, options))
    }
  })

/**
 * `crane copy SRC DST` (`-a/--all-tags`, `-n/--no-clobber`).
 *
 * @since 0.1.0
 */
export const copy = Command.make("copy", copyConfig, copyHandler).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Efficiently copy a remote image from src to dst while retaining the digest value")
)

/**
 * `crane cp`: `crane copy` by its short name.
 *
 * @since 0.1.0
 */
export const cp = Command.make("cp", copyConfig, copyHandler).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Alias of copy")
)

/**
 * `crane pull IMAGE... PATH` (`--format tarball|legacy|oci`, `--annotate-ref`,
 * `-c/--cache_path DIR`).
 *
 * @since 0.1.0
 */
export const pull = Command.make(
  "pull",
  {
    args: Args.text({ name: "IMAGE... PATH" }).pipe(Args.atLeast(2)),
    format: Options.choice("format", ["tarball", "legacy", "oci"]).pipe(
      Options.withDescription("Format in which to save images"),
      Options.withDefault("tarball" as const)
    ),
    annotateRef: Options.boolean("annotate-ref").pipe(
      Options.withDescription("With --format oci, record the reference each image was pulled by as an annotation")
    ),
    cachePath: Options.text("cache_path").pipe(
      Options.withAlias("c"),
      Options.withDescription("Path to cache image layers"),
      Options.optional
    )
  },
  ({ annotateRef, args, cachePath, format }) =>
    Effect.gen(function* () {
      const path = args[args.length - 1] ?? ""
      const refs = args.slice(0, -1)
      const options = yield* Globals.options
      const Pull = yield* loadPull
      yield* withProgress(
        Pull.pull(refs, path, { ...options, format, annotateRef, cachePath: Option.getOrUndefined(cachePath) })
      )
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Pull remote images by reference and store their contents locally"))

/**
 * `crane push PATH IMAGE` (`--index`, `--image-refs FILE`): prints the reference by digest.
 *
 * @since 0.1.0
 */
export const push = Command.make(
  "push",
  {
    path: Args.text({ name: "PATH" }),
    image: Args.text({ name: "IMAGE" }),
    index: Options.boolean("index").pipe(
      Options.withDescription("Push a layout's images as a single index (needed when it holds several)")
    ),
    imageRefs: Options.text("image-refs").pipe(
      Options.withDescription("File to write the reference of the pushed image to"),
      Options.optional
    )
  },
  ({ image, imageRefs, index, path }) =>
    Effect.gen(function* () {
      const options = yield* Globals.options
      const Push = yield* loadPush
      const pushed = yield* withProgress(Push.push(path, image, { ...options, index }))
      const text = CraneOptions.formatReference(pushed)
      if (Option.isSome(imageRefs)) {
        const fs = yield* FileSystem.FileSystem
        yield* fs.writeFileString(imageRefs.value, text, { mode: 0o600 })
      }
      yield* Output.line(text)
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Push local image contents to a remote registry (a tarball, or an OCI layout directory)"))

/**
 * `crane tag IMG TAG`.
 *
 * @since 0.1.0
 */
export const tag = Command.make(
  "tag",
  { image: Args.text({ name: "IMG" }), tag: Args.text({ name: "TAG" }) },
  ({ image, tag }) =>
    Effect.gen(function* () {
      const Tag = yield* loadTag
      yield* Tag.tag(image, tag, yield* Globals.options)
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Efficiently tag a remote image"))

/**
 * `crane delete IMAGE`.
 *
 * @since 0.1.0
 */
export const remove = Command.make(
  "delete",
  { image: Args.text({ name: "IMAGE" }) },
  ({ image }) =>
    Effect.gen(function* () {
      const Tag = yield* loadTag
      yield* Tag.remove(image, yield* Globals.options)
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Delete an image reference from its registry"))
