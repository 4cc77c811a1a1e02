/**
 * The entry point of the `crane` program: bundled into `dist/crane.program.cjs`, which
 * `dist/crane.cjs` (the bin) starts with V8's code cache.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as NodeMemory from "../layers/NodeMemory.js"
import * as Main from "./Main.js"

// Blob transfers reuse native memory instead of faulting fresh pages in for every read.
Effect.runSync(NodeMemory.prime)

// A reader that goes away (`crane export - | head`) has all it wanted.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0)
})

NodeRuntime.runMain(Main.run(process.argv), {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: Main.teardown
})
