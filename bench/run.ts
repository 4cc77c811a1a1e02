/**
 * Benchmarks effect-containerregistry against skopeo (and our registry server against
 * docker-registry) on identical work, and prints and writes a table of medians, ratios and
 * peak RSS with PASS/MISS against the targets. Not part of the test suite.
 *
 *   npm run bench                 # 1 GiB image, 3 runs per side (several minutes)
 *   npm run bench -- --quick      # 4 x 16 MiB, a smoke run
 *   npm run bench -- --help
 *
 * Every measurement is a fresh process under `/usr/bin/time -f %M`: skopeo, docker-registry,
 * or our driver (bench/driver.ts, bundled by esbuild and started with V8's code cache as the
 * `crane` bin is, run by `node`).
 * Sides alternate within a run. See bench/README.md for what each scenario does.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, release, tmpdir, totalmem, type } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as Options from "./internal/options.js"
import * as Peers from "./internal/peers.js"
import * as Processes from "./internal/processes.js"
import * as Report from "./internal/report.js"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const MiB = 1024 * 1024
const TAG = "bench"

/** What every scenario shares: the options, the work directory, the driver, the layout. */
interface Bench {
  readonly options: Options.Options
  readonly work: string
  readonly driver: string
  readonly layout: string
  /** The image's manifest digest and its layers, as the driver wrote them. */
  readonly image: { readonly digest: string; readonly layers: ReadonlyArray<{ digest: string; size: number }> }
  readonly imageBytes: number
  /** The long-lived docker-registry holding `bench/base:latest`. */
  readonly registry: Peers.RunningRegistry
}

const say = (line: string) => Console.error(line)

const oci = (dir: string) => `oci:${dir}:${TAG}`
const docker = (ref: string) => `docker://${ref}`

const sample = (finished: Report.Sample): Report.Sample => ({
  wallMillis: finished.wallMillis,
  cpuMillis: finished.cpuMillis,
  peakRssBytes: finished.peakRssBytes
})

// Drops what a run left in the page cache's dirty list, so that writeback of one run does not
// slow the next. Not timed.
const settle = Effect.sync(() => {
  execFileSync("sync")
})

const remove = (path: string) =>
  Effect.sync(() => {
    rmSync(path, { recursive: true, force: true })
  })

/**
 * Runs both sides `runs` times, alternating which goes first, and returns their samples.
 */
const alternate = <A extends Report.Sample, E, R>(
  id: string,
  runs: number,
  ours: (run: number) => Effect.Effect<A, E, R>,
  peer: (run: number) => Effect.Effect<A, E, R>,
  peerLabel: string
): Effect.Effect<{ ours: Array<A>; peer: Array<A> }, E, R> =>
  Effect.gen(function*() {
    const result = { ours: [] as Array<A>, peer: [] as Array<A> }
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? (["ours", "peer"] as const) : (["peer", "ours"] as const)
      for (const side of order) {
        const s = side === "ours" ? yield* ours(run) : yield* peer(run)
        result[side].push(s)
        yield* say(
          `  ${id} run ${run + 1}/${runs} ${side === "ours" ? "ours" : peerLabel}: ${Report.formatMillis(s.wallMillis)}, ` +
            `CPU ${Report.formatMillis(s.cpuMillis)}, ${Report.formatMiB(s.peakRssBytes)}`
        )
      }
    }
    return result
  })

// A fresh docker-registry for one run, stopped and deleted afterwards.
const withFreshRegistry = <A, E, R>(
  bench: Bench,
  name: string,
  use: (registry: Peers.RunningRegistry) => Effect.Effect<A, E, R>
) =>
  Effect.scoped(
    Effect.gen(function*() {
      const dir = join(bench.work, name)
      yield* Effect.addFinalizer(() => remove(dir))
      const registry = yield* Peers.dockerRegistry(dir)
      const result = yield* use(registry)
      yield* registry.stop
      return result
    })
  )

