// Bundles the crane program (src/cli/bin.ts) into dist/crane.mjs and the tour
// (examples/tour.ts) into dist/tour.mjs: ESM for Node 20, minified and tree-shaken, with the
// code only some commands need (the registry server, tarballs and layouts, mutate, ...) split
// into chunks under dist/chunks/ that are loaded when such a command runs. So `crane` starts
// fast: one small file to compile, no module graph to resolve.
import { build } from "esbuild"
import { chmod, rm } from "node:fs/promises"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const outdir = join(root, "dist")

const banner = [
  "#!/usr/bin/env node",
  // tar-stream and its helpers are CommonJS and `require` Node's modules.
  "import { createRequire as __craneCreateRequire } from \"node:module\";",
  "const require = __craneCreateRequire(import.meta.url);"
].join("\n")

await rm(join(outdir, "chunks"), { recursive: true, force: true })

await build({
  absWorkingDir: root,
  entryPoints: [
    { in: join(root, "src/cli/bin.ts"), out: "crane" },
    { in: join(root, "examples/tour.ts"), out: "tour" }
  ],
  outdir,
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  treeShaking: true,
  legalComments: "none",
  banner: { js: banner },
  logLevel: "warning"
})

await Promise.all(["crane.mjs", "tour.mjs"].map((name) => chmod(join(outdir, name), 0o755)))
