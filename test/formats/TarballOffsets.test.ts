/**
 * Reading `docker save` tarballs from files by offset: after the one scan that opens an
 * image, the config and each layer are read straight from where their bytes are, never by
 * going over the tar before them again.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { pack } from "tar-stream"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import * as Digest from "../../src/domain/Digest.js"
import type * as Image from "../../src/domain/Image.js"
import * as ImageLayer from "../../src/domain/ImageLayer.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Partial from "../../src/domain/Partial.js"
import * as Reference from "../../src/domain/Reference.js"
import * as Validate from "../../src/domain/Validate.js"
import * as Tarball from "../../src/formats/Tarball.js"

const fixtures = fileURLToPath(new URL("../../../shared/fixtures/", import.meta.url))

const bytesOf = <E>(s: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(s), (c) => new Uint8Array(Buffer.concat(Chunk.toReadonlyArray(c))))

/** Counts the bytes every `FileSystem.stream` of the Node file system emits. */
const countingFileSystem = (counter: { bytes: number }) =>
  Layer.effect(
    FileSystem.FileSystem,
    Effect.map(FileSystem.FileSystem, (fs) =>
      FileSystem.FileSystem.of({
        ...fs,
        stream: (path, options) =>
          fs.stream(path, options).pipe(Stream.tap((chunk) => Effect.sync(() => (counter.bytes += chunk.byteLength))))
      }))
  ).pipe(Layer.provide(NodeFileSystem.layer))

/** An opener over a file's bytes with no `range`: every read goes over the tar from its start. */
const plainOpener = (path: string): Tarball.Opener => {
  const bytes = new Uint8Array(readFileSync(path))
  return () => Stream.fromIterable([bytes.subarray(0, 1000), bytes.subarray(1000)])
}

/** A plain tar layer with an incompressible file of `size` bytes. */
const randomLayer = (size: number) =>
  Effect.promise(async () => {
    const p = pack()
    p.entry({ name: "data.bin", mtime: new Date(0) }, randomBytes(size))
    p.finalize()
    const parts: Array<Buffer> = []
    for await (const part of p) parts.push(part as Buffer)
    return new Uint8Array(Buffer.concat(parts))
  })

const imageOf = (tars: ReadonlyArray<Uint8Array>) =>
  Partial.fromLayers(
    Effect.succeed(
      new TextEncoder().encode(
        JSON.stringify({
          architecture: "amd64",
          os: "linux",
          config: {},
          rootfs: { type: "layers", diff_ids: tars.map((t) => Digest.fromBytes(t)) }
        })
      )
    ),
    Effect.succeed(tars.map((t) => ImageLayer.fromUncompressed(Stream.succeed(t)))),
    { mediaType: MediaType.DOCKER_MANIFEST }
  )

const uncompressedDigests = <E>(image: Image.Image<E>) =>
  Effect.flatMap(image.layers, (layers) =>
    Effect.forEach(layers, (layer) => Effect.map(bytesOf(layer.uncompressed), (b) => Digest.fromBytes(b)))
  )

/** The failure of an effect; a success fails the test with a short message, not a dump of its value. */
const failureOf = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flip(Effect.as(self, "expected a failure, but it succeeded" as const))

const tempDir = () => mkdtempSync(join(tmpdir(), "tarball-offsets-"))

// Hand-made tar headers, so that the long-name forms are exactly the ones asked for.

const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, "0") + "\0"

/** One 512-byte header: `0` a file, `x` a PAX header, `L` a GNU long name, `g` a PAX global header. */
const header = (name: string, size: number, type: "0" | "x" | "L" | "g", gnu = false): Buffer => {
  const block = Buffer.alloc(512)
  block.write(name.slice(0, 100), 0, "utf8")
  block.write(octal(0o644, 8), 100)
  block.write(octal(0, 8), 108)
  block.write(octal(0, 8), 116)
  block.write(octal(size, 12), 124)
  block.write(octal(0, 12), 136)
  block.write(type, 156)
  if (gnu) block.write("ustar  \0", 257, "binary")
  else block.write("ustar\u000000", 257, "binary")
  block.write("        ", 148)
  let sum = 0
  for (const byte of block) sum += byte
  block.write(octal(sum, 7) + " ", 148)
  return block
}

