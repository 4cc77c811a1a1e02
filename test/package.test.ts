import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))

// Each subpath export and a namespace it must hold, checked on the built package the way a
// user's program loads it (Node's own resolution of the `exports` map, from a separate process).
const entries: ReadonlyArray<readonly [string, string]> = [
  ["effect-containerregistry", "Reference"],
  ["effect-containerregistry", "Crane"],
  ["effect-containerregistry/domain", "Digest"],
  ["effect-containerregistry/services", "RegistryTransport"],
  ["effect-containerregistry/remote", "write"],
  ["effect-containerregistry/formats", "Layout"],
  ["effect-containerregistry/tarball", "write"],
  ["effect-containerregistry/layout", "appendImage"],
  ["effect-containerregistry/layers", "RegistryTransportNode"],
  ["effect-containerregistry/registry", "Registry"],
  ["effect-containerregistry/crane", "Copy"]
]

describe("the built package", () => {
  it.skipIf(!existsSync(`${root}/dist/index.js`))("resolves every subpath export to a module with its API", () => {
    const script = `
      const entries = ${JSON.stringify(entries)};
      const missing = [];
      for (const [specifier, name] of entries) {
        const mod = await import(specifier);
        if (!(name in mod)) missing.push(specifier + " lacks " + name);
      }
      console.log(JSON.stringify(missing));
    `
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" })
    expect(JSON.parse(out)).toEqual([])
  })
})
