import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { readFileSync } from "node:fs"
import { gzipSync } from "node:zlib"
import * as TarStream from "tar-stream"
import type * as Descriptor from "../../src/domain/Descriptor.js"
import * as Digest from "../../src/domain/Digest.js"
import type * as Image from "../../src/domain/Image.js"
import type * as ImageIndex from "../../src/domain/ImageIndex.js"
import * as ImageLayer from "../../src/domain/ImageLayer.js"
import * as Manifest from "../../src/domain/Manifest.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Partial from "../../src/domain/Partial.js"
import * as Validate from "../../src/domain/Validate.js"

const text = new TextEncoder()

// ---------------------------------------------------------------------------------------------
// good images and indexes
// ---------------------------------------------------------------------------------------------

/** A tar holding the files given (name to content), written by tar-stream. */
const tarOf = (files: ReadonlyArray<readonly [string, string]>): Effect.Effect<Uint8Array> =>
  Effect.promise(async () => {
    const pack = TarStream.pack()
    for (const [name, body] of files) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body)
    pack.finalize()
    const chunks: Array<Buffer> = []
    for await (const chunk of pack) chunks.push(chunk as Buffer)
    return new Uint8Array(Buffer.concat(chunks))
  })

const configOf = (diffIds: ReadonlyArray<string>, extra: Record<string, unknown> = {}) =>
  text.encode(JSON.stringify({ architecture: "amd64", os: "linux", ...extra, rootfs: { type: "layers", diff_ids: diffIds } }))

const layerTars = Effect.all([tarOf([["a.txt", "first layer"]]), tarOf([["b.txt", "second layer"]])])

/** A two-layer image built by Partial from uncompressed tars, with a matching history. */
const goodImage = Effect.map(layerTars, (tars) =>
  Partial.fromLayers(
    Effect.succeed(
      configOf(
        tars.map((t) => Digest.fromBytes(t)),
        { history: [{ created_by: "a" }, { created_by: "env", empty_layer: true }, { created_by: "b" }] }
      )
    ),
    Effect.succeed(tars.map((t) => ImageLayer.fromUncompressed(Stream.succeed(t))))
  )
)

const layoutDir = new URL("../../../shared/fixtures/ggcr/layout/test_index/", import.meta.url)
const layoutBlob = (digest: string) => new Uint8Array(readFileSync(new URL(`blobs/sha256/${digest.slice(7)}`, layoutDir)))
const layoutImageDigest = "sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650"
const layoutCore = {
  rawManifest: Effect.succeed(new Uint8Array(readFileSync(new URL("index.json", layoutDir)))),
  manifest: (d: Descriptor.Descriptor) => Effect.succeed(layoutBlob(d.digest)),
  blob: (d: Descriptor.Descriptor) => Stream.succeed(layoutBlob(d.digest))
}

const layoutImage = () =>
  Partial.fromCompressed({
    rawManifest: Effect.succeed(layoutBlob(layoutImageDigest)),
    blob: (d) => Stream.succeed(layoutBlob(d.digest))
  })

/** The findings of a validation that must fail. */
const findingsOf = (effect: Effect.Effect<void, Validate.ValidationError>) =>
  Effect.map(Effect.flip(effect), (error) => error.findings)

const whats = (findings: ReadonlyArray<Validate.Finding>) => findings.map((f) => f.what)

/** The image with its manifest replaced, every manifest accessor agreeing with the new bytes. */
const withManifest = <E>(image: Image.Image<E>, manifest: Manifest.Manifest): Image.Image<E> => {
  const raw = Manifest.toRaw(manifest)
  return {
    ...image,
    rawManifest: Effect.succeed(raw.bytes),
    manifest: Effect.succeed(manifest),
    digest: Effect.succeed(raw.digest),
    size: Effect.succeed(raw.bytes.byteLength),
    descriptor: Effect.succeed({ mediaType: raw.mediaType, digest: raw.digest, size: raw.bytes.byteLength })
  }
}

/** The image with layer `i` replaced by `f` of it. */
const withLayer = <E, E2>(
  image: Image.Image<E>,
  i: number,
  f: (layer: ImageLayer.ImageLayer<E>) => ImageLayer.ImageLayer<E2>
): Image.Image<E | E2> => ({
  ...image,
  layers: Effect.map(image.layers, (layers) => layers.map((l, j): ImageLayer.ImageLayer<E | E2> => (j === i ? f(l) : l)))
})

