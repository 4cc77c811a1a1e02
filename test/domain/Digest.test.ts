import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import * as Digest from "../../src/domain/Digest.js"

const EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
const text = new TextEncoder()

const reasonOf = (input: string) =>
  Either.match(Digest.parse(input), { onLeft: (e) => e.reason, onRight: () => "ok" as const })

describe("Digest.parse", () => {
  it("accepts sha256 and sha512 digests", () => {
    expect(reasonOf(EMPTY_SHA256)).toBe("ok")
    const sha512 = `sha512:${createHash("sha512").update("").digest("hex")}`
    expect(reasonOf(sha512)).toBe("ok")
  })

  it("refuses each malformed shape with its own reason", () => {
    expect(reasonOf("")).toBe("Malformed")
    expect(reasonOf("sha256")).toBe("Malformed")
    expect(reasonOf(":abc")).toBe("Malformed")
    expect(reasonOf("sha256:")).toBe("Malformed")
    expect(reasonOf("SHA256:" + "a".repeat(64))).toBe("Malformed")
    expect(reasonOf("md5:" + "a".repeat(32))).toBe("UnknownAlgorithm")
    expect(reasonOf("sha256:" + "a".repeat(63))).toBe("BadLength")
    expect(reasonOf("sha512:" + "a".repeat(64))).toBe("BadLength")
    expect(reasonOf("sha256:" + "A".repeat(64))).toBe("BadHex")
    expect(reasonOf("sha256:" + "g".repeat(64))).toBe("BadHex")
  })

  it("says what is wrong in the message", () => {
    const error = Either.getLeft(Digest.parse("sha256:" + "A".repeat(64)))
    expect(error._tag).toBe("Some")
    if (error._tag === "Some") expect(error.value.message).toContain("lower-case")
  })

  it("splits algorithm and hex", () => {
    const d = Either.getOrThrow(Digest.parse(EMPTY_SHA256))
    expect(Digest.algorithm(d)).toBe("sha256")
    expect(Digest.hex(d)).toBe(EMPTY_SHA256.slice(7))
  })
})

describe("Digest schema", () => {
  it("decodes valid digests and reports invalid ones", () => {
    const decode = Schema.decodeUnknownEither(Digest.Digest)
    expect(Either.isRight(decode(EMPTY_SHA256))).toBe(true)
    const bad = decode("sha256:xyz")
    expect(Either.isLeft(bad)).toBe(true)
    expect(String(Either.getLeft(bad).pipe((o) => (o._tag === "Some" ? o.value.message : "")))).toContain(
      "sha256 needs 64 hex characters"
    )
  })
})

describe("hashing", () => {
  it("hashes bytes like node:crypto", () => {
    expect(Digest.fromBytes(new Uint8Array())).toBe(EMPTY_SHA256)
    expect(Digest.fromBytes("hello", "sha512")).toBe(`sha512:${createHash("sha512").update("hello").digest("hex")}`)
  })

  it.effect("hashes a stream and counts its bytes", () =>
    Effect.gen(function* () {
      const parts = ["hello ", "streaming ", "world"].map((s) => text.encode(s))
      const measured = yield* Digest.ofStream(Stream.fromIterable(parts))
      expect(measured.size).toBe(21)
      expect(measured.digest).toBe(Digest.fromBytes("hello streaming world"))
    })
  )

  it.effect("tapMeasured reports digest and size at the end, afresh on each run", () =>
    Effect.gen(function* () {
      const seen: Array<Digest.Measured> = []
      const stream = Digest.tapMeasured(Stream.fromIterable([text.encode("ab"), text.encode("c")]), (m) =>
        Effect.sync(() => seen.push(m))
      )
      const out = yield* Stream.runCollect(stream)
      yield* Stream.runDrain(stream)
      expect(Chunk.size(out)).toBe(2)
      expect(seen).toEqual([
        { digest: Digest.fromBytes("abc"), size: 3 },
        { digest: Digest.fromBytes("abc"), size: 3 }
      ])
    })
  )
})

describe("verification", () => {
  const bytes = text.encode("some blob content")
  const good = Digest.fromBytes(bytes)

  it.effect("passes bytes that match", () =>
    Effect.gen(function* () {
      const out = yield* Stream.runCollect(Digest.verifyStream(Stream.make(bytes), good, { size: bytes.length }))
      expect(Chunk.toReadonlyArray(out)).toEqual([bytes])
      yield* Digest.verifyBytes(bytes, good, { size: bytes.length })
    })
  )

  it.effect("fails with DigestMismatch when the content differs", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Stream.runDrain(Digest.verifyStream(Stream.make(text.encode("other")), good)))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(Stream.runDrain(Digest.verifyStream(Stream.make(text.encode("other")), good)))
      expect(error._tag).toBe("DigestMismatch")
      const direct = yield* Effect.flip(Digest.verifyBytes(text.encode("other"), good))
      expect(direct._tag).toBe("DigestMismatch")
    })
  )

  it.effect("fails with SizeMismatch as soon as a stream passes its size", () =>
    Effect.gen(function* () {
      let pulled = 0
      const endless = Stream.repeatEffect(Effect.sync(() => (pulled++, new Uint8Array(10)))).pipe(Stream.take(1000))
      const error = yield* Effect.flip(Stream.runDrain(Digest.verifyStream(endless, good, { size: 15 })))
      expect(error._tag).toBe("SizeMismatch")
      expect(pulled).toBeLessThan(1000)
      const short = yield* Effect.flip(Stream.runDrain(Digest.verifyStream(Stream.make(bytes), good, { size: 99 })))
      expect(short._tag).toBe("SizeMismatch")
    })
  )
})
