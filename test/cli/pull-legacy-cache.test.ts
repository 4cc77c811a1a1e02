/**
 * The built `crane` program's `pull --format legacy` and `pull --cache_path DIR`, against
 * our registry (`crane registry serve`; legacy also against Debian's docker-registry), with
 * skopeo as the independent reader.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { execFileSync } from "node:child_process"
import {
  crane,
  ensureBuilt,
  ensurePolicy,
  fixture,
  hasSkopeo,
  ok,
  registryTargets,
  sha256,
  startServe,
  type Target,
  useRegistry
} from "./support.js"

const image1 = fixture("tarball/test_image_1.tar")

let scratch = ""
let registry: Target | undefined

beforeAll(async () => {
  await ensureBuilt()
  ensurePolicy()
  scratch = mkdtempSync(join(tmpdir(), "crane-cli-pull-"))
  registry = await startServe()
  await ok(["push", image1, `${registry.host}/pull/image:v1`])
}, 180_000)

afterAll(async () => {
  await registry?.stop()
  if (scratch !== "") rmSync(scratch, { recursive: true, force: true })
})

const host = () => registry?.host ?? ""

const layersOf = async (ref: string): Promise<ReadonlyArray<string>> =>
  (JSON.parse(await ok(["manifest", ref])) as { layers: ReadonlyArray<{ digest: string }> }).layers.map((l) => l.digest)

const diffIdsOf = async (ref: string): Promise<ReadonlyArray<string>> =>
  (JSON.parse(await ok(["config", ref])) as { rootfs: { diff_ids: ReadonlyArray<string> } }).rootfs.diff_ids

describe.each(registryTargets)("crane pull --format legacy from %s", (_name, start, available) => {
  const host = useRegistry(start, available, image1, "pull/image:v1")
  const maybe = available ? it : it.skip
  const withSkopeo = available && hasSkopeo ? it : it.skip

  maybe("writes a legacy tarball with a directory per layer", async () => {
    const path = join(scratch, "legacy.tar")
    await ok(["pull", "--format", "legacy", `${host()}/pull/image:v1`, path])
    const names = execFileSync("tar", ["tf", path], { encoding: "utf8" }).split("\n").filter(Boolean)
    const manifest = JSON.parse(execFileSync("tar", ["xOf", path, "manifest.json"]).toString()) as ReadonlyArray<{
      Layers: ReadonlyArray<string>
    }>
    const layers = manifest[0]?.Layers ?? []
    expect(layers.length).toBeGreaterThan(0)
    for (const layer of layers) {
      expect(layer).toMatch(/^[0-9a-f]{64}\/layer\.tar$/)
      expect(names).toContain(layer.replace("layer.tar", "json"))
      expect(names).toContain(layer.replace("layer.tar", "VERSION"))
    }
    expect(names).toContain("repositories")
    expect(layers.map((l) => sha256(execFileSync("tar", ["xOf", path, l])))).toEqual(await diffIdsOf(`${host()}/pull/image:v1`))
  })

  withSkopeo("is read by skopeo with the image's diff ids", async () => {
    const path = join(scratch, "legacy-skopeo.tar")
    await ok(["pull", "--format", "legacy", `${host()}/pull/image:v1`, path])
    const inspected = JSON.parse(
      execFileSync("/usr/bin/skopeo", ["inspect", `docker-archive:${path}`], { encoding: "utf8" })
    ) as { Layers: ReadonlyArray<string> }
    expect(inspected.Layers).toEqual(await diffIdsOf(`${host()}/pull/image:v1`))
  })
})

describe("crane pull --cache_path", () => {
  it("keeps the layers in the cache and pulls from it once the registry lost them", async () => {
    await ok(["copy", `${host()}/pull/image:v1`, `${host()}/pull/cached:v1`])
    const ref = `${host()}/pull/cached:v1`
    const layers = await layersOf(ref)
    const cache = join(scratch, "cache")
    await ok(["pull", "--cache_path", cache, ref, join(scratch, "cached-1.tar")])
    expect(readdirSync(cache).sort()).toEqual([...layers].sort())
    for (const name of readdirSync(cache)) expect(sha256(readFileSync(join(cache, name)))).toBe(name)

    // The registry forgets the layers: only the cache has them now.
    for (const digest of layers) {
      const response = await fetch(`http://${host()}/v2/pull/cached/blobs/${digest}`, { method: "DELETE" })
      expect(response.status).toBe(202)
    }
    const without = await crane(["pull", ref, join(scratch, "uncached.tar")])
    expect(without.code).toBe(1)
    expect(existsSync(join(scratch, "uncached.tar"))).toBe(false)

    await ok(["pull", "-c", cache, ref, join(scratch, "cached-2.tar")])
    expect(readFileSync(join(scratch, "cached-2.tar")).equals(readFileSync(join(scratch, "cached-1.tar")))).toBe(true)
    await ok(["pull", "--cache_path", cache, "--format", "legacy", ref, join(scratch, "cached-legacy.tar")])
    const manifest = JSON.parse(execFileSync("tar", ["xOf", join(scratch, "cached-legacy.tar"), "manifest.json"]).toString()) as
      ReadonlyArray<{ Layers: ReadonlyArray<string> }>
    expect((manifest[0]?.Layers ?? []).map((l) => sha256(execFileSync("tar", ["xOf", join(scratch, "cached-legacy.tar"), l]))))
      .toEqual(await diffIdsOf(ref))
  })
})
