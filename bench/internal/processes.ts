/**
 * Child processes measured the same way for every side: each runs under GNU time
 * (`/usr/bin/time -f "%M %U %S"`), which reports the peak resident set size and the CPU time
 * of the process it ran, and its wall time is taken in this process from spawn to exit.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { closeSync, existsSync, openSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type * as Report from "./report.js"

/**
 * GNU time, which measures the peak RSS of a child (Debian package `time`).
 *
 * @since 0.1.0
 */
export const timeBinary = "/usr/bin/time"

/**
 * A child process that could not be started, failed, or whose measurement is missing.
 *
 * @since 0.1.0
 */
export class ProcessError extends Data.TaggedError("ProcessError")<{
  readonly reason: "Spawn" | "Exit" | "Measure" | "Timeout"
  readonly command: string
  readonly exitCode?: number | null | undefined
  readonly stderr?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const tail = (this.stderr ?? "").trim().split("\n").slice(-5).join("\n")
    switch (this.reason) {
      case "Spawn":
        return `could not start ${this.command}: ${String(this.cause)}`
      case "Exit":
        return `${this.command} exited with ${String(this.exitCode)}${tail === "" ? "" : `:\n${tail}`}`
      case "Measure":
        return `no peak RSS and CPU time reported for ${this.command}`
      case "Timeout":
        return `${this.command} did not stop in time`
    }
  }
}

/**
 * A finished process: its measurement and what it printed.
 *
 * @since 0.1.0
 */
export interface Finished extends Report.Sample {
  readonly stdout: string
  readonly stderr: string
}

/**
 * How to run a process.
 *
 * @since 0.1.0
 */
export interface RunOptions {
  /** Keep what it prints on stdout (the default), or send it to /dev/null. */
  readonly stdout?: "capture" | "ignore" | undefined
  readonly env?: NodeJS.ProcessEnv | undefined
}

/**
 * What GNU time reports of a process: its peak RSS and the CPU time it used.
 *
 * @since 0.1.0
 */
export interface Usage {
  readonly peakRssBytes: number
  /** User plus system CPU time. */
  readonly cpuMillis: number
}

const FORMAT = "%M %U %S"

/**
 * Reads what GNU time wrote with the format `%M %U %S` (KiB, then user and system seconds);
 * a line saying how the command ended may come first.
 *
 * @since 0.1.0
 */
export const parseUsage = (text: string): Usage | undefined => {
  const line = text.trim().split("\n").map((l) => l.trim()).reverse().find((l) => /^\d+ [\d.]+ [\d.]+$/.test(l))
  if (line === undefined) return undefined
  const [kib, user, system] = line.split(" ").map(Number)
  return { peakRssBytes: (kib ?? 0) * 1024, cpuMillis: Math.round(((user ?? 0) + (system ?? 0)) * 1000) }
}

const describe = (command: string, args: ReadonlyArray<string>): string =>
  [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ")

const readUsage = (file: string, command: string): Effect.Effect<Usage, ProcessError> =>
  Effect.suspend(() => {
    const usage = existsSync(file) ? parseUsage(readFileSync(file, "utf8")) : undefined
    rmSync(file, { force: true })
    return usage === undefined ? Effect.fail(new ProcessError({ reason: "Measure", command })) : Effect.succeed(usage)
  })

/**
 * Runs a command to its end under GNU time and measures it. A non-zero exit fails with the
 * end of its stderr.
 *
 * @since 0.1.0
 */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: RunOptions = {}
): Effect.Effect<Finished, ProcessError> => {
  const text = describe(command, args)
  const rssFile = join(tmpdir(), `bench-rss-${randomUUID()}`)
  const ran = Effect.async<{ wallMillis: number; stdout: string; stderr: string }, ProcessError>((resume) => {
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    const started = performance.now()
    let ended = started
    const child = spawn(timeBinary, ["-f", FORMAT, "-o", rssFile, command, ...args], {
      stdio: ["ignore", options.stdout === "ignore" ? "ignore" : "pipe", "pipe"],
      env: options.env ?? process.env
    })
    child.stdout?.on("data", (data: Buffer) => stdout.push(data))
    child.stderr?.on("data", (data: Buffer) => stderr.push(data))
    child.once("exit", () => {
      ended = performance.now()
    })
    child.once("error", (cause) => resume(Effect.fail(new ProcessError({ reason: "Spawn", command: text, cause }))))
    child.once("close", (code) => {
      const out = Buffer.concat(stdout).toString("utf8")
      const err = Buffer.concat(stderr).toString("utf8")
      resume(
        code === 0
          ? Effect.succeed({ wallMillis: ended - started, stdout: out, stderr: err })
          : Effect.fail(new ProcessError({ reason: "Exit", command: text, exitCode: code, stderr: err }))
      )
    })
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })
  return Effect.flatMap(ran, (r) => Effect.map(readUsage(rssFile, text), (usage) => ({ ...r, ...usage }))).pipe(
    Effect.ensuring(Effect.sync(() => rmSync(rssFile, { force: true })))
  )
}

