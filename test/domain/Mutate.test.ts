import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import { pipe } from "effect/Function"
import * as Stream from "effect/Stream"
import { readFileSync } from "node:fs"
import { gunzipSync } from "node:zlib"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import type * as Descriptor from "../../src/domain/Descriptor.js"
import * as Digest from "../../src/domain/Digest.js"
import * as Empty from "../../src/domain/Empty.js"
import type * as Image from "../../src/domain/Image.js"
import * as ImageLayer from "../../src/domain/ImageLayer.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Mutate from "../../src/domain/Mutate.js"
import * as Partial from "../../src/domain/Partial.js"
import * as Static from "../../src/domain/Static.js"
import { makeTar, readTar, type TarFile } from "./fixtures/tars.js"

const text = new TextEncoder()
const utf8 = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

const bytesOf = <E>(s: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(s), (c) => new Uint8Array(Buffer.concat(Chunk.toReadonlyArray(c))))

// ggcr's test layout: an index of two one-layer Docker images (and an index of one of them).
const layoutDir = new URL("../../../shared/fixtures/ggcr/layout/test_index/", import.meta.url)
const layoutBlob = (digest: string) =>
  new Uint8Array(readFileSync(new URL(`blobs/sha256/${digest.slice(7)}`, layoutDir)))
const fixtureImage = (digest: string) =>
  Partial.fromCompressed({
    rawManifest: Effect.succeed(layoutBlob(digest)),
    blob: (d: Descriptor.Descriptor) => Stream.succeed(layoutBlob(d.digest))
  })
const imageOne = "sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650"
/** The first fixture image with its manifest indented: bytes no encoder of ours would write. */
const indentedManifest = text.encode(JSON.stringify(JSON.parse(utf8(layoutBlob(imageOne))), null, 3))
const indentedImage = () =>
  Partial.fromCompressed({
    rawManifest: Effect.succeed(indentedManifest),
    blob: (d: Descriptor.Descriptor) => Stream.succeed(layoutBlob(d.digest))
  })
const imageTwo = "sha256:32589985702551b6c56033bb3334432a0a513bf9d6aceda0f67c42b003850720"
const fixtureIndex = Partial.indexFromCore({
  rawManifest: Effect.succeed(new Uint8Array(readFileSync(new URL("index.json", layoutDir)))),
  manifest: (d: Descriptor.Descriptor) => Effect.succeed(layoutBlob(d.digest)),
  blob: (d: Descriptor.Descriptor) => Stream.succeed(layoutBlob(d.digest))
})

/** A layer over a small tar, gzipped as the layer type says. */
const layerOf = (tar: Uint8Array, mediaType: MediaType.MediaType = MediaType.DOCKER_LAYER) =>
  ImageLayer.fromUncompressed(Stream.succeed(tar), { mediaType })

interface BuildOptions {
  readonly mediaType?: MediaType.MediaType
  readonly config?: Record<string, unknown>
  readonly history?: ReadonlyArray<ConfigFile.History>
}

/** An image over small tars, with a config of one history entry per layer unless given. */
const build = (tars: ReadonlyArray<Uint8Array>, options: BuildOptions = {}) => {
  const mediaType = options.mediaType ?? MediaType.OCI_MANIFEST
  const config = text.encode(
    JSON.stringify({
      architecture: "arm64",
      os: "linux",
      variant: "v8",
      ...options.config,
      history: options.history ?? tars.map((_, i) => ({ created: "2020-01-01T00:00:00Z", created_by: `step ${i}` })),
      rootfs: { type: "layers", diff_ids: tars.map((t) => Digest.fromBytes(t)) }
    })
  )
  const layers = tars.map((t) => layerOf(t, MediaType.layerFor(mediaType, "gzip")))
  return Partial.fromLayers(Effect.succeed(config), Effect.succeed(layers), { mediaType })
}

const tarOf = (name: string, content: string, extra: ReadonlyArray<TarFile> = []) =>
  makeTar([{ name, content }, ...extra])

const layerDigests = <E>(image: Image.Image<E>) =>
  Effect.flatMap(image.layers, (layers) => Effect.forEach(layers, (l) => l.digest))

const nonEmptyHistory = (config: ConfigFile.ConfigFile) => (config.history ?? []).filter((h) => h.empty_layer !== true)

