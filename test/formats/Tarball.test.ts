import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { gunzipSync, gzipSync } from "node:zlib"
import { pack } from "tar-stream"
import type * as Compression from "../../src/domain/Compression.js"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import * as Digest from "../../src/domain/Digest.js"
import type * as Image from "../../src/domain/Image.js"
import * as ImageLayer from "../../src/domain/ImageLayer.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Partial from "../../src/domain/Partial.js"
import * as Reference from "../../src/domain/Reference.js"
import * as Tarball from "../../src/formats/Tarball.js"
import { readTarFiles } from "../domain/fixtures/tars.js"

const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../shared/fixtures/ggcr/tarball/${name}`, import.meta.url))

const text = new TextEncoder()

const bytesOf = <E>(s: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(s), (c) => new Uint8Array(Buffer.concat(Chunk.toReadonlyArray(c))))

/** An opener over bytes in memory, emitting small chunks so entries straddle chunk edges. */
const memoryOpener = (bytes: Uint8Array, chunk = 700): Tarball.Opener => {
  const chunks: Array<Uint8Array> = []
  for (let i = 0; i < bytes.byteLength; i += chunk) chunks.push(bytes.subarray(i, i + chunk))
  return () => Stream.fromIterable(chunks)
}

interface Item {
  readonly name: string
  readonly body?: Uint8Array | string
  readonly type?: "file" | "symlink" | "link" | "directory"
  readonly linkname?: string
}

/** Packs entries into a tar with tar-stream, independently of the code under test. */
const packTar = (items: ReadonlyArray<Item>) =>
  Effect.promise(async () => {
    const p = pack()
    for (const item of items) {
      if (item.type === "symlink" || item.type === "link" || item.type === "directory") {
        p.entry({ name: item.name, type: item.type, ...(item.linkname !== undefined ? { linkname: item.linkname } : {}) })
      } else {
        p.entry({ name: item.name, mtime: new Date(0) }, Buffer.from(item.body ?? ""))
      }
    }
    p.finalize()
    const parts: Array<Buffer> = []
    for await (const part of p) parts.push(part as Buffer)
    return new Uint8Array(Buffer.concat(parts))
  })

const configFor = (diffIds: ReadonlyArray<string>) =>
  text.encode(
    JSON.stringify({ architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: diffIds } })
  )

const layerTar = (seed: string) =>
  packTar([
    { name: `etc/${seed}.conf`, body: `setting=${seed}\n`.repeat(50) },
    { name: `usr/share/${seed}.txt`, body: `some text for ${seed}` }
  ])

/** A Docker v2 image over uncompressed tars, as a builder would make it (or over the layers given). */
const imageOf = <E = never>(tars: ReadonlyArray<Uint8Array>, layers?: ReadonlyArray<ImageLayer.ImageLayer<E>>) => {
  const all: ReadonlyArray<ImageLayer.ImageLayer<E | Compression.CompressionError>> =
    layers ?? tars.map((t) => ImageLayer.fromUncompressed(Stream.succeed(t)))
  return Partial.fromLayers(Effect.succeed(configFor(tars.map((t) => Digest.fromBytes(t)))), Effect.succeed(all), {
    mediaType: MediaType.DOCKER_MANIFEST
  })
}

const diffIdsOf = <E>(image: Image.Image<E>) => Effect.map(image.configFile, ConfigFile.diffIds)

const uncompressedDigests = <E>(image: Image.Image<E>) =>
  Effect.flatMap(image.layers, (layers) =>
    Effect.forEach(layers, (layer) => Effect.map(bytesOf(layer.uncompressed), (b) => Digest.fromBytes(b)))
  )

const tagOf = (s: string) => Reference.parseTag(s)

/** The failure of an effect; a success fails the test with a short message, not a dump of its value. */
const failureOf = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.flip(Effect.as(self, "expected a failure, but it succeeded" as const))

const fromFile = <A, E>(self: Effect.Effect<A, E, import("@effect/platform/FileSystem").FileSystem>) =>
  Effect.provide(self, NodeFileSystem.layer)

describe("Tarball.image (ggcr fixtures)", () => {
  for (const name of ["test_image_1.tar", "test_image_2.tar", "test_load_manifest.tar"]) {
    it.effect(`reads ${name}: its config decodes and each layer's bytes hash to the config's diff id`, () =>
      Effect.gen(function* () {
        const image = yield* Tarball.imageFromFile(fixture(name))
        const config = yield* image.configFile
        expect(config.history).toHaveLength(1)
        expect(config.os).toBe("linux")
        expect((yield* image.manifest).layers).toHaveLength(1)
        expect(yield* uncompressedDigests(image)).toEqual(ConfigFile.diffIds(config))
      }).pipe(fromFile)
    )
  }

  it.effect("describes legacy layer.tar layers by their gzipped bytes in a Docker manifest", () =>
    Effect.gen(function* () {
      const image = yield* Tarball.imageFromFile(fixture("test_image_1.tar"))
      const manifest = yield* image.manifest
      const [layer] = yield* image.layers
      const gz = yield* bytesOf(layer!.compressed)
      expect(manifest.mediaType).toBe(MediaType.DOCKER_MANIFEST)
      expect(manifest.config.mediaType).toBe(MediaType.DOCKER_CONFIG)
      expect(manifest.config.digest).toBe(
        "sha256:6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e"
      )
      expect(manifest.layers[0]?.digest).toBe(Digest.fromBytes(gz))
      expect(manifest.layers[0]?.size).toBe(gz.byteLength)
      expect(manifest.layers[0]?.mediaType).toBe(MediaType.DOCKER_LAYER)
      expect(yield* image.digest).toBe(Digest.fromBytes(yield* image.rawManifest))
    }).pipe(fromFile)
  )

  it.effect("loads manifest.json with its tags and layer paths", () =>
    Effect.gen(function* () {
      const manifest = yield* Effect.flatMap(Tarball.fileOpener(fixture("test_load_manifest.tar")), Tarball.loadManifest)
      expect(manifest).toHaveLength(1)
      expect(manifest[0]?.RepoTags).toEqual(["bazel/v1/tarball:test_image_1"])
      expect(manifest[0]?.Layers).toEqual(["555b1001d54ed229f56990845856f080b0707348b26b3aa85aaf58d5570cdee0/layer.tar"])
    }).pipe(fromFile)
  )

  it.effect("picks each image of a bundle by tag, matching tags by their full name", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["test_image_1", "6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e"],
        ["test_image_2:latest", "930705ce23e3b6ed4c08746b6fe880089c864fbaf62482702ae3fdd66b8c7fe9"],
        ["index.docker.io/library/test_image_1:latest", "6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e"]
      ]
      for (const [name, config] of cases) {
        const image = yield* Tarball.imageFromFile(fixture("test_bundle.tar"), { tag: yield* tagOf(name) })
        expect(yield* image.configName).toBe(`sha256:${config}`)
        expect(yield* uncompressedDigests(image)).toEqual(yield* diffIdsOf(image))
      }
    }).pipe(fromFile)
  )

  it.effect("refuses to guess which image of a bundle is meant", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(Tarball.imageFromFile(fixture("test_bundle.tar")))
      expect(error._tag).toBe("TarballError")
      expect(error._tag === "TarballError" && error.reason).toBe("AmbiguousImage")
    }).pipe(fromFile)
  )

  it.effect("fails with ImageNotFound for a tag the tarball does not carry", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(
        Tarball.imageFromFile(fixture("test_bundle.tar"), { tag: yield* tagOf("test_image_3") })
      )
      expect(error._tag === "TarballError" && error.reason).toBe("ImageNotFound")
    }).pipe(fromFile)
  )

  it.effect("follows a layer stored as a symlink to another layer's file", () =>
    Effect.gen(function* () {
      const image = yield* Tarball.imageFromFile(fixture("test_link.tar"), {
        tag: yield* tagOf("bazel/v1/tarball:test_image_3")
      })
      const diffId = "sha256:8897395fd26dc44ad0e2a834335b33198cb41ac4d98dfddf58eced3853fa7b17" as Digest.Digest
      const layer = yield* image.layerByDiffId(diffId)
      const tar = yield* bytesOf(layer.uncompressed)
      expect(tar.byteLength).toBe(10240)
      expect(Digest.fromBytes(tar)).toBe(diffId)
    }).pipe(fromFile)
  )

  it.effect("reads a Docker 25 tarball whose layers are OCI layout blobs", () =>
    Effect.gen(function* () {
      const image = yield* Tarball.imageFromFile(fixture("hello-world-v25.tar"))
      expect(yield* image.configName).toBe(
        "sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44"
      )
      expect((yield* image.configFile).architecture).toBe("arm64")
      expect(yield* uncompressedDigests(image)).toEqual([
        "sha256:12660636fe55438cc3ae7424da7ac56e845cdb52493ff9cf949c47a7f57f8b43"
      ])
      // The layer is stored as a plain tar, so it is gzipped (and typed as such), not kept as an OCI tar.
      const manifest = yield* image.manifest
      expect(manifest.layers[0]?.mediaType).toBe(MediaType.DOCKER_LAYER)
      const [layer] = yield* image.layers
      expect(gunzipSync(yield* bytesOf(layer!.compressed)).byteLength).toBe(10752)
    }).pipe(fromFile)
  )

  it.effect("fails with NoManifest when the tarball has no manifest.json", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(Tarball.imageFromFile(fixture("no_manifest.tar")))
      expect(error._tag === "TarballError" && error.reason).toBe("NoManifest")
    }).pipe(fromFile)
  )

  it.effect("fails with NullManifest when manifest.json is null", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(Tarball.imageFromFile(fixture("null_manifest.tar")))
      expect(error._tag === "TarballError" && error.reason).toBe("NullManifest")
    }).pipe(fromFile)
  )

  it.effect("fails with Io when the file does not exist", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(Tarball.imageFromFile(fixture("no_such_file.tar")))
      expect(error._tag === "TarballError" && error.reason).toBe("Io")
    }).pipe(fromFile)
  )
})

describe("Tarball.image (hand-made tarballs)", () => {
  const config = configFor(["sha256:" + "0".repeat(64)])

  it.effect("fails with Truncated when the tar ends inside an entry", () =>
    Effect.gen(function* () {
      const whole = new Uint8Array(readFileSync(fixture("test_image_1.tar")))
      const error = yield* failureOf(Tarball.image(memoryOpener(whole.subarray(0, 5000))))
      expect(error._tag === "TarballError" && error.reason).toBe("Truncated")
    })
  )

  it.effect("fails with EntryNotFound when manifest.json names a layer the tarball lacks", () =>
    Effect.gen(function* () {
      const tar = yield* packTar([
        { name: "config.json", body: config },
        { name: "manifest.json", body: JSON.stringify([{ Config: "config.json", Layers: ["missing/layer.tar"] }]) }
      ])
      const error = yield* failureOf(Tarball.image(memoryOpener(tar)))
      expect(error._tag === "TarballError" && error.reason).toBe("EntryNotFound")
      expect(error._tag === "TarballError" && error.path).toBe("missing/layer.tar")
    })
  )

  it.effect("fails with UnsafePath when manifest.json reaches outside the archive with ../", () =>
    Effect.gen(function* () {
      const tar = yield* packTar([
        { name: "config.json", body: config },
        { name: "manifest.json", body: JSON.stringify([{ Config: "../config.json", Layers: [] }]) }
      ])
      const error = yield* failureOf(Tarball.image(memoryOpener(tar)))
      expect(error._tag === "TarballError" && error.reason).toBe("UnsafePath")
    })
  )

  it.effect("fails with UnsafePath when a layer is a symlink out of the archive", () =>
    Effect.gen(function* () {
      const tar = yield* packTar([
        { name: "config.json", body: config },
        { name: "layer/layer.tar", type: "symlink", linkname: "../../etc/passwd" },
        { name: "manifest.json", body: JSON.stringify([{ Config: "config.json", Layers: ["layer/layer.tar"] }]) }
      ])
      const error = yield* failureOf(Tarball.image(memoryOpener(tar)))
      expect(error._tag === "TarballError" && error.reason).toBe("UnsafePath")
    })
  )

  it.effect("fails with LinkCycle when links point at each other", () =>
    Effect.gen(function* () {
      const tar = yield* packTar([
        { name: "manifest.json", type: "symlink", linkname: "config.json" },
        { name: "config.json", type: "symlink", linkname: "manifest.json" }
      ])
      const error = yield* failureOf(Tarball.loadManifest(memoryOpener(tar)))
      expect(error._tag === "TarballError" && error.reason).toBe("LinkCycle")
    })
  )

  it.effect("finds manifest.json written as ./manifest.json", () =>
    Effect.gen(function* () {
      const tar = yield* packTar([{ name: "./manifest.json", body: "[]" }])
      expect(yield* Tarball.loadManifest(memoryOpener(tar))).toEqual([])
    })
  )

  it.effect("fails with InvalidManifest when manifest.json is not a list of images", () =>
    Effect.gen(function* () {
      const tar = yield* packTar([{ name: "manifest.json", body: JSON.stringify({ Config: "x" }) }])
      const error = yield* failureOf(Tarball.loadManifest(memoryOpener(tar)))
      expect(error._tag === "TarballError" && error.reason).toBe("InvalidManifest")
    })
  )

  it.effect("fails reading layers when the config lists more diff ids than manifest.json has layers", () =>
    Effect.gen(function* () {
      const tar = yield* packTar([
        { name: "config.json", body: config },
        { name: "manifest.json", body: JSON.stringify([{ Config: "config.json", Layers: [] }]) }
      ])
      const image = yield* Tarball.image(memoryOpener(tar))
      const error = yield* failureOf(image.layers)
      expect(error._tag === "TarballError" && error.reason).toBe("InvalidManifest")
    })
  )

  it.effect("fails with DigestMismatch when a layer's bytes are not its config's diff id", () =>
    Effect.gen(function* () {
      const real = yield* layerTar("real")
      const tar = yield* packTar([
        { name: "config.json", body: config },
        { name: "layer.tar", body: real },
        { name: "manifest.json", body: JSON.stringify([{ Config: "config.json", Layers: ["layer.tar"] }]) }
      ])
      const image = yield* Tarball.image(memoryOpener(tar))
      const [layer] = yield* image.layers
      const error = yield* failureOf(bytesOf(layer!.uncompressed))
      expect(error._tag).toBe("DigestMismatch")
    })
  )

  it.effect("reads layers stored gzipped, keeping their bytes and digests", () =>
    Effect.gen(function* () {
      const raw = yield* layerTar("gz")
      const gz = gzipSync(raw)
      const tar = yield* packTar([
        { name: "config.json", body: configFor([Digest.fromBytes(raw)]) },
        { name: "layer.tar.gz", body: gz },
        { name: "manifest.json", body: JSON.stringify([{ Config: "config.json", Layers: ["layer.tar.gz"] }]) }
      ])
      const image = yield* Tarball.image(memoryOpener(tar))
      const manifest = yield* image.manifest
      expect(manifest.layers[0]?.digest).toBe(Digest.fromBytes(gz))
      expect(manifest.layers[0]?.size).toBe(gz.byteLength)
      const [layer] = yield* image.layers
      expect(Buffer.compare(yield* bytesOf(layer!.compressed), gz)).toBe(0)
      expect(Buffer.compare(yield* bytesOf(layer!.uncompressed), raw)).toBe(0)
    })
  )

  it.effect("reads a tarball that was itself gzipped (docker save | gzip)", () =>
    Effect.gen(function* () {
      const whole = gzipSync(readFileSync(fixture("test_image_1.tar")))
      const image = yield* Tarball.image(memoryOpener(new Uint8Array(whole)))
      expect(yield* uncompressedDigests(image)).toEqual(yield* diffIdsOf(image))
    })
  )

  it.effect("keeps a foreign layer's recorded descriptor, urls included", () =>
    Effect.gen(function* () {
      const raw = yield* layerTar("foreign")
      const source = {
        mediaType: MediaType.DOCKER_FOREIGN_LAYER,
        size: 1234,
        digest: Digest.fromBytes("the foreign blob"),
        urls: ["https://example.com/layer"]
      }
      const tar = yield* packTar([
        { name: "config.json", body: configFor([Digest.fromBytes(raw)]) },
        { name: "layer.tar", body: raw },
        {
          name: "manifest.json",
          body: JSON.stringify([
            { Config: "config.json", Layers: ["layer.tar"], LayerSources: { [Digest.fromBytes(raw)]: source } }
          ])
        }
      ])
      const image = yield* Tarball.image(memoryOpener(tar))
      expect((yield* image.manifest).layers[0]).toEqual(source)
    })
  )

  it.effect("fails with the opener's own error when reading the tarball fails", () =>
    Effect.gen(function* () {
      const whole = new Uint8Array(readFileSync(fixture("test_image_1.tar")))
      const failing: Tarball.Opener<{ readonly _tag: "DiskError" }> = () =>
        Stream.concat(Stream.succeed(whole.subarray(0, 3000)), Stream.fail({ _tag: "DiskError" } as const))
      const error = yield* failureOf(Tarball.image(failing))
      expect(error._tag).toBe("DiskError")
    })
  )

  it.effect("stays readable after a layer read that stopped early, and reads layers concurrently", () =>
    Effect.gen(function* () {
      const tars = [yield* layerTar("one"), yield* layerTar("two"), yield* layerTar("three")]
      const tar = yield* bytesOf(Tarball.write([[yield* tagOf("a"), imageOf(tars)]]))
      const image = yield* Tarball.image(memoryOpener(tar, 100))
      const layers = yield* image.layers
      const first = yield* Stream.runCollect(Stream.take(layers[0]!.uncompressed, 1))
      expect(first.length).toBe(1)
      const all = yield* Effect.forEach(layers, (layer) => bytesOf(layer.uncompressed), { concurrency: "unbounded" })
      expect(all.map((b) => Digest.fromBytes(b))).toEqual(tars.map((t) => Digest.fromBytes(t)))
    })
  )

  it.effect("reads manifest.json and the config once however often they are asked for", () =>
    Effect.gen(function* () {
      const whole = new Uint8Array(readFileSync(fixture("test_image_1.tar")))
      let opens = 0
      const inner = memoryOpener(whole)
      const counting: Tarball.Opener = () => Stream.suspend(() => {
        opens++
        return inner()
      })
      const image = yield* Tarball.image(counting)
      const afterOpen = opens
      yield* image.rawConfigFile
      yield* image.configFile
      yield* Tarball.loadManifest(memoryOpener(whole))
      expect(afterOpen).toBe(2)
      expect(opens).toBe(afterOpen)
      // Each read of a layer's bytes goes back to the tarball.
      const [layer] = yield* image.layers
      yield* bytesOf(layer!.uncompressed)
      yield* bytesOf(layer!.uncompressed)
      expect(opens).toBe(afterOpen + 2)
    })
  )
})

describe("Tarball.write", () => {
  it.effect("round-trips an image: same manifest digest, config digest, layer digests and diff ids", () =>
    Effect.gen(function* () {
      const original = imageOf([yield* layerTar("a"), yield* layerTar("b")])
      const tar = yield* bytesOf(Tarball.write([[yield* tagOf("gcr.io/foo/bar:v1"), original]]))
      const copy = yield* Tarball.image(memoryOpener(tar))
      expect(yield* copy.configName).toBe(yield* original.configName)
      expect(yield* diffIdsOf(copy)).toEqual(yield* diffIdsOf(original))
      expect(yield* uncompressedDigests(copy)).toEqual(yield* diffIdsOf(original))
      const layerDigests = (m: { readonly layers: ReadonlyArray<{ readonly digest: string }> }) =>
        m.layers.map((l) => l.digest)
      expect(layerDigests(yield* copy.manifest)).toEqual(layerDigests(yield* original.manifest))
      expect(yield* copy.digest).toBe(yield* original.digest)
    })
  )

  it.effect("writes the config as sha256:<hex>, layers as <hex>.tar.gz, then manifest.json and repositories", () =>
    Effect.gen(function* () {
      const image = imageOf([yield* layerTar("a")])
      const entries = yield* readTarFiles(yield* bytesOf(Tarball.write([[yield* tagOf("ubuntu"), image]])))
      const manifest = yield* image.manifest
      const layerName = `${Digest.hex(manifest.layers[0]!.digest)}.tar.gz`
      expect(entries.map((e) => e.name)).toEqual([manifest.config.digest, layerName, "manifest.json", "repositories"])
      expect(JSON.parse(entries[2]!.content.toString())).toEqual([
        { Config: manifest.config.digest, RepoTags: ["ubuntu:latest"], Layers: [layerName] }
      ])
      expect(JSON.parse(entries[3]!.content.toString())).toEqual({
        ubuntu: { latest: Digest.hex(manifest.layers[0]!.digest) }
      })
      expect(Buffer.compare(entries[0]!.content, Buffer.from(yield* image.rawConfigFile))).toBe(0)
    })
  )

  it.effect("writes a layer shared by two images once, and reads each image back by its tag", () =>
    Effect.gen(function* () {
      const shared = yield* layerTar("shared")
      const one = imageOf([shared])
      const two = imageOf([shared, yield* layerTar("extra")])
      const tagOne = yield* tagOf("gcr.io/foo/bar:latest")
      const tagTwo = yield* tagOf("gcr.io/baz/bat:latest")
      const tar = yield* bytesOf(Tarball.write(new Map([[tagOne, one], [tagTwo, two]])))
      const layerFiles = (yield* readTarFiles(tar)).filter((e) => e.name.endsWith(".tar.gz"))
      expect(layerFiles).toHaveLength(2)
      for (const [tag, image] of [[tagOne, one], [tagTwo, two]] as const) {
        const copy = yield* Tarball.image(memoryOpener(tar), { tag })
        expect(yield* copy.digest).toBe(yield* image.digest)
      }
    })
  )

  it.effect("writes an image under several references once, listing every tag and none for digests", () =>
    Effect.gen(function* () {
      const image = imageOf([yield* layerTar("a")])
      const digestRef = yield* Reference.parseDigest(`gcr.io/baz/baz@${yield* image.digest}`)
      const manifest = yield* Tarball.computeManifest([
        [yield* tagOf("gcr.io/foo/bar:1"), image],
        [digestRef, image],
        [yield* tagOf("gcr.io/foo/bar:2"), image]
      ])
      expect(manifest).toHaveLength(1)
      expect(manifest[0]?.RepoTags).toEqual(["gcr.io/foo/bar:1", "gcr.io/foo/bar:2"])
      const untagged = yield* Tarball.computeManifest([[digestRef, image]])
      expect(untagged[0]?.RepoTags).toBeNull()
    })
  )

  it.effect("records foreign layers in LayerSources and reads them back with their descriptor", () =>
    Effect.gen(function* () {
      const base = yield* layerTar("base")
      const foreignTar = yield* layerTar("foreign")
      const foreign = ImageLayer.fromUncompressed(Stream.succeed(foreignTar), {
        mediaType: MediaType.DOCKER_FOREIGN_LAYER,
        urls: ["https://example.com/foreign"]
      })
      const image = imageOf([base, foreignTar], [ImageLayer.fromUncompressed(Stream.succeed(base)), foreign])
      const tar = yield* bytesOf(Tarball.write([[yield* tagOf("gcr.io/foo/bar:latest"), image]]))
      const written = yield* Tarball.loadManifest(memoryOpener(tar))
      const descriptor = (yield* image.manifest).layers[1]
      expect(written[0]?.LayerSources).toEqual({ [Digest.fromBytes(foreignTar)]: descriptor })
      const copy = yield* Tarball.image(memoryOpener(tar))
      const layer = (yield* copy.manifest).layers[1]
      expect(layer?.mediaType).toBe(MediaType.DOCKER_FOREIGN_LAYER)
      expect(layer?.urls).toEqual(["https://example.com/foreign"])
      expect(yield* copy.digest).toBe(yield* image.digest)
    })
  )

  it.effect("fails with DigestMismatch instead of writing a layer whose bytes are not its digest", () =>
    Effect.gen(function* () {
      const raw = yield* layerTar("a")
      const liar = ImageLayer.fromCompressed(Stream.succeed(gzipSync(raw)), {
        digest: Digest.fromBytes("something else"),
        size: gzipSync(raw).byteLength,
        diffId: Digest.fromBytes(raw)
      })
      const image = imageOf([raw], [liar])
      const error = yield* failureOf(bytesOf(Tarball.write([[yield* tagOf("a"), image]])))
      expect(error._tag).toBe("DigestMismatch")
    })
  )

  it.effect("fails with NoImages when given nothing to write", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(bytesOf(Tarball.write<never>([])))
      expect(error._tag === "TarballError" && error.reason).toBe("NoImages")
    })
  )

  it.effect("writes names longer than ustar's 100 bytes through a PAX header", () =>
    Effect.gen(function* () {
      const raw = yield* layerTar("a")
      const config = configFor([Digest.fromBytes(raw)])
      const image = Partial.fromLayers(Effect.succeed(config), Effect.succeed([ImageLayer.fromUncompressed(Stream.succeed(raw))]), {
        mediaType: MediaType.DOCKER_MANIFEST
      })
      const configBlob = yield* image.rawConfigFile
      // A sha512-named config makes a 135-byte entry name.
      const sha512 = Digest.fromBytes(configBlob, "sha512")
      const renamed: Image.Image<unknown> = {
        ...image,
        configName: Effect.succeed(sha512),
        manifest: Effect.map(image.manifest, (m) => ({ ...m, config: { ...m.config, digest: sha512 } }))
      }
      const entries = yield* readTarFiles(yield* bytesOf(Tarball.write([[yield* tagOf("a"), renamed]])))
      expect(entries[0]?.name).toBe(sha512)
      expect(Buffer.compare(entries[0]!.content, Buffer.from(configBlob))).toBe(0)
    })
  )
})

describe("Tarball.writeToFile", () => {
  const tempDir = () => mkdtempSync(join(tmpdir(), "tarball-test-"))

  it.effect("writes a tarball that reads back, leaving no temporary file", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const path = join(dir, "image.tar")
      const image = imageOf([yield* layerTar("a")])
      yield* Tarball.writeToFile(path, [[yield* tagOf("gcr.io/foo/bar:latest"), image]])
      expect(readdirSync(dir)).toEqual(["image.tar"])
      const copy = yield* Tarball.imageFromFile(path, { tag: yield* tagOf("gcr.io/foo/bar:latest") })
      expect(yield* copy.digest).toBe(yield* image.digest)
      rmSync(dir, { recursive: true })
    }).pipe(fromFile)
  )

  it.effect("leaves no file behind when writing fails midway", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const path = join(dir, "image.tar")
      const raw = yield* layerTar("a")
      const gz = gzipSync(raw)
      const broken = ImageLayer.fromCompressed(
        Stream.concat(Stream.succeed(gz.subarray(0, 10)), Stream.fail("disk went away")),
        { digest: Digest.fromBytes(gz), size: gz.byteLength, diffId: Digest.fromBytes(raw) }
      )
      const image = imageOf([raw], [broken])
      const error = yield* failureOf(Tarball.writeToFile(path, [[yield* tagOf("a"), image]]))
      expect(error).toBe("disk went away")
      expect(existsSync(path)).toBe(false)
      expect(readdirSync(dir)).toEqual([])
      rmSync(dir, { recursive: true })
    }).pipe(fromFile)
  )
})

describe("Tarball.layerFromOpener", () => {
  it.effect("gzips a plain tar layer, with the diff id of the tar and the digest of the gzip", () =>
    Effect.gen(function* () {
      const raw = new Uint8Array(readFileSync(fixture("content.tar")))
      const layer = yield* Tarball.layerFromFile(fixture("content.tar"))
      const gz = yield* bytesOf(layer.compressed)
      expect(gz[0]).toBe(0x1f)
      expect(yield* layer.diffId).toBe(Digest.fromBytes(raw))
      expect(yield* layer.digest).toBe(Digest.fromBytes(gz))
      expect(yield* layer.size).toBe(gz.byteLength)
      expect(Buffer.compare(gunzipSync(gz), raw)).toBe(0)
      expect(yield* layer.mediaType).toBe(MediaType.DOCKER_LAYER)
    }).pipe(fromFile)
  )

  it.effect("keeps a gzipped layer's bytes as they are", () =>
    Effect.gen(function* () {
      const raw = new Uint8Array(readFileSync(fixture("content.tar")))
      const gz = new Uint8Array(gzipSync(raw))
      const layer = yield* Tarball.layerFromOpener(memoryOpener(gz))
      expect(yield* layer.digest).toBe(Digest.fromBytes(gz))
      expect(yield* layer.size).toBe(gz.byteLength)
      expect(yield* layer.diffId).toBe(Digest.fromBytes(raw))
    })
  )

  it.effect("takes the media type it is given", () =>
    Effect.gen(function* () {
      const raw = new Uint8Array(readFileSync(fixture("content.tar")))
      const layer = yield* Tarball.layerFromOpener(memoryOpener(raw), { mediaType: MediaType.OCI_LAYER_GZIP })
      expect((yield* layer.descriptor).mediaType).toBe(MediaType.OCI_LAYER_GZIP)
    })
  )

  it.effect("fails with Io for a layer file that does not exist", () =>
    Effect.gen(function* () {
      const error = yield* failureOf(Tarball.layerFromFile(fixture("no_such_layer.tar")))
      expect(error.reason).toBe("Io")
    }).pipe(fromFile)
  )
})
