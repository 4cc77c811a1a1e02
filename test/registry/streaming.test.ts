/**
 * Big blobs stream through the registry: a 256 MiB upload and download over a real port
 * (driven by curl, in another process) and in-process, with the filesystem stores, while
 * this process's resident memory stays far below the blob's size.
 */
import { describe, expect, it } from "vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { createHash, randomBytes } from "node:crypto"
import { execFile } from "node:child_process"
import { createReadStream, mkdtempSync, rmSync } from "node:fs"
import { open } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as Registry from "../../src/registry/Registry.js"
import { startOursOnDisk } from "./peers.js"

// A full garbage collection, through V8's flag (vitest does not start workers with it).
v8.setFlagsFromString("--expose-gc")
const collectGarbage = vm.runInNewContext("gc") as () => void

const MiB = 1024 * 1024
const chunkSize = MiB
const chunkCount = 256
const size = chunkSize * chunkCount
// The most the process may grow while the blob passes: a quarter of it.
const limit = size / 4

// The blob: 256 chunks of 1 MiB, each a random block stamped with its index.
const block = randomBytes(chunkSize)
const chunkAt = (i: number): Uint8Array => {
  const out = Buffer.from(block)
  out.writeUInt32BE(i, 0)
  return out
}
const digest = (() => {
  const hash = createHash("sha256")
  for (let i = 0; i < chunkCount; i++) hash.update(chunkAt(i))
  return `sha256:${hash.digest("hex")}`
})()

/**
 * Samples the resident set size while `run` runs and returns its peak growth over the start.
 * Garbage is collected every 200 ms, so that mostly memory something still holds counts.
 */
const peakGrowth = async <A>(run: () => Promise<A>): Promise<{ readonly result: A; readonly growth: number }> => {
  collectGarbage()
  const start = process.memoryUsage().rss
  let peak = start
  let ticks = 0
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
    if (++ticks % 20 === 0) collectGarbage()
  }, 10)
  try {
    const result = await run()
    peak = Math.max(peak, process.memoryUsage().rss)
    return { result, growth: peak - start }
  } finally {
    clearInterval(timer)
  }
}

/** Writes the blob to a file, a chunk at a time. */
const writeBlobFile = async (path: string) => {
  const file = await open(path, "w")
  try {
    for (let i = 0; i < chunkCount; i++) await file.write(chunkAt(i))
  } finally {
    await file.close()
  }
}

/** The sha256 digest and length of a file, read as a stream. */
const digestOfFile = async (path: string) => {
  const hash = createHash("sha256")
  let length = 0
  for await (const bytes of createReadStream(path)) {
    hash.update(bytes as Buffer)
    length += (bytes as Buffer).byteLength
  }
  return { digest: `sha256:${hash.digest("hex")}`, length }
}

/** Runs curl (another process, so that only the registry's memory counts here) and returns its `-w` output. */
const curl = (...args: ReadonlyArray<string>) =>
  new Promise<string>((resolve, reject) =>
    execFile("curl", ["-sS", ...args], (error, stdout) => {
      if (error) reject(new Error(`curl failed: ${error.message}`))
      else resolve(stdout)
    })
  )

describe("streaming a 256 MiB blob", () => {
  it("uploads and downloads it over HTTP (with curl) with the registry's memory growing far less than its size", async () => {
    const root = mkdtempSync(join(tmpdir(), "registry-stream-"))
    const registry = await startOursOnDisk(join(root, "registry"))
    try {
      const source = join(root, "blob")
      const target = join(root, "downloaded")
      await writeBlobFile(source)
      const upload = await peakGrowth(async () => {
        const started = await fetch(`${registry.url}/v2/big/blobs/uploads/`, { method: "POST" })
        const location = started.headers.get("location") ?? ""
        return curl("-X", "PUT", "-T", source, "-o", "/dev/null", "-w", "%{http_code}", `${registry.url}${location}?digest=${digest}`)
      })
      expect(upload.result).toBe("201")
      const download = await peakGrowth(() =>
        curl("-o", target, "-w", "%{http_code} %{size_download}", `${registry.url}/v2/big/blobs/${digest}`)
      )
      expect(download.result).toBe(`200 ${size}`)
      expect(await digestOfFile(target)).toEqual({ digest, length: size })
      expect(upload.growth).toBeLessThan(limit)
      expect(download.growth).toBeLessThan(limit)
    } finally {
      await registry.stop()
      rmSync(root, { recursive: true, force: true })
    }
  }, 180_000)

  it("uploads and downloads it in-process with memory growth far below its size", async () => {
    const root = mkdtempSync(join(tmpdir(), "registry-stream-"))
    const stores = Registry.layerFileSystem(root).pipe(Layer.provide(NodeContext.layer))
    const run = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient>) =>
      Effect.runPromise(Effect.provide(effect, Registry.layerClient().pipe(Layer.provide(stores))))
    try {
      // One chunk of 1 MiB at a time, made as it is pulled.
      const chunks = Stream.map(Stream.range(0, chunkCount - 1, 1), chunkAt)
      const upload = await peakGrowth(() =>
        run(Effect.gen(function*() {
          const client = yield* HttpClient.HttpClient
          const started = yield* client.post("http://registry.test/v2/big/blobs/uploads/")
          const location = started.headers.location ?? ""
          const done = yield* client.execute(
            HttpClientRequest.put(`http://registry.test${location}?digest=${digest}`).pipe(
              HttpClientRequest.bodyStream(chunks)
            )
          )
          return done.status
        }).pipe(Effect.scoped))
      )
      expect(upload.result).toBe(201)
      const download = await peakGrowth(() =>
        run(Effect.gen(function*() {
          const client = yield* HttpClient.HttpClient
          const response = yield* client.get(`http://registry.test/v2/big/blobs/${digest}`)
          const hash = createHash("sha256")
          let length = 0
          yield* Stream.runForEach(response.stream, (bytes) =>
            Effect.sync(() => {
              hash.update(bytes)
              length += bytes.byteLength
            }))
          return { digest: `sha256:${hash.digest("hex")}`, length }
        }).pipe(Effect.scoped))
      )
      expect(download.result).toEqual({ digest, length: size })
      expect(upload.growth).toBeLessThan(limit)
      expect(download.growth).toBeLessThan(limit)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }, 180_000)
})