describe("Mutate.appendLayers", () => {
  it.effect("returns an image with the same bytes when given no layers", () =>
    Effect.gen(function* () {
      const base = fixtureImage(imageOne)
      const result = Mutate.appendLayers(base, [])
      expect(yield* result.digest).toBe(imageOne)
      expect(utf8(yield* result.rawConfigFile)).toBe(utf8(yield* base.rawConfigFile))
    })
  )

  it.effect("puts the layer on top and records its diff id from its uncompressed bytes", () =>
    Effect.gen(function* () {
      const tar = yield* tarOf("hello.txt", "hello")
      const base = fixtureImage(imageOne)
      const result = Mutate.appendLayers(base, [layerOf(tar)])
      const manifest = yield* result.manifest
      const gz = yield* bytesOf((yield* result.layers)[1]!.compressed)
      expect(manifest.layers).toHaveLength(2)
      expect(manifest.layers[0]).toEqual((yield* base.manifest).layers[0])
      expect(manifest.layers[1]!.digest).toBe(Digest.fromBytes(gz))
      expect(Buffer.from(gunzipSync(gz)).equals(Buffer.from(tar))).toBe(true)
      const config = yield* result.configFile
      expect(ConfigFile.diffIds(config)).toEqual([
        ConfigFile.diffIds(yield* base.configFile)[0],
        Digest.fromBytes(tar)
      ])
    })
  )

  it.effect("changes the config digest and lists the new config by the digest of its bytes", () =>
    Effect.gen(function* () {
      const base = fixtureImage(imageOne)
      const result = Mutate.appendLayers(base, [layerOf(yield* tarOf("a", "a"))])
      const raw = yield* result.rawConfigFile
      expect(yield* result.configName).not.toBe(yield* base.configName)
      expect(yield* result.configName).toBe(Digest.fromBytes(raw))
      expect((yield* result.manifest).config.size).toBe(raw.byteLength)
      expect(yield* result.digest).toBe(Digest.fromBytes(yield* result.rawManifest))
    })
  )

  it.effect("adds a history entry at Go's zero time for each layer, as ggcr", () =>
    Effect.gen(function* () {
      const result = Mutate.appendLayers(fixtureImage(imageOne), [
        layerOf(yield* tarOf("a", "a")),
        layerOf(yield* tarOf("b", "b"))
      ])
      const config = yield* result.configFile
      const zero = { created: "0001-01-01T00:00:00Z" }
      expect(config.history?.slice(1)).toEqual([zero, zero])
      expect(nonEmptyHistory(config)).toHaveLength((yield* result.layers).length)
    })
  )

  it.effect("writes the config ggcr writes when appending to the empty image", () =>
    Effect.gen(function* () {
      const tar = yield* tarOf("a", "a")
      const result = Mutate.appendLayers(Empty.image, [layerOf(tar)])
      expect(utf8(yield* result.rawConfigFile)).toBe(
        '{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],' +
          `"os":"","rootfs":{"type":"layers","diff_ids":["${Digest.fromBytes(tar)}"]},"config":{}}`
      )
    })
  )

  it.effect("keeps an OCI manifest OCI and lists a Docker layer under the OCI gzip type", () =>
    Effect.gen(function* () {
      const base = build([yield* tarOf("base", "base")])
      const result = Mutate.appendLayers(base, [layerOf(yield* tarOf("top", "top"), MediaType.DOCKER_LAYER)])
      const manifest = yield* result.manifest
      expect(yield* result.mediaType).toBe(MediaType.OCI_MANIFEST)
      expect(manifest.layers[1]!.mediaType).toBe(MediaType.OCI_LAYER_GZIP)
      expect(manifest.config.mediaType).toBe(MediaType.OCI_CONFIG)
    })
  )

  it.effect("keeps a Docker manifest Docker and lists an OCI layer under the Docker gzip type", () =>
    Effect.gen(function* () {
      const layer = layerOf(yield* tarOf("top", "top"), MediaType.OCI_LAYER_GZIP)
      const result = Mutate.appendLayers(fixtureImage(imageOne), [layer])
      const manifest = yield* result.manifest
      expect(yield* result.mediaType).toBe(MediaType.DOCKER_MANIFEST)
      expect(manifest.layers.map((l) => l.mediaType)).toEqual([MediaType.DOCKER_LAYER, MediaType.DOCKER_LAYER])
    })
  )

  it.effect("finds appended layers by digest and by diff id", () =>
    Effect.gen(function* () {
      const tar = yield* tarOf("find-me", "here")
      const result = Mutate.appendLayers(fixtureImage(imageOne), [layerOf(tar)])
      const byDiffId = yield* result.layerByDiffId(Digest.fromBytes(tar))
      const byDigest = yield* result.layerByDigest(yield* byDiffId.digest)
      expect(yield* byDigest.diffId).toBe(Digest.fromBytes(tar))
      const config = yield* result.layerByDigest(yield* result.configName)
      expect(utf8(yield* bytesOf(config.compressed))).toBe(utf8(yield* result.rawConfigFile))
    })
  )

  it.effect("gives the same image data-first and piped", () =>
    Effect.gen(function* () {
      const layer = layerOf(yield* tarOf("a", "a"))
      const base = fixtureImage(imageOne)
      const piped = pipe(base, Mutate.appendLayers([layer]))
      expect(yield* piped.digest).toBe(yield* Mutate.appendLayers(base, [layer]).digest)
    })
  )

  it.effect("computes its result once however often it is read", () =>
    Effect.gen(function* () {
      const tar = yield* tarOf("counted", "counted")
      let opened = 0
      const layer = ImageLayer.fromUncompressed(
        Stream.suspend(() => {
          opened++
          return Stream.succeed(tar)
        })
      )
      const result = Mutate.appendLayers(fixtureImage(imageOne), [layer])
      yield* result.digest
      const afterFirst = opened
      yield* result.digest
      yield* result.manifest
      yield* result.configFile
      expect(afterFirst).toBeGreaterThan(0)
      expect(opened).toBe(afterFirst)
    })
  )
})