/**
 * A long-running process (a registry) started under GNU time.
 *
 * @since 0.1.0
 */
export interface Server {
  /** Whether it is still running. */
  readonly running: Effect.Effect<boolean>
  /** What it wrote to stderr so far (its log goes to a file; this is for start-up failures). */
  readonly output: Effect.Effect<string>
  /** Stops it with SIGTERM and returns its peak RSS and CPU time. */
  readonly stop: Effect.Effect<Usage, ProcessError>
}

// The process GNU time started: its only child.
const childOf = (pid: number): number | undefined => {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/)
    const first = Number(children[0])
    return Number.isSafeInteger(first) && first > 0 ? first : undefined
  } catch {
    return undefined
  }
}

/**
 * Starts a long-running process under GNU time, writing its stdout and stderr to `logFile`.
 * It is stopped (and its measurement read) by `stop`, or killed when the scope closes.
 *
 * @since 0.1.0
 */
export const start = (
  command: string,
  args: ReadonlyArray<string>,
  logFile: string,
  options: Pick<RunOptions, "env"> = {}
): Effect.Effect<Server, ProcessError, Scope.Scope> => {
  const text = describe(command, args)
  const rssFile = join(tmpdir(), `bench-rss-${randomUUID()}`)
  const acquire = Effect.try({
    try: () => {
      const log = openSync(logFile, "a")
      try {
        const child = spawn(timeBinary, ["-f", FORMAT, "-o", rssFile, command, ...args], {
          stdio: ["ignore", log, log],
          env: options.env ?? process.env
        })
        let closed = false
        const done = new Promise<void>((resolve) =>
          child.once("close", () => {
            closed = true
            resolve()
          })
        )
        child.once("error", () => {
          closed = true
        })
        return { child, done, isClosed: () => closed }
      } finally {
        closeSync(log)
      }
    },
    catch: (cause) => new ProcessError({ reason: "Spawn", command: text, cause })
  })
  const signal = (pid: number | undefined, sig: NodeJS.Signals) =>
    Effect.sync(() => {
      if (pid === undefined) return
      const target = childOf(pid) ?? pid
      try {
        process.kill(target, sig)
      } catch {
        // already gone
      }
    })
  return Effect.map(
    Effect.acquireRelease(acquire, (p) =>
      p.isClosed()
        ? Effect.sync(() => rmSync(rssFile, { force: true }))
        : Effect.zipRight(signal(p.child.pid, "SIGKILL"), Effect.sync(() => rmSync(rssFile, { force: true })))),
    (p): Server => ({
      running: Effect.sync(() => !p.isClosed()),
      output: Effect.sync(() => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "")),
      stop: Effect.gen(function*() {
        if (!p.isClosed()) {
          yield* signal(p.child.pid, "SIGTERM")
          const stopped = yield* Effect.promise(() => p.done).pipe(Effect.timeout(Duration.seconds(15)), Effect.option)
          if (stopped._tag === "None") {
            yield* signal(p.child.pid, "SIGKILL")
            yield* Effect.promise(() => p.done)
          }
        }
        return yield* readUsage(rssFile, text)
      })
    })
  )
}
