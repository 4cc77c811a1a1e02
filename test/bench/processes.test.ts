import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { existsSync, rmSync } from "node:fs"
import * as Processes from "../../bench/internal/processes.js"

const MiB = 1024 * 1024
const hasTime = existsSync(Processes.timeBinary)

describe("bench processes", () => {
  it("reads the peak RSS and CPU time GNU time wrote, after a line about how the command ended", () => {
    expect(Processes.parseUsage("2048 0.25 0.50\n")).toEqual({ peakRssBytes: 2048 * 1024, cpuMillis: 750 })
    expect(Processes.parseUsage("Command exited with non-zero status 1\n512 1.00 0.01\n")).toEqual({
      peakRssBytes: 512 * 1024,
      cpuMillis: 1010
    })
    expect(Processes.parseUsage("")).toBeUndefined()
  })

  it.live.skipIf(!hasTime)("measures the peak RSS of a child that touches 200 MiB", () =>
    Effect.gen(function*() {
      const finished = yield* Processes.run(process.execPath, [
        "-e",
        "const b = Buffer.alloc(200 * 1024 * 1024, 1); process.stdout.write(String(b[b.length - 1]))"
      ])
      expect(finished.stdout).toBe("1")
      expect(finished.peakRssBytes).toBeGreaterThan(200 * MiB)
      expect(finished.wallMillis).toBeGreaterThan(0)
      expect(finished.cpuMillis).toBeGreaterThan(0)
    }))

  it.live.skipIf(!hasTime)("fails with the child's exit code and the end of its stderr", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Processes.run(process.execPath, ["-e", "process.stderr.write('boom'); process.exit(3)"])
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(error?.exitCode).toBe(3)
        expect(error?.message).toContain("boom")
      }
    }))

  it.scopedLive.skipIf(!hasTime)("stops a long-running child with SIGTERM and reports its peak RSS", () =>
    Effect.gen(function*() {
      const log = `/tmp/bench-processes-test-${process.pid}.log`
      const server = yield* Processes.start(process.execPath, [
        "-e",
        "globalThis.keep = Buffer.alloc(64 * 1024 * 1024, 1); console.log('ready'); setInterval(() => {}, 1000)"
      ], log)
      while (!(yield* server.output).includes("ready")) yield* Effect.sleep("20 millis")
      expect(yield* server.running).toBe(true)
      const usage = yield* server.stop
      expect(usage.peakRssBytes).toBeGreaterThan(64 * MiB)
      expect(yield* server.running).toBe(false)
    }).pipe(Effect.ensuring(Effect.sync(() => rmSync(`/tmp/bench-processes-test-${process.pid}.log`, { force: true })))))
})