describe("Mutate.append", () => {
  it.effect("gives the layer descriptor the addendum's annotations, urls and media type", () =>
    Effect.gen(function* () {
      const result = Mutate.append(fixtureImage(imageOne), [
        {
          layer: layerOf(yield* tarOf("a", "a")),
          annotations: { "org.example/kind": "extra" },
          urls: ["https://example.com/blob"],
          mediaType: MediaType.DOCKER_FOREIGN_LAYER
        }
      ])
      const added = (yield* result.manifest).layers[1]!
      expect(added.annotations).toEqual({ "org.example/kind": "extra" })
      expect(added.urls).toEqual(["https://example.com/blob"])
      expect(added.mediaType).toBe(MediaType.DOCKER_FOREIGN_LAYER)
      expect(yield* (yield* result.layers)[1]!.mediaType).toBe(MediaType.DOCKER_FOREIGN_LAYER)
    })
  )

  it.effect("records the addendum's history entry, with Go's zero time when it has none", () =>
    Effect.gen(function* () {
      const result = Mutate.append(fixtureImage(imageOne), [
        { layer: layerOf(yield* tarOf("a", "a")), history: { author: "dave", created_by: "COPY a /" } }
      ])
      const history = (yield* result.configFile).history ?? []
      expect(history[1]).toEqual({ author: "dave", created_by: "COPY a /", created: "0001-01-01T00:00:00Z" })
    })
  )

  it.effect("records an empty-layer history entry without adding a layer", () =>
    Effect.gen(function* () {
      const result = Mutate.append(fixtureImage(imageOne), [
        { history: { created_by: "ENV A=1", empty_layer: true } },
        { layer: layerOf(yield* tarOf("a", "a")) }
      ])
      const config = yield* result.configFile
      expect(config.history).toHaveLength(3)
      expect(config.history?.[1]).toMatchObject({ created_by: "ENV A=1", empty_layer: true })
      expect(yield* result.layers).toHaveLength(2)
      expect(ConfigFile.diffIds(config)).toHaveLength(2)
      expect(nonEmptyHistory(config)).toHaveLength(2)
    })
  )

  it.effect("keeps an artifact's config bytes and only lists the layer", () =>
    Effect.gen(function* () {
      const artifact = Mutate.configMediaType(fixtureImage(imageOne), "application/vnd.example.config.v1+json")
      const result = Mutate.append(artifact, [{ layer: layerOf(yield* tarOf("a", "a")) }])
      expect(yield* result.configName).toBe(yield* fixtureImage(imageOne).configName)
      expect(utf8(yield* result.rawConfigFile)).toBe(utf8(layoutBlob(yield* result.configName)))
      expect((yield* result.manifest).layers).toHaveLength(2)
    })
  )
})