const bigTitle = (bench: Bench) => {
  const o = bench.options
  return Options.isFullSize(o) ? "1 GiB" : `${o.layers} x ${o.layerMiB} MiB`
}

// (a) push the image from the layout to a new repository of an empty registry.
const push = (bench: Bench) =>
  Effect.gen(function*() {
    const samples = yield* alternate(
      "a",
      bench.options.runs,
      (run) =>
        withFreshRegistry(bench, `a-ours-${run}`, (r) =>
          Peers.driver(bench.driver, ["push", "--layout", bench.layout, "--tag", TAG, "--to", `${r.host}/bench/a:latest`])),
      (run) =>
        withFreshRegistry(bench, `a-skopeo-${run}`, (r) =>
          Peers.skopeo(Peers.skopeoCopy(oci(bench.layout), docker(`${r.host}/bench/a:latest`)))),
      "skopeo"
    )
    return row("a", `push ${bigTitle(bench)} to a new repository`, samples, "skopeo", {
      bytes: bench.imageBytes,
      target: Report.ratioAndRss(1.0, 200),
      note: "each run pushes into a fresh, empty docker-registry on a new port (so skopeo's blob-info cache knows " +
        "no mount source there)"
    })
  })

// (b) push the same image again: every blob (and the manifest) is there.
const repush = (bench: Bench) =>
  Effect.gen(function*() {
    const to = `${bench.registry.host}/bench/base:latest`
    const samples = yield* alternate(
      "b",
      bench.options.runs,
      () => Effect.map(Peers.driver(bench.driver, ["push", "--layout", bench.layout, "--tag", TAG, "--to", to]), sample),
      () => Effect.map(Peers.skopeo(Peers.skopeoCopy(oci(bench.layout), docker(to))), sample),
      "skopeo"
    )
    const warm = yield* inProcess(bench, ["push", "--layout", bench.layout, "--tag", TAG, "--to", to])
    return row("b", `push the same ${bigTitle(bench)} again (all blobs exist)`, samples, "skopeo", {
      target: Report.ratioAtMost(0.5),
      note: `in a warm process (a program using the library, after its first push): ${warm}`
    })
  })

// (c) pull the image to a fresh layout.
const pull = (bench: Bench) =>
  Effect.gen(function*() {
    const from = `${bench.registry.host}/bench/base:latest`
    const once = (name: string, run: (dir: string) => Effect.Effect<Processes.Finished, Processes.ProcessError>) =>
      Effect.gen(function*() {
        const dir = join(bench.work, name)
        const finished = yield* run(dir).pipe(Effect.ensuring(Effect.zipRight(remove(dir), settle)))
        return sample(finished)
      })
    const samples = yield* alternate(
      "c",
      bench.options.runs,
      (run) =>
        once(`c-ours-${run}`, (dir) =>
          Effect.tap(
            Peers.driver(bench.driver, ["pull", "--from", from, "--layout", dir, "--tag", TAG]),
            (f) => expectDigest(f.stdout, bench.image.digest)
          )),
      (run) => once(`c-skopeo-${run}`, (dir) => Peers.skopeo(Peers.skopeoCopy(docker(from), oci(dir)))),
      "skopeo"
    )
    return row("c", `pull ${bigTitle(bench)} to an OCI layout`, samples, "skopeo", {
      bytes: bench.imageBytes,
      target: Report.ratioAndRss(1.0, 200)
    })
  })

// The same operation repeated in one driver process (`--repeat`): the median of the runs
// after the first, which paid for start-up (code compiled on first use, the ping), as text.
const warmRuns = 6
const inProcess = (bench: Bench, args: ReadonlyArray<string>) =>
  Effect.map(Peers.driver(bench.driver, [...args, "--repeat", String(warmRuns)]), (finished) => {
    const { millis } = JSON.parse(finished.stdout) as { readonly millis: ReadonlyArray<number> }
    const warm = millis.slice(1)
    return `${Report.formatMillis(Report.median(warm))} per operation (median of ${warm.length}; ` +
      `the first in the process took ${Report.formatMillis(millis[0] ?? 0)})`
  })

