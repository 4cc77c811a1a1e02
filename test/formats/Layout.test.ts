import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import * as Digest from "../../src/domain/Digest.js"
import type * as Image from "../../src/domain/Image.js"
import * as ImageLayer from "../../src/domain/ImageLayer.js"
import * as IndexManifest from "../../src/domain/IndexManifest.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Partial from "../../src/domain/Partial.js"
import * as Random from "../../src/domain/Random.js"
import * as Validate from "../../src/domain/Validate.js"
import * as Layout from "../../src/formats/Layout.js"

const fixtures = fileURLToPath(new URL("../../../shared/fixtures/ggcr/layout/", import.meta.url))
const fixture = (name: string) => join(fixtures, name)

const sha = (hex: string) => `sha256:${hex}` as Digest.Digest
// test_index and friends (ggcr's layout testdata)
const imageDigest = sha("eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650")
const imageConfig = sha("6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e")
const imageLayer = sha("dc52c6e48a1d51a96047b059f16889bc889c4b4c28f3b36b3f93187f62fc0b2b")
const descriptorChild = sha("32589985702551b6c56033bb3334432a0a513bf9d6aceda0f67c42b003850720")
const nestedIndex = sha("05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5")
const manifestList = sha("2b29a2b8dea3af91ea7d0154be1da0c92d55ddd098540930fc8d3db7de377fdb")
const oneImage = sha("98ceaf93e482fe91b9bfd6bba07137c098e49ee2d55e69f09fb6c951e75e0e46")
const oneImageLayer = sha("492b89b9dd3cda4596f94916d17f6901455fb8bd7f4c5a2a90df8d39c90f48a0")
const helmManifest = sha("b544f71ecd82372bc9a3c0dbef378abfd2734fe437df81ff6e242a0d720d8e3e")
const bogus = sha("deadbeef".repeat(8))

const text = new TextEncoder()

const bytesOf = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => new Uint8Array(Buffer.concat(Chunk.toReadonlyArray(chunks))))

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "layout-test-" }))

/** A copy of a fixture layout in a temporary directory, for tests that change it. */
const copyOf = (name: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const to = join(yield* tempDir, name)
    yield* fs.copy(fixture(name), to)
    return to
  })

/** Every regular file under a directory, relative to it, sorted. */
const filesUnder = (dir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    if (!(yield* fs.exists(dir))) return []
    const names = yield* fs.readDirectory(dir, { recursive: true })
    const files = yield* Effect.filter(names, (name) => Effect.map(fs.stat(join(dir, name)), (i) => i.type === "File"))
    return files.sort()
  })

const blobFiles = (dir: string) =>
  Effect.map(filesUnder(join(dir, "blobs")), (files) => files.map((f) => `sha256:${f.replace(/^sha256\//, "")}`))

const readJson = (file: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => Effect.map(fs.readFileString(file), (s): unknown => JSON.parse(s)))

const configFor = (diffIds: ReadonlyArray<string>) =>
  text.encode(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: diffIds } }))

/** An OCI image of the given layers, its config listing their diff ids. */
const imageOf = <E>(layers: ReadonlyArray<ImageLayer.ImageLayer<E>>) =>
  Partial.fromLayers(
    Effect.map(
      Effect.forEach(layers, (l) => l.diffId),
      configFor
    ),
    Effect.succeed(layers)
  )

const randomImage = (seed: string) =>
  Random.image({ layerSize: 2048, layers: 2, seed, mediaType: MediaType.OCI_MANIFEST })

const randomLayer = (seed: string) => Random.layer({ size: 1024, seed, mediaType: MediaType.OCI_LAYER_GZIP })

/** Every blob an image is made of: manifest, config and layers. */
const blobsOf = <E>(image: Image.Image<E>) =>
  Effect.gen(function* () {
    const layers = yield* Effect.forEach(yield* image.layers, (l) => l.digest)
    return [yield* image.digest, yield* image.configName, ...layers].sort()
  })