// ---------------------------------------------------------------------------------------------

describe("Validate.validateImage accepts", () => {
  it.effect("an image Partial builds from uncompressed layers", () =>
    Effect.gen(function* () {
      yield* Validate.validateImage(yield* goodImage)
      expect(yield* Validate.imageFindings(yield* goodImage)).toEqual([])
    })
  )

  it.effect("a real image read through a verifying blob reader (ggcr layout test_index)", () =>
    Validate.validateImage(layoutImage())
  )

  it.effect("an image whose layers cannot be read when fast, reading no layer bytes", () =>
    Effect.gen(function* () {
      const image = withLayer(yield* goodImage, 0, (l) => ({ ...l, compressed: Stream.die("read"), uncompressed: Stream.die("read") }))
      yield* Validate.validateImage(image, { fast: true })
    })
  )
})

describe("Validate.validateIndex accepts", () => {
  it.effect("the ggcr test_index layout, its images and nested indexes included", () =>
    Validate.validateIndex(Partial.indexFromCore(layoutCore))
  )
})

describe("Validate.validateImage rejects", () => {
  it.effect("a layer whose stored bytes changed", () =>
    Effect.gen(function* () {
      const good = yield* goodImage
      const other = gzipSync(yield* tarOf([["a.txt", "something else"]]))
      const image = withLayer(good, 0, (l) => ({ ...l, compressed: Stream.succeed(new Uint8Array(other)) }))
      const findings = yield* findingsOf(Validate.validateImage(image))
      const manifest = yield* good.manifest
      expect(findings).toContainEqual({
        what: "layer 0 compressed digest",
        expected: manifest.layers[0]!.digest,
        actual: Digest.fromBytes(other)
      })
      expect(whats(findings)).toContain("layer 0 uncompressed digest")
      expect(whats(findings).filter((w) => w.startsWith("layer 1"))).toEqual([])
    })
  )

  it.effect("a layer whose size accessor is wrong", () =>
    Effect.gen(function* () {
      const good = yield* goodImage
      const image = withLayer(good, 1, (l) => ({ ...l, size: Effect.succeed(3) }))
      const findings = yield* findingsOf(Validate.validateImage(image))
      const manifest = yield* good.manifest
      expect(findings).toEqual([{ what: "layer 1 size", expected: String(manifest.layers[1]!.size), actual: "3" }])
    })
  )

  it.effect("a manifest listing the wrong size for a layer", () =>
    Effect.gen(function* () {
      const good = yield* goodImage
      const manifest = yield* good.manifest
      const real = manifest.layers[0]!.size
      const lying = withManifest(good, {
        ...manifest,
        layers: [{ ...manifest.layers[0]!, size: real + 10 }, manifest.layers[1]!]
      })
      const findings = yield* findingsOf(Validate.validateImage(lying))
      expect(findings).toContainEqual({ what: "layer 0 compressed size", expected: String(real + 10), actual: String(real) })
      expect(findings).toContainEqual({ what: "layer 0 size", expected: String(real + 10), actual: String(real) })
    })
  )

  it.effect("a layer whose diff id accessor is wrong", () =>
    Effect.gen(function* () {
      const good = yield* goodImage
      const wrong = Digest.fromBytes("not the tar")
      const image = withLayer(good, 0, (l) => ({ ...l, diffId: Effect.succeed(wrong) }))
      const findings = yield* findingsOf(Validate.validateImage(image))
      const [diffId] = (yield* good.configFile).rootfs.diff_ids ?? []
      expect(findings).toEqual([{ what: "layer 0 diff id", expected: diffId, actual: wrong }])
    })
  )

  it.effect("a config listing a diff id that is not the layer's uncompressed digest", () =>
    Effect.gen(function* () {
      const tars = yield* layerTars
      const wrong = Digest.fromBytes("not the tar")
      const image = Partial.fromLayers(
        Effect.succeed(configOf([wrong, Digest.fromBytes(tars[1])])),
        Effect.succeed([
          ImageLayer.fromUncompressed(Stream.succeed(tars[0]), { diffId: wrong }),
          ImageLayer.fromUncompressed(Stream.succeed(tars[1]))
        ])
      )
      const findings = yield* findingsOf(Validate.validateImage(image))
      expect(findings).toEqual([
        { what: "layer 0 uncompressed digest", expected: wrong, actual: Digest.fromBytes(tars[0]) },
        { what: "layer 0 uncompressed stream digest", expected: wrong, actual: Digest.fromBytes(tars[0]) }
      ])
    })
  )

  it.effect("a config missing a diff id", () =>
    Effect.gen(function* () {
      const tars = yield* layerTars
      const image = Partial.fromLayers(
        Effect.succeed(configOf([Digest.fromBytes(tars[0])])),
        Effect.succeed(tars.map((t) => ImageLayer.fromUncompressed(Stream.succeed(t))))
      )
      const findings = yield* findingsOf(Validate.validateImage(image))
      expect(findings).toContainEqual({ what: "layer count vs diff_ids", expected: "2", actual: "1" })
      expect(whats(findings)).toContain("layer 1 diff id")
    })
  )

  it.effect("a history whose non-empty entries do not match the layers", () =>
    Effect.gen(function* () {
      const tars = yield* layerTars
      const image = Partial.fromLayers(
        Effect.succeed(configOf(tars.map((t) => Digest.fromBytes(t)), { history: [{ created_by: "only one" }] })),
        Effect.succeed(tars.map((t) => ImageLayer.fromUncompressed(Stream.succeed(t))))
      )
      const findings = yield* findingsOf(Validate.validateImage(image))
      expect(findings).toEqual([{ what: "history non-empty entries vs layers", expected: "2", actual: "1" }])
    })
  )

  it.effect("config bytes that changed", () =>
    Effect.gen(function* () {
      const good = yield* goodImage
      const raw = yield* good.rawConfigFile
      const changed = text.encode(new TextDecoder().decode(raw).replace("amd64", "arm64"))
      const image = { ...good, rawConfigFile: Effect.succeed(changed) }
      const findings = yield* findingsOf(Validate.validateImage(image))
      expect(findings).toContainEqual({
        what: "config digest",
        expected: yield* good.configName,
        actual: Digest.fromBytes(changed)
      })
      expect(whats(findings)).toContain("config content")
    })
  )

  it.effect("a manifest whose digest is not the one the image reports", () =>
    Effect.gen(function* () {
      const good = yield* goodImage
      const image = { ...good, digest: Effect.succeed(Digest.fromBytes("another manifest")) }
      const findings = yield* findingsOf(Validate.validateImage(image))
      expect(findings).toEqual([
        { what: "manifest digest", expected: yield* good.digest, actual: Digest.fromBytes("another manifest") }
      ])
    })
  )

  it.effect("a manifest whose size is not the one the image reports", () =>
    Effect.gen(function* () {
      const good = yield* goodImage
      const findings = yield* findingsOf(Validate.validateImage({ ...good, size: Effect.succeed(1) }))
      expect(findings).toEqual([{ what: "manifest size", expected: String(yield* good.size), actual: "1" }])
    })
  )

  it.effect("raw manifest bytes that do not parse", () =>
    Effect.gen(function* () {
      const good = yield* goodImage
      const findings = yield* findingsOf(Validate.validateImage({ ...good, rawManifest: Effect.succeed(text.encode("{")) }))
      expect(whats(findings)).toContain("manifest")
      expect(whats(findings)).toContain("manifest digest")
    })
  )

  it.effect("a parsed manifest that is not the raw one", () =>
    Effect.gen(function* () {
      const good = yield* goodImage
      const manifest = yield* good.manifest
      const image = { ...good, manifest: Effect.succeed({ ...manifest, annotations: { added: "later" } }) }
      expect(whats(yield* findingsOf(Validate.validateImage(image)))).toEqual(["manifest content"])
    })
  )

  it.effect("a layer list shorter than the manifest's", () =>
    Effect.gen(function* () {
      const good = yield* goodImage
      const image = { ...good, layers: Effect.map(good.layers, (ls) => ls.slice(0, 1)) }
      expect(yield* findingsOf(Validate.validateImage(image))).toEqual([{ what: "layer count", expected: "2", actual: "1" }])
    })
  )

  it.effect("lookups by digest and diff id that give another layer", () =>
    Effect.gen(function* () {
      const good = yield* goodImage
      const [first] = yield* good.layers
      const image = {
        ...good,
        layerByDigest: () => Effect.succeed(first!),
        layerByDiffId: () => Effect.succeed(first!)
      }
      const findings = yield* findingsOf(Validate.validateImage(image))
      expect(whats(findings)).toEqual(["layer 1 by digest", "layer 1 by diff id"])
    })
  )

  it.effect("a layer tar holding a path twice", () =>
    Effect.gen(function* () {
      const tar = yield* tarOf([["a.txt", "one"], ["a.txt", "two"]])
      const image = Partial.fromLayers(
        Effect.succeed(configOf([Digest.fromBytes(tar)])),
        Effect.succeed([ImageLayer.fromUncompressed(Stream.succeed(tar))])
      )
      expect(yield* findingsOf(Validate.validateImage(image))).toEqual([
        { what: "layer 0 tar", expected: "each path once", actual: '"a.txt" more than once' }
      ])
    })
  )

  it.effect("a layer whose bytes cannot be read, keeping the error", () =>
    Effect.gen(function* () {
      const image = withLayer(
        yield* goodImage,
        0,
        (l): ImageLayer.ImageLayer<Partial.DerivedError | "connection reset"> => ({
          ...l,
          compressed: Stream.fail("connection reset" as const)
        })
      )
      const findings = yield* findingsOf(Validate.validateImage(image))
      expect(findings).toContainEqual({
        what: "layer 0 content",
        expected: "no error",
        actual: "connection reset",
        cause: "connection reset"
      })
    })
  )

  it.effect("a blob a verifying reader refuses", () =>
    Effect.gen(function* () {
      const manifest = Manifest.decode(layoutBlob(layoutImageDigest))
      const layerDigest = manifest._tag === "Right" ? manifest.right.value.layers[0]!.digest : ""
      const image = Partial.fromCompressed({
        rawManifest: Effect.succeed(layoutBlob(layoutImageDigest)),
        blob: (d) => Stream.map(Stream.succeed(layoutBlob(d.digest)), (b) => (d.digest === layerDigest ? b.map((x) => x ^ 1) : b))
      })
      const findings = yield* findingsOf(Validate.validateImage(image))
      expect(findings.find((f) => f.what === "layer 0 content")).toMatchObject({ expected: layerDigest })
    })
  )

  it.effect("reports every finding in its error message", () =>
    Effect.gen(function* () {
      const good = yield* goodImage
      const error = yield* Effect.flip(Validate.validateImage({ ...good, size: Effect.succeed(1) }))
      expect(error._tag).toBe("ValidationError")
      expect(error.subject).toBe(`image ${yield* good.digest}`)
      expect(error.message).toContain(`manifest size: expected ${yield* good.size}, got 1`)
    })
  )
})