// (d) copy between two repositories of one registry: blobs are mounted, not moved.
const copySame = (bench: Bench) =>
  Effect.gen(function*() {
    const host = bench.registry.host
    const from = `${host}/bench/base:latest`
    const samples = yield* alternate(
      "d",
      bench.options.runs,
      (run) =>
        Effect.map(
          Peers.driver(bench.driver, ["copy", "--from", from, "--to", `${host}/bench/d-ours-${run}:latest`]),
          sample
        ),
      (run) => Effect.map(Peers.skopeo(Peers.skopeoCopy(docker(from), docker(`${host}/bench/d-skopeo-${run}:latest`))), sample),
      "skopeo"
    )
    const warm = yield* inProcess(bench, ["copy", "--from", from, "--to", `${host}/bench/d-warm:latest`])
    return row("d", `copy ${bigTitle(bench)} to another repository of the same registry`, samples, "skopeo", {
      target: Report.ratioAtMost(0.5),
      note: "ours mounts because the source is known; skopeo mounts because its blob-info cache learnt the " +
        "source repository when skopeo pushed it during setup. In a warm process (each copy to a new " +
        `repository, after the first): ${warm}`
    })
  })

// (e) copy from one docker-registry to another.
const copyAcross = (bench: Bench) =>
  Effect.gen(function*() {
    const from = `${bench.registry.host}/bench/base:latest`
    const samples = yield* alternate(
      "e",
      bench.options.runs,
      (run) =>
        withFreshRegistry(bench, `e-ours-${run}`, (r) =>
          Peers.driver(bench.driver, ["copy", "--from", from, "--to", `${r.host}/bench/e:latest`])),
      (run) =>
        withFreshRegistry(bench, `e-skopeo-${run}`, (r) =>
          Peers.skopeo(Peers.skopeoCopy(docker(from), docker(`${r.host}/bench/e:latest`)))),
      "skopeo"
    )
    return row("e", `copy ${bigTitle(bench)} registry to registry`, samples, "skopeo", {
      bytes: bench.imageBytes,
      target: Report.ratioAndRss(1.0, 200),
      note: "the destination is a fresh docker-registry per run; the target is the one of push and pull"
    })
  })

interface RoundTrips {
  readonly requests: number
  readonly millis: number
  readonly perRequestMillis: number
}

// (f) manifest round trips: many small requests.
const roundTrips = (bench: Bench) =>
  Effect.gen(function*() {
    const ref = `${bench.registry.host}/bench/base:latest`
    const n = bench.options.roundTrips
    const inProcess: Array<number> = []
    const many = yield* alternate(
      "f",
      bench.options.runs,
      () =>
        Effect.gen(function*() {
          const finished = yield* Peers.driver(bench.driver, ["round-trips", "--ref", ref, "--count", String(n)])
          const reported = JSON.parse(finished.stdout) as RoundTrips
          inProcess.push(reported.perRequestMillis)
          return sample(finished)
        }),
      () =>
        Effect.gen(function*() {
          const each: Array<Report.Sample> = []
          for (let i = 0; i < n; i++) {
            each.push(yield* Peers.skopeo(["inspect", "--raw", "--tls-verify=false", docker(ref)]))
          }
          return Report.combine(each)
        }),
      "skopeo"
    )
    const skopeoEach = Report.median(many.peer.map((s) => s.wallMillis)) / n
    const first = row("f", `${n} manifest round trips`, many, "skopeo", {
      target: Report.ratioAtMost(1.0),
      note: `ours: one process making ${n} requests (HEAD and GET in turn) over one kept-alive connection, ` +
        `as a program using the library does; ${Report.formatMillis(Report.median(inProcess))} per request ` +
        `inside the process. skopeo: ${n} \`skopeo inspect --raw\` processes (one GET each, as a script does; ` +
        `skopeo cannot make several requests in one process), ${Report.formatMillis(skopeoEach)} each. ` +
        `The row f1 compares one request in one fresh process on each side.`
    })
    const cold = yield* alternate(
      "f1",
      bench.options.coldRuns,
      () => Effect.map(Peers.driver(bench.driver, ["get", "--ref", ref]), sample),
      () => Effect.map(Peers.skopeo(["inspect", "--raw", "--tls-verify=false", docker(ref)]), sample),
      "skopeo"
    )
    const second = row("f1", "1 manifest GET in a fresh process", cold, "skopeo", {
      note: `median of ${bench.options.coldRuns} processes per side: node start-up, module load, ping, GET ` +
        "(`get` of the driver against `skopeo inspect --raw`); no target"
    })
    return [first, second]
  })

