/**
 * The behaviour every BlobStore implementation must have. Each layer's test file runs it
 * with a fresh, empty store per test.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { createHash, randomUUID } from "node:crypto"
import * as Digest from "../../src/domain/Digest.js"
import * as BlobStore from "../../src/services/BlobStore.js"

const text = new TextEncoder()

/** Some bytes of a given size, varied enough that ranges are distinguishable. */
export const patterned = (size: number, seed = 1): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** A stream emitting `bytes` in chunks of `size`. */
export const chunked = (bytes: Uint8Array, size = 1000): Stream.Stream<Uint8Array> =>
  Stream.fromIterable(
    Array.from({ length: Math.ceil(bytes.byteLength / size) }, (_, i) => bytes.slice(i * size, (i + 1) * size))
  )

/** Everything a stream emits, as one array. */
export const collectBytes = <E, R>(stream: Stream.Stream<Uint8Array, E, R>): Effect.Effect<Uint8Array, E, R> =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))

/** The content of a stored blob (or range), failing the test when it is absent. */
export const read = (digest: Digest.Digest, range?: BlobStore.ByteRange) =>
  Effect.gen(function*() {
    const store = yield* BlobStore.BlobStore
    const content = yield* store.get(digest, range)
    if (Option.isNone(content)) return expect.fail(`blob ${digest} is absent`)
    const bytes = yield* collectBytes(content.value.stream)
    expect(bytes.byteLength).toBe(content.value.length)
    return { ...content.value, bytes }
  })

const same = (a: Uint8Array, b: Uint8Array) => expect(Buffer.compare(a, b)).toBe(0)

