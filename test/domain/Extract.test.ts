import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { readFileSync } from "node:fs"
import { gunzipSync } from "node:zlib"
import * as TarStream from "tar-stream"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import type * as Descriptor from "../../src/domain/Descriptor.js"
import * as Digest from "../../src/domain/Digest.js"
import * as Extract from "../../src/domain/Extract.js"
import type * as Image from "../../src/domain/Image.js"
import * as ImageLayer from "../../src/domain/ImageLayer.js"
import * as Tar from "../../src/domain/internal/tar.js"
import * as Manifest from "../../src/domain/Manifest.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Partial from "../../src/domain/Partial.js"
import * as Validate from "../../src/domain/Validate.js"

const text = new TextEncoder()
const mutateFixture = (name: string) => readFileSync(new URL(`../../../shared/fixtures/ggcr/mutate/${name}`, import.meta.url))

// ---------------------------------------------------------------------------------------------
// helpers: tar in and out with tar-stream, images from layers and from `docker save` tarballs
// ---------------------------------------------------------------------------------------------

interface Read {
  readonly name: string
  readonly type: string
  readonly linkname: string
  readonly body: Buffer
}

/** Every entry of a (small) tar, in order. */
const untar = (bytes: Uint8Array): Effect.Effect<ReadonlyArray<Read>> =>
  Effect.promise(async () => {
    const extract = TarStream.extract()
    const entries: Array<Read> = []
    const reading = (async () => {
      for await (const entry of extract) {
        const chunks: Array<Buffer> = []
        for await (const chunk of entry) chunks.push(chunk as Buffer)
        const h = entry.header
        entries.push({ name: h.name, type: h.type, linkname: h.linkname ?? "", body: Buffer.concat(chunks) })
      }
    })()
    extract.end(Buffer.from(bytes))
    await reading
    return entries
  })

/** One entry of a synthetic layer: a file unless a type is given. */
interface Spec {
  readonly name: string
  readonly type?: "file" | "directory" | "symlink" | "link"
  readonly body?: string
  readonly linkname?: string
}

const dir = (name: string): Spec => ({ name, type: "directory" })
const file = (name: string, body: string): Spec => ({ name, body })
const symlink = (name: string, linkname: string): Spec => ({ name, type: "symlink", linkname })
const hardlink = (name: string, linkname: string): Spec => ({ name, type: "link", linkname })
const whiteout = (name: string): Spec => ({ name, body: "" })

/** A tar of the specs, written by tar-stream. */
const tarOf = (specs: ReadonlyArray<Spec>): Effect.Effect<Uint8Array> =>
  Effect.promise(async () => {
    const pack = TarStream.pack()
    for (const spec of specs) {
      const type = spec.type ?? "file"
      const header = { name: spec.name, type, mode: type === "directory" ? 0o755 : 0o644, mtime: new Date(0) }
      if (type === "file") pack.entry(header, spec.body ?? "")
      else pack.entry({ ...header, linkname: spec.linkname ?? "" })
    }
    pack.finalize()
    const chunks: Array<Buffer> = []
    for await (const chunk of pack) chunks.push(chunk as Buffer)
    return new Uint8Array(Buffer.concat(chunks))
  })

const configOf = (diffIds: ReadonlyArray<string>, extra: Record<string, unknown> = {}) =>
  text.encode(JSON.stringify({ architecture: "amd64", os: "linux", ...extra, rootfs: { type: "layers", diff_ids: diffIds } }))

/** An image of uncompressed layer tars, bottom first. */
const imageOf = (tars: ReadonlyArray<Uint8Array>, options: Partial.ManifestOptions = {}, extra: Record<string, unknown> = {}) =>
  Partial.fromLayers(
    Effect.succeed(configOf(tars.map((t) => Digest.fromBytes(t)), extra)),
    Effect.succeed(tars.map((t) => ImageLayer.fromUncompressed(Stream.succeed(t)))),
    options
  )

