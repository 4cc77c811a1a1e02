import { describe, expect, it } from "@effect/vitest"
import * as Report from "../../bench/internal/report.js"

const MiB = 1024 * 1024
const runs = (...millis: ReadonlyArray<number>): ReadonlyArray<Report.Sample> =>
  millis.map((wallMillis, i) => ({ wallMillis, cpuMillis: wallMillis / 2, peakRssBytes: (100 + i) * MiB }))

const row = (ours: ReadonlyArray<number>, peer: ReadonlyArray<number>, target?: Report.Target): Report.Row => ({
  id: "a",
  title: "push",
  ours: { label: "ours", samples: runs(...ours) },
  peer: { label: "skopeo", samples: runs(...peer) },
  target
})

describe("bench report", () => {
  it("takes the middle value as the median, and the mean of the middle two for an even count", () => {
    expect(Report.median([5, 1, 3])).toBe(3)
    expect(Report.median([4, 1, 3, 2])).toBe(2.5)
    expect(Report.median([])).toBeNaN()
  })

  it("adds the times of the processes of one run and keeps their largest peak", () => {
    expect(
      Report.combine([
        { wallMillis: 10, cpuMillis: 4, peakRssBytes: 5 },
        { wallMillis: 15, cpuMillis: 6, peakRssBytes: 9 }
      ])
    ).toEqual({ wallMillis: 25, cpuMillis: 10, peakRssBytes: 9 })
  })

  it("divides our median by the peer's and reports the largest peak of each side", () => {
    const summary = Report.summarize(row([300, 100, 200], [400, 500, 600]))
    expect(summary.ratio).toBe(0.4)
    expect(summary.oursPeakRssBytes).toBe(102 * MiB)
    expect(summary.verdict).toBe("-")
  })

  it("passes a row within its ratio and misses one beyond it", () => {
    expect(Report.summarize(row([100], [200], Report.ratioAtMost(0.5))).verdict).toBe("PASS")
    expect(Report.summarize(row([101], [200], Report.ratioAtMost(0.5))).verdict).toBe("MISS")
  })

  it("misses a row whose time is fine when our peak RSS is over its limit", () => {
    expect(Report.summarize(row([100], [200], Report.ratioAndRss(1, 99))).verdict).toBe("MISS")
    expect(Report.summarize(row([100], [200], Report.ratioAndRss(1, 100))).verdict).toBe("PASS")
  })

  it("turns a throughput fraction into the time ratio it allows", () => {
    const target = Report.throughputAtLeast(0.9)
    expect(Report.summarize(row([111], [100], target)).verdict).toBe("PASS")
    expect(Report.summarize(row([112], [100], target)).verdict).toBe("MISS")
  })

  it("misses a row that has no measurement", () => {
    expect(Report.summarize(row([], [], Report.ratioAtMost(1))).verdict).toBe("MISS")
  })

  it("prints one table line per row with times, throughput, ratio, peaks and verdict, and the notes under it", () => {
    const text = Report.table([
      Report.summarize({ ...row([2000], [4000], Report.ratioAtMost(1)), bytes: 1024 * MiB, note: "how" })
    ])
    const line = text.split("\n").find((l) => l.startsWith("| a |")) ?? ""
    expect(line).toContain("2.00 s (512 MiB/s)")
    expect(line).toContain("4.00 s (256 MiB/s)")
    expect(line).toContain("| 0.50 |")
    expect(line).toContain("| 1.00 s / 2.00 s |")
    expect(line).toContain("100 MiB")
    expect(line).toContain("**PASS**")
    expect(text).toContain("- a: how")
  })
})
