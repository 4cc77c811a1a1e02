import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { join } from "node:path"
import * as Digest from "../../src/domain/Digest.js"
import * as Partial from "../../src/domain/Partial.js"
import * as Random from "../../src/domain/Random.js"
import * as Layout from "../../src/formats/Layout.js"

// A layout writer trusts a stream that verifies itself against the blob's own digest (every
// blob of a pulled image is one) instead of hashing it again; these pin that the trust never
// lets wrong bytes into the layout.

const text = new TextEncoder()

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "layout-verified-" }))

/** Every regular file under a directory, relative to it, sorted. */
const filesUnder = (dir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(dir))) return []
    const names = yield* fs.readDirectory(dir, { recursive: true })
    const files = yield* Effect.filter(names, (name) => Effect.map(fs.stat(join(dir, name)), (i) => i.type === "File"))
    return files.sort()
  })

layer(NodeContext.layer)("Layout writes of self-verifying streams", (it) => {
  describe("Digest.verification", () => {
    it("names the digest and size a verifying stream checks", () => {
      const digest = Digest.fromBytes("abc")
      const stream = Digest.verifyStream(Stream.succeed(text.encode("abc")), digest, { size: 3 })
      expect(Digest.verification(stream)).toEqual(Option.some({ digest, size: 3 }))
    })

    it("is None for a stream that does not verify itself", () => {
      expect(Digest.verification(Stream.succeed(text.encode("abc")))._tag).toBe("None")
    })
  })

  describe("writeBlob", () => {
    it.scoped("writes the bytes of a stream verified against the blob's digest", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        const bytes = text.encode("verified elsewhere")
        const digest = Digest.fromBytes(bytes)
        const stream = Digest.verifyStream(Stream.make(bytes.slice(0, 5), bytes.slice(5)), digest, { size: bytes.length })
        const result = yield* Layout.writeBlob(dir, digest, stream, { size: bytes.length })
        expect(result).toEqual({ digest, size: bytes.length, written: true })
        const stored = yield* fs.readFile(join(dir, "blobs", "sha256", Digest.hex(digest)))
        expect(Buffer.from(stored).toString()).toBe("verified elsewhere")
      })
    )

    it.scoped("keeps nothing when a self-verifying stream finds its bytes corrupt at the end", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const good = text.encode("the right bytes")
        const digest = Digest.fromBytes(good)
        const corrupt = text.encode("the wrong bytes")
        const stream = Digest.verifyStream(Stream.succeed(corrupt), digest, { size: good.length })
        const error = yield* Effect.flip(Layout.writeBlob(dir, digest, stream, { size: good.length }))
        // The stream's own check caught it: the writer did not hash the bytes a second time.
        expect(error._tag).toBe("DigestMismatch")
        expect(yield* filesUnder(dir)).toEqual([])
      })
    )

    it.scoped("still hashes a stream verified against another digest than the blob's", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const bytes = text.encode("right for one digest")
        const other = Digest.fromBytes(text.encode("another blob"))
        const stream = Digest.verifyStream(Stream.succeed(bytes), Digest.fromBytes(bytes))
        const error = yield* Effect.flip(Layout.writeBlob(dir, other, stream))
        expect(error._tag === "LayoutError" && error.reason).toBe("DigestMismatch")
        expect(yield* filesUnder(dir)).toEqual([])
      })
    )

    it.scoped("still checks the size it is given against a self-verifying stream without one", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const bytes = text.encode("twelve bytes")
        const digest = Digest.fromBytes(bytes)
        const stream = Digest.verifyStream(Stream.succeed(bytes), digest)
        const error = yield* Effect.flip(Layout.writeBlob(dir, digest, stream, { size: 11 }))
        expect(error._tag === "LayoutError" && error.reason).toBe("SizeMismatch")
        expect(yield* filesUnder(dir)).toEqual([])
      })
    )
  })

  describe("writeBlob of a large blob", () => {
    // Patterned bytes a little over 3 MiB long.
    const big = Uint8Array.from({ length: 3 * 1024 * 1024 + 777 }, (_, i) => (i * 31 + (i >> 12)) & 0xff)
    const bigDigest = Digest.fromBytes(big)

    const cut = (bytes: Uint8Array, cuts: ReadonlyArray<number>) =>
      Stream.fromIterable([0, ...cuts].map((start, i) => bytes.slice(start, cuts[i] ?? bytes.length)))

    const stored = (dir: string) =>
      Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFile(join(dir, "blobs", "sha256", Digest.hex(bigDigest))))

    it.scoped("stores a blob sent in many small pieces byte for byte", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const cuts = Array.from({ length: Math.floor(big.length / 16_411) }, (_, i) => (i + 1) * 16_411)
        yield* Layout.writeBlob(dir, bigDigest, cut(big, cuts), { size: big.length })
        expect(Buffer.compare(yield* stored(dir), big)).toBe(0)
      })
    )

    it.scoped("stores a blob that mixes pieces larger and smaller than 1 MiB", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const mib = 1024 * 1024
        yield* Layout.writeBlob(dir, bigDigest, cut(big, [5, mib - 3, 2 * mib + 10, 2 * mib + 11]), { size: big.length })
        expect(Buffer.compare(yield* stored(dir), big)).toBe(0)
      })
    )
  })

  describe("appendImage of a pulled image", () => {
    it.scoped("writes no layer and no manifest when a layer's stored bytes are corrupt", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const source = yield* Random.image({ layerSize: 70_000, layers: 2, seed: "verified-pull" })
        const manifest = yield* source.manifest
        const [first, second] = manifest.layers
        if (first === undefined || second === undefined) return expect.unreachable("two layers")
        // A source whose blobs the image model verifies as it streams, as a registry pull is.
        const pulled = Partial.fromCompressed({
          rawManifest: source.rawManifest,
          blob: (descriptor) =>
            descriptor.digest === second.digest
              ? Stream.map(Stream.unwrap(Effect.map(source.layerByDigest(descriptor.digest), (l) => l.compressed)), (b) => {
                  const flipped = new Uint8Array(b)
                  flipped[0] = (flipped[0] ?? 0) ^ 0xff
                  return flipped
                })
              : descriptor.digest === manifest.config.digest
                ? Stream.fromEffect(source.rawConfigFile)
                : Stream.unwrap(Effect.map(source.layerByDigest(descriptor.digest), (l) => l.compressed))
        })
        const error = yield* Effect.flip(Layout.appendImage(dir, pulled))
        expect(error._tag).toBe("DigestMismatch")
        const blobs = yield* filesUnder(join(dir, "blobs"))
        expect(blobs).not.toContain(`sha256/${Digest.hex(second.digest)}`)
        expect(blobs).not.toContain(`sha256/${Digest.hex(yield* source.digest)}`)
        expect(blobs.filter((name) => name.includes(".tmp-"))).toEqual([])
      })
    )

    it.scoped("writes every blob of an intact pulled image, each under its digest", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        const source = yield* Random.image({ layerSize: 70_000, layers: 2, seed: "verified-pull" })
        const manifest = yield* source.manifest
        const pulled = Partial.fromCompressed({
          rawManifest: source.rawManifest,
          blob: (descriptor) =>
            descriptor.digest === manifest.config.digest
              ? Stream.fromEffect(source.rawConfigFile)
              : Stream.unwrap(Effect.map(source.layerByDigest(descriptor.digest), (l) => l.compressed))
        })
        yield* Layout.appendImage(dir, pulled)
        for (const descriptor of manifest.layers) {
          const stored = yield* fs.readFile(join(dir, "blobs", "sha256", Digest.hex(descriptor.digest)))
          expect(Digest.fromBytes(stored)).toBe(descriptor.digest)
        }
      })
    )
  })
})