const padded = (body: Uint8Array): Buffer => Buffer.concat([Buffer.from(body), Buffer.alloc((512 - (body.byteLength % 512)) % 512)])

const paxRecord = (key: string, value: string): string => {
  const rest = ` ${key}=${value}\n`
  let length = rest.length + 1
  while (String(length).length + rest.length !== length) length = String(length).length + rest.length
  return `${length}${rest}`
}

const plainEntry = (name: string, body: Uint8Array) => [header(name, body.byteLength, "0"), padded(body)]

const paxEntry = (name: string, body: Uint8Array) => {
  const records = Buffer.from(paxRecord("path", name) + paxRecord("comment", "x".repeat(700)))
  return [header("PaxHeaders/long", records.byteLength, "x"), padded(records), header("short-pax", body.byteLength, "0"), padded(body)]
}

const gnuEntry = (name: string, body: Uint8Array) => {
  const long = Buffer.from(name + "\0")
  return [header("././@LongLink", long.byteLength, "L", true), padded(long), header(name.slice(0, 100), body.byteLength, "0", true), padded(body)]
}

describe("Tarball.image read from a file by offset", () => {
  it.effect("reads the last layer without reading the layers before it, and the image once to open it", () => {
    const counter = { bytes: 0 }
    const dir = tempDir()
    return Effect.gen(function* () {
      const tars = [yield* randomLayer(300_000), yield* randomLayer(300_000), yield* randomLayer(100_000)]
      const path = join(dir, "image.tar")
      yield* Tarball.writeToFile(path, [[yield* Reference.parseTag("a"), imageOf(tars)]])
      const fileSize = readFileSync(path).byteLength

      counter.bytes = 0
      const image = yield* Tarball.imageFromFile(path)
      const config = yield* image.rawConfigFile
      // One pass over the file to index it, then the config from where it is.
      expect(counter.bytes).toBe(fileSize + config.byteLength)

      const manifest = yield* image.manifest
      const layers = yield* image.layers
      counter.bytes = 0
      const last = yield* bytesOf(layers[2]!.compressed)
      expect(Digest.fromBytes(last)).toBe(manifest.layers[2]?.digest)
      // A read over the tar from its start would have gone over 600 kB of earlier layers.
      expect(counter.bytes).toBe(manifest.layers[2]?.size)

      counter.bytes = 0
      expect(Digest.fromBytes(yield* bytesOf(layers[1]!.uncompressed))).toBe(Digest.fromBytes(tars[1]!))
      expect(counter.bytes).toBe(manifest.layers[1]?.size)
    }).pipe(
      Effect.provide(countingFileSystem(counter)),
      Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    )
  })

  it.effect("finds the bytes of entries named through PAX and GNU long-name headers", () => {
    const counter = { bytes: 0 }
    const dir = tempDir()
    return Effect.gen(function* () {
      const tars = [yield* randomLayer(2000), yield* randomLayer(5000), yield* randomLayer(700)]
      const image = imageOf(tars)
      const config = yield* image.rawConfigFile
      const configName = `${"c".repeat(150)}/config.json`
      const names = [`${"p".repeat(130)}/layer.tar`, `${"g".repeat(120)}/${"h".repeat(40)}/layer.tar`, "short/layer.tar"]
      const manifest = Buffer.from(JSON.stringify([{ Config: configName, RepoTags: ["a:latest"], Layers: names }]))
      const globalPax = Buffer.from(paxRecord("comment", "global"))
      const tar = Buffer.concat([
        header("pax_global_header", globalPax.byteLength, "g"),
        padded(globalPax),
        ...paxEntry(configName, config),
        ...paxEntry(names[0]!, tars[0]!),
        ...gnuEntry(names[1]!, tars[1]!),
        ...plainEntry(names[2]!, tars[2]!),
        ...paxEntry("manifest.json", manifest),
        Buffer.alloc(1024)
      ])
      const path = join(dir, "long-names.tar")
      writeFileSync(path, tar)

      const read = yield* Tarball.imageFromFile(path)
      expect(Buffer.from(yield* read.rawConfigFile).equals(Buffer.from(config))).toBe(true)
      expect(yield* uncompressedDigests(read)).toEqual(tars.map((t) => Digest.fromBytes(t)))
      const layers = yield* read.layers
      counter.bytes = 0
      yield* bytesOf(layers[1]!.uncompressed)
      expect(counter.bytes).toBe(tars[1]!.byteLength)
      // The same image as read over the whole tar each time.
      const again = yield* Tarball.image(plainOpener(path))
      expect(yield* read.digest).toBe(yield* again.digest)
      expect(yield* read.digest).toBe(yield* image.digest)
    }).pipe(
      Effect.provide(countingFileSystem(counter)),
      Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    )
  })

  it.effect("fails with Truncated when the file was cut short after the image was opened", () => {
    const dir = tempDir()
    return Effect.gen(function* () {
      const tars = [yield* randomLayer(50_000), yield* randomLayer(50_000)]
      const path = join(dir, "image.tar")
      yield* Tarball.writeToFile(path, [[yield* Reference.parseTag("a"), imageOf(tars)]])
      const image = yield* Tarball.imageFromFile(path)
      const layers = yield* image.layers
      const manifest = yield* image.manifest
      yield* image.rawConfigFile
      truncateSync(path, manifest.config.size + (manifest.layers[0]?.size ?? 0) + 2048)
      const error = yield* failureOf(bytesOf(layers[1]!.compressed))
      expect(typeof error !== "string" && error._tag === "TarballError" && error.reason).toBe("Truncated")
    }).pipe(
      Effect.provide(NodeFileSystem.layer),
      Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    )
  })

  it.effect("fails with Corrupt when the bytes at an entry's offset changed after the image was opened", () => {
    const dir = tempDir()
    return Effect.gen(function* () {
      const tars = [yield* randomLayer(50_000)]
      const path = join(dir, "image.tar")
      yield* Tarball.writeToFile(path, [[yield* Reference.parseTag("a"), imageOf(tars)]])
      const image = yield* Tarball.imageFromFile(path)
      const [layer] = yield* image.layers
      // Shift everything by one block: the layer's offset now points into other bytes.
      writeFileSync(path, Buffer.concat([Buffer.alloc(512), readFileSync(path)]))
      const error = yield* failureOf(bytesOf(layer!.compressed))
      expect(typeof error !== "string" && error._tag === "TarballError" && error.reason).toBe("Corrupt")
    }).pipe(
      Effect.provide(NodeFileSystem.layer),
      Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    )
  })
})