describe("Mutate.config, configFile and createdAt", () => {
  it.effect("config replaces the run configuration and changes only the config and manifest", () =>
    Effect.gen(function* () {
      const base = fixtureImage(imageOne)
      const result = Mutate.config(base, { Env: ["A=1"], Cmd: ["/bin/true"] })
      const config = yield* result.configFile
      expect(config.config).toEqual({ Env: ["A=1"], Cmd: ["/bin/true"] })
      expect(config.history).toEqual((yield* base.configFile).history)
      expect(yield* result.configName).not.toBe(yield* base.configName)
      expect(yield* result.configName).toBe(Digest.fromBytes(yield* result.rawConfigFile))
      expect(yield* result.digest).not.toBe(imageOne)
      expect((yield* result.manifest).layers).toEqual((yield* base.manifest).layers)
    })
  )

  it.effect("config with the run configuration the image has keeps its exact config and manifest bytes", () =>
    Effect.gen(function* () {
      // Config and manifest are indented: re-serialising either would change its bytes.
      const base = indentedImage()
      const result = Mutate.config(base, (yield* base.configFile).config ?? {})
      expect(yield* result.configName).toBe(yield* base.configName)
      expect(utf8(yield* result.rawConfigFile)).toBe(utf8(yield* base.rawConfigFile))
      expect(utf8(yield* result.rawManifest)).toBe(utf8(indentedManifest))
      expect(yield* result.digest).toBe(Digest.fromBytes(indentedManifest))
    })
  )

  it.effect("configFile replaces the whole config, serialised once", () =>
    Effect.gen(function* () {
      const base = fixtureImage(imageOne)
      const replacement: ConfigFile.ConfigFile = { ...(yield* base.configFile), os: "windows", "os.version": "10.0" }
      const result = Mutate.configFile(base, replacement)
      const raw = yield* result.rawConfigFile
      expect(utf8(raw)).toBe(utf8(ConfigFile.encode(replacement)))
      expect((yield* result.manifest).config).toMatchObject({ digest: Digest.fromBytes(raw), size: raw.byteLength })
      expect(yield* result.configFile).toEqual(replacement)
    })
  )

  it.effect("createdAt writes the time as Go's RFC 3339, with fractions only when there are some", () =>
    Effect.gen(function* () {
      const base = fixtureImage(imageOne)
      const whole = yield* Mutate.createdAt(base, new Date("2021-03-04T05:06:07Z")).configFile
      const fraction = yield* Mutate.createdAt(base, new Date("2021-03-04T05:06:07.250Z")).configFile
      expect(whole.created).toBe("2021-03-04T05:06:07Z")
      expect(fraction.created).toBe("2021-03-04T05:06:07.25Z")
    })
  )

  it.effect("createdAt changes the config digest", () =>
    Effect.gen(function* () {
      const base = fixtureImage(imageOne)
      const result = Mutate.createdAt(base, new Date("2021-03-04T05:06:07Z"))
      expect(yield* result.configName).not.toBe(yield* base.configName)
    })
  )

  it.effect("createdAt fails with InvalidTimestamp for an invalid date", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Mutate.createdAt(fixtureImage(imageOne), new Date("not a date")).digest)
      expect(error._tag).toBe("InvalidTimestamp")
      expect(error._tag === "InvalidTimestamp" && error.reason).toBe("NotADate")
    })
  )
})

describe("Mutate.mediaType, configMediaType, annotations and subject", () => {
  it.effect("mediaType changes the manifest digest but not the config digest", () =>
    Effect.gen(function* () {
      const base = fixtureImage(imageOne)
      const result = Mutate.mediaType(base, MediaType.OCI_MANIFEST)
      expect(yield* result.mediaType).toBe(MediaType.OCI_MANIFEST)
      expect((yield* result.manifest).mediaType).toBe(MediaType.OCI_MANIFEST)
      expect(yield* result.digest).not.toBe(imageOne)
      expect(yield* result.configName).toBe(yield* base.configName)
      expect(utf8(yield* result.rawConfigFile)).toBe(utf8(yield* base.rawConfigFile))
    })
  )

  it.effect("configMediaType changes the config descriptor's type and keeps the config bytes", () =>
    Effect.gen(function* () {
      const base = fixtureImage(imageOne)
      const result = Mutate.configMediaType(base, MediaType.OCI_CONFIG)
      const manifest = yield* result.manifest
      expect(manifest.config.mediaType).toBe(MediaType.OCI_CONFIG)
      expect(manifest.config.digest).toBe(yield* base.configName)
      expect(yield* result.digest).not.toBe(imageOne)
    })
  )

  it.effect("annotations give the manifest ggcr writes for the empty image", () =>
    Effect.gen(function* () {
      const result = Mutate.annotations(Empty.image, { foo: "bar" })
      expect(utf8(yield* result.rawManifest)).toBe(
        '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",' +
          '"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":115,' +
          '"digest":"sha256:5b943e2b943f6c81dbbd4e2eca5121f4fcc39139e3d1219d6d89bd925b77d9fe"},' +
          '"layers":[],"annotations":{"foo":"bar"}}'
      )
    })
  )

  it.effect("annotations merge with the ones the manifest has and leave the config alone", () =>
    Effect.gen(function* () {
      const base = fixtureImage(imageOne)
      const once = Mutate.annotations(base, { a: "1", b: "1" })
      const twice = Mutate.annotations(once, { b: "2" })
      expect((yield* twice.manifest).annotations).toEqual({ a: "1", b: "2" })
      expect(yield* twice.configName).toBe(yield* base.configName)
      expect(yield* twice.digest).not.toBe(yield* once.digest)
    })
  )

  it.effect("annotations with nothing new keep the manifest bytes", () =>
    Effect.gen(function* () {
      const result = Mutate.annotations(indentedImage(), {})
      expect(utf8(yield* result.rawManifest)).toBe(utf8(indentedManifest))
      expect(yield* result.digest).toBe(Digest.fromBytes(indentedManifest))
    })
  )

  it.effect("subject makes the manifest refer to another manifest", () =>
    Effect.gen(function* () {
      const target = yield* fixtureImage(imageTwo).descriptor
      const result = Mutate.subject(fixtureImage(imageOne), target)
      expect((yield* result.manifest).subject).toEqual(target)
      expect(utf8(yield* result.rawManifest)).toContain(`"subject":{"mediaType":"${target.mediaType}"`)
      expect(yield* result.configName).toBe(yield* fixtureImage(imageOne).configName)
    })
  )
})