/** An image of the layers the specs describe, bottom first. */
const imageOfSpecs = (layers: ReadonlyArray<ReadonlyArray<Spec>>) =>
  Effect.map(Effect.forEach(layers, tarOf), (tars) => imageOf(tars))

/** The image in a `docker save` tarball (legacy or OCI-era layout, layers plain or gzipped). */
const dockerSave = (name: string) =>
  Effect.gen(function* () {
    const files = new Map((yield* untar(mutateFixture(name))).map((e) => [e.name, e.body] as const))
    const saved = JSON.parse(files.get("manifest.json")!.toString()) as ReadonlyArray<{
      readonly Config: string
      readonly Layers: ReadonlyArray<string>
    }>
    const config = files.get(saved[0]!.Config)!
    const diffIds = ConfigFile.diffIds((yield* ConfigFile.decode(config)).value)
    const layers = new Map(
      saved[0]!.Layers.map((path, i) => {
        const stored = files.get(path)!
        return [diffIds[i]!, stored[0] === 0x1f ? gunzipSync(stored) : stored] as const
      })
    )
    return Partial.fromUncompressed({
      rawConfigFile: Effect.succeed(new Uint8Array(config)),
      uncompressedLayer: (diffId) => Stream.succeed(new Uint8Array(layers.get(diffId)!))
    })
  })

const bytesOf = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => new Uint8Array(Buffer.concat(Chunk.toReadonlyArray(chunks))))

const extracted = <E>(image: Image.Image<E>) => Effect.flatMap(bytesOf(Extract.extract(image)), untar)

// ---------------------------------------------------------------------------------------------
// the reference: apply layers in order, by hand, on a map of paths
// ---------------------------------------------------------------------------------------------

interface Node {
  readonly type: string
  readonly body: string
  readonly linkname: string
}

const clean = (name: string) => name.split("/").filter((p) => p !== "" && p !== ".").join("/") || "."
const parentOf = (path: string) => (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".")
const baseOf = (path: string) => path.slice(path.lastIndexOf("/") + 1)
const isUnder = (path: string, parent: string) => (parent === "." ? path !== "." : path.startsWith(`${parent}/`))

const applyLayers = (layers: ReadonlyArray<ReadonlyArray<Spec>>): Map<string, Node> => {
  const fs = new Map<string, Node>()
  const removeTree = (path: string) => {
    for (const key of [...fs.keys()]) if (key === path || isUnder(key, path)) fs.delete(key)
  }
  for (const layer of layers) {
    // A layer's whiteouts act on the layers below it only.
    for (const spec of layer) {
      const path = clean(spec.name)
      const base = baseOf(path)
      if (base === ".wh..wh..opq") {
        for (const key of [...fs.keys()]) if (isUnder(key, parentOf(path))) fs.delete(key)
      } else if (base.startsWith(".wh.")) {
        const parent = parentOf(path)
        removeTree(parent === "." ? base.slice(4) : `${parent}/${base.slice(4)}`)
      }
    }
    for (const spec of layer) {
      const path = clean(spec.name)
      if (baseOf(path).startsWith(".wh.")) continue
      const type = spec.type ?? "file"
      if (type !== "directory") removeTree(path)
      const linkname = type === "link" ? clean(spec.linkname ?? "") : (spec.linkname ?? "")
      fs.set(path, { type, body: spec.body ?? "", linkname })
    }
  }
  return fs
}

const asTree = (entries: ReadonlyArray<Read>): Map<string, Node> =>
  new Map(entries.map((e) => [clean(e.name), { type: e.type, body: e.body.toString(), linkname: e.linkname }]))

// ---------------------------------------------------------------------------------------------

