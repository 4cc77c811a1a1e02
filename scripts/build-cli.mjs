// Bundles the crane program (src/cli/bin.ts) and the tour (examples/tour.ts) for Node 20,
// minified and tree-shaken, one file each: no module graph to resolve at start.
//
// crane starts through V8's code cache (scripts/cached-entry.cjs): `dist/crane.cjs` (the bin)
// runs `dist/crane.program.cjs` (a CommonJS bundle, since only a classic script can be
// compiled with a code cache on Node 20) with the cache `dist/crane.program.cache`, made here
// by running `crane version` once. The code only some commands need (the registry server,
// tarballs and layouts, mutate, ...) is imported dynamically in the sources, so the bundle
// evaluates it only when such a command runs.
import { execFileSync } from "node:child_process"
import { build } from "esbuild"
import { chmod, copyFile, rm } from "node:fs/promises"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const outdir = join(root, "dist")

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: "node",
  target: "node20",
  minify: true,
  treeShaking: true,
  legalComments: "none",
  logLevel: "warning"
}

await Promise.all(
  ["chunks", "crane.mjs", "crane.cjs", "crane.program.cjs", "crane.program.cache"].map((name) =>
    rm(join(outdir, name), { recursive: true, force: true })
  )
)

await build({
  ...common,
  entryPoints: [join(root, "src/cli/bin.ts")],
  outfile: join(outdir, "crane.program.cjs"),
  format: "cjs"
})

await build({
  ...common,
  entryPoints: [join(root, "examples/tour.ts")],
  outfile: join(outdir, "tour.mjs"),
  format: "esm",
  // tar-stream and its helpers are CommonJS and `require` Node's modules.
  banner: {
    js: "import { createRequire as __tourCreateRequire } from \"node:module\";\n" +
      "const require = __tourCreateRequire(import.meta.url);"
  }
})

const bin = join(outdir, "crane.cjs")
await copyFile(join(root, "scripts", "cached-entry.cjs"), bin)
await chmod(bin, 0o755)
// The first run writes the code cache.
execFileSync(process.execPath, [bin, "version"], { stdio: "ignore" })
