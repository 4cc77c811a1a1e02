/**
 * scripts/cached-entry.cjs, the start of the crane bin: runs `<name>.program.cjs` beside it
 * with V8's code cache, writes the cache when it is missing or stale, and never runs a cache
 * made from another program.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { bin, ensureBuilt, root } from "../cli/support.js"

const loader = fileURLToPath(new URL("../../scripts/cached-entry.cjs", import.meta.url))

// A program that prints a word, its arguments and what CommonJS gives it.
const program = (word: string) =>
  `const { basename } = require("node:path");\n` +
  `console.log(JSON.stringify({ word: ${JSON.stringify(word)}, args: process.argv.slice(2), ` +
  `file: basename(__filename), dir: typeof __dirname, exports: typeof module.exports }))\n`

// Runs `body` in a fresh directory holding the loader as `tool.cjs` and the program printing
// `word` as `tool.program.cjs`.
const withTool = (word: string, body: (dir: string) => void) => {
  const dir = mkdtempSync(join(tmpdir(), "ecr-cached-entry-"))
  try {
    copyFileSync(loader, join(dir, "tool.cjs"))
    writeFileSync(join(dir, "tool.program.cjs"), program(word))
    body(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const run = (dir: string, ...args: Array<string>) =>
  JSON.parse(execFileSync(process.execPath, [join(dir, "tool.cjs"), ...args], { encoding: "utf8" })) as {
    readonly word: string
    readonly args: ReadonlyArray<string>
    readonly file: string
    readonly dir: string
    readonly exports: string
  }

describe("cached-entry", () => {
  it("runs the program beside it with its arguments, as CommonJS", () => {
    withTool("alpha", (dir) => {
      expect(run(dir, "one", "--two")).toEqual({
        word: "alpha",
        args: ["one", "--two"],
        file: "tool.program.cjs",
        dir: "string",
        exports: "object"
      })
    })
  })

  it("writes the code cache on the first run and reuses it after", () => {
    withTool("alpha", (dir) => {
      const cache = join(dir, "tool.program.cache")
      run(dir)
      const first = statSync(cache)
      expect(first.size).toBeGreaterThan(32)
      run(dir)
      expect(statSync(cache).mtimeMs).toBe(first.mtimeMs)
      expect(readdirSync(dir).sort()).toEqual(["tool.cjs", "tool.program.cache", "tool.program.cjs"])
    })
  })

  it("runs an edited program of the same length, not the cached one, and renews the cache", () => {
    withTool("alpha", (dir) => {
      const cache = join(dir, "tool.program.cache")
      run(dir)
      const before = readFileSync(cache)
      writeFileSync(join(dir, "tool.program.cjs"), program("omega"))
      expect(run(dir).word).toBe("omega")
      expect(readFileSync(cache).equals(before)).toBe(false)
      expect(run(dir).word).toBe("omega")
    })
  })

  it("replaces a corrupt cache", () => {
    withTool("alpha", (dir) => {
      const cache = join(dir, "tool.program.cache")
      run(dir)
      const good = readFileSync(cache)
      const corrupt = Buffer.from(good)
      corrupt.fill(7, 40)
      writeFileSync(cache, corrupt)
      expect(run(dir).word).toBe("alpha")
      expect(readFileSync(cache).equals(corrupt)).toBe(false)
    })
  })

  it("is how the build starts crane: a cache of the bundle, made by the build, used as it is", async () => {
    await ensureBuilt()
    const program = join(root, "dist", "crane.program.cjs")
    const cache = join(root, "dist", "crane.program.cache")
    const stored = readFileSync(cache)
    expect(stored.subarray(0, 32).equals(createHash("sha256").update(readFileSync(program)).digest())).toBe(true)
    expect(stored.byteLength).toBeGreaterThan(100_000)
    const before = statSync(cache).mtimeMs
    expect(execFileSync(process.execPath, [bin, "version"], { encoding: "utf8" }).trim()).toMatch(/^\d+\.\d+\.\d+/)
    expect(statSync(cache).mtimeMs).toBe(before)
  }, 180_000)
})
