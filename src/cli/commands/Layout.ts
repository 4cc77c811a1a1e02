/**
 * `crane layout gc OCI-LAYOUT`: removes the blobs of a local OCI layout that nothing in its
 * `index.json` refers to, naming each on stderr as it goes (`garbage collecting: sha256:...`),
 * as ggcr's crane does.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Output from "../Output.js"

// Loaded when a command runs: starting crane compiles only what the command line needs.
const loadLayout = Effect.promise(() => import("../../crane/Layout.js"))

const gc = Command.make(
  "gc",
  { path: Args.directory({ name: "OCI-LAYOUT" }) },
  ({ path }) =>
    Effect.gen(function* () {
      const Layout = yield* loadLayout
      const removed = yield* Layout.gc(path)
      yield* Effect.forEach(removed, (digest) => Output.note(`garbage collecting: ${digest}`), { discard: true })
    })
).pipe(Command.withDescription("Garbage collect unreferenced blobs in a local oci-layout"))

/**
 * The `layout` command and its subcommands.
 *
 * @since 0.1.0
 */
export const command = Command.make("layout", {}, () =>
  new Output.UsageError({ detail: "layout needs a subcommand: gc" })).pipe(
  Command.withDescription("Work with local OCI image layouts"),
  Command.withSubcommands([gc])
)
