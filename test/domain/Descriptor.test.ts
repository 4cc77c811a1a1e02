import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Descriptor from "../../src/domain/Descriptor.js"
import * as Digest from "../../src/domain/Digest.js"
import * as MediaType from "../../src/domain/MediaType.js"

const DIGEST = "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"
const valid = { mediaType: MediaType.OCI_LAYER_GZIP, size: 32654, digest: DIGEST }

const decode = Schema.decodeUnknownEither(Descriptor.Descriptor)
const messageOf = (input: unknown): string =>
  Either.match(decode(input), { onLeft: (e) => ParseResult.TreeFormatter.formatErrorSync(e), onRight: () => "" })

describe("Descriptor schema", () => {
  it("decodes a plain descriptor", () => {
    expect(Either.getOrThrow(decode(valid))).toEqual(valid)
  })

  it("decodes every optional field", () => {
    const full = {
      ...valid,
      data: "e30=",
      urls: ["https://example.com/layer"],
      annotations: { "org.opencontainers.image.title": "layer.tar.gz" },
      platform: { architecture: "arm64", os: "linux", variant: "v8" },
      artifactType: "application/vnd.example+json"
    }
    expect(Either.getOrThrow(decode(full))).toEqual(full)
  })

  it("refuses a bad digest with Digest's own message", () => {
    expect(messageOf({ ...valid, digest: "sha256:1234" })).toContain("sha256 needs 64 hex characters")
    expect(messageOf({ ...valid, digest: "" })).toContain("expected the form algorithm:hex")
    expect(messageOf({ ...valid, digest: DIGEST.toUpperCase().replace("SHA256", "sha256") })).toContain("lower-case")
  })

  it("refuses a negative size", () => {
    expect(Either.isLeft(decode({ ...valid, size: -1 }))).toBe(true)
  })

  it("refuses a fractional size or one beyond the safe integers", () => {
    expect(Either.isLeft(decode({ ...valid, size: 1.5 }))).toBe(true)
    expect(Either.isLeft(decode({ ...valid, size: Number.MAX_SAFE_INTEGER + 2 }))).toBe(true)
    expect(Either.isRight(decode({ ...valid, size: 0 }))).toBe(true)
  })

  it("refuses a size written as a string", () => {
    expect(Either.isLeft(decode({ ...valid, size: "32654" }))).toBe(true)
  })

  it("requires mediaType, size and digest", () => {
    for (const field of ["mediaType", "size", "digest"] as const) {
      const { [field]: _, ...rest } = valid
      expect(Either.isLeft(decode(rest))).toBe(true)
    }
  })

  it("refuses annotations whose values are not strings", () => {
    expect(Either.isLeft(decode({ ...valid, annotations: { n: 1 } }))).toBe(true)
  })

  it("keeps unknown fields when asked to preserve them", () => {
    const preserve = Schema.decodeUnknownEither(Descriptor.Descriptor, { onExcessProperty: "preserve" })
    expect(Either.getOrThrow(preserve({ ...valid, "com.example": 1 }))).toEqual({ ...valid, "com.example": 1 })
  })
})

describe("Descriptor constructors", () => {
  it("make puts the required fields first and adds the optional ones", () => {
    const digest = Digest.fromBytes("x")
    expect(Descriptor.make(MediaType.OCI_CONFIG, digest, 1, { annotations: { a: "b" } })).toEqual({
      mediaType: MediaType.OCI_CONFIG,
      size: 1,
      digest,
      annotations: { a: "b" }
    })
  })

  it("ofBytes describes bytes by their digest and length", () => {
    const bytes = new TextEncoder().encode("{}")
    expect(Descriptor.ofBytes(MediaType.OCI_EMPTY_JSON, bytes)).toEqual({
      mediaType: MediaType.OCI_EMPTY_JSON,
      size: 2,
      digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    })
  })
})