describe("Validate.validateLayer", () => {
  it.effect("accepts a layer whose digest, size and diff id match its bytes", () =>
    Effect.gen(function* () {
      const [tar] = yield* layerTars
      yield* Validate.validateLayer(ImageLayer.fromUncompressed(Stream.succeed(tar)))
    })
  )

  it.effect("rejects a layer whose diff id is not its tar's", () =>
    Effect.gen(function* () {
      const [tar] = yield* layerTars
      const wrong = Digest.fromBytes("x")
      const findings = yield* findingsOf(
        Validate.validateLayer(ImageLayer.fromUncompressed(Stream.succeed(tar), { diffId: wrong }))
      )
      expect(whats(findings)).toEqual(["layer uncompressed digest", "layer uncompressed stream digest"])
    })
  )
})

describe("Validate concurrency", () => {
  it.live("reads at most `concurrency` blobs at once", () =>
    Effect.gen(function* () {
      const tars = yield* Effect.forEach([1, 2, 3, 4, 5, 6], (i) => tarOf([[`f${i}`, `layer ${i}`]]))
      let open = 0
      let most = 0
      const counted = (bytes: Uint8Array) =>
        Stream.acquireRelease(
          Effect.sync(() => {
            open++
            most = Math.max(most, open)
          }),
          () => Effect.sync(() => open--)
        ).pipe(Stream.flatMap(() => Stream.fromEffect(Effect.as(Effect.sleep("5 millis"), bytes))))
      const image = Partial.fromLayers(
        Effect.succeed(configOf(tars.map((t) => Digest.fromBytes(t)))),
        Effect.succeed(tars.map((t) => ImageLayer.fromUncompressed(counted(t), { diffId: Digest.fromBytes(t) })))
      )
      // digests and sizes are measured first, so the reads during validation are all counted
      yield* Effect.forEach(yield* image.layers, (l) => l.digest)
      most = 0
      yield* Validate.validateImage(image, { concurrency: 2 })
      expect(most).toBe(2)
    })
  )
})

