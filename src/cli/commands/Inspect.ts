/**
 * `crane digest`, `crane manifest`, `crane config` and `crane blob`: what a registry holds,
 * printed as it is.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as CraneOptions from "../../crane/Options.js"
import * as Globals from "../Globals.js"
import * as Output from "../Output.js"

// Loaded when a command runs: starting crane compiles only what the command line needs.
const loadInspect = Effect.promise(() => import("../../crane/Inspect.js"))

const decoder = new TextDecoder()

/**
 * `crane digest IMAGE` (`--full-ref`, `--tarball FILE`).
 *
 * @since 0.1.0
 */
export const digest = Command.make(
  "digest",
  {
    image: Args.text({ name: "IMAGE" }).pipe(Args.optional),
    tarball: Options.text("tarball").pipe(
      Options.withDescription("Path to a tarball holding the image (the one tagged IMAGE when it holds several)"),
      Options.optional
    ),
    fullRef: Options.boolean("full-ref").pipe(Options.withDescription("Print the full image reference by digest"))
  },
  ({ fullRef, image, tarball }) =>
    Effect.gen(function* () {
      const options = yield* Globals.options
      const Inspect = yield* loadInspect
      if (Option.isSome(tarball)) {
        if (fullRef) return yield* new Output.UsageError({ detail: "cannot specify --full-ref with --tarball" })
        return yield* Output.line(yield* Inspect.tarballDigest(tarball.value, Option.getOrUndefined(image)))
      }
      if (Option.isNone(image)) return yield* new Output.UsageError({ detail: "image reference required without --tarball" })
      const d = yield* Inspect.digest(image.value, options)
      if (!fullRef) return yield* Output.line(d)
      const ref = yield* CraneOptions.reference(image.value, options)
      return yield* Output.line(`${CraneOptions.formatRepository(ref.repository)}@${d}`)
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Get the digest of an image"))

/**
 * `crane manifest IMAGE`: the manifest's exact bytes.
 *
 * @since 0.1.0
 */
export const manifest = Command.make(
  "manifest",
  { image: Args.text({ name: "IMAGE" }) },
  ({ image }) =>
    Effect.gen(function* () {
      const Inspect = yield* loadInspect
      const bytes = yield* Inspect.manifest(image, yield* Globals.options)
      yield* Output.print(decoder.decode(bytes))
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Get the manifest of an image"))

/**
 * `crane config IMAGE`: the config file's exact bytes.
 *
 * @since 0.1.0
 */
export const config = Command.make(
  "config",
  { image: Args.text({ name: "IMAGE" }) },
  ({ image }) =>
    Effect.gen(function* () {
      const Inspect = yield* loadInspect
      yield* Output.bytes(yield* Inspect.config(image, yield* Globals.options))
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Get the config of an image"))

/**
 * `crane blob REPO@DIGEST`: a blob's bytes, to stdout.
 *
 * @since 0.1.0
 */
export const blob = Command.make(
  "blob",
  { blob: Args.text({ name: "BLOB" }) },
  ({ blob }) =>
    Effect.gen(function* () {
      const Inspect = yield* loadInspect
      yield* Output.stream(yield* Inspect.blob(blob, yield* Globals.options))
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("Read a blob from the registry (REPO@DIGEST)"))