// (g) list the tags of a repository holding many.
const listTags = (bench: Bench) =>
  Effect.gen(function*() {
    const repo = `${bench.registry.host}/bench/tags`
    const n = bench.options.tags
    yield* say(`  g setup: ${n} tags`)
    yield* Peers.driver(bench.driver, ["tags", "--ref", `${repo}:t00000`, "--count", String(n)])
    const samples = yield* alternate(
      "g",
      bench.options.runs,
      () =>
        Effect.gen(function*() {
          const finished = yield* Peers.driver(bench.driver, ["list", "--repo", repo])
          yield* expectCount((JSON.parse(finished.stdout) as { tags: number }).tags, n, "ours")
          return sample(finished)
        }),
      () =>
        Effect.gen(function*() {
          const finished = yield* Peers.skopeo(["list-tags", "--tls-verify=false", docker(repo)])
          yield* expectCount((JSON.parse(finished.stdout) as { Tags: Array<string> }).Tags.length, n, "skopeo")
          return sample(finished)
        }),
      "skopeo"
    )
    return row("g", `list ${n} tags`, samples, "skopeo", { note: "no target" })
  })

// (h) our registry server against docker-registry, both driven by skopeo: a push into an empty
// server, then (the server started again over the same storage) a pull; each phase has its own
// server process, so that its CPU time and peak RSS are the server's for that phase.
const servers = (bench: Bench) =>
  Effect.gen(function*() {
    const phase = (
      kind: "ours" | "docker-registry",
      dir: string,
      client: (host: string) => Effect.Effect<Processes.Finished, Processes.ProcessError>
    ) =>
      Effect.scoped(
        Effect.gen(function*() {
          const server = kind === "ours" ? yield* Peers.ourRegistry(bench.driver, dir) : yield* Peers.dockerRegistry(dir)
          const finished = yield* client(server.host)
          const usage = yield* server.stop
          return { wallMillis: finished.wallMillis, ...usage }
        })
      )
    const onServer = (kind: "ours" | "docker-registry", run: number) => {
      const dir = join(bench.work, `h-${kind}-${run}`)
      const pulled = join(bench.work, `h-${kind}-${run}-pull`)
      const ref = (host: string) => docker(`${host}/bench/h:latest`)
      return Effect.gen(function*() {
        const push = yield* phase(kind, dir, (host) => Peers.skopeo(Peers.skopeoCopy(oci(bench.layout), ref(host))))
        yield* settle
        const pull = yield* phase(kind, dir, (host) => Peers.skopeo(Peers.skopeoCopy(ref(host), oci(pulled))))
        return { ...push, pull }
      }).pipe(Effect.ensuring(Effect.all([remove(dir), remove(pulled), settle], { discard: true })))
    }
    const pairs = yield* alternate(
      "h",
      bench.options.runs,
      (run) => onServer("ours", run),
      (run) => onServer("docker-registry", run),
      "docker-registry"
    )
    const part = (which: "push" | "pull") => ({
      ours: pairs.ours.map((p) => (which === "push" ? sample(p) : p.pull)),
      peer: pairs.peer.map((p) => (which === "push" ? sample(p) : p.pull))
    })
    const note = "skopeo is the client on both sides; times are skopeo's wall times, CPU and RSS are the server's; " +
      "each run starts a fresh server with empty filesystem storage for the push, and again over that storage for the pull"
    return [
      row("h-push", `server: skopeo pushes ${bigTitle(bench)} (as a)`, part("push"), "docker-registry", {
        bytes: bench.imageBytes,
        target: Report.throughputAtLeast(0.9),
        note
      }),
      row("h-pull", `server: skopeo pulls ${bigTitle(bench)} (as c)`, part("pull"), "docker-registry", {
        bytes: bench.imageBytes,
        target: Report.throughputAtLeast(0.9)
      })
    ]
  })

