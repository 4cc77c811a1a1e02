// A Writable that takes 2 ms per write, for backpressure tests: it records the bytes written
// and the longest queue it was handed.
import { Writable } from "node:stream"

export interface SlowWritable {
  readonly writable: Writable
  readonly written: () => number
  /** The most bytes queued at once. */
  readonly most: () => number
}

export const slowWritable = (highWaterMark: number): SlowWritable => {
  let most = 0
  let written = 0
  const writable: Writable = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.byteLength
      most = Math.max(most, writable.writableLength)
      setTimeout(callback, 2)
    }
  })
  return { writable, written: () => written, most: () => most }
}