describe("Mutate.time", () => {
  const date = new Date("2001-02-03T04:05:06Z")
  const longName = `${"deep/".repeat(25)}file.txt`
  const files: ReadonlyArray<TarFile> = [
    { name: "etc", type: "directory", mtime: new Date("2011-01-01T00:00:00Z") },
    { name: "etc/motd", content: "hi\n", mtime: new Date("2012-01-01T00:00:00Z") },
    { name: "etc/link", type: "symlink", linkname: "motd", mtime: new Date("2013-01-01T00:00:00Z") },
    { name: longName, content: "long", mtime: new Date("2014-01-01T00:00:00Z") },
    { name: "with-pax", content: "pax", pax: { mtime: "1234567890.5", "SCHILY.xattr.user.k": "v" } }
  ]

  it.effect("sets every entry's modification time in every layer to the date", () =>
    Effect.gen(function* () {
      const image = build([yield* makeTar(files), yield* tarOf("second", "2")])
      const result = Mutate.time(image, date)
      for (const layer of yield* result.layers) {
        const entries = yield* readTar(yield* bytesOf(layer.uncompressed))
        expect(entries.length).toBeGreaterThan(0)
        for (const entry of entries) expect(entry.mtime.toISOString()).toBe(date.toISOString())
      }
    })
  )

  it.effect("keeps every entry's name, type, link and content, and other PAX records", () =>
    Effect.gen(function* () {
      const result = Mutate.time(build([yield* makeTar(files)]), date)
      const entries = yield* readTar(yield* bytesOf((yield* result.layers)[0]!.uncompressed))
      expect(entries.map((e) => [e.name, e.type, e.content])).toEqual([
        ["etc", "directory", ""],
        ["etc/motd", "file", "hi\n"],
        ["etc/link", "symlink", ""],
        [longName, "file", "long"],
        ["with-pax", "file", "pax"]
      ])
      expect(entries[2]!.linkname).toBe("motd")
      expect(entries[4]!.pax).toMatchObject({ mtime: String(date.getTime() / 1000), "SCHILY.xattr.user.k": "v" })
    })
  )

  it.effect("records diff ids of the rewritten tars and lists gzip layers of the manifest's family", () =>
    Effect.gen(function* () {
      const result = Mutate.time(build([yield* makeTar(files)], { mediaType: MediaType.DOCKER_MANIFEST }), date)
      const layer = (yield* result.layers)[0]!
      const tar = yield* bytesOf(layer.uncompressed)
      const gz = yield* bytesOf(layer.compressed)
      const manifest = yield* result.manifest
      expect(ConfigFile.diffIds(yield* result.configFile)).toEqual([Digest.fromBytes(tar)])
      expect(manifest.layers[0]).toMatchObject({ mediaType: MediaType.DOCKER_LAYER, digest: Digest.fromBytes(gz) })
      expect(Buffer.from(gunzipSync(gz)).equals(Buffer.from(tar))).toBe(true)
    })
  )

  it.effect("sets created in the config and every history entry, and drops authors", () =>
    Effect.gen(function* () {
      const image = build([yield* tarOf("a", "a")], {
        config: { author: "someone", created: "2020-05-05T00:00:00Z" },
        history: [
          { created: "2020-05-05T00:00:00Z", created_by: "ENV X=1", author: "someone", empty_layer: true },
          { created: "2020-05-05T00:00:00Z", created_by: "COPY a /", author: "someone" }
        ]
      })
      const config = yield* Mutate.time(image, date).configFile
      expect(config.created).toBe("2001-02-03T04:05:06Z")
      expect(config.author).toBeUndefined()
      expect(config.history).toEqual([
        { created: "2001-02-03T04:05:06Z", created_by: "ENV X=1", empty_layer: true },
        { created: "2001-02-03T04:05:06Z", created_by: "COPY a /" }
      ])
      expect(config.variant).toBe("v8")
    })
  )

  it.effect("gives the same digest on every run and for tars that differ only in their times", () =>
    Effect.gen(function* () {
      const early = build([yield* makeTar(files)])
      const late = build([yield* makeTar(files.map((f) => ({ ...f, mtime: new Date("2019-09-09T09:09:09Z") })))])
      expect(yield* early.digest).not.toBe(yield* late.digest)
      const first = yield* Mutate.time(early, date).digest
      expect(yield* Mutate.time(early, date).digest).toBe(first)
      expect(yield* Mutate.time(late, date).digest).toBe(first)
    })
  )

  it.effect("rewrites the gzip layers of a real image", () =>
    Effect.gen(function* () {
      const result = Mutate.time(fixtureImage(imageOne), date)
      const entries = yield* readTar(yield* bytesOf((yield* result.layers)[0]!.uncompressed))
      expect(entries.map((e) => e.name)).toEqual(["./", "./bar", "./foo"])
      for (const entry of entries) expect(entry.mtime.toISOString()).toBe(date.toISOString())
      expect(yield* layerDigests(result)).not.toEqual(yield* layerDigests(fixtureImage(imageOne)))
    })
  )

  it.effect("fails with LayerRewriteError when a layer is not a tar", () =>
    Effect.gen(function* () {
      const image = build([text.encode("not a tar ".repeat(200))])
      const error = yield* Effect.flip(Mutate.time(image, date).digest)
      expect(error._tag).toBe("LayerRewriteError")
    })
  )

  it.effect("fails with InvalidTimestamp for a date a tar header cannot hold", () =>
    Effect.gen(function* () {
      const image = build([yield* tarOf("a", "a")])
      const error = yield* Effect.flip(Mutate.time(image, new Date("1960-01-01T00:00:00Z")).digest)
      expect(error._tag).toBe("InvalidTimestamp")
    })
  )
})

