// Temporary directories, config files and a fake `docker-credential-test` helper for the
// keychain tests. Nothing here touches the real home directory or process.env.
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Reference from "../../../src/domain/Reference.js"
import * as KeychainDockerConfig from "../../../src/layers/KeychainDockerConfig.js"

/** A fresh directory, removed when the test's scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "keychain-test-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Writes a file (and its directories) and returns its path. */
export const write = (file: string, content: string): string => {
  Fs.mkdirSync(Path.dirname(file), { recursive: true })
  Fs.writeFileSync(file, content, { mode: 0o600 })
  return file
}

export const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64")

export const registry = (host: string) => Either.getOrThrow(Reference.parseRegistry(host))
export const repository = (name: string) => Either.getOrThrow(Reference.parseRepository(name))

/**
 * The docker config keychain made with exactly these environment variables (HOME included,
 * so the real home directory is never read).
 */
export const dockerKeychain = (
  env: Record<string, string>,
  options: KeychainDockerConfig.Options = {}
) =>
  KeychainDockerConfig.make(options).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.provide(NodeContext.layer)
  )

/**
 * Installs `docker-credential-test` in `dir/bin`: it logs its argument and the server URL it
 * read to `dir/helper.log` and answers by server URL. Returns the PATH to run it with.
 */
export const installHelper = (dir: string): string => {
  const bin = Path.join(dir, "bin")
  const log = Path.join(dir, "helper.log")
  write(
    Path.join(bin, "docker-credential-test"),
    [
      "#!/bin/sh",
      "read -r server",
      `printf '%s %s\\n' "$1" "$server" >> '${log}'`,
      "case \"$server\" in",
      "  helped.io) echo '{\"ServerURL\":\"helped.io\",\"Username\":\"helper-user\",\"Secret\":\"helper-pass\"}' ;;",
      "  token.io) echo '{\"ServerURL\":\"token.io\",\"Username\":\"<token>\",\"Secret\":\"refresh-xyz\"}' ;;",
      "  https://index.docker.io/v1/) echo '{\"Username\":\"hub-user\",\"Secret\":\"hub-pass\"}' ;;",
      "  broken.io) echo 'the keyring is locked' >&2; exit 3 ;;",
      "  garbled.io) echo 'not json' ;;",
      "  *) echo 'credentials not found in native keychain'; exit 1 ;;",
      "esac",
      ""
    ].join("\n")
  )
  Fs.chmodSync(Path.join(bin, "docker-credential-test"), 0o755)
  return `${bin}${Path.delimiter}${process.env["PATH"] ?? "/usr/bin:/bin"}`
}

/** What the fake helper was asked, one `get <server>` line per run. */
export const helperLog = (dir: string): ReadonlyArray<string> => {
  const file = Path.join(dir, "helper.log")
  return Fs.existsSync(file) ? Fs.readFileSync(file, "utf8").trim().split("\n") : []
}
