/**
 * Our registry server and real clients: skopeo (containers/image) pushes to it, pulls from
 * it, copies within it and deletes from it, and umoci accepts what comes out. Where the CNCF
 * distribution registry is installed, skopeo also copies between the two with identical
 * digests.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { hasDockerRegistry, type Running, startDockerRegistry, startOurs } from "../registry/peers.js"

const skopeo = "/usr/bin/skopeo"
const umoci = "/usr/bin/umoci"
const hasSkopeo = existsSync(skopeo)

const fixture = (path: string) => fileURLToPath(new URL(`../../../shared/fixtures/ggcr/${path}`, import.meta.url))

// skopeo refuses to run without a signature policy; accept anything for these loopback tests.
const ensurePolicy = () => {
  const policy = "/etc/containers/policy.json"
  if (existsSync(policy)) return
  mkdirSync("/etc/containers", { recursive: true })
  writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }))
}

const run = (binary: string, args: ReadonlyArray<string>) =>
  new Promise<Buffer>((resolve, reject) => {
    execFile(binary, args, { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${binary} ${args.join(" ")}: ${stderr.toString()}`))
      else resolve(stdout)
    })
  })

const insecure = ["--src-tls-verify=false", "--dest-tls-verify=false"]
const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`

describe.skipIf(!hasSkopeo)("our registry server with skopeo", () => {
  let registry: Running
  let host = ""
  let work = ""

  beforeAll(async () => {
    ensurePolicy()
    registry = await startOurs()
    host = registry.url.replace("http://", "")
    work = mkdtempSync(join(tmpdir(), "registry-interop-"))
  })
  afterAll(async () => {
    await registry.stop()
    rmSync(work, { recursive: true, force: true })
  })

  const get = async (path: string, accept = "application/vnd.oci.image.manifest.v1+json") => {
    const response = await fetch(`${registry.url}${path}`, { headers: { accept } })
    return { status: response.status, headers: response.headers, body: new Uint8Array(await response.arrayBuffer()) }
  }

  it("takes a docker save tarball pushed by skopeo and serves skopeo the manifest it stored", async () => {
    await run(skopeo, ["copy", ...insecure, `docker-archive:${fixture("tarball/test_image_1.tar")}`, `docker://${host}/interop/one:v1`])
    const raw = await run(skopeo, ["inspect", "--raw", "--tls-verify=false", `docker://${host}/interop/one:v1`])
    const served = await get("/v2/interop/one/manifests/v1")
    expect(served.status).toBe(200)
    expect(Buffer.compare(raw, served.body)).toBe(0)
    expect(served.headers.get("docker-content-digest")).toBe(sha256(raw))
    const tags = JSON.parse((await run(skopeo, ["list-tags", "--tls-verify=false", `docker://${host}/interop/one`])).toString())
    expect(tags.Tags).toEqual(["v1"])
  })

  it("serves skopeo an image it copies into an OCI layout that umoci accepts", async () => {
    const layout = join(work, "layout")
    await run(skopeo, ["copy", ...insecure, `docker://${host}/interop/one:v1`, `oci:${layout}:v1`])
    const stat = (await run(umoci, ["stat", "--image", `${layout}:v1`])).toString()
    expect(stat).toContain("LAYER")
  })

  it("lets skopeo copy an image between two of its repositories with the same digest", async () => {
    await run(skopeo, ["copy", ...insecure, `docker://${host}/interop/one:v1`, `docker://${host}/interop/copy:v1`])
    const a = await get("/v2/interop/one/manifests/v1")
    const b = await get("/v2/interop/copy/manifests/v1")
    expect(b.status).toBe(200)
    expect(b.headers.get("docker-content-digest")).toBe(a.headers.get("docker-content-digest"))
  })

  it("takes an index with its images pushed by skopeo --all", async () => {
    await run(skopeo, ["copy", "--all", ...insecure, `oci:${fixture("layout/test_index")}:3`, `docker://${host}/interop/index:3`])
    const raw = await run(skopeo, ["inspect", "--raw", "--tls-verify=false", `docker://${host}/interop/index:3`])
    const index = JSON.parse(raw.toString()) as { manifests: ReadonlyArray<{ digest: string }> }
    expect(index.manifests.length).toBeGreaterThan(0)
    for (const child of index.manifests) {
      expect((await get(`/v2/interop/index/manifests/${child.digest}`)).status).toBe(200)
    }
  })

  it("deletes an image for skopeo delete", async () => {
    await run(skopeo, ["copy", ...insecure, `docker://${host}/interop/one:v1`, `docker://${host}/interop/doomed:v1`])
    const digest = (await get("/v2/interop/doomed/manifests/v1")).headers.get("docker-content-digest")
    await run(skopeo, ["delete", "--tls-verify=false", `docker://${host}/interop/doomed:v1`])
    expect((await get(`/v2/interop/doomed/manifests/${digest}`)).status).toBe(404)
    expect((await get("/v2/interop/doomed/manifests/v1")).status).toBe(404)
  })

  describe.skipIf(!hasDockerRegistry)("and the CNCF distribution registry", () => {
    let reference: Running
    let referenceHost = ""
    beforeAll(async () => {
      reference = await startDockerRegistry()
      referenceHost = reference.url.replace("http://", "")
    })
    afterAll(async () => {
      await reference.stop()
    })

    it("gives skopeo an image it copies to the CNCF registry and back with the same digest", async () => {
      await run(skopeo, ["copy", ...insecure, `docker://${host}/interop/one:v1`, `docker://${referenceHost}/from-ours:v1`])
      await run(skopeo, ["copy", ...insecure, `docker://${referenceHost}/from-ours:v1`, `docker://${host}/interop/roundtrip:v1`])
      const theirs = await run(skopeo, ["inspect", "--raw", "--tls-verify=false", `docker://${referenceHost}/from-ours:v1`])
      const ours = await get("/v2/interop/one/manifests/v1")
      const back = await get("/v2/interop/roundtrip/manifests/v1")
      expect(sha256(theirs)).toBe(ours.headers.get("docker-content-digest"))
      expect(back.headers.get("docker-content-digest")).toBe(ours.headers.get("docker-content-digest"))
    })
  })
})
