import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Digest from "../../src/domain/Digest.js"
import * as BlobStoreFileSystem from "../../src/layers/BlobStoreFileSystem.js"
import * as Fs from "../../src/layers/internal/storageFs.js"
import type * as BlobStore from "../../src/services/BlobStore.js"
import { chunked, collectBytes, patterned } from "../services/BlobStore.suite.js"

// Blob bodies go through large reads and gathered writes ({@link Fs.ioSize} bytes at a time);
// these pin that the bytes stay exact across those boundaries.

const platform = Layer.merge(NodeFileSystem.layer, NodePath.layer)

const scoped = <A, E>(title: string, body: () => Effect.Effect<A, E, FileSystem.FileSystem | Path.Path | Scope.Scope>) =>
  it.scoped(title, () => Effect.provide(body(), platform), 60_000)

const freshStore = Effect.flatMap(
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "blobstore-io-" })),
  (dir) => Effect.map(BlobStoreFileSystem.make(dir), (store) => ({ dir, store }))
)

const content = (store: BlobStore.BlobStore, digest: Digest.Digest, range?: BlobStore.ByteRange) =>
  Effect.flatMap(store.get(digest, range), (found) =>
    Option.isNone(found) ? Effect.die(`blob ${digest} is absent`) : Effect.succeed(found.value))

// Three and a bit buffers' worth, so that reads and writes cross several buffer boundaries.
const size = 3 * Fs.ioSize + 12_345
const bytes = patterned(size, 7)
const digest = Digest.fromBytes(bytes)

describe("BlobStoreFileSystem: large reads and gathered writes", () => {
  scoped("stores a blob sent in small uneven pieces byte for byte", () =>
    Effect.gen(function*() {
      const { store } = yield* freshStore
      const info = yield* store.put(chunked(bytes, 4_099), { digest, size })
      expect(info).toEqual({ digest, size })
      const stored = yield* collectBytes((yield* content(store, digest)).stream)
      expect(Buffer.compare(stored, bytes)).toBe(0)
    }))

  scoped("stores a blob that mixes pieces larger and smaller than one write", () =>
    Effect.gen(function*() {
      const { store } = yield* freshStore
      const cuts = [0, 10, Fs.ioSize + 10, Fs.ioSize + 20, 3 * Fs.ioSize + 5, size]
      const pieces = cuts.slice(1).map((end, i) => bytes.slice(cuts[i], end))
      yield* store.put(Stream.fromIterable(pieces), { digest, size })
      const stored = yield* collectBytes((yield* content(store, digest)).stream)
      expect(Digest.fromBytes(stored)).toBe(digest)
    }))

  scoped("appends small pieces to an upload and commits the exact bytes", () =>
    Effect.gen(function*() {
      const { store } = yield* freshStore
      const id = yield* store.createUpload
      const half = Math.floor(size / 2)
      expect(yield* store.appendUpload(id, chunked(bytes.subarray(0, half), 1_000))).toBe(half)
      expect(yield* store.appendUpload(id, chunked(bytes.subarray(half), 65_536), half)).toBe(size)
      expect(yield* store.commitUpload(id, digest)).toEqual({ digest, size })
      const stored = yield* collectBytes((yield* content(store, digest)).stream)
      expect(Buffer.compare(stored, bytes)).toBe(0)
    }))

  scoped("reads a range that starts and ends inside different read buffers", () =>
    Effect.gen(function*() {
      const { store } = yield* freshStore
      yield* store.put(Stream.succeed(bytes), { digest, size })
      const start = Fs.ioSize - 100
      const end = 2 * Fs.ioSize + 99
      const part = yield* content(store, digest, { start, end })
      expect([part.offset, part.length]).toEqual([start, end - start + 1])
      const read = yield* collectBytes(part.stream)
      expect(Buffer.compare(read, bytes.subarray(start, end + 1))).toBe(0)
    }))

  scoped("reads a blob in pieces of at most one read buffer", () =>
    Effect.gen(function*() {
      const { store } = yield* freshStore
      yield* store.put(Stream.succeed(bytes), { digest, size })
      const pieces = yield* Stream.runCollect((yield* content(store, digest)).stream)
      const sizes = Chunk.toReadonlyArray(pieces).map((piece) => piece.byteLength)
      expect(Math.max(...sizes)).toBeLessThanOrEqual(Fs.ioSize)
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(size)
    }))

  scoped("fails a read with NotFound when the blob is deleted before its stream runs", () =>
    Effect.gen(function*() {
      const { store } = yield* freshStore
      yield* store.put(Stream.succeed(bytes), { digest, size })
      const found = yield* content(store, digest)
      yield* store.delete(digest)
      const error = yield* Effect.flip(Stream.runDrain(found.stream))
      expect([error._tag, error.reason]).toEqual(["BlobStoreError", "NotFound"])
    }))

  scoped("fails a read of a blob file cut short after it was found", () =>
    Effect.gen(function*() {
      const { dir, store } = yield* freshStore
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      yield* store.put(Stream.succeed(bytes), { digest, size })
      const found = yield* content(store, digest)
      const hex = Digest.hex(digest)
      yield* fs.truncate(path.join(dir, "blobs", "sha256", hex.slice(0, 2), hex), Fs.ioSize)
      const error = yield* Effect.flip(Stream.runDrain(found.stream))
      expect(error.message).toContain(`ended after ${Fs.ioSize} of ${size} bytes`)
    }))

  scoped("keeps no blob when the sent bytes fail midway", () =>
    Effect.gen(function*() {
      const { store } = yield* freshStore
      const broken = Stream.concat(chunked(bytes.subarray(0, 2 * Fs.ioSize), 10_000), Stream.fail("reset" as const))
      const error = yield* Effect.flip(store.put(broken, { digest, size }))
      expect(error).toBe("reset")
      expect(Option.isNone(yield* store.stat(digest))).toBe(true)
    }))
})