export const blobStoreSuite = (name: string, layer: Layer.Layer<BlobStore.BlobStore, unknown>) =>
  describe(`${name}: blobs`, () => {
    const test = <A, E>(title: string, body: () => Effect.Effect<A, E, BlobStore.BlobStore>) =>
      it.effect(title, () => Effect.provide(body(), layer))

    test("stores a blob and reads it back with its size", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        const bytes = patterned(300_000)
        const digest = Digest.fromBytes(bytes)
        const info = yield* store.put(chunked(bytes, 7000), { digest, size: bytes.byteLength })
        expect(info).toEqual({ digest, size: bytes.byteLength })
        expect(yield* store.stat(digest)).toEqual(Option.some({ digest, size: bytes.byteLength }))
        const content = yield* read(digest)
        expect(content.size).toBe(bytes.byteLength)
        expect(content.offset).toBe(0)
        same(content.bytes, bytes)
      }))

    test("computes the digest when none is expected", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        const info = yield* store.put(Stream.make(text.encode("hello "), text.encode("world")))
        expect(info).toEqual({ digest: Digest.fromBytes("hello world"), size: 11 })
        same((yield* read(info.digest)).bytes, text.encode("hello world"))
      }))

    test("answers None for an absent blob", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        const digest = Digest.fromBytes("absent")
        expect(Option.isNone(yield* store.stat(digest))).toBe(true)
        expect(Option.isNone(yield* store.get(digest))).toBe(true)
      }))

    test("reads ranges with an inclusive end, across chunk boundaries", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        const bytes = patterned(700_000, 7)
        const { digest } = yield* store.put(chunked(bytes, 65536))
        const small = yield* read(digest, { start: 2, end: 5 })
        expect([small.offset, small.length, small.size]).toEqual([2, 4, bytes.byteLength])
        same(small.bytes, bytes.subarray(2, 6))
        const tail = yield* read(digest, { start: 300_000 })
        same(tail.bytes, bytes.subarray(300_000))
        const across = yield* read(digest, { start: 262_000, end: 530_000 })
        same(across.bytes, bytes.subarray(262_000, 530_001))
        const clamped = yield* read(digest, { start: 699_990, end: 10_000_000 })
        expect(clamped.length).toBe(10)
        same(clamped.bytes, bytes.subarray(699_990))
        const last = yield* read(digest, { start: 699_999, end: 699_999 })
        same(last.bytes, bytes.subarray(699_999))
      }))

    test("refuses ranges that start past the end or run backwards", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        const { digest } = yield* store.put(Stream.make(text.encode("0123456789")))
        const past = yield* Effect.flip(store.get(digest, { start: 10 }))
        expect([past.reason, past.size]).toEqual(["RangeNotSatisfiable", 10])
        const backwards = yield* Effect.flip(store.get(digest, { start: 5, end: 4 }))
        expect(backwards.reason).toBe("InvalidArgument")
        const negative = yield* Effect.flip(store.get(digest, { start: -1 }))
        expect(negative.reason).toBe("InvalidArgument")
      }))

    test("stores the empty blob", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        const info = yield* store.put(Stream.empty, { digest: Digest.fromBytes(new Uint8Array()), size: 0 })
        expect(info.size).toBe(0)
        const content = yield* read(info.digest)
        expect(content.bytes.byteLength).toBe(0)
        const range = yield* Effect.flip(store.get(info.digest, { start: 0 }))
        expect(range.reason).toBe("RangeNotSatisfiable")
      }))

    test("keeps nothing when the digest does not match", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        const expected = Digest.fromBytes("the real content")
        const error = yield* Effect.flip(store.put(Stream.make(text.encode("other content")), { digest: expected }))
        expect(error._tag).toBe("DigestMismatch")
        if (error._tag === "DigestMismatch") expect(error.actual).toBe(Digest.fromBytes("other content"))
        expect(Option.isNone(yield* store.stat(expected))).toBe(true)
        expect(Option.isNone(yield* store.stat(Digest.fromBytes("other content")))).toBe(true)
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(store.list))).toEqual([])
      }))

    test("fails with SizeMismatch as soon as a stream passes the expected size, and when it is short", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        const bytes = patterned(50_000)
        const digest = Digest.fromBytes(bytes)
        let pulled = 0
        const endless = Stream.repeatEffect(Effect.sync(() => (pulled++, new Uint8Array(1000)))).pipe(Stream.take(10_000))
        const long = yield* Effect.flip(store.put(endless, { digest, size: 5000 }))
        expect(long._tag).toBe("SizeMismatch")
        expect(pulled).toBeLessThan(100)
        const short = yield* Effect.flip(store.put(chunked(bytes), { digest, size: 60_000 }))
        expect(short._tag).toBe("SizeMismatch")
        expect(Option.isNone(yield* store.stat(digest))).toBe(true)
      }))

    test("passes the stream's own failure through and keeps nothing", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        const failing = Stream.concat(Stream.make(text.encode("partial")), Stream.fail("connection reset" as const))
        const error = yield* Effect.flip(store.put(failing))
        expect(error).toBe("connection reset")
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(store.list))).toEqual([])
      }))

    test("does not read the stream again for a blob it already has", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        const bytes = text.encode("stored once")
        const digest = Digest.fromBytes(bytes)
        yield* store.put(Stream.make(bytes))
        const info = yield* store.put(Stream.die("must not be read"), { digest, size: bytes.byteLength })
        expect(info).toEqual({ digest, size: bytes.byteLength })
      }))

    test("lets concurrent writers of the same blob all succeed", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        const bytes = patterned(400_000, 3)
        const digest = Digest.fromBytes(bytes)
        const slowly = chunked(bytes, 16_384).pipe(Stream.tap(() => Effect.yieldNow()))
        const results = yield* Effect.all(
          Array.from({ length: 8 }, () => store.put(slowly, { digest, size: bytes.byteLength })),
          { concurrency: "unbounded" }
        )
        expect(results.every((r) => r.digest === digest && r.size === bytes.byteLength)).toBe(true)
        same((yield* read(digest)).bytes, bytes)
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(store.list))).toEqual([digest])
      }))

    test("lists and deletes blobs", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        const digests = yield* Effect.forEach(["a", "b", "c"], (s) =>
          Effect.map(store.put(Stream.make(text.encode(s))), (i) => i.digest))
        const sha512 = `sha512:${createHash("sha512").update("d").digest("hex")}` as Digest.Digest
        yield* store.put(Stream.make(text.encode("d")), { digest: sha512 })
        const listed = Chunk.toReadonlyArray(yield* Stream.runCollect(store.list))
        expect([...listed].sort()).toEqual([...digests, sha512].sort())
        yield* store.delete(digests[0]!)
        yield* store.delete(digests[0]!)
        expect(Option.isNone(yield* store.stat(digests[0]!))).toBe(true)
        expect(Chunk.size(yield* Stream.runCollect(store.list))).toBe(3)
      }))

    test("refuses digests that are not digests", () =>
      Effect.gen(function*() {
        const store = yield* BlobStore.BlobStore
        for (const input of ["sha256:../../../etc/passwd", "../x", "sha256:" + "A".repeat(64), ""]) {
          const bad = input as Digest.Digest
          const errors = [
            yield* Effect.flip(store.stat(bad)),
            yield* Effect.flip(store.get(bad)),
            yield* Effect.flip(store.delete(bad)),
            yield* Effect.flip(store.put(Stream.make(text.encode("x")), { digest: bad }))
          ]
          for (const e of errors) expect(e._tag === "BlobStoreError" && e.reason).toBe("InvalidArgument")
        }
      }))

    describe("uploads", () => {
      test("appends chunks in order and commits them as a blob", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore.BlobStore
          const bytes = patterned(250_000, 5)
          const digest = Digest.fromBytes(bytes)
          const id = yield* store.createUpload
          expect(BlobStore.isUploadId(id)).toBe(true)
          const started = yield* store.uploadStatus(id)
          expect(Option.map(started, (s) => s.size)).toEqual(Option.some(0))
          expect(yield* store.appendUpload(id, chunked(bytes.subarray(0, 100_000)), 0)).toBe(100_000)
          expect(yield* store.appendUpload(id, chunked(bytes.subarray(100_000, 200_000)), 100_000)).toBe(200_000)
          expect(yield* store.appendUpload(id, chunked(bytes.subarray(200_000)))).toBe(250_000)
          expect(Option.map(yield* store.uploadStatus(id), (s) => s.size)).toEqual(Option.some(250_000))
          expect(Option.isNone(yield* store.stat(digest))).toBe(true)
          const info = yield* store.commitUpload(id, digest)
          expect(info).toEqual({ digest, size: 250_000 })
          same((yield* read(digest)).bytes, bytes)
          expect(Option.isNone(yield* store.uploadStatus(id))).toBe(true)
          const gone = yield* Effect.flip(store.appendUpload(id, Stream.empty))
          expect(gone._tag === "BlobStoreError" && gone.reason).toBe("UploadUnknown")
        }))

      test("commits with a final chunk, and a monolithic upload in one step", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore.BlobStore
          const id = yield* store.createUpload
          yield* store.appendUpload(id, Stream.make(text.encode("first ")), 0)
          const info = yield* store.commitUpload(id, Digest.fromBytes("first last"), Stream.make(text.encode("last")))
          expect(info.size).toBe(10)
          same((yield* read(info.digest)).bytes, text.encode("first last"))
          const mono = yield* store.createUpload
          const whole = yield* store.commitUpload(mono, Digest.fromBytes("whole"), Stream.make(text.encode("whole")))
          expect(whole.size).toBe(5)
          const empty = yield* store.createUpload
          const nothing = yield* store.commitUpload(empty, Digest.fromBytes(new Uint8Array()))
          expect(nothing.size).toBe(0)
        }))

      test("records when an upload started", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore.BlobStore
          yield* TestClock.adjust("1000 millis")
          const id = yield* store.createUpload
          const status = yield* store.uploadStatus(id)
          expect(Option.map(status, (s) => [s.id, s.startedAt.getTime()])).toEqual(Option.some([id, 1000]))
        }))

      test("refuses a chunk at the wrong offset and keeps the upload as it was", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore.BlobStore
          const id = yield* store.createUpload
          yield* store.appendUpload(id, Stream.make(text.encode("abc")), 0)
          const ahead = yield* Effect.flip(store.appendUpload(id, Stream.make(text.encode("xyz")), 10))
          expect(ahead._tag === "BlobStoreError" && [ahead.reason, ahead.size]).toEqual(["RangeMismatch", 3])
          const behind = yield* Effect.flip(store.appendUpload(id, Stream.make(text.encode("xyz")), 0))
          expect(behind._tag === "BlobStoreError" && behind.reason).toBe("RangeMismatch")
          yield* store.appendUpload(id, Stream.make(text.encode("def")), 3)
          const info = yield* store.commitUpload(id, Digest.fromBytes("abcdef"))
          expect(info.size).toBe(6)
        }))

      test("drops a chunk whose stream fails, so the client can resend it", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore.BlobStore
          const id = yield* store.createUpload
          yield* store.appendUpload(id, Stream.make(text.encode("abc")), 0)
          const broken = Stream.concat(Stream.make(text.encode("de")), Stream.fail("reset" as const))
          expect(yield* Effect.flip(store.appendUpload(id, broken, 3))).toBe("reset")
          expect(Option.map(yield* store.uploadStatus(id), (s) => s.size)).toEqual(Option.some(3))
          yield* store.appendUpload(id, Stream.make(text.encode("def")), 3)
          const info = yield* store.commitUpload(id, Digest.fromBytes("abcdef"))
          same((yield* read(info.digest)).bytes, text.encode("abcdef"))
        }))

      test("refuses a commit with the wrong digest and keeps the upload", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore.BlobStore
          const id = yield* store.createUpload
          yield* store.appendUpload(id, Stream.make(text.encode("content")), 0)
          const wrong = Digest.fromBytes("something else")
          const error = yield* Effect.flip(store.commitUpload(id, wrong))
          expect(error._tag).toBe("DigestMismatch")
          expect(Option.isNone(yield* store.stat(wrong))).toBe(true)
          expect(Chunk.toReadonlyArray(yield* Stream.runCollect(store.list))).toEqual([])
          expect(Option.map(yield* store.uploadStatus(id), (s) => s.size)).toEqual(Option.some(7))
          const info = yield* store.commitUpload(id, Digest.fromBytes("content"))
          expect(info.size).toBe(7)
        }))

      test("commits under another algorithm by hashing the bytes again", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore.BlobStore
          const id = yield* store.createUpload
          yield* store.appendUpload(id, Stream.make(text.encode("five5")), 0)
          const sha512 = `sha512:${createHash("sha512").update("five5").digest("hex")}` as Digest.Digest
          expect(yield* store.commitUpload(id, sha512)).toEqual({ digest: sha512, size: 5 })
        }))

      test("cancels an upload", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore.BlobStore
          const id = yield* store.createUpload
          yield* store.appendUpload(id, Stream.make(text.encode("abc")))
          yield* store.cancelUpload(id)
          expect(Option.isNone(yield* store.uploadStatus(id))).toBe(true)
          const again = yield* Effect.flip(store.cancelUpload(id))
          expect(again.reason).toBe("UploadUnknown")
          const commit = yield* Effect.flip(store.commitUpload(id, Digest.fromBytes("abc")))
          expect(commit._tag === "BlobStoreError" && commit.reason).toBe("UploadUnknown")
        }))

      test("treats ids that are not upload ids as unknown uploads", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore.BlobStore
          const real = yield* store.createUpload
          const inputs = [
            "../blobs",
            `${real}/../../blobs`,
            `../uploads/${real}`,
            "/etc/passwd",
            real.toUpperCase(),
            "",
            `${real}/data`
          ]
          for (const id of inputs) {
            expect(Option.isNone(yield* store.uploadStatus(id))).toBe(true)
            const append = yield* Effect.flip(store.appendUpload(id, Stream.make(text.encode("x"))))
            expect(append._tag === "BlobStoreError" && append.reason).toBe("UploadUnknown")
            const commit = yield* Effect.flip(store.commitUpload(id, Digest.fromBytes("x")))
            expect(commit._tag === "BlobStoreError" && commit.reason).toBe("UploadUnknown")
            expect((yield* Effect.flip(store.cancelUpload(id))).reason).toBe("UploadUnknown")
          }
          expect(Option.map(yield* store.uploadStatus(real), (s) => s.size)).toEqual(Option.some(0))
          const unknown = yield* Effect.flip(store.appendUpload(randomUUID(), Stream.empty))
          expect(unknown._tag === "BlobStoreError" && unknown.reason).toBe("UploadUnknown")
        }))

      test("purges uploads older than a duration", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore.BlobStore
          const old = yield* store.createUpload
          yield* store.appendUpload(old, Stream.make(text.encode("stale")))
          yield* TestClock.adjust("2 hours")
          const fresh = yield* store.createUpload
          yield* TestClock.adjust("30 minutes")
          expect(yield* store.purgeUploads("1 hour")).toBe(1)
          expect(Option.isNone(yield* store.uploadStatus(old))).toBe(true)
          expect(Option.isSome(yield* store.uploadStatus(fresh))).toBe(true)
          expect(yield* store.purgeUploads("1 hour")).toBe(0)
        }))

      test("serialises concurrent appends to one upload", () =>
        Effect.gen(function*() {
          const store = yield* BlobStore.BlobStore
          const id = yield* store.createUpload
          const part = (s: string) => chunked(text.encode(s.repeat(5000)), 1000).pipe(Stream.tap(() => Effect.yieldNow()))
          yield* Effect.all([store.appendUpload(id, part("a")), store.appendUpload(id, part("b"))], {
            concurrency: "unbounded"
          })
          const status = yield* store.uploadStatus(id)
          expect(Option.map(status, (s) => s.size)).toEqual(Option.some(10_000))
          const a = "a".repeat(5000)
          const b = "b".repeat(5000)
          const one = Digest.fromBytes(a + b)
          const other = Digest.fromBytes(b + a)
          const info = yield* store.commitUpload(id, one).pipe(
            Effect.catchTag("DigestMismatch", () => store.commitUpload(id, other))
          )
          expect(info.size).toBe(10_000)
        }))
    })
  })
