import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Digest from "../../src/domain/Digest.js"
import type * as Image from "../../src/domain/Image.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Random from "../../src/domain/Random.js"

const MiB = 1024 * 1024

/** Memory held in JS objects and buffers; unlike RSS it drops again once garbage is collected. */
const held = () => {
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}

interface Peaks {
  /** Largest growth of resident memory over its value at the start. */
  readonly rss: number
  /** Largest growth of {@link held} memory over its value at the start. */
  readonly held: number
}

/**
 * Runs an effect while sampling memory, at every chunk it reports and on a timer, and
 * returns its result with the peak growths.
 */
const withPeaks = <A, E>(run: (sample: () => void) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const base = { rss: process.memoryUsage.rss(), held: held() }
    const peak = { ...base }
    const sample = () => {
      peak.rss = Math.max(peak.rss, process.memoryUsage.rss())
      peak.held = Math.max(peak.held, held())
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => setInterval(sample, 10)),
      (timer) => Effect.sync(() => clearInterval(timer))
    )
    const result = yield* run(sample)
    sample()
    const peaks: Peaks = { rss: peak.rss - base.rss, held: peak.held - base.held }
    return { result, peaks }
  }).pipe(Effect.scoped)

/** Reads every layer of an image to its end, hashing it, and checks it against the manifest. */
const streamAllLayers = <E>(image: Image.Image<E>, sample: () => void) =>
  Effect.gen(function* () {
    const manifest = yield* image.manifest
    const layers = yield* image.layers
    let total = 0
    for (const [i, layer] of layers.entries()) {
      const measured = yield* Digest.ofStream(
        Stream.tap(layer.compressed, (bytes) =>
          Effect.sync(() => {
            total += bytes.byteLength
            sample()
          })
        )
      )
      expect(measured.digest).toBe(manifest.layers[i]?.digest)
      expect(measured.size).toBe(manifest.layers[i]?.size)
    }
    return total
  })

// Tests in this file share one process, whose resident memory seldom shrinks: the first test
// judges by RSS, the later one by memory held, which a collection gives back.
describe("memory", () => {
  it.effect(
    "generating, hashing and streaming 4 x 64 MiB plain layers grows RSS far less than their size",
    () =>
      Effect.gen(function* () {
        const image = yield* Random.image({
          layerSize: 64 * MiB,
          layers: 4,
          seed: "memory",
          compression: "none",
          mediaType: MediaType.OCI_MANIFEST
        })
        const { result: total, peaks } = yield* withPeaks((sample) => streamAllLayers(image, sample))
        expect(total).toBe(4 * Random.tarSize(64 * MiB))
        expect(peaks.rss).toBeLessThan(200 * MiB)
      }),
    60_000
  )

  it.effect(
    "gzipping a 96 MiB layer while streaming it holds far less memory than its size",
    () =>
      Effect.gen(function* () {
        const layer = yield* Random.layer({ size: 96 * MiB, seed: "memory-gzip" })
        const { result: measured, peaks } = yield* withPeaks((sample) =>
          Digest.ofStream(Stream.tap(layer.compressed, () => Effect.sync(sample)))
        )
        expect(measured.size).toBeGreaterThan(96 * MiB)
        expect(peaks.held).toBeLessThan(48 * MiB)
      }),
    60_000
  )
})