describe("Mutate.canonical", () => {
  const hostConfig = {
    author: "builder",
    container: "3f2a1b",
    docker_version: "24.0.7",
    created: "2023-03-03T03:03:03.123456789Z",
    container_config: { Hostname: "3f2a1b", Cmd: ["/bin/sh", "-c", "#(nop) COPY"] },
    config: { Hostname: "3f2a1b", Env: ["PATH=/bin"], Cmd: ["/app"] },
    something_else: "kept only by non-canonical images"
  }

  it.effect("strips what varies between builds from the config", () =>
    Effect.gen(function* () {
      const config = yield* Mutate.canonical(build([yield* tarOf("a", "a")], { config: hostConfig })).configFile
      expect(config).toEqual({
        architecture: "arm64",
        os: "linux",
        variant: "v8",
        created: "0001-01-01T00:00:00Z",
        history: [{ created: "0001-01-01T00:00:00Z", created_by: "step 0" }],
        rootfs: config.rootfs,
        config: { Env: ["PATH=/bin"], Cmd: ["/app"] }
      })
    })
  )

  it.effect("puts every tar entry at the Unix epoch", () =>
    Effect.gen(function* () {
      const result = Mutate.canonical(build([yield* tarOf("a", "a", [{ name: "dir", type: "directory" }])]))
      const entries = yield* readTar(yield* bytesOf((yield* result.layers)[0]!.uncompressed))
      expect(entries).toHaveLength(2)
      for (const entry of entries) expect(entry.mtime.getTime()).toBe(0)
    })
  )

  it.effect("gives the same digest for builds that differ only in times, host and annotations", () =>
    Effect.gen(function* () {
      const one = build([yield* tarOf("a", "a")], { config: hostConfig })
      const other = Mutate.annotations(
        build([yield* makeTar([{ name: "a", content: "a", mtime: new Date("2024-04-04T04:04:04Z") }])], {
          config: { ...hostConfig, container: "99aa", created: "2024-04-04T04:04:04Z" }
        }),
        { "org.opencontainers.image.created": "2024-04-04T04:04:04Z" }
      )
      expect(yield* one.digest).not.toBe(yield* other.digest)
      expect(yield* Mutate.canonical(one).digest).toBe(yield* Mutate.canonical(other).digest)
    })
  )
})