// (io) sha256 and gunzip throughput of our streams over a file.
const throughput = (bench: Bench) =>
  Effect.gen(function*() {
    const layer = bench.image.layers[0]
    if (layer === undefined) return []
    const file = join(bench.layout, "blobs", ...layer.digest.split(":"))
    const hashed = yield* alternate(
      "io-sha256",
      bench.options.runs,
      () =>
        Effect.gen(function*() {
          const finished = yield* Peers.driver(bench.driver, ["sha256", "--file", file])
          yield* expectDigest(finished.stdout, layer.digest)
          return sample(finished)
        }),
      () =>
        Effect.gen(function*() {
          const finished = yield* Processes.run("openssl", ["dgst", "-sha256", "-r", file])
          yield* expectDigest(`sha256:${finished.stdout.split(" ")[0] ?? ""}`, layer.digest)
          return sample(finished)
        }),
      "openssl"
    )
    const textMiB = bench.options.layerMiB
    const gz = join(bench.work, "text.gz")
    yield* Peers.driver(bench.driver, ["text", "--out", gz, "--mib", String(textMiB), "--seed", "bench"])
    const unzipped = yield* alternate(
      "io-gunzip",
      bench.options.runs,
      () =>
        Effect.gen(function*() {
          const finished = yield* Peers.driver(bench.driver, ["gunzip", "--file", gz])
          yield* expectCount((JSON.parse(finished.stdout) as { size: number }).size, textMiB * MiB, "our gunzip")
          return sample(finished)
        }),
      () => Effect.map(Processes.run("gzip", ["-d", "-c", gz], { stdout: "ignore" }), sample),
      "gzip"
    )
    return [
      row("io-sha256", `sha256 of a ${Math.round(layer.size / MiB)} MiB file`, hashed, "openssl", {
        bytes: layer.size,
        note: "ours: `Digest.ofStream` over `FileSystem.stream` (default 64 KiB reads) in a fresh node; " +
          "peer: `openssl dgst -sha256`; both include process start-up; no target"
      }),
      row("io-gunzip", `gunzip to ${textMiB} MiB of text`, unzipped, "gzip", {
        bytes: textMiB * MiB,
        note: "ours: `Compression.gunzip` over `FileSystem.stream`, bytes counted and dropped; peer: " +
          "`gzip -d -c > /dev/null`; throughput of the uncompressed output; no target"
      })
    ]
  })

const row = (
  id: string,
  title: string,
  samples: { ours: ReadonlyArray<Report.Sample>; peer: ReadonlyArray<Report.Sample> },
  peerLabel: string,
  extra: Pick<Report.Row, "bytes" | "target" | "note"> = {}
): Report.Row => ({
  id,
  title,
  ours: { label: "ours", samples: samples.ours },
  peer: { label: peerLabel, samples: samples.peer },
  ...extra
})

const expectDigest = (stdout: string, digest: string) =>
  stdout.includes(digest)
    ? Effect.void
    : Effect.fail(new Processes.ProcessError({ reason: "Exit", command: "check", stderr: `expected ${digest}, got ${stdout}` }))

const expectCount = (actual: number, expected: number, who: string) =>
  actual === expected
    ? Effect.void
    : Effect.fail(new Processes.ProcessError({ reason: "Exit", command: who, stderr: `expected ${expected}, got ${actual}` }))

const isRow = (r: Report.Row | ReadonlyArray<Report.Row>): r is Report.Row => "id" in r

