import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { pipe } from "effect/Function"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import { readdirSync, readFileSync } from "node:fs"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import * as Descriptor from "../../src/domain/Descriptor.js"
import * as Digest from "../../src/domain/Digest.js"
import type { InvalidDocument } from "../../src/domain/Errors.js"
import * as IndexManifest from "../../src/domain/IndexManifest.js"
import * as Manifest from "../../src/domain/Manifest.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Platform from "../../src/domain/Platform.js"

const FIXTURES = new URL("../../../shared/fixtures/containers-image/manifests/", import.meta.url)
const LAYOUT = new URL("../../../shared/fixtures/ggcr/layout/test_index/", import.meta.url)
const BLOBS = new URL("blobs/sha256/", LAYOUT)

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIXTURES)))
const blob = (digest: Digest.Digest): Uint8Array => new Uint8Array(readFileSync(new URL(Digest.hex(digest), BLOBS)))
const sha256 = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`
const json = (bytes: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(bytes))
const text = new TextEncoder()

const reasonOf = <A>(result: Either.Either<A, InvalidDocument>) =>
  Either.match(result, { onLeft: (e) => e.reason, onRight: () => "ok" as const })
const platform = (s: string): Platform.Platform => Either.getOrThrow(Platform.parse(s))
const digestOf = (found: Option.Option<Descriptor.Descriptor>): string | undefined =>
  Option.getOrUndefined(Option.map(found, (d) => d.digest))

const v2list = () => Either.getOrThrow(IndexManifest.decode(fixture("v2list.manifest.json"))).value
const ociIndex = () => Either.getOrThrow(IndexManifest.decode(fixture("ociv1.image.index.json"))).value

describe("IndexManifest.decode", () => {
  it.each([
    ["ociv1.image.index.json", MediaType.OCI_INDEX],
    ["ociv1nomime.image.index.json", MediaType.OCI_INDEX],
    ["v2list.manifest.json", MediaType.DOCKER_MANIFEST_LIST]
  ])("decodes %s as the index it is, keeping its bytes and digest", (name, mediaType) => {
    const bytes = fixture(name)
    const raw = Either.getOrThrow(IndexManifest.decode(bytes))
    expect(raw.mediaType).toBe(mediaType)
    expect(Buffer.from(raw.bytes).equals(bytes)).toBe(true)
    expect(raw.digest).toBe(sha256(bytes))
  })

  it.each(["ociv1.image.index.json", "ociv1nomime.image.index.json", "v2list.manifest.json"])(
    "re-encodes the value of %s without losing a field",
    (name) => {
      const bytes = fixture(name)
      expect(json(IndexManifest.encode(Either.getOrThrow(IndexManifest.decode(bytes)).value))).toEqual(json(bytes))
    }
  )

  it("reads the platform of each child, os.features and features included", () => {
    const [ppc, amd] = ociIndex().manifests
    expect(ppc?.platform).toEqual({ architecture: "ppc64le", os: "linux" })
    expect(amd?.platform?.["os.features"]).toEqual(["sse4"])
    expect(v2list().manifests[1]?.platform?.features).toEqual(["sse"])
  })

  it.each([
    ["ociv1.manifest.json", "UnsupportedMediaType"],
    ["ociv1nomime.manifest.json", "UnsupportedMediaType"],
    ["v2s2.manifest.json", "UnsupportedMediaType"],
    ["v2s1.manifest.json", "UnsupportedMediaType"],
    ["v2s1-unsigned.manifest.json", "UnsupportedMediaType"],
    ["unknown-version.manifest.json", "UnsupportedSchemaVersion"],
    ["non-json.manifest.json", "NotJson"]
  ])("refuses %s with %s", (name, reason) => {
    expect(reasonOf(IndexManifest.decode(fixture(name)))).toBe(reason)
  })

  it("keeps unknown fields on the children and writes them back", () => {
    const doc = json(fixture("ociv1.image.index.json")) as { manifests: Array<{ platform: object }> }
    const extended = {
      ...doc,
      "com.example.top": 1,
      manifests: doc.manifests.map((m) => ({ ...m, platform: { ...m.platform, "com.example.cpu": "fast" } }))
    }
    const raw = Either.getOrThrow(IndexManifest.decode(text.encode(JSON.stringify(extended))))
    expect(raw.value.manifests[0]?.platform).toMatchObject({ "com.example.cpu": "fast" })
    expect(json(IndexManifest.encode(raw.value))).toEqual(extended)
  })

  it("refuses an ambiguous document that also has config and layers", () => {
    const doc = { ...(json(fixture("ociv1.image.index.json")) as object), layers: [] }
    const result = IndexManifest.decode(text.encode(JSON.stringify(doc)))
    expect(reasonOf(result)).toBe("Schema")
  })

  it("refuses a child with a bad digest, naming the child", () => {
    const doc = json(fixture("v2list.manifest.json")) as { manifests: Array<{ digest: string }> }
    const second = doc.manifests[1]
    if (second) second.digest = "sha256:1234"
    const error = Either.getLeft(IndexManifest.decode(text.encode(JSON.stringify(doc))))
    expect(Option.map(error, (e) => e.detail).pipe(Option.getOrElse(() => ""))).toContain(".manifests[1].digest")
  })

  it("uses the served media type to tell a Docker list from an OCI index when the document does not say", () => {
    const raw = Either.getOrThrow(
      IndexManifest.decode(fixture("ociv1nomime.image.index.json"), { mediaType: MediaType.DOCKER_MANIFEST_LIST })
    )
    expect(raw.mediaType).toBe(MediaType.DOCKER_MANIFEST_LIST)
  })

  it("refuses a document larger than the limit", () => {
    expect(reasonOf(IndexManifest.decode(fixture("v2list.manifest.json"), { maxSize: 100 }))).toBe("TooLarge")
  })
})

describe("IndexManifest children", () => {
  it("lists the children in order", () => {
    expect(IndexManifest.children(v2list()).map((d) => d.platform?.architecture)).toEqual([
      "ppc64le",
      "amd64",
      "s390x",
      "arm",
      "arm64"
    ])
  })

  it("finds the child for a platform", () => {
    expect(digestOf(IndexManifest.findByPlatform(v2list(), platform("linux/s390x")))).toBe(
      "sha256:e4c0df75810b953d6717b8f8f28298d73870e8aa2a0d5e77b8391f16fdfbbbe2"
    )
  })

  it("requires the variant only when the platform asked for names one", () => {
    const list = v2list()
    expect(digestOf(IndexManifest.findByPlatform(list, platform("linux/arm64")))).toBe(
      "sha256:fb2fc0707b86dafa9959fe3d29e66af8787aee4d9a23581714be65db4265ad8a"
    )
    expect(digestOf(IndexManifest.findByPlatform(list, platform("linux/arm/armv7")))).toBe(
      "sha256:07ebe243465ef4a667b78154ae6c3ea46fdb1582936aac3ac899ea311a701b40"
    )
    expect(IndexManifest.findByPlatform(list, platform("linux/arm/v6"))).toEqual(Option.none())
  })

  it("requires the features asked for to be among the child's", () => {
    const list = v2list()
    const sse = Platform.make({ os: "linux", architecture: "amd64", features: ["sse"] })
    const avx = Platform.make({ os: "linux", architecture: "amd64", features: ["avx"] })
    expect(digestOf(IndexManifest.findByPlatform(list, sse))).toBe(
      "sha256:ae1b0e06e8ade3a11267564a26e750585ba2259c0ecab59ab165ad1af41d1bdd"
    )
    expect(IndexManifest.findByPlatform(list, avx)).toEqual(Option.none())
    const sse4 = Platform.make({ os: "linux", architecture: "amd64", osFeatures: ["sse4"] })
    expect(digestOf(IndexManifest.findByPlatform(ociIndex(), sse4))).toBe(
      "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"
    )
  })

  it("finds nothing for a platform the index lacks", () => {
    expect(IndexManifest.findByPlatform(v2list(), platform("windows/amd64"))).toEqual(Option.none())
  })

  it("treats a child without a platform as linux/amd64, as ggcr does", () => {
    const index = IndexManifest.make([Descriptor.make(MediaType.OCI_MANIFEST, Digest.fromBytes("a"), 1)])
    expect(Option.isSome(IndexManifest.findByPlatform(index, Platform.defaultPlatform))).toBe(true)
    expect(IndexManifest.findByPlatform(index, platform("linux/arm64"))).toEqual(Option.none())
  })

  it("finds a child by digest, data-first or piped", () => {
    const list = v2list()
    const digest = Either.getOrThrow(
      Digest.parse("sha256:07ebe243465ef4a667b78154ae6c3ea46fdb1582936aac3ac899ea311a701b40")
    )
    const found = IndexManifest.findByDigest(list, digest)
    expect(Option.map(found, (d) => d.platform?.variant)).toEqual(Option.some("armv7"))
    expect(pipe(list, IndexManifest.findByDigest(digest))).toEqual(IndexManifest.findByDigest(list, digest))
    expect(IndexManifest.findByDigest(list, Digest.fromBytes("absent"))).toEqual(Option.none())
  })

  it("picks by platform when piped too", () => {
    const list = v2list()
    expect(pipe(list, IndexManifest.findByPlatform(platform("linux/ppc64le")))).toEqual(
      IndexManifest.findByPlatform(list, platform("linux/ppc64le"))
    )
  })
})

describe("IndexManifest.make and encode", () => {
  const child = Descriptor.make(MediaType.OCI_MANIFEST, Digest.fromBytes("child"), 5, {
    platform: Platform.make({ os: "linux", architecture: "arm64", variant: "v8" })
  })

  it("writes compact JSON in ggcr's field order, platform fields included", () => {
    const index = IndexManifest.make([child], { annotations: { z: "1", a: "2" } })
    expect(new TextDecoder().decode(IndexManifest.encode(index))).toBe(
      `{"schemaVersion":2,"mediaType":"${MediaType.OCI_INDEX}","manifests":[{"mediaType":"${MediaType.OCI_MANIFEST}",` +
        `"size":5,"digest":"${child.digest}","platform":{"architecture":"arm64","os":"linux","variant":"v8"}}],` +
        `"annotations":{"a":"2","z":"1"}}`
    )
  })

  it("encodes once and digests those bytes, which decode back to the same value", () => {
    const index = IndexManifest.make([child], { mediaType: MediaType.DOCKER_MANIFEST_LIST })
    const raw = IndexManifest.toRaw(index)
    expect(raw.mediaType).toBe(MediaType.DOCKER_MANIFEST_LIST)
    expect(raw.digest).toBe(sha256(raw.bytes))
    expect(Either.getOrThrow(IndexManifest.decode(raw.bytes)).value).toEqual(index)
  })
})

describe("a real OCI layout (ggcr's test_index)", () => {
  it("names every blob by the digest of its bytes", () => {
    const files = readdirSync(BLOBS)
    expect(files.length).toBeGreaterThan(0)
    for (const file of files) {
      expect(sha256(new Uint8Array(readFileSync(new URL(file, BLOBS))))).toBe(`sha256:${file}`)
    }
  })

  it("decodes index.json, which has no mediaType, as an OCI index", () => {
    const raw = Either.getOrThrow(IndexManifest.decode(new Uint8Array(readFileSync(new URL("index.json", LAYOUT)))))
    expect(raw.mediaType).toBe(MediaType.OCI_INDEX)
    expect(raw.value.manifests.map((d) => d.annotations?.["org.opencontainers.image.ref.name"])).toEqual([
      "1",
      "2",
      "3",
      "4"
    ])
  })

  it("decodes every document the index reaches: manifests, nested indexes and configs", () => {
    const root = Either.getOrThrow(IndexManifest.decode(new Uint8Array(readFileSync(new URL("index.json", LAYOUT)))))
    const seen = { manifests: 0, indexes: 0, configs: 0 }
    const visit = (descriptor: Descriptor.Descriptor): void => {
      const bytes = blob(descriptor.digest)
      expect(bytes.length).toBe(descriptor.size)
      expect(sha256(bytes)).toBe(descriptor.digest)
      // The layout calls one image a bare descriptor: ask the bytes what they are.
      const kind = MediaType.isManifest(descriptor.mediaType)
        ? descriptor.mediaType
        : Option.getOrThrow(Manifest.sniff(bytes))
      if (MediaType.isIndex(kind)) {
        const raw = Either.getOrThrow(IndexManifest.decode(bytes, { mediaType: descriptor.mediaType }))
        expect(raw.digest).toBe(descriptor.digest)
        expect(raw.mediaType).toBe(kind)
        seen.indexes++
        raw.value.manifests.forEach(visit)
      } else {
        const raw = Either.getOrThrow(Manifest.decode(bytes, { mediaType: descriptor.mediaType }))
        expect(raw.digest).toBe(descriptor.digest)
        seen.manifests++
        const configBytes = blob(raw.value.config.digest)
        const config = Either.getOrThrow(ConfigFile.decode(configBytes, { mediaType: raw.value.config.mediaType }))
        expect(config.digest).toBe(raw.value.config.digest)
        expect(ConfigFile.diffIds(config.value)).toHaveLength(raw.value.layers.length)
        seen.configs++
        for (const layer of raw.value.layers) expect(sha256(blob(layer.digest))).toBe(layer.digest)
      }
    }
    root.value.manifests.forEach(visit)
    expect(seen).toEqual({ manifests: 4, indexes: 2, configs: 4 })
  })

  it("keeps the media type the layout gave a nested index whose bytes do not say", () => {
    const digest = Either.getOrThrow(
      Digest.parse("sha256:2b29a2b8dea3af91ea7d0154be1da0c92d55ddd098540930fc8d3db7de377fdb")
    )
    const raw = Either.getOrThrow(IndexManifest.decode(blob(digest), { mediaType: MediaType.DOCKER_MANIFEST_LIST }))
    expect(raw.mediaType).toBe(MediaType.DOCKER_MANIFEST_LIST)
    expect(raw.value.mediaType).toBeUndefined()
  })
})
