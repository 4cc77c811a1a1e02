/**
 * Output.streamTo (stdout in the program): bytes written with backpressure, the writable left
 * open, a reader that goes away ending the stream quietly.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Writable } from "node:stream"
import * as Output from "../../src/cli/Output.js"
import { slowWritable } from "../services/slowWritable.js"

const KiB = 1024

// 64 one-piece chunks of 4 KiB, as file reads come.
const pieces = Stream.range(1, 64, 1).pipe(Stream.map((i) => new Uint8Array(4 * KiB).fill(i)))

describe("Output.streamTo", () => {
  it.live("waits for a slow reader: its queue stays near its high-water mark", () =>
    Effect.gen(function*() {
      const slow = slowWritable(16 * KiB)
      yield* Output.streamTo(() => slow.writable, "slow", pieces)
      expect(slow.written()).toBe(64 * 4 * KiB)
      expect(slow.most()).toBeLessThanOrEqual(20 * KiB)
      expect(slow.writable.writableEnded).toBe(false)
    }))

  it.live("ends quietly when the reader goes away (EPIPE)", () =>
    Effect.gen(function*() {
      const gone = new Writable({
        write(_chunk, _encoding, callback) {
          callback(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }))
        }
      })
      gone.on("error", () => undefined)
      yield* Output.streamTo(() => gone, "gone", pieces)
    }))
})
