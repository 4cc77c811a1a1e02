/**
 * How the crane program talks back: lines and byte streams on stdout, and failures as one line
 * on stderr with an exit code (0 ok, 1 failure, 2 usage error), as crane and most Unix tools.
 *
 * @since 0.1.0
 */
import * as NodeSink from "@effect/platform-node/NodeSink"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as DrainMarks from "../services/internal/drainMarks.js"

/**
 * The exit code of a successful run.
 *
 * @since 0.1.0
 */
export const exitOk = 0

/**
 * The exit code of a failed run.
 *
 * @since 0.1.0
 */
export const exitFailure = 1

/**
 * The exit code of a run refused for how it was called (unknown flag, missing argument).
 *
 * @since 0.1.0
 */
export const exitUsage = 2

/**
 * A command line the program refuses: flags that do not go together, a missing argument the
 * parser could not know about. Exits with {@link exitUsage}.
 *
 * @since 0.1.0
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * A command that has already said what went wrong (on stdout, as `crane validate` and
 * `crane auth get` do) and only needs the program to exit with a code.
 *
 * @since 0.1.0
 */
export class Exit extends Data.TaggedError("Exit")<{
  readonly code: number
}> {
  override get message(): string {
    return `exit status ${this.code}`
  }
}

/**
 * Writing to stdout failed (a closed pipe is not a failure: the reader has all it wanted).
 *
 * @since 0.1.0
 */
export class OutputError extends Data.TaggedError("OutputError")<{
  readonly target: string
  readonly cause: unknown
}> {
  override get message(): string {
    const detail = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `writing ${this.target}: ${detail}`
  }
}

const isBrokenPipe = (cause: unknown): boolean =>
  typeof cause === "object" && cause !== null && "code" in cause && cause.code === "EPIPE"

const write = (text: string | Uint8Array): Effect.Effect<void, OutputError> =>
  Effect.async<void, OutputError>((resume) => {
    process.stdout.write(text, (error) => {
      if (error === null || error === undefined || isBrokenPipe(error)) resume(Effect.void)
      else resume(Effect.fail(new OutputError({ target: "stdout", cause: error })))
    })
  })

/**
 * Writes text to stdout as it is.
 *
 * @since 0.1.0
 */
export const print = (text: string): Effect.Effect<void, OutputError> => write(text)

/**
 * Writes a line to stdout.
 *
 * @since 0.1.0
 */
export const line = (text: string): Effect.Effect<void, OutputError> => write(`${text}\n`)

/**
 * Writes lines to stdout, in one write.
 *
 * @since 0.1.0
 */
export const lines = (texts: ReadonlyArray<string>): Effect.Effect<void, OutputError> =>
  texts.length === 0 ? Effect.void : write(`${texts.join("\n")}\n`)

/**
 * Writes bytes to stdout as they are.
 *
 * @since 0.1.0
 */
export const bytes = (data: Uint8Array): Effect.Effect<void, OutputError> => write(data)

/**
 * Streams bytes to stdout, waiting whenever the reader is slower. A reader that goes away
 * (`crane export - | head`) ends the stream quietly.
 *
 * @since 0.1.0
 */
export const stream = <E, R>(data: Stream.Stream<Uint8Array, E, R>): Effect.Effect<void, E | OutputError, R> =>
  streamTo(() => process.stdout, "stdout", data)

/**
 * {@link stream} to any writable (stdout in the program): it is not ended afterwards.
 *
 * @since 0.1.0
 */
export const streamTo = <E, R>(
  writable: () => NodeJS.WritableStream,
  target: string,
  data: Stream.Stream<Uint8Array, E, R>
): Effect.Effect<void, E | OutputError, R> =>
  Stream.run(
    DrainMarks.withDrainMarks(data),
    NodeSink.fromWritable(writable, (cause) => new OutputError({ target, cause }), { endOnDone: false })
  ).pipe(Effect.catchIf((e): e is OutputError => e instanceof OutputError && isBrokenPipe(e.cause), () => Effect.void))

/**
 * Writes a line to stderr (progress and notes, never output).
 *
 * @since 0.1.0
 */
export const note = (text: string): Effect.Effect<void> => Effect.sync(() => void process.stderr.write(`${text}\n`))

const hasMessage = (u: unknown): u is { readonly message: string } =>
  typeof u === "object" && u !== null && "message" in u && typeof u.message === "string"

/**
 * The one line a failure is reported with: the error's own message, its lines joined, so that
 * the registry's error code and the URL it was about stay on the line.
 *
 * @since 0.1.0
 */
export const errorLine = (error: unknown): string => {
  const text = hasMessage(error) && error.message !== "" ? error.message : String(error)
  return text
    .split("\n")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .join("; ")
}

/**
 * Reports a failure on stderr as `Error: <what>: <message>`.
 *
 * @since 0.1.0
 */
export const reportError = (error: unknown, context?: string): Effect.Effect<void> =>
  note(`Error: ${context === undefined ? "" : `${context}: `}${errorLine(error)}`)
