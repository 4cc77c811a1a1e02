import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import { readdirSync, readFileSync } from "node:fs"
import * as Descriptor from "../../src/domain/Descriptor.js"
import * as Digest from "../../src/domain/Digest.js"
import type { InvalidDocument } from "../../src/domain/Errors.js"
import * as Manifest from "../../src/domain/Manifest.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as RawDocument from "../../src/domain/RawDocument.js"

const FIXTURES = new URL("../../../shared/fixtures/containers-image/manifests/", import.meta.url)
const LAYOUT_BLOBS = new URL("../../../shared/fixtures/ggcr/layout/test_index/blobs/sha256/", import.meta.url)

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIXTURES)))
const sha256 = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`
const json = (bytes: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(bytes))
const text = new TextEncoder()

const reasonOf = <A>(result: Either.Either<A, InvalidDocument>) =>
  Either.match(result, { onLeft: (e) => e.reason, onRight: () => "ok" as const })
const errorOf = <A>(result: Either.Either<A, InvalidDocument>): InvalidDocument =>
  Either.match(result, {
    onLeft: (e) => e,
    onRight: () => expect.fail("expected the document to be refused")
  })

/** What containers/image's GuessMIMEType says of each fixture, and what decoding it as an image manifest gives. */
const expectations: Record<string, { readonly sniff: string | undefined; readonly decode: string }> = {
  "non-json.manifest.json": { sniff: undefined, decode: "NotJson" },
  "ociv1.artifact.json": { sniff: MediaType.OCI_MANIFEST, decode: "Schema" },
  "ociv1.image.index.json": { sniff: MediaType.OCI_INDEX, decode: "UnsupportedMediaType" },
  "ociv1.invalid.mediatype.manifest.json": { sniff: MediaType.OCI_MANIFEST, decode: MediaType.OCI_MANIFEST },
  "ociv1.manifest.json": { sniff: MediaType.OCI_MANIFEST, decode: MediaType.OCI_MANIFEST },
  "ociv1.nondistributable.gzip.manifest.json": { sniff: MediaType.OCI_MANIFEST, decode: MediaType.OCI_MANIFEST },
  "ociv1.nondistributable.manifest.json": { sniff: MediaType.OCI_MANIFEST, decode: MediaType.OCI_MANIFEST },
  "ociv1.nondistributable.zstd.manifest.json": { sniff: MediaType.OCI_MANIFEST, decode: MediaType.OCI_MANIFEST },
  "ociv1.uncompressed.manifest.json": { sniff: MediaType.OCI_MANIFEST, decode: MediaType.OCI_MANIFEST },
  "ociv1.zstd.manifest.json": { sniff: MediaType.OCI_MANIFEST, decode: MediaType.OCI_MANIFEST },
  "ociv1nomime.artifact.json": { sniff: MediaType.OCI_MANIFEST, decode: "Schema" },
  "ociv1nomime.image.index.json": { sniff: MediaType.OCI_INDEX, decode: "UnsupportedMediaType" },
  "ociv1nomime.manifest.json": { sniff: MediaType.OCI_MANIFEST, decode: MediaType.OCI_MANIFEST },
  "schema2-to-schema1-by-docker.json": { sniff: undefined, decode: "NotJson" },
  "unknown-version.manifest.json": { sniff: undefined, decode: "UnsupportedSchemaVersion" },
  "v2list.manifest.json": { sniff: MediaType.DOCKER_MANIFEST_LIST, decode: "UnsupportedMediaType" },
  "v2s1-invalid-signatures.manifest.json": {
    sniff: MediaType.DOCKER_MANIFEST_SCHEMA1_SIGNED,
    decode: "UnsupportedMediaType"
  },
  "v2s1-unsigned.manifest.json": { sniff: MediaType.DOCKER_MANIFEST_SCHEMA1, decode: "UnsupportedMediaType" },
  "v2s1.manifest.json": { sniff: MediaType.DOCKER_MANIFEST_SCHEMA1_SIGNED, decode: "UnsupportedMediaType" },
  "v2s2.manifest.json": { sniff: MediaType.DOCKER_MANIFEST, decode: MediaType.DOCKER_MANIFEST },
  "v2s2.nondistributable.gzip.manifest.json": { sniff: MediaType.DOCKER_MANIFEST, decode: MediaType.DOCKER_MANIFEST },
  "v2s2.nondistributable.manifest.json": { sniff: MediaType.DOCKER_MANIFEST, decode: MediaType.DOCKER_MANIFEST },
  "v2s2.uncompressed.manifest.json": { sniff: MediaType.DOCKER_MANIFEST, decode: MediaType.DOCKER_MANIFEST },
  "v2s2nomime.manifest.json": { sniff: MediaType.DOCKER_MANIFEST, decode: MediaType.DOCKER_MANIFEST }
}
const names = Object.keys(expectations).sort()
const images = names.filter((name) => expectations[name]?.decode.startsWith("application/"))

const CONFIG = Descriptor.make(MediaType.OCI_CONFIG, Digest.fromBytes("config"), 6)
const LAYER = Descriptor.make(MediaType.OCI_LAYER_GZIP, Digest.fromBytes("layer"), 5)

describe("Manifest fixtures (containers/image)", () => {
  it("has an expectation for every fixture file", () => {
    expect(readdirSync(FIXTURES).sort()).toEqual(names)
  })

  it.each(names)("sniffs %s as containers/image's GuessMIMEType does", (name) => {
    expect(Option.getOrUndefined(Manifest.sniff(fixture(name)))).toBe(expectations[name]?.sniff)
  })

  it.each(images)("decodes %s as the image manifest it is", (name) => {
    const raw = Either.getOrThrow(Manifest.decode(fixture(name)))
    expect(raw.mediaType).toBe(expectations[name]?.decode)
    expect(raw.value.schemaVersion).toBe(2)
  })

  it.each(images)("keeps the bytes of %s exactly and digests them", (name) => {
    const bytes = fixture(name)
    const raw = Either.getOrThrow(Manifest.decode(bytes))
    expect(Buffer.from(raw.bytes).equals(bytes)).toBe(true)
    expect(raw.digest).toBe(sha256(bytes))
    expect(RawDocument.descriptor(raw)).toEqual({ mediaType: raw.mediaType, digest: sha256(bytes), size: bytes.length })
  })

  it.each(images)("re-encodes the value of %s without losing a field", (name) => {
    const bytes = fixture(name)
    const raw = Either.getOrThrow(Manifest.decode(bytes))
    expect(json(Manifest.encode(raw.value))).toEqual(json(bytes))
  })

  it.each(names.filter((name) => !images.includes(name)))("refuses %s as an image manifest with its reason", (name) => {
    expect(reasonOf(Manifest.decode(fixture(name)))).toBe(expectations[name]?.decode)
  })
})

describe("Manifest.decode", () => {
  it("keeps digesting the bytes it read, not a re-serialisation of the value", () => {
    const bytes = fixture("ociv1.manifest.json")
    const raw = Either.getOrThrow(Manifest.decode(bytes))
    expect(Manifest.encode(raw.value)).not.toEqual(bytes)
    expect(raw.digest).toBe(sha256(bytes))
  })

  it("copies the bytes, so changing the caller's buffer does not change the document", () => {
    const bytes = fixture("v2s2.manifest.json")
    const raw = Either.getOrThrow(Manifest.decode(bytes))
    bytes[0] = 0x20
    expect(sha256(raw.bytes)).toBe(raw.digest)
  })

  it("keeps unknown fields on the value and writes them back", () => {
    const doc = json(fixture("ociv1.manifest.json")) as { config: object; layers: Array<object> }
    const extended = {
      ...doc,
      "com.example.top": { nested: [1, 2, 3] },
      config: { ...doc.config, "com.example.descriptor": true },
      layers: doc.layers.map((layer) => ({ ...layer, "com.example.layer": "kept" }))
    }
    const raw = Either.getOrThrow(Manifest.decode(text.encode(JSON.stringify(extended))))
    expect(raw.value).toMatchObject({ "com.example.top": { nested: [1, 2, 3] } })
    expect(raw.value.config).toMatchObject({ "com.example.descriptor": true })
    expect(json(Manifest.encode(raw.value))).toEqual(extended)
  })

  it("guesses a Docker manifest from its Docker config type when mediaType is missing", () => {
    const raw = Either.getOrThrow(Manifest.decode(fixture("v2s2nomime.manifest.json")))
    expect(raw.mediaType).toBe(MediaType.DOCKER_MANIFEST)
    expect(raw.value.mediaType).toBeUndefined()
  })

  it("uses the served media type to tell Docker from OCI when the document does not say", () => {
    const bytes = fixture("ociv1nomime.manifest.json")
    const raw = Either.getOrThrow(Manifest.decode(bytes, { mediaType: MediaType.DOCKER_MANIFEST }))
    expect(raw.mediaType).toBe(MediaType.DOCKER_MANIFEST)
  })

  it("ignores a served media type of another kind of document", () => {
    const bytes = fixture("ociv1nomime.manifest.json")
    expect(Either.getOrThrow(Manifest.decode(bytes, { mediaType: MediaType.OCI_INDEX })).mediaType).toBe(
      MediaType.OCI_MANIFEST
    )
    const plain = Either.getOrThrow(Manifest.decode(bytes, { mediaType: "text/plain" }))
    expect(plain.mediaType).toBe(MediaType.OCI_MANIFEST)
  })

  it("believes the document's own mediaType over the served one", () => {
    const raw = Either.getOrThrow(Manifest.decode(fixture("v2s2.manifest.json"), { mediaType: MediaType.OCI_MANIFEST }))
    expect(raw.mediaType).toBe(MediaType.DOCKER_MANIFEST)
  })

  it("accepts layer media types it does not know, as the OCI spec requires", () => {
    const raw = Either.getOrThrow(Manifest.decode(fixture("ociv1.invalid.mediatype.manifest.json")))
    const first = raw.value.layers[0]
    expect(first?.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+unknown")
    expect(MediaType.isLayer(first?.mediaType ?? "")).toBe(false)
  })

  it("reads non-distributable layers of both families", () => {
    const oci = Either.getOrThrow(Manifest.decode(fixture("ociv1.nondistributable.zstd.manifest.json")))
    const docker = Either.getOrThrow(Manifest.decode(fixture("v2s2.nondistributable.manifest.json")))
    for (const raw of [oci, docker]) {
      const layer = raw.value.layers[0]?.mediaType ?? ""
      expect(MediaType.isLayer(layer)).toBe(true)
      expect(MediaType.isDistributable(layer)).toBe(false)
    }
  })

  it("refuses an empty config digest, as ggcr does", () => {
    const error = errorOf(Manifest.decode(fixture("ociv1.artifact.json")))
    expect(error.reason).toBe("Schema")
    expect(error.message).toContain(".config.digest")
    expect(error.message).toContain(".layers")
  })

  it("says which Docker schema 1 type it refuses", () => {
    const error = errorOf(Manifest.decode(fixture("v2s1.manifest.json")))
    expect(error.reason).toBe("UnsupportedMediaType")
    expect(error.message).toContain(MediaType.DOCKER_MANIFEST_SCHEMA1_SIGNED)
  })

  it("refuses an index and says it is one", () => {
    const error = errorOf(Manifest.decode(fixture("ociv1nomime.image.index.json")))
    expect(error.kind).toBe("manifest")
    expect(error.message).toContain("an image index")
  })

  it("reports the JSON parser's message for bytes that are not JSON", () => {
    const error = errorOf(Manifest.decode(fixture("non-json.manifest.json")))
    expect(error.reason).toBe("NotJson")
    expect(error.detail).toContain("not valid JSON")
  })

  it("reports an unknown schemaVersion", () => {
    const error = errorOf(Manifest.decode(fixture("unknown-version.manifest.json")))
    expect(error.reason).toBe("UnsupportedSchemaVersion")
    expect(error.detail).toContain("99999")
  })

  it("refuses a document larger than the limit before parsing it", () => {
    const bytes = fixture("ociv1.manifest.json")
    expect(reasonOf(Manifest.decode(bytes, { maxSize: bytes.length - 1 }))).toBe("TooLarge")
    expect(reasonOf(Manifest.decode(bytes, { maxSize: bytes.length }))).toBe("ok")
  })

  it("refuses an unknown mediaType field", () => {
    const doc = {
      ...(json(fixture("ociv1.manifest.json")) as object),
      mediaType: "application/vnd.oci.artifact.manifest.v1+json"
    }
    expect(reasonOf(Manifest.decode(text.encode(JSON.stringify(doc))))).toBe("UnsupportedMediaType")
  })

  it("refuses an ambiguous document that also lists manifests", () => {
    const doc = { ...(json(fixture("ociv1.manifest.json")) as object), manifests: [] }
    const error = errorOf(Manifest.decode(text.encode(JSON.stringify(doc))))
    expect(error.reason).toBe("Schema")
    expect(error.detail).toContain("ambiguous")
  })

  it("refuses JSON that is not an object", () => {
    expect(reasonOf(Manifest.decode(text.encode("[1,2]")))).toBe("Schema")
    expect(reasonOf(Manifest.decode(text.encode("null")))).toBe("Schema")
  })

  it("refuses a negative layer size with the path of the field", () => {
    const doc = json(fixture("ociv1.manifest.json")) as { layers: Array<{ size: number }> }
    const first = doc.layers[0]
    if (first) first.size = -1
    const error = errorOf(Manifest.decode(text.encode(JSON.stringify(doc))))
    expect(error.reason).toBe("Schema")
    expect(error.detail).toContain(".layers[0].size")
  })

  it.effect("can be yielded as an Effect", () =>
    Effect.gen(function* () {
      const raw = yield* Manifest.decode(fixture("v2s2.manifest.json"))
      expect(raw.value.layers).toHaveLength(3)
      const error = yield* Effect.flip(Manifest.decode(fixture("v2list.manifest.json")))
      expect(error._tag).toBe("InvalidDocument")
    })
  )
})

describe("Manifest.encode", () => {
  it("writes compact JSON in ggcr's field order", () => {
    const subject = Descriptor.make(MediaType.OCI_MANIFEST, Digest.fromBytes("subject"), 7)
    const manifest = Manifest.make(CONFIG, [LAYER], {
      artifactType: "application/vnd.example",
      subject,
      annotations: { b: "2", a: "1" }
    })
    const descriptor = (d: Descriptor.Descriptor) =>
      `{"mediaType":"${d.mediaType}","size":${d.size},"digest":"${d.digest}"}`
    expect(new TextDecoder().decode(Manifest.encode(manifest))).toBe(
      `{"schemaVersion":2,"mediaType":"${MediaType.OCI_MANIFEST}","config":${descriptor(CONFIG)},` +
        `"layers":[${descriptor(LAYER)}],"annotations":{"a":"1","b":"2"},"subject":${descriptor(subject)},` +
        `"artifactType":"application/vnd.example"}`
    )
  })

  it("escapes <, > and & as Go's encoding/json does", () => {
    const manifest = Manifest.make(CONFIG, [], { annotations: { cmd: "a && b <c>" } })
    const encoded = new TextDecoder().decode(Manifest.encode(manifest))
    expect(encoded).toContain(String.raw`"a \u0026\u0026 b \u003cc\u003e"`)
    expect(json(Manifest.encode(manifest))).toEqual(manifest)
  })

  it.each([
    "32589985702551b6c56033bb3334432a0a513bf9d6aceda0f67c42b003850720",
    "eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650"
  ])(
    "writes the manifest ggcr wrote (%s) byte for byte",
    (hex) => {
      const bytes = new Uint8Array(readFileSync(new URL(hex, LAYOUT_BLOBS)))
      const raw = Either.getOrThrow(Manifest.decode(bytes))
      expect(Buffer.from(Manifest.encode(raw.value)).equals(bytes)).toBe(true)
    }
  )
})

describe("Manifest.make and toRaw", () => {
  it("picks the manifest type from the config's family", () => {
    expect(Manifest.make(CONFIG, [LAYER]).mediaType).toBe(MediaType.OCI_MANIFEST)
    const dockerConfig = { ...CONFIG, mediaType: MediaType.DOCKER_CONFIG }
    expect(Manifest.make(dockerConfig, [LAYER]).mediaType).toBe(MediaType.DOCKER_MANIFEST)
  })

  it("leaves out the optional fields it was not given", () => {
    expect(Object.keys(Manifest.make(CONFIG, [LAYER]))).toEqual(["schemaVersion", "mediaType", "config", "layers"])
  })

  it("encodes once and digests those bytes, which decode back to the same value", () => {
    const manifest = Manifest.make(CONFIG, [LAYER])
    const raw = Manifest.toRaw(manifest)
    expect(raw.digest).toBe(sha256(raw.bytes))
    expect(raw.mediaType).toBe(MediaType.OCI_MANIFEST)
    const back = Either.getOrThrow(Manifest.decode(raw.bytes))
    expect(back.value).toEqual(manifest)
    expect(back.digest).toBe(raw.digest)
  })
})

describe("Manifest.detectMediaType", () => {
  it("reads the mediaType field as it is", () => {
    expect(Manifest.detectMediaType({ schemaVersion: 2, mediaType: "application/x-custom" })).toEqual(
      Option.some("application/x-custom")
    )
  })

  it("has nothing to say about values that are not manifests", () => {
    expect(Manifest.detectMediaType("text")).toEqual(Option.none())
    expect(Manifest.detectMediaType({ schemaVersion: 3 })).toEqual(Option.none())
    expect(Manifest.sniff(text.encode("{}"))).toEqual(Option.none())
  })

  it("does not read more than the size limit", () => {
    expect(Manifest.sniff(fixture("v2s2.manifest.json"), { maxSize: 10 })).toEqual(Option.none())
  })
})
