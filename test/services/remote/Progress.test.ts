/**
 * The progress service: what a tracked stream reports, and where remote operations report.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Random from "../../../src/domain/Random.js"
import * as Progress from "../../../src/services/Progress.js"
import * as Remote from "../../../src/services/Remote.js"
import { freshRepository, oursInProcess, tagOf } from "./support.js"

const bytes = (n: number) => new Uint8Array(n).fill(1)

const chunks = Stream.fromChunks(Chunk.make(bytes(3), bytes(4)), Chunk.make(bytes(5)))

describe("Progress.track", () => {
  it.effect("reports a Start, an Advance with the count so far for each chunk, and a Done", () =>
    Effect.gen(function*() {
      const events = yield* Ref.make(Chunk.empty<Progress.Event>())
      const transfer = { id: "sha256:x", total: 12, direction: "Download" } as const
      const out = yield* Stream.runCollect(Progress.track(chunks, Progress.collect(events), transfer))
      expect(Chunk.toReadonlyArray(out).map((b) => b.byteLength)).toEqual([3, 4, 5])
      expect(Chunk.toReadonlyArray(yield* Ref.get(events))).toEqual([
        { _tag: "Start", ...transfer },
        { _tag: "Advance", ...transfer, bytes: 7 },
        { _tag: "Advance", ...transfer, bytes: 12 },
        { _tag: "Done", ...transfer, bytes: 12 }
      ])
    }))

  it.effect("counts afresh each time the stream runs", () =>
    Effect.gen(function*() {
      const events = yield* Ref.make(Chunk.empty<Progress.Event>())
      const tracked = chunks.pipe(Progress.track(Progress.collect(events), { id: "a", total: 12, direction: "Upload" }))
      yield* Stream.runDrain(tracked)
      yield* Stream.runDrain(tracked)
      const done = Chunk.toReadonlyArray(yield* Ref.get(events)).filter((e) => e._tag === "Done")
      expect(done.map((e) => e._tag === "Done" ? e.bytes : 0)).toEqual([12, 12])
    }))

  it("leaves the stream untouched when nobody listens", () => {
    const transfer = { id: "a", total: 12, direction: "Upload" } as const
    expect(Progress.track(chunks, Progress.none, transfer)).toBe(chunks)
  })
})

layer(oursInProcess(), { excludeTestServices: true })("Progress in the context", (it) => {
  it.effect("receives the transfers of a write that names no progress of its own", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("context-progress")
      const image = yield* Random.image({ layers: 1, layerSize: 1_000, seed: "context-progress" })
      const events = yield* Ref.make(Chunk.empty<Progress.Event>())
      yield* Remote.write(tagOf(repo, "v1"), image).pipe(Effect.provide(Progress.layerRef(events)))
      const done = Chunk.toReadonlyArray(yield* Ref.get(events)).filter((e) => e._tag === "Done").map((e) => e.id)
      const [layer] = yield* image.layers
      expect(done).toContain(yield* layer!.digest)
      expect(done).toContain(yield* image.configName)
      expect(done).toContain(yield* image.digest)
    }))

  it.effect("is ignored when the options name a progress", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("options-progress")
      const image = yield* Random.image({ layers: 1, layerSize: 1_000, seed: "options-progress" })
      const inContext = yield* Ref.make(Chunk.empty<Progress.Event>())
      const inOptions = yield* Ref.make(Chunk.empty<Progress.Event>())
      yield* Remote.write(tagOf(repo, "v1"), image, { progress: Progress.collect(inOptions) }).pipe(
        Effect.provide(Progress.layerRef(inContext))
      )
      expect(Chunk.size(yield* Ref.get(inContext))).toBe(0)
      expect(Chunk.size(yield* Ref.get(inOptions))).toBeGreaterThan(0)
    }))
})
