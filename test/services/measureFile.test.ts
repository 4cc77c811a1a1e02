/**
 * measureFile: the digest and size of a whole file through one reused buffer.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { measureFile } from "../../src/services/internal/measureFile.js"

const withFile = (bytes: Uint8Array, use: (path: string) => Effect.Effect<void, unknown, FileSystem.FileSystem>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "measure-file-"))),
    (dir) => {
      const path = join(dir, "blob")
      writeFileSync(path, bytes)
      return use(path)
    },
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.provide(NodeFileSystem.layer))

const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`
const sha512 = (bytes: Uint8Array) => `sha512:${createHash("sha512").update(bytes).digest("hex")}`

describe("measureFile", () => {
  it.effect("hashes a file of several reads, to its last byte", () => {
    const bytes = randomBytes(2 * 1024 * 1024 + 12_345)
    return withFile(bytes, (path) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        expect(yield* measureFile(fs, path, "sha256")).toEqual({ digest: sha256(bytes), size: bytes.byteLength })
        expect((yield* measureFile(fs, path, "sha512")).digest).toBe(sha512(bytes))
      }))
  })

  it.effect("hashes an empty file", () =>
    withFile(new Uint8Array(0), (path) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        expect(yield* measureFile(fs, path, "sha256")).toEqual({ digest: sha256(new Uint8Array(0)), size: 0 })
      })))

  it.effect("fails with the platform's NotFound for a missing file", () =>
    withFile(new Uint8Array(1), (path) =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const error = yield* Effect.flip(measureFile(fs, `${path}-missing`, "sha256"))
        expect(error._tag === "SystemError" && error.reason).toBe("NotFound")
      })))
})
