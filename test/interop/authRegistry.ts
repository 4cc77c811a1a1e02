/**
 * Debian's docker-registry (the CNCF distribution registry 2.8) with htpasswd Basic auth, for
 * tests of credentials against a real peer. The htpasswd file holds a bcrypt hash made once
 * (cost 4, so each check is quick) of {@link password} for {@link username}, so no tool is
 * needed to make one.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { dockerRegistryBinary, hasDockerRegistry, type Running } from "../registry/peers.js"

export { hasDockerRegistry }

/** The one user of the registry. */
export const username = "alice"

/** Its password. */
export const password = "hunter2-pw"

// bcrypt of `password`, as `htpasswd -Bbn -C 4 alice hunter2-pw` writes it.
const htpasswd = `${username}:$2b$04$RdruKz6.E1coEA3gOFc9bOlH59XnmpayWBUbPoEOeVea92DEx.AWO\n`

/** A free port on 127.0.0.1, closed again: nothing listens there afterwards. */
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

/**
 * Starts `docker-registry serve` with filesystem storage in a temporary directory and
 * `auth: htpasswd` on a free loopback port; resolves once `GET /v2/` asks for Basic auth.
 */
export const startAuthRegistry = async (): Promise<Running & { readonly host: string }> => {
  const dir = mkdtempSync(join(tmpdir(), "docker-registry-auth-"))
  const port = await freePort()
  const config = join(dir, "config.yml")
  writeFileSync(join(dir, "htpasswd"), htpasswd)
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
      "auth:",
      "  htpasswd:",
      "    realm: test",
      `    path: ${join(dir, "htpasswd")}`,
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
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break
    try {
      const response = await fetch(`${url}/v2/`)
      await response.arrayBuffer()
      if (response.status === 401 && response.headers.get("www-authenticate")?.startsWith("Basic") === true) {
        return { url, host: `127.0.0.1:${port}`, stop }
      }
    } catch {
      // not listening yet
    }
    await sleep(50)
  }
  await stop()
  throw new Error(`docker-registry with htpasswd did not start: ${stderr}`)
}
