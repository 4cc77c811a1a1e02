/**
 * What a benchmark run measured, and the table it prints and writes: per scenario the median
 * wall time of each side, their ratio, the peak resident memory of each side, and whether the
 * target holds.
 *
 * @since 0.1.0
 */

/**
 * One run of one side: wall time and CPU time (user plus system) of the process(es), and the
 * largest peak RSS among them.
 *
 * @since 0.1.0
 */
export interface Sample {
  readonly wallMillis: number
  readonly cpuMillis: number
  readonly peakRssBytes: number
}

/**
 * One side of a comparison: who it is and its runs.
 *
 * @since 0.1.0
 */
export interface Side {
  /** `ours`, `skopeo`, `docker-registry`, `openssl`, `gzip`. */
  readonly label: string
  readonly samples: ReadonlyArray<Sample>
}

/**
 * What a scenario must reach: a ratio ours/peer of median times at most `maxRatio`, and our
 * peak RSS at most `maxOursRssBytes` when given. `text` says it as the brief does.
 *
 * @since 0.1.0
 */
export interface Target {
  readonly maxRatio: number
  readonly maxOursRssBytes?: number | undefined
  readonly text: string
}

/**
 * One line of the table.
 *
 * @since 0.1.0
 */
export interface Row {
  readonly id: string
  readonly title: string
  readonly ours: Side
  readonly peer: Side
  /** Bytes moved per run, to show throughput next to the times. */
  readonly bytes?: number | undefined
  readonly target?: Target | undefined
  /** How the row was measured, when that needs saying; printed under the table. */
  readonly note?: string | undefined
}

/**
 * A finished row: medians, ratio, peaks and verdict.
 *
 * @since 0.1.0
 */
export interface Summary {
  readonly row: Row
  readonly oursMillis: number
  readonly peerMillis: number
  readonly ratio: number
  readonly oursCpuMillis: number
  readonly peerCpuMillis: number
  readonly oursPeakRssBytes: number
  readonly peerPeakRssBytes: number
  readonly verdict: "PASS" | "MISS" | "-"
}

const MiB = 1024 * 1024

/**
 * The median of some numbers (the mean of the middle two for an even count); NaN for none.
 *
 * @since 0.1.0
 */
export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/**
 * Sums the samples of processes that together make one run (times add up, the peak RSS is
 * the largest).
 *
 * @since 0.1.0
 */
export const combine = (samples: ReadonlyArray<Sample>): Sample => ({
  wallMillis: samples.reduce((sum, s) => sum + s.wallMillis, 0),
  cpuMillis: samples.reduce((sum, s) => sum + s.cpuMillis, 0),
  peakRssBytes: samples.reduce((peak, s) => Math.max(peak, s.peakRssBytes), 0)
})

/**
 * A target of time only.
 *
 * @since 0.1.0
 */
export const ratioAtMost = (maxRatio: number): Target => ({ maxRatio, text: `<= ${maxRatio}` })

/**
 * A target of time and of our peak RSS.
 *
 * @since 0.1.0
 */
export const ratioAndRss = (maxRatio: number, maxOursMiB: number): Target => ({
  maxRatio,
  maxOursRssBytes: maxOursMiB * MiB,
  text: `<= ${maxRatio}, RSS <= ${maxOursMiB} MiB`
})

/**
 * A throughput target: ours at least `fraction` of the peer's throughput, which is a time
 * ratio of at most `1 / fraction`.
 *
 * @since 0.1.0
 */
export const throughputAtLeast = (fraction: number): Target => ({
  maxRatio: 1 / fraction,
  text: `>= ${fraction}x throughput`
})

/**
 * Medians, ratio, peaks and verdict of a row. A row with no target has no verdict.
 *
 * @since 0.1.0
 */
export const summarize = (row: Row): Summary => {
  const oursMillis = median(row.ours.samples.map((s) => s.wallMillis))
  const peerMillis = median(row.peer.samples.map((s) => s.wallMillis))
  const ratio = oursMillis / peerMillis
  const oursCpuMillis = median(row.ours.samples.map((s) => s.cpuMillis))
  const peerCpuMillis = median(row.peer.samples.map((s) => s.cpuMillis))
  const oursPeakRssBytes = Math.max(0, ...row.ours.samples.map((s) => s.peakRssBytes))
  const peerPeakRssBytes = Math.max(0, ...row.peer.samples.map((s) => s.peakRssBytes))
  const target = row.target
  const verdict = target === undefined
    ? "-"
    : Number.isFinite(ratio) && ratio <= target.maxRatio &&
        (target.maxOursRssBytes === undefined || oursPeakRssBytes <= target.maxOursRssBytes)
    ? "PASS"
    : "MISS"
  return { row, oursMillis, peerMillis, ratio, oursCpuMillis, peerCpuMillis, oursPeakRssBytes, peerPeakRssBytes, verdict }
}

/**
 * A duration for the table: milliseconds below ten seconds' worth of precision, else seconds.
 *
 * @since 0.1.0
 */
export const formatMillis = (millis: number): string =>
  !Number.isFinite(millis)
    ? "n/a"
    : millis < 1000
    ? `${millis.toFixed(millis < 10 ? 2 : 0)} ms`
    : `${(millis / 1000).toFixed(2)} s`

/**
 * Bytes as MiB for the table.
 *
 * @since 0.1.0
 */
export const formatMiB = (bytes: number): string => (bytes > 0 ? `${Math.round(bytes / MiB)} MiB` : "n/a")

const timeCell = (millis: number, bytes: number | undefined): string =>
  bytes === undefined || !Number.isFinite(millis) || millis <= 0
    ? formatMillis(millis)
    : `${formatMillis(millis)} (${Math.round(bytes / MiB / (millis / 1000))} MiB/s)`

const escape = (text: string): string => text.replace(/\|/g, "\\|")

/**
 * The results as a markdown table, one line per row, with the notes under it.
 *
 * @since 0.1.0
 */
export const table = (summaries: ReadonlyArray<Summary>): string => {
  const header = [
    "| | scenario | ours | peer | peer median | ours/peer | CPU ours / peer | ours peak RSS | peer peak RSS | target | |",
    "|---|---|---|---|---|---|---|---|---|---|---|"
  ]
  const lines = summaries.map((s) =>
    `| ${s.row.id} | ${escape(s.row.title)} | ${timeCell(s.oursMillis, s.row.bytes)} | ${s.row.peer.label} | ${
      timeCell(s.peerMillis, s.row.bytes)
    } | ${Number.isFinite(s.ratio) ? s.ratio.toFixed(2) : "n/a"} | ${formatMillis(s.oursCpuMillis)} / ${
      formatMillis(s.peerCpuMillis)
    } | ${formatMiB(s.oursPeakRssBytes)} | ${
      formatMiB(s.peerPeakRssBytes)
    } | ${s.row.target?.text ?? "-"} | ${s.verdict === "-" ? "" : `**${s.verdict}**`} |`
  )
  const notes = summaries.filter((s) => s.row.note !== undefined).map((s) => `- ${s.row.id}: ${s.row.note ?? ""}`)
  return [...header, ...lines, ...(notes.length > 0 ? ["", ...notes] : [])].join("\n")
}