// A scenario that fails still gives a row, so that the others are reported.
const guarded = (id: string, title: string, scenario: Effect.Effect<ReadonlyArray<Report.Row>, Processes.ProcessError>) =>
  Effect.catchAll(scenario, (error) =>
    Effect.as(say(`  ${id} failed: ${error.message}`), [
      {
        id,
        title,
        ours: { label: "ours", samples: [] },
        peer: { label: "-", samples: [] },
        target: { maxRatio: 0, text: "ran to the end" },
        note: `failed: ${error.message.split("\n")[0] ?? ""}`
      } satisfies Report.Row
    ]))

const versionOf = (command: string, args: ReadonlyArray<string>): string => {
  try {
    return execFileSync(command, args, { encoding: "utf8" }).trim().split("\n")[0] ?? "?"
  } catch {
    return "?"
  }
}

const machine = (): string => {
  const cpu = cpus()
  return `${cpu[0]?.model.trim() ?? "unknown CPU"} x ${cpu.length}, ${Math.round(totalmem() / 1024 ** 3)} GiB RAM, ${type()} ${release()}, ` +
    `node ${process.version}, ${versionOf(Peers.skopeoBinary, ["--version"])}, ` +
    `docker-registry ${versionOf(Peers.dockerRegistryBinary, ["--version"]).split(" ").slice(-1)[0] ?? "?"}`
}

const POLICY = "/etc/containers/policy.json"

const preflight = Effect.gen(function*() {
  for (const binary of [Processes.timeBinary, Peers.skopeoBinary, Peers.dockerRegistryBinary]) {
    if (!existsSync(binary)) {
      return yield* new Processes.ProcessError({ reason: "Spawn", command: binary, cause: "not installed" })
    }
  }
  if (!existsSync(POLICY)) {
    yield* say(`writing ${POLICY} (accept anything), which skopeo needs`)
    mkdirSync(dirname(POLICY), { recursive: true })
    writeFileSync(POLICY, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }, null, 2))
  }
})

// Bundled as the `crane` bin is (scripts/build-cli.mjs): a CommonJS program started by a copy
// of scripts/cached-entry.cjs with V8's code cache, which the `ready` run writes.
const bundleDriver = (work: string) =>
  Effect.gen(function*() {
    const entry = join(work, "driver.cjs")
    yield* Effect.tryPromise({
      try: async () => {
        await build({
          absWorkingDir: root,
          entryPoints: [join(root, "bench", "driver.ts")],
          outfile: join(work, "driver.program.cjs"),
          bundle: true,
          platform: "node",
          format: "cjs",
          target: "node20",
          minify: true,
          treeShaking: true,
          legalComments: "none",
          logLevel: "warning"
        })
        copyFileSync(join(root, "scripts", "cached-entry.cjs"), entry)
      },
      catch: (cause) => new Processes.ProcessError({ reason: "Spawn", command: "esbuild bench/driver.ts", cause })
    })
    yield* Peers.driver(entry, ["ready"])
    return entry
  })

const scenarios: ReadonlyArray<{
  readonly id: Options.ScenarioId
  readonly title: string
  readonly run: (bench: Bench) => Effect.Effect<Report.Row | ReadonlyArray<Report.Row>, Processes.ProcessError>
}> = [
  { id: "a", title: "push to a new repository", run: push },
  { id: "b", title: "push again", run: repush },
  { id: "c", title: "pull to a layout", run: pull },
  { id: "d", title: "copy within a registry", run: copySame },
  { id: "e", title: "copy across registries", run: copyAcross },
  { id: "f", title: "manifest round trips", run: roundTrips },
  { id: "g", title: "list tags", run: listTags },
  { id: "h", title: "our server against docker-registry", run: servers },
  { id: "io", title: "sha256 and gunzip throughput", run: throughput }
]

