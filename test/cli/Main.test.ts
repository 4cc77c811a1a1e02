import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Main from "../../src/cli/Main.js"
import * as Output from "../../src/cli/Output.js"
import * as ProgressBars from "../../src/cli/ProgressBars.js"

describe("crane's command line", () => {
  it("moves global flags written after the subcommand in front of it", () => {
    expect(Main.hoistGlobals(["digest", "--platform", "linux/arm64", "r", "-v", "--insecure"])).toEqual([
      "--platform",
      "linux/arm64",
      "-v",
      "--insecure",
      "digest",
      "r"
    ])
  })

  it("moves --flag=value forms as one argument", () => {
    expect(Main.hoistGlobals(["ls", "r", "--jobs=8", "--user-agent=x"])).toEqual(["--jobs=8", "--user-agent=x", "ls", "r"])
  })

  it("leaves index filter's own --platform where it is", () => {
    const args = ["index", "filter", "r", "--platform", "linux/amd64", "--platform", "linux/arm64"]
    expect(Main.hoistGlobals(args)).toEqual(args)
  })

  it("moves nothing after --", () => {
    expect(Main.hoistGlobals(["export", "--", "-v"])).toEqual(["export", "--", "-v"])
  })
})

describe("crane's error line", () => {
  it("is the error's message with its lines joined", () => {
    expect(Output.errorLine(new Output.UsageError({ detail: "one\n  two\n" }))).toBe("one; two")
  })
})

describe("crane's progress bars", () => {
  const terminal = () => {
    const writes: Array<string> = []
    let now = 0
    return {
      writes,
      tick: (ms: number) => {
        now += ms
      },
      terminal: { write: (t: string) => void writes.push(t), columns: () => 100, now: () => now }
    }
  }

  it.effect("draws a line per transfer with its bytes of its size and a summary", () =>
    Effect.gen(function* () {
      const t = terminal()
      const bars = ProgressBars.make(t.terminal)
      const id = `sha256:${"a".repeat(64)}`
      yield* bars.report({ _tag: "Start", id, total: 2048, direction: "Upload" })
      t.tick(1000)
      yield* bars.report({ _tag: "Advance", id, total: 2048, direction: "Upload", bytes: 1024 })
      const drawn = t.writes.join("")
      expect(drawn).toContain(`↑ sha256:${"a".repeat(12)}  1.0 KiB / 2.0 KiB  [##########----------]`)
      expect(drawn).toContain("0 done, 0 skipped, 1 in flight: 1.0 KiB")
    }))

  it.effect("redraws at most ten times a second while bytes flow", () =>
    Effect.gen(function* () {
      const t = terminal()
      const bars = ProgressBars.make(t.terminal)
      const id = "sha256:b"
      yield* bars.report({ _tag: "Start", id, total: 100, direction: "Download" })
      const before = t.writes.length
      for (let i = 1; i <= 50; i++) yield* bars.report({ _tag: "Advance", id, total: 100, direction: "Download", bytes: i })
      expect(t.writes.length).toBe(before)
      t.tick(150)
      yield* bars.report({ _tag: "Advance", id, total: 100, direction: "Download", bytes: 51 })
      expect(t.writes.length).toBe(before + 1)
    }))

  it.effect("counts finished and skipped transfers in the summary", () =>
    Effect.gen(function* () {
      const t = terminal()
      const bars = ProgressBars.make(t.terminal)
      yield* bars.report({ _tag: "Start", id: "sha256:c", total: 10, direction: "Upload" })
      yield* bars.report({ _tag: "Done", id: "sha256:c", total: 10, direction: "Upload", bytes: 10 })
      yield* bars.report({ _tag: "Skip", id: "sha256:d", total: 5, direction: "Upload", reason: "Exists" })
      yield* bars.finish
      expect(t.writes[t.writes.length - 1]).toContain("1 done, 1 skipped, 0 in flight: 10 B")
    }))

  it("writes byte counts for humans", () => {
    expect(ProgressBars.formatBytes(512)).toBe("512 B")
    expect(ProgressBars.formatBytes(1536)).toBe("1.5 KiB")
    expect(ProgressBars.formatBytes(5 * 1024 * 1024)).toBe("5.0 MiB")
  })
})
