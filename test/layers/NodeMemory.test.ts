/**
 * NodeMemory.prime: once primed, a process that keeps allocating and dropping 1 MiB buffers
 * (as file reads do) reuses memory instead of faulting fresh pages in for each. Page faults are
 * counted per process, so each case runs in a fresh `node` on the built package; glibc only.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

const isGlibc = (): boolean => {
  const report = process.report?.getReport() as { readonly header?: { readonly glibcVersionRuntime?: string } } | undefined
  return process.platform === "linux" && report?.header?.glibcVersionRuntime !== undefined
}

// Minor page faults taken while 200 buffers of 1 MiB are allocated, written and dropped, with
// a collection after each (as a transfer's buffers die young), after priming or not.
const faults = (primed: boolean): number => {
  const script = `
    import { Effect } from "effect";
    import { NodeMemory } from "effect-containerregistry/layers";
    if (${primed}) Effect.runSync(NodeMemory.prime);
    gc();
    const before = process.resourceUsage().minorPageFault;
    for (let i = 0; i < 200; i++) {
      Buffer.allocUnsafeSlow(1024 * 1024).fill(i);
      gc({ type: "minor" });
    }
    console.log(process.resourceUsage().minorPageFault - before);
  `
  const out = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
    cwd: root,
    encoding: "utf8"
  })
  return Number(out.trim())
}

describe("NodeMemory", () => {
  it.skipIf(!isGlibc() || !existsSync(`${root}/dist/layers/NodeMemory.js`))(
    "prime makes 1 MiB buffers reuse memory instead of faulting fresh pages in",
    () => {
      const unprimed = faults(false)
      const primed = faults(true)
      // Unprimed, much of each buffer is fresh memory (up to 256 faults each; 40-100 seen).
      expect(unprimed).toBeGreaterThan(200 * 16)
      expect(primed).toBeLessThan(unprimed / 4)
    }
  )
})
