/**
 * What the CLI tests share: the built `dist/crane.cjs` (built first when missing or older than
 * the sources), a way to run it as a subprocess and read its exit code and output, the
 * registries it runs against (ours, started with `crane registry serve`, and Debian's
 * docker-registry), and skopeo as the independent reader.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll } from "vitest"
import { hasDockerRegistry, startDockerRegistry } from "../registry/peers.js"

const exec = promisify(execFile)

/** The project's root directory. */
export const root = fileURLToPath(new URL("../../", import.meta.url))

/** The bundled program under test. */
export const bin = join(root, "dist", "crane.cjs")

/** A fixture of ../shared/fixtures/ggcr, read in place. */
export const fixture = (path: string): string =>
  fileURLToPath(new URL(`../../../shared/fixtures/ggcr/${path}`, import.meta.url))

const newest = (dir: string): number => {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }
  return latest
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Builds the bundle with `node scripts/build-cli.mjs` when it is missing or older than the
 * sources. Test files run in parallel, so a lock directory makes one of them build while the
 * others wait.
 */
export const ensureBuilt = async (): Promise<void> => {
  const sources = Math.max(newest(join(root, "src")), newest(join(root, "examples")), statSync(join(root, "scripts")).mtimeMs)
  const fresh = () => existsSync(bin) && statSync(bin).mtimeMs >= sources
  const lock = join(root, "dist", ".build-lock")
  mkdirSync(join(root, "dist"), { recursive: true })
  const deadline = Date.now() + 120_000
  while (!fresh()) {
    try {
      mkdirSync(lock)
    } catch {
      if (Date.now() > deadline) throw new Error("timed out waiting for another test to build dist/crane.cjs")
      await sleep(200)
      continue
    }
    try {
      if (!fresh()) await exec(process.execPath, [join(root, "scripts", "build-cli.mjs")], { cwd: root })
    } finally {
      rmdirSync(lock)
    }
  }
}

/** What a run of the program gave. */
export interface Run {
  readonly code: number
  readonly stdout: Buffer
  readonly stderr: string
  readonly out: string
}

/** Options of {@link crane}. */
export interface RunOptions {
  readonly stdin?: Uint8Array | string
  /** Added to the environment; `undefined` removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly cwd?: string
}

/** Runs `crane ARGS...` and waits for it to exit. */
export const crane = (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd ?? root,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    const out: Array<Buffer> = []
    let err = ""
    child.stdout.on("data", (d: Buffer) => out.push(d))
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString()
    })
    child.on("error", reject)
    child.on("close", (code) => {
      const stdout = Buffer.concat(out)
      resolve({ code: code ?? -1, stdout, stderr: err, out: stdout.toString() })
    })
    child.stdin.end(options.stdin ?? "")
  })

/** Runs crane and fails with its stderr unless it exits 0; gives its stdout as text. */
export const ok = async (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<string> => {
  const run = await crane(args, options)
  if (run.code !== 0) throw new Error(`crane ${args.join(" ")} exited ${run.code}: ${run.stderr}`)
  return run.out
}

/** A registry under test: the `host:port` references use, and how to stop it. */
export interface Target {
  readonly name: string
  readonly host: string
  readonly stop: () => Promise<void>
}

/** Starts `crane registry serve` and waits for the address it prints. */
export const startServe = (args: ReadonlyArray<string> = ["--address", "127.0.0.1:0"]): Promise<Target> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [bin, "registry", "serve", ...args], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((done) => child.once("exit", done))
        child.kill("SIGTERM")
        await exited
      }
    }
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString()
    })
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString()
      const match = /serving on (\S+)/.exec(out)
      if (match?.[1] !== undefined) resolve({ name: "crane registry serve", host: match[1], stop })
    })
    child.on("exit", (code) => reject(new Error(`crane registry serve exited ${code}: ${err}`)))
  })

/** Starts Debian's docker-registry (the CNCF distribution registry) on a free port. */
export const startDistribution = async (): Promise<Target> => {
  const running = await startDockerRegistry()
  return { name: "docker-registry", host: running.url.replace(/^http:\/\//, ""), stop: running.stop }
}

/** True when docker-registry is installed here. */
export const hasDistribution = hasDockerRegistry

/** The registries the CLI is tested against: a name, how to start it, whether it is here. */
export const registryTargets: ReadonlyArray<readonly [string, () => Promise<Target>, boolean]> = [
  ["our registry (crane registry serve)", () => startServe(), true],
  ["docker-registry", startDistribution, hasDistribution]
]

/**
 * Starts a registry before the suite's tests (once the bin is built) and pushes `image` (a
 * tarball) to `seed` on it (`repo/name:tag`); stops it after them. Gives the registry's
 * `host:port` once started. Nothing runs when it is not `available`.
 */
export const useRegistry = (
  start: () => Promise<Target>,
  available: boolean,
  image: string,
  seed: string
): (() => string) => {
  let target: Target | undefined
  beforeAll(async () => {
    if (!available) return
    await ensureBuilt()
    target = await start()
    await ok(["push", image, `${target.host}/${seed}`])
  }, 180_000)
  afterAll(async () => {
    await target?.stop()
  })
  return () => target?.host ?? ""
}

const skopeoBinary = "/usr/bin/skopeo"

/** True when skopeo is installed here. */
export const hasSkopeo = existsSync(skopeoBinary)

/** Makes sure skopeo finds a signature policy. */
export const ensurePolicy = (): void => {
  const policy = "/etc/containers/policy.json"
  if (!hasSkopeo || existsSync(policy)) return
  mkdirSync("/etc/containers", { recursive: true })
  writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }))
}

/** The manifest skopeo reads for a reference, exactly as served. */
export const skopeoRaw = async (ref: string): Promise<Buffer> => {
  const { stdout } = await exec(skopeoBinary, ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`], {
    encoding: "buffer",
    maxBuffer: 16 * 1024 * 1024
  })
  return stdout
}

/** The digest skopeo computes for a reference (`skopeo inspect`'s `Digest`). */
export const skopeoDigest = async (ref: string): Promise<string> => {
  const { stdout } = await exec(skopeoBinary, ["inspect", "--tls-verify=false", "--format", "{{.Digest}}", `docker://${ref}`])
  return stdout.trim()
}

/** The sha256 digest of bytes. */
export const sha256 = (bytes: Uint8Array | string): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

/** The entries `tar t` lists for a tar given on stdin. */
export const tarList = async (tar: Uint8Array): Promise<ReadonlyArray<string>> =>
  new Promise((resolve, reject) => {
    const child = spawn("tar", ["t"], { stdio: ["pipe", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
    })
    child.on("error", reject)
    child.on("close", (code) =>
      code === 0 ? resolve(out.split("\n").filter((l) => l !== "")) : reject(new Error(`tar t exited ${code}`))
    )
    child.stdin.end(tar)
  })

/** Runs a shell pipeline, as a script would, and gives its stdout. */
export const sh = async (script: string, env: Readonly<Record<string, string>> = {}): Promise<string> => {
  const { stdout } = await exec("sh", ["-c", script], { cwd: root, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 })
  return stdout
}
