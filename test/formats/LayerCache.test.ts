import * as NodeContext from "@effect/platform-node/NodeContext"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as Stream from "effect/Stream"
import { createHash, randomBytes } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync, gzipSync } from "node:zlib"
import * as Digest from "../../src/domain/Digest.js"
import type * as Image from "../../src/domain/Image.js"
import * as ImageLayer from "../../src/domain/ImageLayer.js"
import * as Random from "../../src/domain/Random.js"
import * as LayerCache from "../../src/formats/LayerCache.js"

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

const bytesOf = <E>(s: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(s), (c) => Buffer.concat(Chunk.toReadonlyArray(c)))

const withTempDir = <A, E>(use: (dir: string) => Effect.Effect<A, E, FileSystem.FileSystem | Path.Path>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "layer-cache-"))),
    (dir) => use(join(dir, "cache")),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.provide(NodeContext.layer))

/** A gzip layer whose source counts how often its stored bytes are read. */
const countingLayer = (seed: string, bytes?: (real: Buffer) => Buffer) =>
  Effect.gen(function* () {
    const random = yield* Random.layer({ size: 40_000, seed })
    const real = yield* bytesOf(random.compressed)
    const served = bytes !== undefined ? bytes(real) : real
    const digest = yield* random.digest
    const diffId = yield* random.diffId
    const reads = { count: 0 }
    const source = Stream.suspend(() => {
      reads.count++
      const chunks: Array<Uint8Array> = []
      for (let i = 0; i < served.byteLength; i += 4096) chunks.push(served.subarray(i, i + 4096))
      return Stream.fromIterable(chunks)
    })
    const layer = ImageLayer.fromCompressed(source, { digest, diffId, size: real.byteLength })
    return { layer, real, digest, diffId, reads }
  })