describe("Mutate.rebase", () => {
  const setup = Effect.gen(function* () {
    const oldBase = build([yield* tarOf("old", "old base")], {
      config: { architecture: "amd64", variant: undefined }
    })
    const newBase = build([yield* tarOf("new1", "new base 1"), yield* tarOf("new2", "new base 2")], {
      config: { architecture: "riscv64", variant: undefined },
      history: [
        { created_by: "new base layer 1" },
        { created_by: "ENV NEW=1", empty_layer: true },
        { created_by: "new base layer 2" }
      ]
    })
    const top = yield* tarOf("app", "the app")
    const image = Mutate.config(
      Mutate.append(oldBase, [
        { layer: layerOf(top, MediaType.OCI_LAYER_GZIP), history: { created_by: "COPY app /" } },
        { history: { created_by: "CMD app", empty_layer: true } }
      ]),
      { Cmd: ["/app"] }
    )
    return { oldBase, newBase, image, top }
  })

  it.effect("replaces the old base's layers with the new base's and keeps the image's own on top", () =>
    Effect.gen(function* () {
      const { image, oldBase, newBase, top } = yield* setup
      const result = Mutate.rebase(image, oldBase, newBase)
      const own = (yield* layerDigests(image))[1]
      expect(yield* layerDigests(result)).toEqual([...(yield* layerDigests(newBase)), own])
      const config = yield* result.configFile
      expect(ConfigFile.diffIds(config)).toEqual([
        ...ConfigFile.diffIds(yield* newBase.configFile),
        Digest.fromBytes(top)
      ])
      expect(nonEmptyHistory(config)).toHaveLength(3)
    })
  )

  it.effect("takes history from the new base and the image's own history above the old base", () =>
    Effect.gen(function* () {
      const { image, oldBase, newBase } = yield* setup
      const config = yield* Mutate.rebase(image, oldBase, newBase).configFile
      expect((config.history ?? []).map((h) => h.created_by)).toEqual([
        "new base layer 1",
        "ENV NEW=1",
        "new base layer 2",
        "COPY app /",
        "CMD app"
      ])
    })
  )

  it.effect("keeps the image's run configuration and takes the platform from the new base", () =>
    Effect.gen(function* () {
      const { image, oldBase, newBase } = yield* setup
      const config = yield* Mutate.rebase(image, oldBase, newBase).configFile
      expect(config.config).toEqual({ Cmd: ["/app"] })
      expect(config.architecture).toBe("riscv64")
      expect(config.os).toBe("linux")
    })
  )

  it.effect("moves an image built on a real image onto another", () =>
    Effect.gen(function* () {
      const image = Mutate.appendLayers(fixtureImage(imageOne), [layerOf(yield* tarOf("app", "app"))])
      const result = pipe(image, Mutate.rebase(fixtureImage(imageOne), fixtureImage(imageTwo)))
      const layers = yield* layerDigests(result)
      expect(layers[0]).toBe((yield* fixtureImage(imageTwo).manifest).layers[0]!.digest)
      expect(layers[1]).toBe((yield* layerDigests(image))[1])
      expect(yield* result.mediaType).toBe(MediaType.DOCKER_MANIFEST)
      const config = yield* result.configFile
      expect(ConfigFile.diffIds(config)[0]).toBe(ConfigFile.diffIds(yield* fixtureImage(imageTwo).configFile)[0])
    })
  )

  it.effect("fails with RebaseError LayerMismatch when the image is not built on the old base", () =>
    Effect.gen(function* () {
      const { image, newBase } = yield* setup
      const error = yield* Effect.flip(Mutate.rebase(image, newBase, newBase).digest)
      expect(error._tag).toBe("RebaseError")
      expect(error._tag === "RebaseError" && [error.reason, error.layer]).toEqual(["LayerMismatch", 0])
    })
  )

  it.effect("fails with RebaseError TooFewLayers when the old base has more layers than the image", () =>
    Effect.gen(function* () {
      const { oldBase, newBase } = yield* setup
      const error = yield* Effect.flip(Mutate.rebase(oldBase, newBase, oldBase).digest)
      expect(error._tag === "RebaseError" && error.reason).toBe("TooFewLayers")
    })
  )

  it.effect("fails with RebaseError MalformedHistory when a history lists more layers than there are", () =>
    Effect.gen(function* () {
      const { image, oldBase } = yield* setup
      const badBase = build([], { history: [{ created_by: "claims a layer" }] })
      const error = yield* Effect.flip(Mutate.rebase(image, oldBase, badBase).digest)
      expect(error._tag === "RebaseError" && error.reason).toBe("MalformedHistory")
    })
  )
})

