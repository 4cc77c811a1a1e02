import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { randomUUID } from "node:crypto"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as Digest from "../../src/domain/Digest.js"
import * as BlobStoreFileSystem from "../../src/layers/BlobStoreFileSystem.js"
import { blobStoreSuite, chunked, collectBytes, patterned } from "../services/BlobStore.suite.js"

// A full garbage collection, through V8's flag (vitest does not start workers with it).
v8.setFlagsFromString("--expose-gc")
const collectGarbage = vm.runInNewContext("gc") as () => void

const platform = Layer.merge(NodeFileSystem.layer, NodePath.layer)

const freshStore = Layer.unwrapScoped(
  Effect.map(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "blobstore-" })),
    BlobStoreFileSystem.layer
  )
).pipe(Layer.provide(platform))

blobStoreSuite("BlobStoreFileSystem", freshStore)

const text = new TextEncoder()

/** A temporary directory for one test, removed at its end. */
const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "blobstore-" }))

/** Every regular file under a directory, as paths relative to it. */
const filesUnder = (dir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const entries = yield* fs.readDirectory(dir, { recursive: true })
    const files: Array<string> = []
    for (const entry of entries) {
      if ((yield* fs.stat(path.join(dir, entry))).type === "File") files.push(entry)
    }
    return files.sort()
  })

const scoped = <A, E>(title: string, body: () => Effect.Effect<A, E, FileSystem.FileSystem | Path.Path | Scope.Scope>, timeout?: number) =>
  it.scoped(title, () => Effect.provide(body(), platform), timeout)

