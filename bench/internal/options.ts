/**
 * The benchmark's command line: how many runs, how big the image is, which scenarios, and
 * where the results go.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"

/**
 * The scenarios, in the order they run and print.
 *
 * @since 0.1.0
 */
export const scenarioIds = ["a", "b", "c", "d", "e", "f", "g", "h", "io"] as const

/**
 * One scenario: (a) push, (b) re-push, (c) pull, (d) same-registry copy, (e) registry to
 * registry copy, (f) manifest round trips, (g) tag listing, (h) our server against
 * docker-registry, (io) sha256 and gunzip throughput.
 *
 * @since 0.1.0
 */
export type ScenarioId = (typeof scenarioIds)[number]

/**
 * The settings of one benchmark run.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Runs of each side per scenario; the median is reported. */
  readonly runs: number
  /** Layers of the image. */
  readonly layers: number
  /** Size of each layer's file, in MiB. */
  readonly layerMiB: number
  /** Manifest requests of the round-trip scenario. */
  readonly roundTrips: number
  /** Tags of the listing scenario. */
  readonly tags: number
  /** Fresh processes of the one-manifest-per-process comparison. */
  readonly coldRuns: number
  readonly only: ReadonlyArray<ScenarioId>
  /** Where the results table is written; by default `bench/results.md` at full size. */
  readonly out: string | undefined
  /** Where the work directory (layouts, registry storage, logs) is made; the system's by default. */
  readonly work: string | undefined
  /** Keep the work directory. */
  readonly keep: boolean
  readonly help: boolean
}

/**
 * The full-size run: 4 layers of 256 MiB (1 GiB), 3 runs each.
 *
 * @since 0.1.0
 */
export const defaults: Options = {
  runs: 3,
  layers: 4,
  layerMiB: 256,
  roundTrips: 200,
  tags: 1000,
  coldRuns: 20,
  only: scenarioIds,
  out: undefined,
  work: undefined,
  keep: false,
  help: false
}

/**
 * True when the image has its full size, the size the targets are stated for.
 *
 * @since 0.1.0
 */
export const isFullSize = (options: Options): boolean =>
  options.layers === defaults.layers && options.layerMiB === defaults.layerMiB

/**
 * A command line the benchmark cannot run.
 *
 * @since 0.1.0
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly argument: string
  readonly detail: string
}> {
  override get message(): string {
    return `${this.argument}: ${this.detail}`
  }
}

/**
 * How to run the benchmark.
 *
 * @since 0.1.0
 */
export const usage = `npm run bench -- [options]

  --runs N          runs of each side per scenario, median reported (default 3)
  --size LxM        L layers of M MiB each (default 4x256 = 1 GiB); --size M keeps 4 layers
  --quick           a smoke run: --size 4x16
  --only a,b,...    scenarios to run: ${scenarioIds.join(",")} (default all)
  --round-trips N   manifest requests in scenario f (default 200)
  --tags N          tags listed in scenario g (default 1000)
  --cold-runs N     fresh processes per side for the one-manifest comparison (default 20)
  --out FILE        where to write the results (default bench/results.md at full size,
                    bench/results/LxM.md otherwise)
  --work DIR        make the work directory (about 3x the image size) in DIR (default: the
                    system's temporary directory)
  --keep            keep the work directory
`

const positive = (argument: string, text: string | undefined): Either.Either<number, UsageError> => {
  const n = Number(text)
  return text !== undefined && /^\d+$/.test(text) && Number.isSafeInteger(n) && n > 0
    ? Either.right(n)
    : Either.left(new UsageError({ argument, detail: `expected a positive whole number, got ${JSON.stringify(text)}` }))
}

const size = (text: string | undefined): Either.Either<{ layers: number; layerMiB: number }, UsageError> => {
  const match = /^(?:(\d+)x)?(\d+)$/.exec(text ?? "")
  const layers = Number(match?.[1] ?? defaults.layers)
  const layerMiB = Number(match?.[2])
  return match !== null && layers > 0 && layerMiB > 0
    ? Either.right({ layers, layerMiB })
    : Either.left(new UsageError({ argument: "--size", detail: `expected LAYERSxMIB or MIB, got ${JSON.stringify(text)}` }))
}

const scenarios = (text: string | undefined): Either.Either<ReadonlyArray<ScenarioId>, UsageError> => {
  const wanted = (text ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "")
  const unknown = wanted.filter((s) => !(scenarioIds as ReadonlyArray<string>).includes(s))
  return wanted.length === 0 || unknown.length > 0
    ? Either.left(
      new UsageError({ argument: "--only", detail: `unknown scenario ${unknown.join(",") || "(none)"}; known: ${scenarioIds.join(",")}` })
    )
    : Either.right(scenarioIds.filter((id) => wanted.includes(id)))
}

/**
 * Reads the command line (`process.argv.slice(2)`).
 *
 * @since 0.1.0
 */
export const parse = (args: ReadonlyArray<string>): Either.Either<Options, UsageError> => {
  let options: Options = defaults
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined]
    const value = (): string | undefined => inline ?? args[++i]
    let next: Either.Either<Partial<Options>, UsageError>
    switch (flag) {
      case "--runs":
        next = Either.map(positive(flag, value()), (runs) => ({ runs }))
        break
      case "--size":
        next = size(value())
        break
      case "--quick":
        next = Either.right({ layers: 4, layerMiB: 16 })
        break
      case "--only":
        next = Either.map(scenarios(value()), (only) => ({ only }))
        break
      case "--round-trips":
        next = Either.map(positive(flag, value()), (roundTrips) => ({ roundTrips }))
        break
      case "--tags":
        next = Either.map(positive(flag, value()), (tags) => ({ tags }))
        break
      case "--cold-runs":
        next = Either.map(positive(flag, value()), (coldRuns) => ({ coldRuns }))
        break
      case "--out": {
        const out = value()
        next = out === undefined || out === ""
          ? Either.left(new UsageError({ argument: flag, detail: "expected a file name" }))
          : Either.right({ out })
        break
      }
      case "--work": {
        const work = value()
        next = work === undefined || work === ""
          ? Either.left(new UsageError({ argument: flag, detail: "expected a directory" }))
          : Either.right({ work })
        break
      }
      case "--keep":
        next = Either.right({ keep: true })
        break
      case "--help":
      case "-h":
        next = Either.right({ help: true })
        break
      default:
        next = Either.left(new UsageError({ argument: arg, detail: "unknown option (see --help)" }))
    }
    if (Either.isLeft(next)) return Either.left(next.left)
    options = { ...options, ...next.right }
  }
  return Either.right(options)
}

/**
 * Where the results of a run go when `--out` does not say.
 *
 * @since 0.1.0
 */
export const outputFile = (options: Options): string =>
  options.out ?? (isFullSize(options) ? "bench/results.md" : `bench/results/${options.layers}x${options.layerMiB}.md`)