describe("Extract.extract", () => {
  const layers: ReadonlyArray<ReadonlyArray<Spec>> = [
    [
      dir("./"),
      dir("./etc/"),
      dir("./etc/app/"),
      file("./etc/app/conf", "v1"),
      file("./etc/app/old", "old"),
      dir("./bin/"),
      file("./bin/tool", "tool v1"),
      dir("./data/"),
      file("./data/a", "a"),
      file("./data/b", "b"),
      dir("./data/sub/"),
      file("./data/sub/c", "c"),
      dir("./usr/"),
      dir("./usr/lib/"),
      file("./usr/lib/libx.so.1", "elf"),
      symlink("./usr/lib/libx.so", "libx.so.1"),
      dir("./keep/"),
      file("./keep/me", "me"),
      dir("./keep/deep/"),
      file("./keep/deep/er", "er"),
      dir("./hard/"),
      file("./hard/orig", "orig"),
      hardlink("./hard/link", "./hard/orig")
    ],
    [
      dir("etc/app"),
      file("etc/app/conf", "v2"),
      whiteout("etc/app/.wh.old"),
      dir("data/"),
      whiteout("data/.wh..wh..opq"),
      file("data/new", "new"),
      whiteout(".wh.keep")
    ],
    [
      dir("keep/"),
      file("keep/fresh", "fresh"),
      symlink("bin/tool", "tool-v2"),
      file("bin/tool-v2", "tool v2"),
      file("usr/lib", "now a file"),
      file("etc/app/conf", "v3")
    ]
  ]

  it.effect("gives the tree that applying the layers in order gives", () =>
    Effect.gen(function* () {
      const entries = yield* extracted(yield* imageOfSpecs(layers))
      expect(asTree(entries)).toEqual(applyLayers(layers))
    })
  )

  it.effect("writes each path once, normalised, with directories ending in a slash", () =>
    Effect.gen(function* () {
      const entries = yield* extracted(yield* imageOfSpecs(layers))
      const names = entries.map((e) => e.name)
      expect(new Set(names).size).toBe(names.length)
      for (const e of entries) {
        if (e.name === "./") continue
        expect(e.name.startsWith("./")).toBe(false)
        expect(e.name.endsWith("/")).toBe(e.type === "directory")
      }
      expect(names).toContain("./")
      expect(names).toContain("etc/app/")
    })
  )

  it.effect("never writes whiteout entries", () =>
    Effect.gen(function* () {
      const entries = yield* extracted(yield* imageOfSpecs(layers))
      expect(entries.filter((e) => e.name.includes(".wh."))).toEqual([])
    })
  )

  it.effect("keeps symlinks and hard links as entries, with hard link targets normalised", () =>
    Effect.gen(function* () {
      const tree = asTree(yield* extracted(yield* imageOfSpecs(layers)))
      expect(tree.get("bin/tool")).toEqual({ type: "symlink", body: "", linkname: "tool-v2" })
      expect(tree.get("hard/link")).toEqual({ type: "link", body: "", linkname: "hard/orig" })
    })
  )

  it.effect("writes the upper layer's entries first", () =>
    Effect.gen(function* () {
      const entries = yield* extracted(yield* imageOfSpecs(layers))
      expect(entries[0]?.name).toBe("keep/")
      expect(entries.at(-1)?.name).toBe("hard/link")
    })
  )

  it.effect("deletes a file whited out by a later layer (ggcr whiteout_image.tar)", () =>
    Effect.gen(function* () {
      const entries = yield* extracted(yield* dockerSave("whiteout_image.tar"))
      expect(entries.map((e) => e.name).sort()).toEqual(["./", "bar.txt"])
      expect(entries.find((e) => e.name === "bar.txt")?.body.toString()).toBe("bar\n")
    })
  )

  it.effect("hides everything under a deleted directory, even when a later layer recreates it (ggcr whiteout_dir.tar)", () =>
    Effect.gen(function* () {
      const entries = yield* extracted(yield* dockerSave("whiteout_dir.tar"))
      expect(entries.map((e) => e.name).sort()).toEqual(["a/", "a/baz", "b/", "b/bar"])
    })
  )

  it.effect("takes a file from the layer that last wrote it (ggcr overwritten_file.tar)", () =>
    Effect.gen(function* () {
      const entries = yield* extracted(yield* dockerSave("overwritten_file.tar"))
      const foo = entries.find((e) => e.name === "foo.txt")
      expect(foo).toMatchObject({ type: "symlink", linkname: "bar.txt" })
      expect(entries.filter((e) => e.body.toString().includes("foo"))).toEqual([])
    })
  )

  it.effect("hides lower entries of an opaque directory but keeps the same layer's", () =>
    Effect.gen(function* () {
      const image = yield* imageOfSpecs([
        [file("d/a.txt", "a"), file("d/b.txt", "b")],
        [file("d/c.txt", "c"), whiteout("d/.wh..wh..opq")]
      ])
      const names = (yield* extracted(image)).map((e) => e.name)
      expect(names).toEqual(["d/c.txt"])
    })
  )

  it.effect("refuses an entry whose path climbs out of the root", () =>
    Effect.gen(function* () {
      const image = yield* imageOfSpecs([[file("tmp/safe", "ok"), file("../tmp/evil", "x")]])
      const error = yield* Effect.flip(bytesOf(Extract.extract(image)))
      expect(error).toMatchObject({ _tag: "TarError", reason: "UnsafePath", path: "../tmp/evil" })
    })
  )

  it.effect("refuses absolute paths and Windows escapes", () =>
    Effect.gen(function* () {
      for (const name of ["/etc/passwd", "..\\..\\tmp\\evil", "\\tmp\\evil", "C:\\tmp\\evil", "C:/tmp/evil", "a/../../b"]) {
        const image = yield* imageOfSpecs([[file(name, "x")]])
        const error = yield* Effect.flip(bytesOf(Extract.extract(image)))
        expect(error).toMatchObject({ _tag: "TarError", reason: "UnsafePath" })
      }
    })
  )

  it.effect("drops links whose relative target escapes and keeps absolute and inner ones", () =>
    Effect.gen(function* () {
      const image = yield* imageOfSpecs([
        [
          symlink("usr/local/bin/ld.so", "../lib/ld-linux.so.2"),
          symlink("usr/local/bin/abs", "/etc/passwd"),
          symlink("etc/foo", "../../../tmp/evil"),
          symlink("etc/win", "..\\..\\tmp\\evil"),
          hardlink("etc/hard", "../outside")
        ]
      ])
      const names = (yield* extracted(image)).map((e) => e.name).sort()
      expect(names).toEqual(["usr/local/bin/abs", "usr/local/bin/ld.so"])
    })
  )

  it.effect("fails with the layer's own error when a layer cannot be read", () =>
    Effect.gen(function* () {
      const good = yield* tarOf([file("a", "a")])
      const broken = ImageLayer.make({
        digest: Effect.succeed(Digest.fromBytes("x")),
        diffId: Effect.succeed(Digest.fromBytes("x")),
        size: Effect.succeed(1),
        mediaType: Effect.succeed(MediaType.OCI_LAYER),
        compressed: Stream.fail("unreadable" as const),
        uncompressed: Stream.concat(Stream.succeed(good.subarray(0, 700)), Stream.fail("unreadable" as const))
      })
      const image = Partial.fromLayers(Effect.succeed(configOf([])), Effect.succeed([broken]))
      expect(yield* Effect.flip(bytesOf(Extract.extract(image)))).toBe("unreadable")
    })
  )

  it.effect("fails when a layer's bytes do not match its digest, though its tar is well formed", () =>
    Effect.gen(function* () {
      const tar = yield* tarOf([file("app/hello.txt", "hello world")])
      const config = configOf([Digest.fromBytes(tar)])
      const layer: Descriptor.Descriptor = { mediaType: MediaType.OCI_LAYER, digest: Digest.fromBytes(tar), size: tar.byteLength }
      const manifest = Manifest.encode(
        Manifest.make({ mediaType: MediaType.OCI_CONFIG, digest: Digest.fromBytes(config), size: config.byteLength }, [layer])
      )
      const tampered = Buffer.from(tar).toString("latin1").replace("hello world", "HELLO WORLD")
      const image = Partial.fromCompressed({
        rawManifest: Effect.succeed(manifest),
        blob: (d) => Stream.succeed(d.digest === layer.digest ? new Uint8Array(Buffer.from(tampered, "latin1")) : config)
      })
      const error = yield* Effect.flip(bytesOf(Extract.extract(image)))
      expect(error).toMatchObject({ _tag: "DigestMismatch", expected: layer.digest })
    })
  )

  /** An image of the layers, each counting how many layer streams are open. */
  const counting = (tars: ReadonlyArray<Uint8Array>) => {
    const state = { open: 0, most: 0, opened: 0 }
    const tracked = (tar: Uint8Array) =>
      Stream.acquireRelease(
        Effect.sync(() => {
          state.open++
          state.opened++
          state.most = Math.max(state.most, state.open)
        }),
        () => Effect.sync(() => state.open--)
      ).pipe(Stream.flatMap(() => Stream.fromIterable([tar.subarray(0, 700), tar.subarray(700)])))
    const image = Partial.fromLayers(
      Effect.succeed(configOf(tars.map((t) => Digest.fromBytes(t)))),
      Effect.succeed(tars.map((t) => ImageLayer.fromUncompressed(tracked(t), { diffId: Digest.fromBytes(t) })))
    )
    return { image, state }
  }

  it.effect("reads one layer at a time, closing each before opening the next", () =>
    Effect.gen(function* () {
      const { image, state } = counting(yield* Effect.forEach(layers, tarOf))
      yield* Stream.runDrain(Extract.extract(image))
      expect(state).toEqual({ open: 0, most: 1, opened: 3 })
    })
  )

  it.effect("can be read in part and abandoned, closing the layer it was reading", () =>
    Effect.gen(function* () {
      const { image, state } = counting(yield* Effect.forEach(layers, tarOf))
      const first = yield* Stream.runHead(Extract.extract(image))
      expect(first._tag).toBe("Some")
      expect(state.open).toBe(0)
      expect(state.opened).toBeLessThan(3)
    })
  )

  it.effect("streams a large file without reading its layer ahead", () =>
    Effect.gen(function* () {
      const MiB = 1024 * 1024
      const size = 64 * MiB
      let pulled = 0
      const piece = new Uint8Array(64 * 1024).fill(120)
      const body = Stream.repeatValue(piece).pipe(
        Stream.take(size / piece.byteLength),
        Stream.tap((chunk) => Effect.sync(() => (pulled += chunk.byteLength)))
      )
      const header = Tar.plainFileHeader("big.bin", size)
      const layerTar = Tar.write(Stream.make({ header, body }))
      const layer = ImageLayer.fromUncompressed(layerTar, { diffId: Digest.fromBytes("not measured") })
      const image = Partial.fromLayers(Effect.succeed(configOf([])), Effect.succeed([layer]))

      let seen = 0
      yield* Extract.extract(image).pipe(
        Stream.takeUntil((chunk) => (seen += chunk.byteLength) >= 2 * MiB),
        Stream.runDrain
      )
      expect(seen).toBeGreaterThanOrEqual(2 * MiB)
      expect(pulled).toBeLessThan(8 * MiB)

      const total = yield* Stream.runFold(Extract.extract(image), 0, (n, chunk) => n + chunk.byteLength)
      expect(total).toBe(512 + size + 1024)
    })
  )
})

