import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Options from "../../bench/internal/options.js"

const parsed = (args: ReadonlyArray<string>) => Either.getOrThrow(Options.parse(args))
const refused = (args: ReadonlyArray<string>) => Either.getLeft(Options.parse(args))

describe("bench options", () => {
  it("runs every scenario three times on a 1 GiB image by default", () => {
    const options = parsed([])
    expect(options.runs).toBe(3)
    expect(options.layers * options.layerMiB).toBe(1024)
    expect(options.only).toEqual(Options.scenarioIds)
    expect(Options.isFullSize(options)).toBe(true)
  })

  it("scales the image to 4 x 16 MiB with --quick, which is no longer full size", () => {
    const options = parsed(["--quick"])
    expect([options.layers, options.layerMiB]).toEqual([4, 16])
    expect(Options.isFullSize(options)).toBe(false)
  })

  it("reads --size as layers x MiB, or MiB per layer of four layers", () => {
    expect(parsed(["--size", "2x64"])).toMatchObject({ layers: 2, layerMiB: 64 })
    expect(parsed(["--size=32"])).toMatchObject({ layers: 4, layerMiB: 32 })
  })

  it("keeps the scenarios --only names in their running order", () => {
    expect(parsed(["--only", "h,a,io"]).only).toEqual(["a", "h", "io"])
  })

  it("refuses unknown scenarios, unknown flags and counts that are not positive", () => {
    expect(refused(["--only", "a,z"])._tag).toBe("Some")
    expect(refused(["--fast"])._tag).toBe("Some")
    expect(refused(["--runs", "0"])._tag).toBe("Some")
    expect(refused(["--runs", "2.5"])._tag).toBe("Some")
    expect(refused(["--size", "4x"])._tag).toBe("Some")
  })

  it("names the argument at fault in the message", () => {
    const error = refused(["--runs", "many"])
    expect(error._tag === "Some" ? error.value.message : "").toContain("--runs")
  })

  it("writes full-size results to bench/results.md and scaled ones beside it", () => {
    expect(Options.outputFile(parsed([]))).toBe("bench/results.md")
    expect(Options.outputFile(parsed(["--quick"]))).toBe("bench/results/4x16.md")
    expect(Options.outputFile(parsed(["--quick", "--out", "x.md"]))).toBe("x.md")
  })
})
