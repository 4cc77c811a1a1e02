/**
 * Writes a random 1 GiB image (4 layers of 256 MiB by default) as a `docker save` tarball and
 * as an OCI layout, then reads each back and validates it (every layer hashed, diff ids
 * checked), reporting the peak resident memory of each phase. Each phase runs in a fresh
 * process, so one phase's heap does not hide another's. Target: every phase under 200 MiB,
 * whatever the layer size (the formats issue).
 *
 *   npx vite-node bench/memory-formats.ts -- [--layers N] [--layer-mib N] [--work DIR]
 *
 * Not run by the test suite (the format tests check memory on smaller images).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { buildSync } from "esbuild"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as MediaType from "../src/domain/MediaType.js"
import * as Random from "../src/domain/Random.js"
import * as Reference from "../src/domain/Reference.js"
import * as Validate from "../src/domain/Validate.js"
import * as Layout from "../src/formats/Layout.js"
import * as Tarball from "../src/formats/Tarball.js"

const MiB = 1024 * 1024
const args = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const at = args.indexOf(name)
  return at >= 0 ? args[at + 1] : undefined
}
const number = (name: string, fallback: number): number => {
  const value = Number(option(name))
  return Number.isFinite(value) && value > 0 ? value : fallback
}
const layers = number("--layers", 4)
const layerMiB = number("--layer-mib", 256)
const phases = ["tarball-write", "tarball-read", "layout-write", "layout-read"] as const
type Phase = (typeof phases)[number]

const tag = Either.getOrThrow(Reference.parseTag("bench.local/memory:formats"))
const randomImage = Random.image({
  layerSize: layerMiB * MiB,
  layers,
  seed: "memory-formats",
  compression: "none",
  mediaType: MediaType.OCI_MANIFEST
})

/** Runs one phase in this process and prints its peak RSS growth as JSON. */
const runPhase = (phase: Phase, work: string) =>
  Effect.gen(function* () {
    const baseline = process.memoryUsage.rss()
    let peak = baseline
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss())
    }, 10)
    const started = performance.now()
    const tarball = join(work, "image.tar")
    const layout = join(work, "layout")
    switch (phase) {
      case "tarball-write":
        yield* Tarball.writeToFile(tarball, [[tag, yield* randomImage]])
        break
      case "tarball-read": {
        const opener = yield* Tarball.fileOpener(tarball)
        yield* Validate.validateImage(yield* Tarball.image(opener))
        break
      }
      case "layout-write":
        yield* Layout.appendImage(layout, yield* randomImage)
        break
      case "layout-read": {
        const index = yield* Layout.read(layout)
        const first = (yield* index.indexManifest).manifests[0]
        if (first === undefined) return yield* Effect.dieMessage("the layout lists no image")
        yield* Validate.validateImage(yield* index.image(first.digest))
        break
      }
    }
    clearInterval(timer)
    peak = Math.max(peak, process.memoryUsage.rss())
    yield* Console.log(
      JSON.stringify({
        phase,
        seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
        baselineMiB: Math.round(baseline / MiB),
        peakMiB: Math.round(peak / MiB),
        growthMiB: Math.round((peak - baseline) / MiB)
      })
    )
  }).pipe(Effect.provide(NodeContext.layer))

const phase = option("--phase") as Phase | undefined
const work = option("--work")
if (phase !== undefined && work !== undefined) {
  NodeRuntime.runMain(runPhase(phase, work))
} else {
  const dir = mkdtempSync(join(work ?? tmpdir(), "ecr-memory-formats-"))
  // Each phase runs as plain node over an esbuild bundle of this file, so the numbers are
  // the program's own, not a TypeScript loader's.
  // Inside the project, so the bundle's one external import (esbuild) still resolves.
  const bundle = fileURLToPath(new URL("../node_modules/.cache/ecr-bench/memory-formats.mjs", import.meta.url))
  buildSync({
    entryPoints: [fileURLToPath(import.meta.url)],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["esbuild"],
    banner: { js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);' },
    logLevel: "warning"
  })
  const rows: Array<string> = []
  for (const p of phases) {
    const run = spawnSync(
      process.execPath,
      [bundle, "--phase", p, "--work", dir, "--layers", String(layers), "--layer-mib", String(layerMiB)],
      { encoding: "utf8" }
    )
    const line = run.stdout.trim().split("\n").pop() ?? ""
    if (run.status !== 0) {
      rows.push(`${p}: failed (${run.status}) ${run.stderr.trim().split("\n").slice(-3).join(" | ")}`)
      break
    }
    const result = JSON.parse(line) as { seconds: number; peakMiB: number; growthMiB: number }
    const verdict = result.peakMiB <= 200 ? "PASS" : "MISS"
    rows.push(`${p.padEnd(14)} ${String(result.seconds).padStart(7)} s  peak ${result.peakMiB} MiB (+${result.growthMiB})  ${verdict}`)
  }
  rmSync(dir, { recursive: true, force: true })
  console.log(`${layers} x ${layerMiB} MiB image, peak RSS per phase (target <= 200 MiB):`)
  for (const row of rows) console.log(`  ${row}`)
}