describe("Validate.validateIndex rejects", () => {
  const index = () => Partial.indexFromCore(layoutCore)

  /** The index with `image` (and `child`) answering with `f` of the child image. */
  const withChildImage = (
    idx: ImageIndex.ImageIndex<Partial.DerivedError>,
    f: (image: Image.Image<Partial.DerivedError>) => Image.Image<Partial.DerivedError>
  ): ImageIndex.ImageIndex<Partial.DerivedError> => ({
    ...idx,
    image: (digest) => Effect.map(idx.image(digest), f)
  })

  it.effect("a child whose digest is not the one the index lists", () =>
    Effect.gen(function* () {
      const other = yield* goodImage
      const idx = withChildImage(index(), (): Image.Image<Partial.DerivedError> => other)
      const findings = yield* findingsOf(Validate.validateIndex(idx))
      expect(findings).toContainEqual({ what: "index child 0 digest", expected: layoutImageDigest, actual: yield* other.digest })
      expect(whats(findings)).toContain("index child 0 size")
    })
  )

  it.effect("a child of another kind of media type than the index lists", () =>
    Effect.gen(function* () {
      const idx = withChildImage(index(), (image) => ({ ...image, mediaType: Effect.succeed(MediaType.OCI_INDEX) }))
      const findings = yield* findingsOf(Validate.validateIndex(idx))
      expect(findings).toContainEqual({
        what: "index child 0 media type",
        expected: MediaType.OCI_MANIFEST,
        actual: MediaType.OCI_INDEX
      })
    })
  )

  it.effect("a child whose config is not for the platform the index lists", () =>
    Effect.gen(function* () {
      const listed = {
        schemaVersion: 2,
        mediaType: MediaType.OCI_INDEX,
        manifests: [
          {
            mediaType: MediaType.DOCKER_MANIFEST,
            size: layoutBlob(layoutImageDigest).byteLength,
            digest: layoutImageDigest,
            platform: { os: "linux", architecture: "arm64" }
          }
        ]
      }
      const idx = Partial.indexFromCore({ ...layoutCore, rawManifest: Effect.succeed(text.encode(JSON.stringify(listed))) })
      expect(yield* findingsOf(Validate.validateIndex(idx))).toEqual([
        {
          what: "index child 0 platform",
          expected: "linux/arm64",
          actual: "linux/amd64"
        }
      ])
    })
  )

  it.effect("an index whose digest is not the one of its bytes", () =>
    Effect.gen(function* () {
      const idx = { ...index(), digest: Effect.succeed(Digest.fromBytes("x")) }
      expect(whats(yield* findingsOf(Validate.validateIndex(idx)))).toEqual(["index digest"])
    })
  )

  it.effect("a broken layer deep in a nested index, naming the path to it", () =>
    Effect.gen(function* () {
      const image = layoutImage()
      const layerDigest = (yield* image.manifest).layers[0]!.digest
      const idx = Partial.indexFromCore({
        ...layoutCore,
        blob: (d) => (d.digest === layerDigest ? Stream.fail("gone" as const) : layoutCore.blob(d))
      })
      const findings = yield* findingsOf(Validate.validateIndex(idx))
      const nested = "sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5"
      expect(whats(findings)).toContain(
        `index child 2 (${nested}): index child 0 (${layoutImageDigest}): layer 0 content`
      )
      expect(whats(findings)).toContain(`index child 0 (${layoutImageDigest}): layer 0 content`)
    })
  )
})