describe("Mutate.appendManifests and removeManifests", () => {
  it.effect("lists an appended image with its platform from its config and makes it reachable", () =>
    Effect.gen(function* () {
      const image = build([yield* tarOf("a", "a")])
      const result = Mutate.appendManifests(fixtureIndex, [{ add: image }])
      const manifests = (yield* result.indexManifest).manifests
      expect(manifests).toHaveLength(5)
      const added = manifests[4]!
      expect(added).toMatchObject({
        mediaType: MediaType.OCI_MANIFEST,
        digest: yield* image.digest,
        size: yield* image.size,
        platform: { architecture: "arm64", os: "linux", variant: "v8" }
      })
      expect(added.artifactType).toBeUndefined()
      expect(yield* (yield* result.image(added.digest)).digest).toBe(yield* image.digest)
      expect(yield* result.digest).toBe(Digest.fromBytes(yield* result.rawManifest))
    })
  )

  it.effect("applies the addendum's platform, annotations and urls", () =>
    Effect.gen(function* () {
      const image = build([yield* tarOf("a", "a")])
      const result = Mutate.appendManifests(Empty.index, [
        {
          add: image,
          platform: { os: "linux", architecture: "s390x" },
          annotations: { "org.opencontainers.image.ref.name": "z" },
          urls: ["https://example.com/m"]
        }
      ])
      expect((yield* result.indexManifest).manifests[0]).toMatchObject({
        platform: { os: "linux", architecture: "s390x" },
        annotations: { "org.opencontainers.image.ref.name": "z" },
        urls: ["https://example.com/m"]
      })
    })
  )

  it.effect("lists an artifact by its config media type as artifact type", () =>
    Effect.gen(function* () {
      const artifact = Mutate.configMediaType(build([yield* tarOf("a", "a")]), "application/vnd.example.thing.v1+json")
      const result = Mutate.appendManifests(Empty.index, [{ add: artifact }])
      const child = (yield* result.indexManifest).manifests[0]!
      expect(child.artifactType).toBe("application/vnd.example.thing.v1+json")
      expect(child.platform).toBeUndefined()
    })
  )

  it.effect("adds a nested index, reachable as an index", () =>
    Effect.gen(function* () {
      const inner = Mutate.appendManifests(Empty.index, [{ add: build([yield* tarOf("a", "a")]) }])
      const result = Mutate.appendManifests(fixtureIndex, [{ add: inner }])
      const added = (yield* result.indexManifest).manifests[4]!
      expect(added.mediaType).toBe(MediaType.OCI_INDEX)
      const nested = yield* result.imageIndex(added.digest)
      expect(yield* nested.digest).toBe(yield* inner.digest)
      const child = yield* result.child(added.digest)
      expect(child._tag).toBe("Index")
    })
  )

  it.effect("keeps the base's children reachable", () =>
    Effect.gen(function* () {
      const result = Mutate.appendManifests(fixtureIndex, [{ add: build([yield* tarOf("a", "a")]) }])
      const first = (yield* result.indexManifest).manifests[0]!
      expect(yield* (yield* result.image(first.digest)).digest).toBe(imageOne)
    })
  )

  it.effect("removeManifests drops the children the predicate picks and they are no longer reachable", () =>
    Effect.gen(function* () {
      const result = Mutate.removeManifests(fixtureIndex, (d) => d.digest === imageOne)
      const manifests = (yield* result.indexManifest).manifests
      expect(manifests.map((d) => d.annotations?.["org.opencontainers.image.ref.name"])).toEqual(["2", "3", "4"])
      const error = yield* Effect.flip(result.image(imageOne as Digest.Digest))
      expect(error._tag).toBe("BlobNotFound")
      expect(yield* result.digest).not.toBe(yield* fixtureIndex.digest)
    })
  )

  it.effect("removeManifests that removes nothing keeps the index bytes", () =>
    Effect.gen(function* () {
      const result = pipe(fixtureIndex, Mutate.removeManifests(() => false))
      expect(utf8(yield* result.rawManifest)).toBe(utf8(yield* fixtureIndex.rawManifest))
      expect(yield* result.digest).toBe(yield* fixtureIndex.digest)
    })
  )
})

describe("Mutate.indexAnnotations, indexMediaType and indexSubject", () => {
  it.effect("indexAnnotations give the index ggcr writes for the empty index", () =>
    Effect.gen(function* () {
      const result = Mutate.indexAnnotations(Empty.index, { foo: "bar" })
      expect(utf8(yield* result.rawManifest)).toBe(
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],' +
          '"annotations":{"foo":"bar"}}'
      )
    })
  )

  it.effect("indexAnnotations change the digest and keep the children", () =>
    Effect.gen(function* () {
      const result = Mutate.indexAnnotations(fixtureIndex, { team: "a" })
      const manifest = yield* result.indexManifest
      expect(manifest.annotations).toEqual({ team: "a" })
      expect(manifest.manifests).toEqual((yield* fixtureIndex.indexManifest).manifests)
      expect(yield* result.digest).not.toBe(yield* fixtureIndex.digest)
    })
  )

  it.effect("indexMediaType sets the index media type", () =>
    Effect.gen(function* () {
      const result = Mutate.indexMediaType(Empty.index, MediaType.DOCKER_MANIFEST_LIST)
      expect(yield* result.mediaType).toBe(MediaType.DOCKER_MANIFEST_LIST)
      expect((yield* result.indexManifest).mediaType).toBe(MediaType.DOCKER_MANIFEST_LIST)
      expect(yield* result.digest).not.toBe(yield* Empty.index.digest)
    })
  )

  it.effect("indexSubject makes the index refer to another manifest", () =>
    Effect.gen(function* () {
      const target = yield* fixtureImage(imageOne).descriptor
      const result = Mutate.indexSubject(Empty.index, target)
      expect((yield* result.indexManifest).subject).toEqual(target)
    })
  )
})

describe("pipeable values", () => {
  it.effect("images, indexes and layers pipe into combinators", () =>
    Effect.gen(function* () {
      const annotated = Empty.image.pipe(Mutate.annotations({ "org.example/piped": "yes" }))
      expect((yield* annotated.manifest).annotations).toEqual({ "org.example/piped": "yes" })
      const index = Empty.index.pipe(Mutate.indexAnnotations({ "org.example/piped": "index" }))
      expect((yield* index.indexManifest).annotations).toEqual({ "org.example/piped": "index" })
      const layer = Static.layer(new TextEncoder().encode("x"), MediaType.OCI_LAYER)
      expect(layer.pipe((l) => l === layer)).toBe(true)
    })
  )
})
