/**
 * Registries the registry tests run against, started and stopped by the tests: ours on a
 * real port, and the CNCF distribution registry (Debian's `docker-registry`) as the
 * reference implementation.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Registry from "../../src/registry/Registry.js"

/** A running registry: its base URL and how to stop it. */
export interface Running {
  readonly url: string
  readonly stop: () => Promise<void>
}

/**
 * Starts our registry on 127.0.0.1:0 with the given stores (memory by default).
 */
export const startOurs = async (
  options: Registry.ServerOptions = {},
  stores: Layer.Layer<Registry.Stores, unknown, never> = Registry.layerMemory
): Promise<Running> => {
  const scope = Effect.runSync(Scope.make())
  const layer = Registry.layerServer(options).pipe(Layer.provide(stores))
  const url = await Effect.runPromise(
    Layer.buildWithScope(layer, scope).pipe(Effect.flatMap((context) => Effect.provide(Registry.url, context)))
  )
  return { url, stop: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** Starts our registry over a directory, with the filesystem stores. */
export const startOursOnDisk = (root: string, options: Registry.ServerOptions = {}): Promise<Running> =>
  startOurs(options, Registry.layerFileSystem(root).pipe(Layer.provide(NodeContext.layer)))

/** Where Debian installs the CNCF distribution registry. */
export const dockerRegistryBinary = "/usr/bin/docker-registry"

/** True when the reference registry is installed here. */
export const hasDockerRegistry = existsSync(dockerRegistryBinary)

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** What a caller may add to the docker-registry a test starts. */
export interface DockerRegistryOptions {
  /** Files to write into the registry's temporary directory before it starts. */
  readonly files?: Readonly<Record<string, string>>
  /** Extra top-level config lines, given the temporary directory (e.g. an `auth:` section). */
  readonly config?: (dir: string) => ReadonlyArray<string>
  /** When the registry counts as ready; by default `GET /v2/` answering 200. */
  readonly ready?: (response: Response) => boolean
}

/**
 * Starts `docker-registry serve` with filesystem storage in a temporary directory, deletes
 * enabled, on a free loopback port; resolves once it is ready (`GET /v2/` answers 200 unless
 * told otherwise).
 */
export const startDockerRegistry = async (
  options: DockerRegistryOptions = {}
): Promise<Running & { readonly host: string }> => {
  const dir = mkdtempSync(join(tmpdir(), "docker-registry-"))
  const port = await freePort()
  const config = join(dir, "config.yml")
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content)
  writeFileSync(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "data")}`,
      "  delete:",
      "    enabled: true",
      ...(options.config?.(dir) ?? []),
      "http:",
      `  addr: 127.0.0.1:${port}`,
      ""
    ].join("\n")
  )
  const child: ChildProcess = spawn(dockerRegistryBinary, ["serve", config], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr?.on("data", (data: Buffer) => {
    stderr += data.toString()
  })
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.kill("SIGTERM")
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  const ready = options.ready ?? ((response: Response) => response.status === 200)
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break
    try {
      const response = await fetch(`${url}/v2/`)
      await response.arrayBuffer()
      if (ready(response)) return { url, host: `127.0.0.1:${port}`, stop }
    } catch {
      // not listening yet
    }
    await sleep(50)
  }
  await stop()
  throw new Error(`docker-registry did not start: ${stderr}`)
}
