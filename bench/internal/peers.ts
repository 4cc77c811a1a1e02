/**
 * The programs the benchmark runs: Debian's docker-registry (CNCF distribution 2.8), our
 * registry server, skopeo, and our driver, each as a child process measured by
 * {@link Processes}.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { mkdirSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import * as Processes from "./processes.js"

/**
 * Where Debian installs the CNCF distribution registry.
 *
 * @since 0.1.0
 */
export const dockerRegistryBinary = "/usr/bin/docker-registry"

/**
 * Where Debian installs skopeo.
 *
 * @since 0.1.0
 */
export const skopeoBinary = "/usr/bin/skopeo"

/**
 * A registry running on a loopback port.
 *
 * @since 0.1.0
 */
export interface RunningRegistry {
  /** `127.0.0.1:PORT`, for references. */
  readonly host: string
  /** Its storage directory. */
  readonly storage: string
  /** Stops it and returns its peak RSS and CPU time. */
  readonly stop: Effect.Effect<Processes.Usage, Processes.ProcessError>
}

/**
 * A free TCP port on 127.0.0.1.
 *
 * @since 0.1.0
 */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

// Waits until `GET /v2/` answers 200, failing if the process dies or 15 s pass.
const awaitReady = (host: string, server: Processes.Server, command: string) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline) {
      if (!(yield* server.running)) break
      const status = yield* Effect.promise(() =>
        fetch(`http://${host}/v2/`).then(
          async (response) => {
            await response.arrayBuffer()
            return response.status
          },
          () => 0
        )
      )
      if (status === 200) return
      yield* Effect.sleep(Duration.millis(25))
    }
    return yield* new Processes.ProcessError({ reason: "Spawn", command, stderr: yield* server.output })
  })

/**
 * The configuration of a docker-registry: filesystem storage, deletes enabled, logging only
 * errors (no access log), listening on `127.0.0.1:port`.
 *
 * @since 0.1.0
 */
export const dockerRegistryConfig = (storage: string, port: number): string =>
  [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${storage}`,
    "  delete:",
    "    enabled: true",
    "  cache:",
    "    blobdescriptor: inmemory",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    ""
  ].join("\n")

/**
 * Starts a docker-registry with its storage under `dir` on a free port; ready once `/v2/`
 * answers.
 *
 * @since 0.1.0
 */
export const dockerRegistry = (dir: string): Effect.Effect<RunningRegistry, Processes.ProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* freePort
    const storage = join(dir, "storage")
    mkdirSync(storage, { recursive: true })
    const config = join(dir, "config.yml")
    writeFileSync(config, dockerRegistryConfig(storage, port))
    const server = yield* Processes.start(dockerRegistryBinary, ["serve", config], join(dir, "registry.log"))
    const host = `127.0.0.1:${port}`
    yield* awaitReady(host, server, dockerRegistryBinary)
    return { host, storage, stop: server.stop }
  })

/**
 * Starts our registry server (the driver's `serve`, filesystem stores under `dir`) on a free
 * port; ready once `/v2/` answers.
 *
 * @since 0.1.0
 */
export const ourRegistry = (
  driver: string,
  dir: string
): Effect.Effect<RunningRegistry, Processes.ProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* freePort
    const storage = join(dir, "storage")
    mkdirSync(storage, { recursive: true })
    const server = yield* Processes.start(
      process.execPath,
      [driver, "serve", "--root", storage, "--port", String(port)],
      join(dir, "registry.log")
    )
    const host = `127.0.0.1:${port}`
    yield* awaitReady(host, server, "our registry")
    return { host, storage, stop: server.stop }
  })

/**
 * Runs an operation of our driver in a fresh `node`.
 *
 * @since 0.1.0
 */
export const driver = (
  bundle: string,
  args: ReadonlyArray<string>,
  options: Processes.RunOptions = {}
): Effect.Effect<Processes.Finished, Processes.ProcessError> =>
  Processes.run(process.execPath, [bundle, ...args], options)

/**
 * Runs skopeo with the given arguments.
 *
 * @since 0.1.0
 */
export const skopeo = (
  args: ReadonlyArray<string>,
  options: Processes.RunOptions = {}
): Effect.Effect<Processes.Finished, Processes.ProcessError> => Processes.run(skopeoBinary, args, options)

/**
 * The arguments of a `skopeo copy` between loopback registries and layouts: plain HTTP, no
 * progress output, and digests preserved (without `--preserve-digests` skopeo gzips
 * uncompressed layers on their way to a registry, which would be other work); a layout
 * destination keeps the layers uncompressed as they are.
 *
 * @since 0.1.0
 */
export const skopeoCopy = (from: string, to: string): ReadonlyArray<string> => [
  "copy",
  "--quiet",
  "--preserve-digests",
  "--src-tls-verify=false",
  "--dest-tls-verify=false",
  ...(to.startsWith("oci:") ? ["--dest-oci-accept-uncompressed-layers"] : []),
  from,
  to
]