describe("Extract.normalizePath", () => {
  it("treats ./a/b, a//b and a/b/ as a/b, and the root as .", () => {
    for (const name of ["./a/b", "a//b", "a/b/", "./a/./b/", "a/c/../b"]) {
      expect(Extract.normalizePath(name)).toMatchObject({ _tag: "Right", right: "a/b" })
    }
    expect(Extract.normalizePath("./")).toMatchObject({ _tag: "Right", right: "." })
    expect(Extract.normalizePath(".")).toMatchObject({ _tag: "Right", right: "." })
  })
})

describe("Extract.flatten", () => {
  const flattened = Effect.gen(function* () {
    const tars = yield* Effect.forEach(
      [
        [dir("app/"), file("app/a", "one"), file("app/gone", "x")],
        [whiteout("app/.wh.gone"), file("app/b", "two")]
      ],
      tarOf
    )
    const original = imageOf(
      tars,
      { mediaType: MediaType.DOCKER_MANIFEST, annotations: { "org.example": "kept" } },
      {
        author: "someone",
        config: { Env: ["PATH=/bin"], Cmd: ["/app/a"] },
        history: [{ created_by: "ADD a" }, { created_by: "ADD b", comment: "<b>" }]
      }
    )
    return { original, flat: Extract.flatten(original) }
  })

  it.effect("has one layer whose tar is the extracted filesystem", () =>
    Effect.gen(function* () {
      const { flat, original } = yield* flattened
      const layers = yield* flat.layers
      expect(layers.length).toBe(1)
      expect((yield* flat.manifest).layers.length).toBe(1)
      const tar = yield* bytesOf(layers[0]!.uncompressed)
      expect(Buffer.compare(tar, yield* bytesOf(Extract.extract(original)))).toBe(0)
      expect((yield* untar(tar)).map((e) => e.name)).toEqual(["app/b", "app/", "app/a"])
    })
  )

  it.effect("measures the layer's digest, size and diff id from its bytes", () =>
    Effect.gen(function* () {
      const { flat } = yield* flattened
      const [layer] = yield* flat.layers
      const gz = yield* bytesOf(layer!.compressed)
      expect(yield* layer!.digest).toBe(Digest.fromBytes(gz))
      expect(yield* layer!.size).toBe(gz.byteLength)
      expect(yield* layer!.diffId).toBe(Digest.fromBytes(gunzipSync(gz)))
      yield* Validate.validateImage(flat)
    })
  )

  it.effect("rewrites rootfs, created and history, keeping the rest of the config", () =>
    Effect.gen(function* () {
      const { flat, original } = yield* flattened
      const config = yield* flat.configFile
      const [layer] = yield* flat.layers
      expect(config.rootfs).toEqual({ type: "layers", diff_ids: [yield* layer!.diffId] })
      expect(config.created).toBe("1970-01-01T00:00:00Z")
      expect(config.history).toEqual([
        {
          created: "1970-01-01T00:00:00Z",
          created_by: `flatten ${yield* original.digest}`,
          comment: '[{"created_by":"ADD a"},{"created_by":"ADD b","comment":"\\u003cb\\u003e"}]'
        }
      ])
      expect(config).toMatchObject({ author: "someone", architecture: "amd64", os: "linux" })
      expect(config.config).toEqual({ Env: ["PATH=/bin"], Cmd: ["/app/a"] })
    })
  )

  it.effect("keeps the manifest media type and annotations, with layer and config types of its family", () =>
    Effect.gen(function* () {
      const { flat } = yield* flattened
      const manifest = yield* flat.manifest
      expect(yield* flat.mediaType).toBe(MediaType.DOCKER_MANIFEST)
      expect(manifest.annotations).toEqual({ "org.example": "kept" })
      expect(manifest.config.mediaType).toBe(MediaType.DOCKER_CONFIG)
      expect(manifest.layers[0]?.mediaType).toBe(MediaType.DOCKER_LAYER)
    })
  )

  it.effect("takes created_by from the options", () =>
    Effect.gen(function* () {
      const { original } = yield* flattened
      const config = yield* Extract.flatten(original, { createdBy: "crane flatten" }).configFile
      expect(config.history?.[0]?.created_by).toBe("crane flatten")
    })
  )
})