layer(NodeContext.layer, { excludeTestServices: true })("Layout", (it) => {
  describe("reading ggcr's test_index", () => {
    const dir = fixture("test_index")

    it.effect("reads index.json as an OCI index of four children", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const index = yield* Layout.read(dir)
        expect(yield* index.mediaType).toBe(MediaType.OCI_INDEX)
        expect(yield* index.digest).toBe(Digest.fromBytes(yield* fs.readFile(join(dir, "index.json"))))
        expect((yield* index.indexManifest).manifests.map((d) => d.digest)).toEqual([
          imageDigest,
          descriptorChild,
          nestedIndex,
          manifestList
        ])
      })
    )

    it.effect("reads an image by digest, with its config and its Docker layer", () =>
      Effect.gen(function* () {
        const image = yield* Layout.image(dir, imageDigest)
        expect(yield* image.digest).toBe(imageDigest)
        expect(yield* image.configName).toBe(imageConfig)
        expect(Digest.fromBytes(yield* image.rawConfigFile)).toBe(imageConfig)
        const [layer] = yield* image.layers
        expect(yield* layer!.mediaType).toBe(MediaType.DOCKER_LAYER)
        expect(Digest.fromBytes(yield* bytesOf(layer!.compressed))).toBe(imageLayer)
        expect((yield* Digest.ofStream(layer!.uncompressed)).digest).toBe(yield* layer!.diffId)
      })
    )

    it.effect("reads the nested OCI index and the images it lists", () =>
      Effect.gen(function* () {
        const nested = yield* Layout.imageIndex(dir, nestedIndex)
        expect(yield* nested.mediaType).toBe(MediaType.OCI_INDEX)
        const image = yield* nested.image(imageDigest)
        expect(yield* image.configName).toBe(imageConfig)
      })
    )

    it.effect("reads the nested Docker manifest list under its Docker media type", () =>
      Effect.gen(function* () {
        const list = yield* Layout.imageIndex(dir, manifestList)
        expect(yield* list.mediaType).toBe(MediaType.DOCKER_MANIFEST_LIST)
        expect((yield* list.indexManifest).manifests.map((d) => d.digest)).toEqual([imageDigest])
      })
    )

    it.effect("gives the child typed application/vnd.oci.descriptor.v1+json as its bytes", () =>
      Effect.gen(function* () {
        const index = yield* Layout.read(dir)
        const child = yield* index.child(descriptorChild)
        expect(child._tag).toBe("Other")
        expect(child.descriptor.mediaType).toBe(MediaType.OCI_DESCRIPTOR)
        if (child._tag === "Other") expect(Digest.fromBytes(child.bytes)).toBe(descriptorChild)
      })
    )

    it.effect("refuses an index's digest where an image is asked for, and a digest it does not list", () =>
      Effect.gen(function* () {
        const asImage = yield* Effect.flip(Layout.image(dir, nestedIndex))
        expect(asImage._tag).toBe("BlobNotFound")
        const unknown = yield* Effect.flip(Layout.image(dir, bogus))
        expect(unknown._tag).toBe("BlobNotFound")
      })
    )

    it.effect("finds a child by its org.opencontainers.image.ref.name annotation", () =>
      Effect.gen(function* () {
        const found = yield* Layout.findByRefName(dir, "3")
        expect(Option.map(found, (c) => [c._tag, c.descriptor.digest])).toEqual(Option.some(["Index", nestedIndex]))
        expect(Option.isNone(yield* Layout.findByRefName(dir, "no such name"))).toBe(true)
      })
    )

    it.effect("finds every child a predicate on descriptors accepts, in order", () =>
      Effect.gen(function* () {
        const found = yield* Layout.findAll(dir, (d) => MediaType.isIndex(d.mediaType))
        expect(found.map((c) => c.descriptor.digest)).toEqual([nestedIndex, manifestList])
      })
    )
  })

  describe("reading the other fixtures", () => {
    it.effect("reads test_index_one_image: an OCI image whose layer matches its diff id", () =>
      Effect.gen(function* () {
        const image = yield* Layout.image(fixture("test_index_one_image"), oneImage)
        expect(yield* image.mediaType).toBe(MediaType.OCI_MANIFEST)
        const [layer] = yield* image.layers
        expect(yield* layer!.digest).toBe(oneImageLayer)
        expect((yield* Digest.ofStream(layer!.uncompressed)).digest).toBe(yield* layer!.diffId)
        expect(ConfigFile.diffIds(yield* image.configFile)).toEqual([yield* layer!.diffId])
      })
    )

    it.effect("reads test_index_media_type: a manifest without mediaType and a layer of a custom type", () =>
      Effect.gen(function* () {
        const image = yield* Layout.image(fixture("test_index_media_type"), helmManifest)
        expect(yield* image.mediaType).toBe(MediaType.OCI_MANIFEST)
        const [layer] = yield* image.layers
        expect(yield* layer!.mediaType).toBe("application/tar+gzip")
        expect(Digest.fromBytes(yield* bytesOf(layer!.compressed))).toBe(imageLayer)
        const manifest = yield* image.manifest
        expect(Digest.fromBytes(yield* image.rawConfigFile)).toBe(manifest.config.digest)
      })
    )

    it.effect("reads test_gc_index: an image, an OCI index and a Docker list", () =>
      Effect.gen(function* () {
        const found = yield* Layout.findAll(fixture("test_gc_index"), () => true)
        expect(found.map((c) => c._tag)).toEqual(["Image", "Index", "Index"])
      })
    )

    it.effect("fails with BlobNotFound reading a child test_gc_image_unknown_mediatype does not hold", () =>
      Effect.gen(function* () {
        const index = yield* Layout.read(fixture("test_gc_image_unknown_mediatype"))
        const error = yield* Effect.flip(index.child(descriptorChild))
        expect(error._tag).toBe("LayoutError")
        if (error._tag === "LayoutError") {
          expect(error.reason).toBe("BlobNotFound")
          expect(error.digest).toBe(descriptorChild)
        }
      })
    )
  })

  describe("refusing what is not a sound layout", () => {
    it.scoped("fails with NotALayout for a directory without oci-layout", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Layout.read(yield* tempDir))
        expect(error._tag === "LayoutError" && error.reason).toBe("NotALayout")
      })
    )

    it.scoped("fails with NotALayout for a directory that does not exist", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Layout.read(join(yield* tempDir, "missing")))
        expect(error._tag === "LayoutError" && error.reason).toBe("NotALayout")
      })
    )

    it.scoped("fails with NotALayout for an oci-layout of another version", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* copyOf("test_index_one_image")
        yield* fs.writeFileString(join(dir, "oci-layout"), `{"imageLayoutVersion":"2.0.0"}`)
        const error = yield* Effect.flip(Layout.read(dir))
        expect(error._tag === "LayoutError" && error.reason).toBe("NotALayout")
        expect(error.message).toContain("2.0.0")
      })
    )

    it.scoped("fails with NotALayout for a layout without index.json", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* copyOf("test_index_one_image")
        yield* fs.remove(join(dir, "index.json"))
        const error = yield* Effect.flip(Layout.read(dir))
        expect(error._tag === "LayoutError" && error.reason).toBe("NotALayout")
      })
    )

    it.scoped("fails with DigestMismatch reading a layer whose bytes do not hash to its name", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* copyOf("test_index_one_image")
        const file = join(dir, "blobs", "sha256", Digest.hex(oneImageLayer))
        const bytes = yield* fs.readFile(file)
        bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff
        yield* fs.writeFile(file, bytes)
        const image = yield* Layout.image(dir, oneImage)
        const [layer] = yield* image.layers
        const error = yield* Effect.flip(bytesOf(layer!.compressed))
        expect(error._tag === "LayoutError" && error.reason).toBe("DigestMismatch")
        if (error._tag === "LayoutError") expect(error.actual).toBe(Digest.fromBytes(bytes))
      })
    )

    it.scoped("fails with DigestMismatch reading a manifest whose bytes do not hash to its name", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* copyOf("test_index_one_image")
        const file = join(dir, "blobs", "sha256", Digest.hex(oneImage))
        const json = yield* fs.readFileString(file)
        yield* fs.writeFileString(file, json.replace(`"schemaVersion":2`, `"schemaVersion":3`))
        const error = yield* Effect.flip(Layout.image(dir, oneImage))
        expect(error._tag === "LayoutError" && error.reason).toBe("DigestMismatch")
      })
    )

    it.scoped("fails with SizeMismatch reading a blob shorter than its descriptor says", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* copyOf("test_index_one_image")
        yield* fs.truncate(join(dir, "blobs", "sha256", Digest.hex(oneImageLayer)), 10)
        const [layer] = yield* Effect.flatMap(Layout.image(dir, oneImage), (i) => i.layers)
        const error = yield* Effect.flip(bytesOf(layer!.compressed))
        expect(error._tag === "LayoutError" && error.reason).toBe("SizeMismatch")
      })
    )

    it.scoped("fails with UnsafePath reading a blob that is a symbolic link", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* copyOf("test_index_one_image")
        const outside = join(yield* tempDir, "outside")
        const file = join(dir, "blobs", "sha256", Digest.hex(oneImageLayer))
        yield* fs.rename(file, outside)
        yield* fs.symlink(outside, file)
        const error = yield* Effect.flip(bytesOf(Layout.blob(dir, oneImageLayer)))
        expect(error.reason).toBe("UnsafePath")
      })
    )
  })

  describe("creating layouts", () => {
    it.scoped("create writes oci-layout version 1.0.0, blobs/ and an empty index.json", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = join(yield* tempDir, "new")
        yield* Layout.create(dir)
        expect(yield* readJson(join(dir, "oci-layout"))).toEqual({ imageLayoutVersion: "1.0.0" })
        expect((yield* fs.stat(join(dir, "blobs"))).type).toBe("Directory")
        const index = yield* Layout.read(dir)
        expect((yield* index.indexManifest).manifests).toEqual([])
      })
    )

    it.scoped("create empties the index.json of an existing layout", () =>
      Effect.gen(function* () {
        const dir = yield* copyOf("test_index_one_image")
        yield* Layout.create(dir)
        expect(yield* Layout.descriptors(dir)).toEqual([])
      })
    )

    it.scoped("ensure keeps the index.json of an existing layout", () =>
      Effect.gen(function* () {
        const dir = yield* copyOf("test_index_one_image")
        yield* Layout.ensure(dir)
        expect((yield* Layout.descriptors(dir)).map((d) => d.digest)).toEqual([oneImage])
      })
    )
  })

  describe("writing blobs", () => {
    it.scoped("writes a blob under blobs/<algorithm>/<hex>", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        const bytes = text.encode("some blob")
        const digest = Digest.fromBytes(bytes)
        const result = yield* Layout.writeBlob(dir, digest, Stream.make(bytes.slice(0, 4), bytes.slice(4)))
        expect(result).toEqual({ digest, size: bytes.length, written: true })
        const stored = yield* fs.readFile(join(dir, "blobs", "sha256", Digest.hex(digest)))
        expect(Buffer.from(stored).toString()).toBe("some blob")
      })
    )

    it.scoped("does not read the stream of a blob the layout holds", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const bytes = text.encode("held already")
        const digest = Digest.fromBytes(bytes)
        yield* Layout.writeBlob(dir, digest, Stream.succeed(bytes))
        const again = yield* Layout.writeBlob(dir, digest, Stream.die("the stream was read"), { size: bytes.length })
        expect(again.written).toBe(false)
      })
    )

    it.scoped("fails with DigestMismatch and keeps nothing when the bytes are not the digest's", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const error = yield* Effect.flip(Layout.writeBlob(dir, bogus, Stream.succeed(text.encode("not deadbeef"))))
        expect(error._tag === "LayoutError" && error.reason).toBe("DigestMismatch")
        expect(yield* filesUnder(dir)).toEqual([])
      })
    )

    it.scoped("fails with SizeMismatch and keeps nothing when the bytes are not the size given", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const bytes = text.encode("twelve bytes")
        const error = yield* Effect.flip(
          Layout.writeBlob(dir, Digest.fromBytes(bytes), Stream.succeed(bytes), { size: 11 })
        )
        expect(error._tag === "LayoutError" && error.reason).toBe("SizeMismatch")
        expect(yield* filesUnder(dir)).toEqual([])
      })
    )

    it.scoped("keeps nothing when the stream fails midway, and fails with the stream's error", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const broken = Stream.concat(Stream.succeed(new Uint8Array(70_000)), Stream.fail("connection reset" as const))
        const error = yield* Effect.flip(Layout.writeBlob(dir, bogus, broken))
        expect(error).toBe("connection reset")
        expect(yield* filesUnder(dir)).toEqual([])
      })
    )

    it.scoped("keeps nothing when the write is interrupted midway", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const started = yield* Deferred.make<void>()
        const endless = Stream.concat(
          Stream.succeed(new Uint8Array(70_000)).pipe(Stream.tap(() => Deferred.succeed(started, undefined))),
          Stream.never
        )
        const fiber = yield* Effect.fork(Layout.writeBlob(dir, bogus, endless))
        yield* Deferred.await(started)
        yield* Fiber.interrupt(fiber)
        expect(yield* filesUnder(dir)).toEqual([])
      })
    )

    it.scoped("refuses a digest that is not one with UnsafePath", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const error = yield* Effect.flip(
          Layout.writeBlob(dir, "sha256:../../etc/passwd" as Digest.Digest, Stream.succeed(text.encode("x")))
        )
        expect(error._tag === "LayoutError" && error.reason).toBe("UnsafePath")
        expect(yield* filesUnder(dir)).toEqual([])
      })
    )
  })

  describe("appending images and indexes", () => {
    it.scoped("round-trips an image: manifest, config and layer digests survive", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const image = yield* randomImage("round trip")
        yield* Layout.appendImage(dir, image, { annotations: { [Layout.refNameAnnotation]: "v1" } })
        const found = yield* Layout.findByRefName(dir, "v1")
        if (Option.isNone(found) || found.value._tag !== "Image") return expect.fail("no image named v1")
        const back = found.value.image
        yield* Validate.validateImage(back)
        expect(yield* back.digest).toBe(yield* image.digest)
        expect(yield* back.configName).toBe(yield* image.configName)
        expect(yield* blobsOf(back)).toEqual(yield* blobsOf(image))
        for (const layer of yield* back.layers) {
          expect(Digest.fromBytes(yield* bytesOf(layer.compressed))).toBe(yield* layer.digest)
          expect((yield* Digest.ofStream(layer.uncompressed)).digest).toBe(yield* layer.diffId)
        }
      })
    )

    it.scoped("writes exactly the image's blobs", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const image = yield* randomImage("blobs")
        yield* Layout.appendImage(dir, image)
        expect(yield* blobFiles(dir)).toEqual(yield* blobsOf(image))
      })
    )

    it.scoped("writing an image twice reads and rewrites none of its blobs", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        let reads = 0
        const counted = (seed: string) =>
          ImageLayer.fromUncompressed(
            Stream.suspend(() => {
              reads++
              return Random.tar(seed, 4096)
            }),
            { mediaType: MediaType.OCI_LAYER_GZIP }
          )
        const image = imageOf([counted("a"), counted("b")])
        yield* Layout.appendImage(dir, image)
        const files = yield* filesUnder(join(dir, "blobs"))
        const mtimes = yield* Effect.forEach(files, (f) => Effect.map(fs.stat(join(dir, "blobs", f)), (i) => i.mtime))
        const readsAfterFirst = reads
        yield* Layout.appendImage(dir, image)
        expect(reads).toBe(readsAfterFirst)
        expect(yield* Effect.forEach(files, (f) => Effect.map(fs.stat(join(dir, "blobs", f)), (i) => i.mtime))).toEqual(mtimes)
        expect((yield* Layout.descriptors(dir)).length).toBe(2)
      })
    )

    it.scoped("applies annotations, platform and urls to the descriptor in index.json", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const image = yield* randomImage("options")
        yield* Layout.appendImage(dir, image, {
          annotations: { foo: "bar" },
          platform: { os: "haiku", architecture: "mill" },
          urls: ["https://example.com"]
        })
        const [descriptor] = yield* Layout.descriptors(dir)
        expect(descriptor).toEqual({
          mediaType: MediaType.OCI_MANIFEST,
          size: yield* image.size,
          digest: yield* image.digest,
          annotations: { foo: "bar" },
          platform: { os: "haiku", architecture: "mill" },
          urls: ["https://example.com"]
        })
      })
    )

    it.scoped("appends a descriptor to index.json as it is", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        yield* Layout.create(dir)
        const descriptor = { mediaType: "not real", size: 1337, digest: bogus }
        yield* Layout.appendDescriptor(dir, descriptor)
        expect(yield* Layout.descriptors(dir)).toEqual([descriptor])
      })
    )

    it.scoped("serialises concurrent appends to index.json", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const images = yield* Effect.forEach(["1", "2", "3", "4", "5", "6"], (seed) => randomImage(`concurrent ${seed}`))
        yield* Effect.forEach(images, (image) => Layout.appendImage(dir, image), { concurrency: "unbounded" })
        const listed = (yield* Layout.descriptors(dir)).map((d) => d.digest).sort()
        expect(listed).toEqual((yield* Effect.forEach(images, (i) => i.digest)).sort())
      })
    )

    it.scoped("appends an index with its images, nested indexes and other children", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const source = yield* Layout.read(fixture("test_index"))
        yield* Layout.appendIndex(dir, source, { annotations: { [Layout.refNameAnnotation]: "all" } })
        const sourceDigest = yield* source.digest
        // As ggcr: the child of an unknown media type is written as its bytes only, so the
        // config and layer its manifest names (930705..., 321460...) are not copied.
        expect(yield* blobFiles(dir)).toEqual(
          [sourceDigest, imageDigest, imageConfig, imageLayer, descriptorChild, nestedIndex, manifestList].sort()
        )
        const copy = yield* Layout.imageIndex(dir, sourceDigest)
        const nested = yield* copy.imageIndex(nestedIndex)
        const image = yield* nested.image(imageDigest)
        expect(yield* blobsOf(image)).toEqual([imageDigest, imageConfig, imageLayer].sort())
      })
    )

    it.scoped("writes a whole index as the layout, its bytes becoming index.json", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        yield* Layout.write(dir, yield* Layout.read(fixture("test_index_one_image")))
        const written = yield* fs.readFile(join(dir, "index.json"))
        expect(Buffer.from(written).equals(Buffer.from(yield* fs.readFile(fixture("test_index_one_image/index.json"))))).toBe(true)
        expect(yield* readJson(join(dir, "oci-layout"))).toEqual({ imageLayoutVersion: "1.0.0" })
        expect(yield* blobFiles(dir)).toEqual(yield* blobFiles(fixture("test_index_one_image")))
      })
    )

    it.scoped("writes test_index_one_image as a layout that reads back as a valid index", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        yield* Layout.write(dir, yield* Layout.read(fixture("test_index_one_image")))
        yield* Validate.validateIndex(yield* Layout.read(dir))
      })
    )

    it.scoped("writes test_index as a layout whose children all read back", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const source = yield* Layout.read(fixture("test_index"))
        yield* Layout.write(dir, source)
        const back = yield* Layout.read(dir)
        expect(yield* back.digest).toBe(yield* source.digest)
        const children = yield* Layout.findAll(dir, () => true)
        expect(children.map((c) => c._tag)).toEqual(["Image", "Other", "Index", "Index"])
        const nested = yield* back.imageIndex(manifestList)
        expect(yield* blobsOf(yield* nested.image(imageDigest))).toEqual([imageDigest, imageConfig, imageLayer].sort())
      })
    )

    it.scoped("writes a generated index whose images all read back", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const index = yield* Random.index({ images: 3, layers: 1, layerSize: 512, seed: "index", mediaType: MediaType.OCI_MANIFEST })
        yield* Layout.write(dir, index)
        const back = yield* Layout.read(dir)
        expect(yield* back.digest).toBe(yield* index.digest)
        for (const d of (yield* back.indexManifest).manifests) {
          const image = yield* back.image(d.digest)
          expect(yield* blobsOf(image)).toEqual(yield* blobsOf(yield* index.image(d.digest)))
        }
      })
    )
  })

  describe("replacing and removing descriptors", () => {
    const named = (name: string) => ({ annotations: { [Layout.refNameAnnotation]: name } })

    it.scoped("replaceImage removes the matching descriptors and appends the new image", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const [one, two, three] = yield* Effect.forEach(["1", "2", "3"], (s) => randomImage(`replace ${s}`))
        yield* Layout.appendImage(dir, one!, named("a"))
        yield* Layout.appendImage(dir, two!, named("b"))
        yield* Layout.replaceImage(dir, three!, Layout.hasRefName("a"), named("a"))
        const listed = yield* Layout.descriptors(dir)
        expect(listed.map((d) => [d.digest, d.annotations?.[Layout.refNameAnnotation]])).toEqual([
          [yield* two!.digest, "b"],
          [yield* three!.digest, "a"]
        ])
      })
    )

    it.scoped("replaceIndex removes the matching descriptors and appends the new index", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const indexes = yield* Effect.forEach(["1", "2", "3"], (s) =>
          Random.index({ images: 2, layers: 1, layerSize: 256, seed: `replace index ${s}` })
        )
        const [one, two, three] = indexes
        yield* Layout.appendIndex(dir, one!)
        yield* Layout.appendIndex(dir, two!)
        yield* Layout.replaceIndex(dir, three!, Layout.hasDigest(yield* one!.digest))
        const listed = (yield* Layout.descriptors(dir)).map((d) => d.digest)
        expect(listed).toEqual([yield* two!.digest, yield* three!.digest])
      })
    )

    it.scoped("removeDescriptors drops the matching descriptors and returns them", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const [one, two] = yield* Effect.forEach(["1", "2"], (s) => randomImage(`remove ${s}`))
        yield* Layout.appendImage(dir, one!)
        yield* Layout.appendImage(dir, two!)
        const removed = yield* Layout.removeDescriptors(dir, Layout.hasDigest(yield* one!.digest))
        expect(removed.map((d) => d.digest)).toEqual([yield* one!.digest])
        expect((yield* Layout.descriptors(dir)).map((d) => d.digest)).toEqual([yield* two!.digest])
      })
    )
  })

  describe("garbage collection", () => {
    it.effect("reports the one unreachable blob of test_gc_index", () =>
      Effect.gen(function* () {
        expect(yield* Layout.garbageCollect(fixture("test_gc_index"))).toEqual([oneImageLayer])
      })
    )

    it.scoped("removes exactly the unreachable blobs when told to", () =>
      Effect.gen(function* () {
        const dir = yield* copyOf("test_gc_index")
        const before = yield* blobFiles(dir)
        expect(yield* Layout.garbageCollect(dir, { delete: true })).toEqual([oneImageLayer])
        expect(yield* blobFiles(dir)).toEqual(before.filter((d) => d !== oneImageLayer))
        const index = yield* Layout.read(dir)
        expect(yield* blobsOf(yield* index.image(imageDigest))).toEqual([imageDigest, imageConfig, imageLayer].sort())
      })
    )

    it.effect("finds nothing to collect in test_index_one_image and test_index_media_type", () =>
      Effect.gen(function* () {
        expect(yield* Layout.garbageCollect(fixture("test_index_one_image"))).toEqual([])
        expect(yield* Layout.garbageCollect(fixture("test_index_media_type"))).toEqual([])
      })
    )

    it.effect("keeps what a child of unknown media type references when its bytes are a manifest", () =>
      Effect.gen(function* () {
        expect(yield* Layout.garbageCollect(fixture("test_index"))).toEqual([])
      })
    )

    it.effect("fails with BlobNotFound when index.json lists a blob the layout does not hold", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Layout.garbageCollect(fixture("test_gc_image_unknown_mediatype")))
        expect(error._tag === "LayoutError" && error.reason).toBe("BlobNotFound")
      })
    )

    it.scoped("collects the blobs only a removed image used, and keeps a layer it shared", () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const [shared, onlyA, onlyB] = yield* Effect.forEach(["shared", "a", "b"], randomLayer)
        const imageA = imageOf([shared!, onlyA!])
        const imageB = imageOf([shared!, onlyB!])
        yield* Layout.appendImage(dir, imageA)
        yield* Layout.appendImage(dir, imageB)
        yield* Layout.removeDescriptors(dir, Layout.hasDigest(yield* imageA.digest))
        const collected = yield* Layout.garbageCollect(dir, { delete: true })
        expect(collected).toEqual([yield* imageA.digest, yield* imageA.configName, yield* onlyA!.digest].sort())
        expect(yield* blobFiles(dir)).toEqual(yield* blobsOf(imageB))
      })
    )

    it.scoped("leaves files under blobs/ that are not named by a digest", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* copyOf("test_index_one_image")
        yield* fs.writeFileString(join(dir, "blobs", "sha256", ".tmp-in-progress"), "partial")
        expect(yield* Layout.garbageCollect(dir, { delete: true })).toEqual([])
        expect(yield* fs.exists(join(dir, "blobs", "sha256", ".tmp-in-progress"))).toBe(true)
      })
    )
  })

  describe("index.json encoding", () => {
    it.scoped("keeps the fields of index.json it does not know when appending", () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const dir = yield* tempDir
        yield* Layout.create(dir)
        yield* fs.writeFileString(
          join(dir, "index.json"),
          JSON.stringify({ schemaVersion: 2, manifests: [], annotations: { keep: "me" }, extra: 1 })
        )
        yield* Layout.appendDescriptor(dir, { mediaType: MediaType.OCI_MANIFEST, size: 1, digest: bogus })
        const json = yield* readJson(join(dir, "index.json"))
        expect(json).toMatchObject({ annotations: { keep: "me" }, extra: 1 })
        expect(IndexManifest.decode(yield* fs.readFile(join(dir, "index.json")))._tag).toBe("Right")
      })
    )
  })
})
