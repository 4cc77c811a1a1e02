/**
 * What the tarball interop tests share: skopeo run as a command, its policy file, a scratch
 * directory, and an OCI layout read by plain JSON, independently of the code under test.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const skopeoBinary = "/usr/bin/skopeo"
const policy = "/etc/containers/policy.json"

/** True when skopeo is installed here. */
export const hasSkopeo = existsSync(skopeoBinary)

/** Runs skopeo with `args`; gives its stdout. */
export const skopeo = (...args: ReadonlyArray<string>) =>
  Effect.sync(() => execFileSync(skopeoBinary, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }))

/** Writes skopeo's policy (accept anything) when there is none. */
export const ensurePolicy = (): void => {
  if (hasSkopeo && !existsSync(policy)) {
    mkdirSync("/etc/containers", { recursive: true })
    writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }))
  }
}

/** Runs `use` with a fresh directory (named after `prefix`), removed afterwards. */
export const withTempDir = (prefix: string) =>
<A, E>(use: (dir: string) => Effect.Effect<A, E, FileSystem.FileSystem>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), prefix))),
    (dir) => use(dir),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.provide(NodeFileSystem.layer))

/** A descriptor as an OCI layout holds it. */
export interface OciDescriptor {
  readonly digest: string
  readonly mediaType: string
}

/** Reads an OCI layout's single image by plain JSON. */
export const readLayout = (dir: string) => {
  const blob = (digest: string) => readFileSync(join(dir, "blobs", "sha256", digest.slice("sha256:".length)))
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { manifests: ReadonlyArray<OciDescriptor> }
  const manifest = JSON.parse(blob(index.manifests[0]!.digest).toString()) as {
    config: OciDescriptor
    layers: ReadonlyArray<OciDescriptor>
  }
  const config = JSON.parse(blob(manifest.config.digest).toString()) as { rootfs: { diff_ids: ReadonlyArray<string> } }
  return { manifest, config, blob }
}
