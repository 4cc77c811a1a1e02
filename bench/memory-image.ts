/**
 * Generates a random image of 1 GiB (4 layers of 256 MiB by default), reads every layer to
 * its end while hashing it, and reports throughput and the growth of resident memory. Peak
 * memory must not grow with layer size: expect tens of MiB, not a gigabyte.
 *
 *   npx vite-node bench/memory-image.ts [--gzip] [--layers N] [--layer-mib N]
 *
 * Not run by the test suite (test/domain/Memory.test.ts is the small version).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Digest from "../src/domain/Digest.js"
import * as MediaType from "../src/domain/MediaType.js"
import * as Random from "../src/domain/Random.js"

const MiB = 1024 * 1024
const args = process.argv.slice(2)
const flag = (name: string, fallback: number): number => {
  const at = args.indexOf(name)
  const value = at >= 0 ? Number(args[at + 1]) : fallback
  return Number.isFinite(value) && value >= 0 ? value : fallback
}
const gzip = args.includes("--gzip")
const layers = flag("--layers", 4)
const layerMiB = flag("--layer-mib", 256)

const program = Effect.gen(function* () {
  const baseline = process.memoryUsage.rss()
  let peak = baseline
  const sample = () => {
    const rss = process.memoryUsage.rss()
    if (rss > peak) peak = rss
  }
  const timer = yield* Effect.acquireRelease(
    Effect.sync(() => setInterval(sample, 10)),
    (t) => Effect.sync(() => clearInterval(t))
  )
  const started = performance.now()
  const image = yield* Random.image({
    layerSize: layerMiB * MiB,
    layers,
    seed: "bench",
    compression: gzip ? "gzip" : "none",
    mediaType: MediaType.OCI_MANIFEST
  })
  const manifest = yield* image.manifest
  const measuredAt = performance.now()
  let total = 0
  for (const [i, layer] of (yield* image.layers).entries()) {
    const measured = yield* Digest.ofStream(
      Stream.tap(layer.compressed, (bytes) =>
        Effect.sync(() => {
          total += bytes.byteLength
          sample()
        })
      )
    )
    if (measured.digest !== manifest.layers[i]?.digest) {
      return yield* Effect.dieMessage(`layer ${i} read back as ${measured.digest}, manifest says otherwise`)
    }
  }
  const done = performance.now()
  sample()
  clearInterval(timer)
  const seconds = (done - measuredAt) / 1000
  yield* Console.log(
    JSON.stringify(
      {
        layers,
        layerMiB,
        compression: gzip ? "gzip" : "none",
        manifestSeconds: Number(((measuredAt - started) / 1000).toFixed(2)),
        streamSeconds: Number(seconds.toFixed(2)),
        streamMiBPerSecond: Math.round(total / MiB / seconds),
        streamedMiB: Math.round(total / MiB),
        rssGrowthMiB: Math.round((peak - baseline) / MiB)
      },
      null,
      2
    )
  )
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
