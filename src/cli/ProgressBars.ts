/**
 * Progress bars on stderr for pushes, pulls and copies: one line per transfer in flight (its
 * digest, bytes so far of its size, a bar, its rate) and a summary line (transfers done,
 * skipped, bytes and overall rate), redrawn in place at most ten times a second. Only when
 * stderr is a terminal; otherwise nothing is drawn and transfers are not even counted.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Progress from "../services/Progress.js"

interface Transfer {
  readonly id: string
  total: number | undefined
  bytes: number
  readonly started: number
  readonly direction: Progress.Direction
}

/**
 * Where bars are drawn and what time it is (for tests).
 *
 * @since 0.1.0
 */
export interface Terminal {
  readonly write: (text: string) => void
  readonly columns: () => number
  readonly now: () => number
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"]

/**
 * A byte count for humans: `512 B`, `1.5 MiB`.
 *
 * @since 0.1.0
 */
export const formatBytes = (n: number): string => {
  let value = n
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`
}

const rate = (bytes: number, millis: number): string =>
  millis <= 0 ? "" : `${formatBytes(Math.round((bytes * 1000) / millis))}/s`

const bar = (bytes: number, total: number | undefined, width: number): string => {
  if (total === undefined || total <= 0) return ""
  const filled = Math.min(width, Math.round((bytes / total) * width))
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`
}

const shortId = (id: string): string => {
  const colon = id.indexOf(":")
  return colon >= 0 ? `${id.slice(0, colon + 1)}${id.slice(colon + 1, colon + 13)}` : id.slice(0, 19)
}

const MAX_LINES = 8
const INTERVAL = 100

/**
 * The state of the bars: reports update it, `draw` writes it, `finish` leaves the last state
 * on screen.
 *
 * @since 0.1.0
 */
export interface Bars extends Progress.Progress {
  readonly finish: Effect.Effect<void>
}

/**
 * Bars drawn on a terminal.
 *
 * @since 0.1.0
 */
export const make = (terminal: Terminal): Bars => {
  const active = new Map<string, Transfer>()
  const begun = terminal.now()
  let done = 0
  let skipped = 0
  let finishedBytes = 0
  let drawn = 0
  let lastDraw = 0

  const render = (): ReadonlyArray<string> => {
    const now = terminal.now()
    const width = Math.max(60, terminal.columns() > 0 ? terminal.columns() : 80)
    const lines: Array<string> = []
    const transfers = [...active.values()]
    for (const t of transfers.slice(0, MAX_LINES)) {
      const size = t.total !== undefined ? `${formatBytes(t.bytes)} / ${formatBytes(t.total)}` : formatBytes(t.bytes)
      const arrow = t.direction === "Upload" ? "↑" : "↓"
      const text = `${arrow} ${shortId(t.id)}  ${size}  ${bar(t.bytes, t.total, 20)}  ${rate(t.bytes, now - t.started)}`
      lines.push(text.slice(0, width - 1))
    }
    if (transfers.length > MAX_LINES) lines.push(`  … and ${transfers.length - MAX_LINES} more`)
    const moving = transfers.reduce((sum, t) => sum + t.bytes, 0)
    const total = finishedBytes + moving
    const summary = `${done} done, ${skipped} skipped, ${active.size} in flight: ${formatBytes(total)}  ${rate(total, now - begun)}`
    lines.push(summary.slice(0, width - 1))
    return lines
  }

  const draw = (force: boolean): void => {
    const now = terminal.now()
    if (!force && now - lastDraw < INTERVAL) return
    lastDraw = now
    const lines = render()
    let out = drawn > 0 ? `\x1b[${drawn}A` : ""
    for (const l of lines) out += `\r\x1b[2K${l}\n`
    for (let i = lines.length; i < drawn; i++) out += "\r\x1b[2K\n"
    if (drawn > lines.length) out += `\x1b[${drawn - lines.length}A`
    drawn = lines.length
    terminal.write(out)
  }

  const report = (event: Progress.Event): Effect.Effect<void> =>
    Effect.sync(() => {
      switch (event._tag) {
        case "Start":
          active.set(event.id, {
            id: event.id,
            total: event.total,
            bytes: 0,
            started: terminal.now(),
            direction: event.direction
          })
          break
        case "Advance": {
          const t = active.get(event.id)
          if (t !== undefined) {
            t.bytes = event.bytes
            t.total = event.total
          }
          break
        }
        case "Skip":
          active.delete(event.id)
          skipped++
          break
        case "Done":
          active.delete(event.id)
          done++
          finishedBytes += event.bytes
          break
      }
      draw(event._tag !== "Advance")
    })

  return {
    report,
    finish: Effect.sync(() => {
      if (done + skipped + active.size > 0) draw(true)
    })
  }
}

/**
 * Bars on the process's stderr.
 *
 * @since 0.1.0
 */
export const stderr: Terminal = {
  write: (text) => void process.stderr.write(text),
  columns: () => process.stderr.columns ?? 80,
  now: () => Date.now()
}

/**
 * Provides progress bars on stderr when it is a terminal, and no progress otherwise.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Progress.Progress> = Layer.unwrapEffect(
  Effect.sync(() =>
    process.stderr.isTTY === true
      ? Layer.scoped(
        Progress.Progress,
        Effect.acquireRelease(Effect.sync(() => make(stderr)), (bars) => bars.finish)
      )
      : Progress.layerNone
  )
)