const document = (
  options: Options.Options,
  args: ReadonlyArray<string>,
  table: string,
  load: { readonly start: number; readonly end: number }
): string => {
  const image = `${options.layers} x ${options.layerMiB} MiB layers (${
    Math.round((options.layers * options.layerMiB) / 1024 * 100) / 100
  } GiB) of seeded random bytes, uncompressed OCI layers`
  return [
    "# Benchmarks against skopeo",
    "",
    "Written by `npm run bench` (bench/run.ts); see bench/README.md for the method. Times are medians over " +
    "the runs of each side (sides alternate); ours/peer below 1 means we are faster. Peak RSS is the largest " +
    "over the runs, of the client process (or of the server in h); it and the CPU time (user plus system, medians) " +
    "are GNU time's (`/usr/bin/time -f \"%M %U %S\"`).",
    "",
    `- machine: ${machine()}`,
    `- date: ${new Date().toISOString()}`,
    `- load average (1 min): ${load.start.toFixed(1)} at the start, ${load.end.toFixed(1)} at the end`,
    `- image: ${image}`,
    `- runs: ${options.runs} per side${Options.isFullSize(options) ? "" : " (scaled down: targets are stated for 1 GiB)"}`,
    `- command: \`npm run bench${args.length > 0 ? ` -- ${args.join(" ")}` : ""}\``,
    "",
    table,
    ""
  ].join("\n")
}

const program = Effect.gen(function*() {
  const args = process.argv.slice(2)
  const parsed = Options.parse(args)
  if (Either.isLeft(parsed)) {
    yield* Console.error(`${parsed.left.message}\n\n${Options.usage}`)
    return yield* Effect.sync(() => {
      process.exitCode = 2
    })
  }
  const options = parsed.right
  if (options.help) return yield* Console.log(Options.usage)
  const loadAtStart = loadavg()[0] ?? 0
  yield* preflight
  const base = options.work ?? tmpdir()
  mkdirSync(base, { recursive: true })
  const work = mkdtempSync(join(base, "ecr-bench-"))
  yield* Effect.addFinalizer(() =>
    options.keep ? say(`kept ${work}`) : remove(work)
  )
  yield* say(`work directory ${work}`)
  const driver = yield* bundleDriver(work)
  const layout = join(work, "layout")
  yield* say(`preparing ${options.layers} x ${options.layerMiB} MiB image in ${layout}`)
  const prepared = yield* Peers.driver(driver, [
    "prepare",
    "--layout",
    layout,
    "--tag",
    TAG,
    "--layers",
    String(options.layers),
    "--layer-mib",
    String(options.layerMiB),
    "--seed",
    "bench"
  ])
  const image = JSON.parse(prepared.stdout) as Bench["image"]
  const registry = yield* Peers.dockerRegistry(join(work, "registry-a"))
  yield* say(`docker-registry at ${registry.host}; skopeo pushes bench/base:latest`)
  // skopeo pushes the base image, so its blob-info cache knows where the blobs are (see d).
  yield* Peers.skopeo(Peers.skopeoCopy(oci(layout), docker(`${registry.host}/bench/base:latest`)))
  const bench: Bench = {
    options,
    work,
    driver,
    layout,
    image,
    imageBytes: image.layers.reduce((sum, l) => sum + l.size, 0),
    registry
  }
  const rows: Array<Report.Row> = []
  for (const scenario of scenarios) {
    if (!options.only.includes(scenario.id)) continue
    yield* say(`${scenario.id}: ${scenario.title}`)
    const produced = yield* guarded(
      scenario.id,
      scenario.title,
      Effect.map(scenario.run(bench), (r): ReadonlyArray<Report.Row> => (isRow(r) ? [r] : r))
    )
    rows.push(...produced)
  }
  const table = Report.table(rows.map(Report.summarize))
  const out = resolve(root, Options.outputFile(options))
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, document(options, args, table, { start: loadAtStart, end: loadavg()[0] ?? 0 }))
  yield* Console.log(`\n${table}\n\nwritten to ${out}`)
})

NodeRuntime.runMain(Effect.scoped(program))