describe("BlobStoreFileSystem: on disk", () => {
  scoped("lays blobs out as blobs/<algorithm>/<two hex>/<hex>", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const store = yield* BlobStoreFileSystem.make(dir)
      const { digest } = yield* store.put(Stream.make(text.encode("laid out")))
      const hex = Digest.hex(digest)
      expect(yield* filesUnder(dir)).toEqual([`blobs/sha256/${hex.slice(0, 2)}/${hex}`])
    }))

  scoped("leaves no stray files when writes fail", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const store = yield* BlobStoreFileSystem.make(dir)
      const bytes = patterned(200_000)
      const digest = Digest.fromBytes(bytes)
      yield* Effect.flip(store.put(chunked(bytes.subarray(1)), { digest }))
      yield* Effect.flip(store.put(chunked(bytes), { digest, size: 1000 }))
      yield* Effect.flip(store.put(Stream.concat(chunked(bytes), Stream.fail("boom"))))
      const id = yield* store.createUpload
      yield* store.appendUpload(id, chunked(bytes))
      yield* Effect.flip(store.commitUpload(id, Digest.fromBytes("not it")))
      yield* store.cancelUpload(id)
      expect(yield* filesUnder(dir)).toEqual([])
    }))

  scoped("leaves no stray files when a write is interrupted", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const store = yield* BlobStoreFileSystem.make(dir)
      const endless = Stream.repeatEffect(Effect.as(Effect.yieldNow(), new Uint8Array(4096)))
      const fiber = yield* Effect.fork(store.put(endless))
      for (let i = 0; i < 50; i++) yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      expect(yield* filesUnder(dir)).toEqual([])
    }))

  scoped("a new store over the same directory sees committed blobs and uploads in progress", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const before = yield* BlobStoreFileSystem.make(dir)
      const blob = yield* before.put(Stream.make(text.encode("committed")))
      yield* TestClock.adjust("5 seconds")
      const id = yield* before.createUpload
      yield* before.appendUpload(id, Stream.make(text.encode("in ")), 0)

      const after = yield* BlobStoreFileSystem.make(dir)
      const content = yield* after.get(blob.digest)
      expect(Option.isSome(content)).toBe(true)
      if (Option.isSome(content)) expect(yield* collectBytes(content.value.stream)).toEqual(Buffer.from("committed"))
      const status = yield* after.uploadStatus(id)
      expect(Option.map(status, (s) => [s.size, s.startedAt.getTime()])).toEqual(Option.some([3, 5000]))
      expect(yield* after.appendUpload(id, Stream.make(text.encode("progress")), 3)).toBe(11)
      const info = yield* after.commitUpload(id, Digest.fromBytes("in progress"))
      expect(info.size).toBe(11)
      expect(Option.isSome(yield* before.stat(info.digest))).toBe(true)
    }))

  scoped("purges leftovers of interrupted writes", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const store = yield* BlobStoreFileSystem.make(dir)
      yield* fs.writeFile(path.join(dir, "tmp", `0-${randomUUID()}`), new Uint8Array(10))
      yield* fs.writeFile(path.join(dir, "tmp", "not-ours"), new Uint8Array(10))
      yield* TestClock.adjust("2 days")
      yield* fs.writeFile(path.join(dir, "tmp", `${2 * 86_400_000}-${randomUUID()}`), new Uint8Array(10))
      expect(yield* store.purgeUploads("1 day")).toBe(0)
      const left = yield* filesUnder(dir)
      expect(left.length).toBe(2)
      expect(left).toContain("tmp/not-ours")
    }))

  scoped("touches nothing outside its root whatever it is given", () =>
    Effect.gen(function*() {
      const parent = yield* tempDir
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const root = path.join(parent, "store")
      const store = yield* BlobStoreFileSystem.make(root)
      yield* fs.writeFileString(path.join(parent, "victim"), "keep me")
      const id = yield* store.createUpload
      const attempts = [
        `${id}/../../../victim`,
        "../victim",
        "../../victim",
        `../${id}`
      ]
      for (const input of attempts) {
        yield* Effect.flip(store.appendUpload(input, Stream.make(text.encode("x"))))
        yield* Effect.flip(store.cancelUpload(input))
        yield* Effect.flip(store.commitUpload(input, Digest.fromBytes("x")))
        yield* Effect.flip(store.delete(`sha256:${input}` as Digest.Digest))
        yield* Effect.flip(store.delete(input as Digest.Digest))
      }
      expect((yield* fs.readDirectory(parent)).sort()).toEqual(["store", "victim"])
      expect(yield* fs.readFileString(path.join(parent, "victim"))).toBe("keep me")
      expect(yield* filesUnder(root)).toEqual([`uploads/${id}/data`, `uploads/${id}/startedat`])
    }))

  scoped("streams a 64 MiB blob in and out without holding it in memory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const store = yield* BlobStoreFileSystem.make(dir)
      const MiB = 1024 * 1024
      const total = 64 * MiB
      // Fresh 1 MiB buffers, as a network source would hand them over.
      const source = Stream.range(0, 63).pipe(
        Stream.rechunk(1),
        Stream.map((i) => new Uint8Array(MiB).fill(i & 0xff))
      )
      const { digest } = yield* Digest.ofStream(source)

      // Live memory, sampled every few chunks after a full collection, so that garbage not
      // yet collected does not count. Growth must stay far below the blob's size.
      let chunks = 0
      collectGarbage()
      const baseline = process.memoryUsage()
      let peakRss = baseline.rss
      let peakBuffers = baseline.arrayBuffers
      const sample = Effect.sync(() => {
        if (chunks++ % 8 !== 0) return
        collectGarbage()
        const now = process.memoryUsage()
        peakRss = Math.max(peakRss, now.rss)
        peakBuffers = Math.max(peakBuffers, now.arrayBuffers)
      })
      const info = yield* store.put(source.pipe(Stream.tap(() => sample)), { digest, size: total })
      expect(info.size).toBe(total)
      const content = yield* store.get(digest)
      if (Option.isNone(content)) return expect.fail("blob missing")
      const read = yield* Digest.ofStream(content.value.stream.pipe(Stream.tap(() => sample)))
      expect(read).toEqual({ digest, size: total })
      collectGarbage()
      const after = process.memoryUsage()

      const MARGIN = 24 * MiB
      expect(chunks).toBeGreaterThan(64)
      expect(peakBuffers - baseline.arrayBuffers).toBeLessThan(MARGIN)
      expect(peakRss - baseline.rss).toBeLessThan(MARGIN)
      expect(after.arrayBuffers - baseline.arrayBuffers).toBeLessThan(MARGIN)
      expect(after.rss - baseline.rss).toBeLessThan(MARGIN)
    }), 60_000)
})