describe("LayerCache", () => {
  it.effect("stores a layer read on a miss under its digest, and serves later reads from disk", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const cache = yield* LayerCache.fileSystem(dir)
        const { digest, layer, reads, real } = yield* countingLayer("cache-miss-hit")
        expect(yield* bytesOf(LayerCache.layer(layer, cache).compressed)).toEqual(real)
        expect(reads.count).toBe(1)
        expect(readdirSync(dir)).toEqual([digest])
        const stored = readFileSync(join(dir, digest))
        expect(sha256(stored)).toBe(digest)
        // A fresh wrapper (as in a second pull) reads the entry, not the source.
        expect(yield* bytesOf(LayerCache.layer(layer, cache).compressed)).toEqual(real)
        expect(reads.count).toBe(1)
      })
    ))

  it.effect("stores a layer of several MiB that comes in 4 KiB pieces byte for byte", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const cache = yield* LayerCache.fileSystem(dir)
        // Written through 1 MiB gathered writes: three full ones and a partial last one.
        const plain = randomBytes(3_300_000)
        const real = gzipSync(plain, { level: 1 })
        const digest = Either.getOrThrow(Digest.parse(sha256(real)))
        const pieces = Array.from({ length: Math.ceil(real.byteLength / 4096) }, (_, i) => real.subarray(i * 4096, (i + 1) * 4096))
        const layer = ImageLayer.fromCompressed(Stream.fromIterable(pieces), {
          digest,
          diffId: Either.getOrThrow(Digest.parse(sha256(plain))),
          size: real.byteLength
        })
        expect(real.byteLength).toBeGreaterThan(3 * 1024 * 1024)
        // (Buffer.equals: toEqual walks a 3 MiB buffer element by element for seconds.)
        expect((yield* bytesOf(LayerCache.layer(layer, cache).compressed)).equals(real)).toBe(true)
        expect(readFileSync(join(dir, digest)).equals(real)).toBe(true)
      })
    ))

  it.effect("serves the uncompressed tar from the stored bytes, checked against the diff id", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const cache = yield* LayerCache.fileSystem(dir)
        const { diffId, digest, layer, reads, real } = yield* countingLayer("cache-uncompressed")
        const tar = yield* bytesOf(LayerCache.layer(layer, cache).uncompressed)
        expect(sha256(tar)).toBe(diffId)
        expect(tar).toEqual(gunzipSync(real))
        expect(reads.count).toBe(1)
        // What was stored is the compressed blob, under its digest.
        expect(readdirSync(dir)).toEqual([digest])
        expect(yield* bytesOf(LayerCache.layer(layer, cache).uncompressed)).toEqual(tar)
        expect(yield* bytesOf(LayerCache.layer(layer, cache).compressed)).toEqual(real)
        expect(reads.count).toBe(1)
      })
    ))

  it.effect("reads an uncompressed entry stored under the diff id, as ggcr's cache writes them", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const cache = yield* LayerCache.fileSystem(dir)
        const { diffId, layer, reads, real } = yield* countingLayer("cache-ggcr-diffid")
        mkdirSync(dir, { recursive: true })
        writeFileSync(join(dir, diffId), gunzipSync(real))
        expect(sha256(yield* bytesOf(LayerCache.layer(layer, cache).uncompressed))).toBe(diffId)
        expect(reads.count).toBe(0)
      })
    ))

  it.effect("does not use a corrupt entry: it warns, reads the source again and stores the right bytes", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const cache = yield* LayerCache.fileSystem(dir)
        const { digest, layer, reads, real } = yield* countingLayer("cache-corrupt")
        mkdirSync(dir, { recursive: true })
        const corrupt = Buffer.from(real)
        corrupt[100] = (corrupt[100] ?? 0) ^ 0xff
        writeFileSync(join(dir, digest), corrupt)
        const logged: Array<string> = []
        const logger = Logger.make(({ message }) => {
          logged.push(String(Array.isArray(message) ? message.join(" ") : message))
        })
        const read = yield* bytesOf(LayerCache.layer(layer, cache).compressed).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
        expect(read).toEqual(real)
        expect(reads.count).toBe(1)
        expect(sha256(readFileSync(join(dir, digest)))).toBe(digest)
        expect(logged.some((line) => line.includes("does not match its digest"))).toBe(true)
      })
    ))

  it.effect("treats an incomplete (empty) entry as a miss", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const cache = yield* LayerCache.fileSystem(dir)
        const { digest, layer, reads, real } = yield* countingLayer("cache-empty")
        mkdirSync(dir, { recursive: true })
        writeFileSync(join(dir, digest), "")
        expect(yield* bytesOf(LayerCache.layer(layer, cache).compressed)).toEqual(real)
        expect(reads.count).toBe(1)
        expect(readFileSync(join(dir, digest))).toEqual(real)
      })
    ))

  it.effect("stores nothing when the source's bytes are not the layer's digest", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const cache = yield* LayerCache.fileSystem(dir)
        const { layer } = yield* countingLayer("cache-liar", (real) => {
          const bad = Buffer.from(real)
          bad[50] = (bad[50] ?? 0) ^ 0xff
          return bad
        })
        const error = yield* Effect.flip(bytesOf(LayerCache.layer(layer, cache).compressed))
        expect(error._tag).toBe("DigestMismatch")
        expect(readdirSync(dir)).toEqual([])
      })
    ))

  it.effect("stores nothing when a read stops early or the source fails", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const cache = yield* LayerCache.fileSystem(dir)
        const { layer } = yield* countingLayer("cache-partial")
        const partial = yield* bytesOf(LayerCache.layer(layer, cache).compressed.pipe(Stream.take(2)))
        expect(partial.byteLength).toBeGreaterThan(0)
        expect(readdirSync(dir)).toEqual([])
        const failing = ImageLayer.make({
          digest: layer.digest,
          diffId: layer.diffId,
          size: layer.size,
          mediaType: layer.mediaType,
          compressed: Stream.concat(Stream.take(layer.compressed, 3), Stream.fail("connection reset" as const)),
          uncompressed: layer.uncompressed
        })
        const error = yield* Effect.flip(bytesOf(LayerCache.layer(failing, cache).compressed))
        expect(error).toBe("connection reset")
        expect(readdirSync(dir)).toEqual([])
      })
    ))

  it.effect("wraps an image's layers and blobs found by digest, keeping its manifest", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const cache = yield* LayerCache.fileSystem(dir)
        const image: Image.Image<Random.RandomError> = yield* Random.image({ layerSize: 3000, layers: 2, seed: "cache-image" })
        const cached = LayerCache.image(image, cache)
        expect(yield* cached.digest).toBe(yield* image.digest)
        const layers = yield* cached.layers
        for (const layer of layers) yield* Stream.runDrain(layer.compressed)
        const digests = (yield* image.manifest).layers.map((l) => l.digest)
        expect(readdirSync(dir).sort()).toEqual([...digests].sort())
        // The layer found by digest reads the entry just stored.
        const found = yield* cached.layerByDigest(digests[0]!)
        expect(sha256(yield* bytesOf(found.compressed))).toBe(digests[0])
        expect(existsSync(join(dir, digests[0]!))).toBe(true)
      })
    ))

  it.effect("wraps an index's child images, so their layers go through the cache", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const cache = yield* LayerCache.fileSystem(dir)
        const index = yield* Random.index({ images: 2, layerSize: 1000, layers: 1, seed: "cache-index" })
        const cached = LayerCache.index(index, cache)
        expect(yield* cached.digest).toBe(yield* index.digest)
        const [first, second] = (yield* cached.indexManifest).manifests
        const viaImage = yield* cached.image(first!.digest)
        for (const layer of yield* viaImage.layers) yield* Stream.runDrain(layer.compressed)
        const viaChild = yield* cached.child(second!.digest)
        if (viaChild._tag !== "Image") throw new Error("expected an image child")
        for (const layer of yield* viaChild.image.layers) yield* Stream.runDrain(layer.compressed)
        const digests = yield* Effect.forEach([first!, second!], (d) =>
          Effect.flatMap(index.image(d.digest), (i) => Effect.map(i.manifest, (m) => m.layers.map((l) => l.digest)))
        )
        expect(readdirSync(dir).sort()).toEqual(digests.flat().sort())
      })
    ))

  it.effect("removes an entry", () =>
    withTempDir((dir) =>
      Effect.gen(function* () {
        const cache = yield* LayerCache.fileSystem(dir)
        const { digest, layer } = yield* countingLayer("cache-remove")
        yield* Stream.runDrain(LayerCache.layer(layer, cache).compressed)
        yield* cache.remove(digest)
        yield* cache.remove(digest)
        expect(readdirSync(dir)).toEqual([])
        expect((yield* cache.get(digest))._tag).toBe("None")
        expect(Digest.isDigest(digest)).toBe(true)
      })
    ))
})