describe("Tarball.image by offset on tarballs made by other tools", () => {
  const cases: ReadonlyArray<readonly [string, string | undefined]> = [
    ["containers-image/docker-archive/almostempty.tar", undefined],
    ["ggcr/tarball/hello-world-v25.tar", undefined],
    ["ggcr/tarball/test_image_1.tar", undefined],
    ["ggcr/tarball/test_load_manifest.tar", undefined],
    ["ggcr/tarball/test_bundle.tar", "test_image_2"],
    ["ggcr/tarball/test_link.tar", "bazel/v1/tarball:test_image_3"],
    ["ggcr/mutate/whiteout_image.tar", undefined],
    ["ggcr/mutate/overwritten_file.tar", undefined]
  ]
  for (const [name, tag] of cases) {
    it.effect(`reads ${name} as a read over the whole tar does, and it validates`, () =>
      Effect.gen(function* () {
        const path = join(fixtures, name)
        const options = tag === undefined ? {} : { tag: yield* Reference.parseTag(tag) }
        const byOffset = yield* Tarball.imageFromFile(path, options)
        const whole = yield* Tarball.image(plainOpener(path), options)
        expect(yield* byOffset.digest).toBe(yield* whole.digest)
        const diffIds = ConfigFile.diffIds(yield* byOffset.configFile)
        expect(yield* uncompressedDigests(byOffset)).toEqual(diffIds)
        const compressed = (image: Image.Image<unknown>) =>
          Effect.flatMap(image.layers, (layers) => Effect.forEach(layers, (l) => Effect.map(bytesOf(l.compressed), Digest.fromBytes)))
        expect(yield* compressed(byOffset)).toEqual(yield* compressed(whole))
        yield* Validate.validateImage(byOffset)
      }).pipe(Effect.provide(NodeFileSystem.layer))
    )
  }
})
