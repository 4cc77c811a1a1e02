import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Http from "../../../src/registry/internal/http.js"

const bytes = (n: number) => new Uint8Array(n).fill(7)

describe("http", () => {
  describe("resolveRange", () => {
    it("serves the whole blob without a Range or with one it cannot read", () => {
      expect(Http.resolveRange(undefined, 10)).toEqual({ _tag: "Whole" })
      expect(Http.resolveRange("items=0-1", 10)).toEqual({ _tag: "Whole" })
      expect(Http.resolveRange("bytes=0-1,4-5", 10)).toEqual({ _tag: "Whole" })
      expect(Http.resolveRange("bytes=5-2", 10)).toEqual({ _tag: "Whole" })
    })

    it("reads closed, open-ended and suffix ranges, clamping the end", () => {
      expect(Http.resolveRange("bytes=2-5", 10)).toEqual({ _tag: "Part", start: 2, end: 5 })
      expect(Http.resolveRange("bytes=2-", 10)).toEqual({ _tag: "Part", start: 2, end: 9 })
      expect(Http.resolveRange("bytes=8-100", 10)).toEqual({ _tag: "Part", start: 8, end: 9 })
      expect(Http.resolveRange("bytes=-3", 10)).toEqual({ _tag: "Part", start: 7, end: 9 })
      expect(Http.resolveRange("bytes=-30", 10)).toEqual({ _tag: "Part", start: 0, end: 9 })
    })

    it("refuses ranges that start past the end, empty suffixes, and any range of an empty blob", () => {
      expect(Http.resolveRange("bytes=10-", 10)).toEqual({ _tag: "Unsatisfiable" })
      expect(Http.resolveRange("bytes=-0", 10)).toEqual({ _tag: "Unsatisfiable" })
      expect(Http.resolveRange("bytes=0-0", 0)).toEqual({ _tag: "Unsatisfiable" })
    })
  })

  it("reads Content-Range as the spec writes it and in the bytes forms clients send", () => {
    expect(Http.parseContentRange("0-99")).toEqual(Option.some({ start: 0, end: 99 }))
    expect(Http.parseContentRange("bytes 100-199/*")).toEqual(Option.some({ start: 100, end: 199 }))
    expect(Http.parseContentRange("bytes=5-9/10")).toEqual(Option.some({ start: 5, end: 9 }))
    expect(Http.parseContentRange("9-5")).toEqual(Option.none())
    expect(Http.parseContentRange("*/100")).toEqual(Option.none())
  })

  it("reads n and last, refusing an n that is not a count", () => {
    expect(Http.paging(new URLSearchParams("n=3&last=b"))).toEqual(Either.right({ n: 3, last: "b" }))
    expect(Http.paging(new URLSearchParams(""))).toEqual(Either.right({ n: undefined, last: undefined }))
    expect(Either.isLeft(Http.paging(new URLSearchParams("n=-1")))).toBe(true)
    expect(Either.isLeft(Http.paging(new URLSearchParams("n=1.5")))).toBe(true)
  })

  it("writes the Link header of the next page with the last item escaped", () => {
    expect(Http.nextLink("/v2/_catalog", "a/b", 2)).toBe(`</v2/_catalog?last=a%2Fb&n=2>; rel="next"`)
  })

  it("writes an upload's Range as 0-<last byte>, 0-0 when empty", () => {
    expect(Http.uploadRange(0)).toBe("0-0")
    expect(Http.uploadRange(1)).toBe("0-0")
    expect(Http.uploadRange(100)).toBe("0-99")
  })

  describe("exactly", () => {
    it.effect("passes a stream of the promised length through", () =>
      Effect.gen(function*() {
        const out = yield* Stream.runCollect(Http.exactly(Stream.make(bytes(3), bytes(4)), 7))
        expect(Chunk.toReadonlyArray(out).map((b) => b.byteLength)).toEqual([3, 4])
      }))

    it.effect("fails a short stream at its end and a long one after reading it all, passing no surplus", () =>
      Effect.gen(function*() {
        const short = yield* Effect.exit(Stream.runCollect(Http.exactly(Stream.make(bytes(3)), 7)))
        expect(Exit.isFailure(short)).toBe(true)
        let passed = 0
        const long = yield* Effect.exit(
          Stream.runForEach(Http.exactly(Stream.make(bytes(5), bytes(5), bytes(5)), 7), (b) =>
            Effect.sync(() => {
              passed += b.byteLength
            }))
        )
        expect(passed).toBe(7)
        expect(long).toEqual(Exit.fail(new Http.LengthMismatch({ expected: 7, actual: 15 })))
      }))
  })

  describe("readAtMost", () => {
    it.effect("reads a body within the limit into one array", () =>
      Effect.gen(function*() {
        const out = yield* Http.readAtMost(Stream.make(bytes(2), bytes(3)), 5)
        expect(out).toEqual(bytes(5))
      }))

    it.effect("fails with TooLarge past the limit, after reading the rest", () =>
      Effect.gen(function*() {
        let pulled = 0
        const stream = Stream.make(bytes(4), bytes(4), bytes(4)).pipe(Stream.tap(() => Effect.sync(() => void pulled++)))
        const exit = yield* Effect.exit(Http.readAtMost(stream, 5))
        expect(exit).toEqual(Exit.fail(new Http.TooLarge({ limit: 5 })))
        expect(pulled).toBe(3)
      }))
  })
})
