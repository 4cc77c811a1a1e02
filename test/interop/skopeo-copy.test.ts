/**
 * skopeo copies between our registry (over its filesystem stores) and the CNCF distribution
 * registry (Debian's docker-registry), in both directions, single images and indexes with
 * `--all`: `skopeo inspect --raw` reads the same bytes on both sides, for the top manifest and
 * every child, and every blob is on both sides with the digest and size its descriptor names.
 *
 * test/interop/registry-server.test.ts already sends one image from ours to docker-registry and
 * back, comparing the top digest; this file adds the copies that start on docker-registry,
 * indexes, and the byte-for-byte and per-blob comparisons.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { hasDockerRegistry, type Running, startDockerRegistry, startOursOnDisk } from "../registry/peers.js"
import { request, sha256 } from "../registry/raw.js"
import { blob, image } from "../registry/support.js"

const skopeo = "/usr/bin/skopeo"
const hasSkopeo = existsSync(skopeo)

const fixture = (path: string) => fileURLToPath(new URL(`../../../shared/fixtures/ggcr/${path}`, import.meta.url))

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
const OCI_INDEX = "application/vnd.oci.image.index.v1+json"
const accept = [
  OCI_MANIFEST,
  OCI_INDEX,
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json"
].join(", ")

// skopeo refuses to run without a signature policy; accept anything for these loopback tests.
const ensurePolicy = () => {
  const policy = "/etc/containers/policy.json"
  if (existsSync(policy)) return
  mkdirSync("/etc/containers", { recursive: true })
  writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }))
}

const run = (args: ReadonlyArray<string>) =>
  new Promise<Buffer>((resolve, reject) => {
    execFile(skopeo, args, { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`skopeo ${args.join(" ")}: ${stderr.toString()}`))
      else resolve(stdout)
    })
  })

const insecure = ["--src-tls-verify=false", "--dest-tls-verify=false"]
const copy = (from: string, to: string, all = false) =>
  run(["copy", "--quiet", ...(all ? ["--all"] : []), ...insecure, `docker://${from}`, `docker://${to}`])
const inspectRaw = (ref: string) => run(["inspect", "--raw", "--tls-verify=false", `docker://${ref}`])

interface Document {
  readonly config?: { readonly digest: string; readonly size: number }
  readonly layers?: ReadonlyArray<{ readonly digest: string; readonly size: number }>
  readonly manifests?: ReadonlyArray<{ readonly digest: string; readonly size: number }>
}

/** The host:port of a registry's URL. */
const hostOf = (running: Running) => running.url.replace(/^http:\/\//, "")

/**
 * Compares a copy: the manifest (and, for an index, each child) reads the same through
 * skopeo on both sides, and each blob is served on both sides with its descriptor's digest
 * and size. Returns how many manifests and blobs were compared.
 */
const expectSameOnBoth = async (
  a: { readonly registry: Running; readonly repository: string },
  b: { readonly registry: Running; readonly repository: string },
  reference: string
) => {
  let manifests = 0
  let blobs = 0
  const compare = async (ref: string): Promise<void> => {
    const left = await inspectRaw(`${hostOf(a.registry)}/${a.repository}${ref}`)
    const right = await inspectRaw(`${hostOf(b.registry)}/${b.repository}${ref}`)
    expect(Buffer.compare(left, right), `manifest ${ref}`).toBe(0)
    manifests++
    const document = JSON.parse(left.toString()) as Document
    for (const child of document.manifests ?? []) {
      expect(child.size).toBe((await inspectRaw(`${hostOf(a.registry)}/${a.repository}@${child.digest}`)).byteLength)
      await compare(`@${child.digest}`)
    }
    const descriptors = [...(document.config !== undefined ? [document.config] : []), ...(document.layers ?? [])]
    for (const descriptor of descriptors) {
      for (const side of [a, b]) {
        const reply = await request(side.registry.url, "GET", `/v2/${side.repository}/blobs/${descriptor.digest}`)
        expect({ digest: descriptor.digest, status: reply.status }).toEqual({ digest: descriptor.digest, status: 200 })
        expect(sha256(reply.body)).toBe(descriptor.digest)
        expect(reply.body.byteLength).toBe(descriptor.size)
      }
      blobs++
    }
  }
  await compare(reference)
  return { manifests, blobs }
}

/** Pushes two small images and an OCI index of them (linux/amd64, linux/arm64) with fetch. */
const pushIndex = async (url: string, repository: string, tag: string) => {
  const images = [image(41), image(42)]
  for (const img of images) {
    for (const b of img.blobs) {
      // docker-registry 2.8 takes no blob in the POST itself: start a session and PUT the blob.
      const started = await request(url, "POST", `/v2/${repository}/blobs/uploads/`)
      const location = new URL(started.headers.get("location") ?? "", url)
      location.searchParams.set("digest", b.digest)
      const reply = await request(url, "PUT", location.href, { body: b.bytes })
      expect(reply.status).toBe(201)
    }
    const reply = await request(url, "PUT", `/v2/${repository}/manifests/${img.manifest.digest}`, {
      body: img.manifest.bytes,
      headers: { "content-type": OCI_MANIFEST }
    })
    expect(reply.status).toBe(201)
  }
  const index = blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: images.map((img, i) => ({
      mediaType: OCI_MANIFEST,
      digest: img.manifest.digest,
      size: img.manifest.bytes.byteLength,
      platform: { os: "linux", architecture: i === 0 ? "amd64" : "arm64" }
    }))
  }))
  const reply = await request(url, "PUT", `/v2/${repository}/manifests/${tag}`, {
    body: index.bytes,
    headers: { "content-type": OCI_INDEX }
  })
  expect(reply.status).toBe(201)
  return index
}

describe.skipIf(!hasSkopeo || !hasDockerRegistry)("skopeo copies between our registry and docker-registry", () => {
  let ours: Running
  let theirs: Running
  let root = ""

  beforeAll(async () => {
    ensurePolicy()
    root = mkdtempSync(join(tmpdir(), "skopeo-copy-"))
    ours = await startOursOnDisk(root)
    theirs = await startDockerRegistry()
  })
  afterAll(async () => {
    await ours.stop()
    await theirs.stop()
    rmSync(root, { recursive: true, force: true })
  })

  it("copies an image from ours to docker-registry with the same manifest bytes and blobs", async () => {
    await run(["copy", "--quiet", ...insecure, `docker-archive:${fixture("tarball/test_image_1.tar")}`, `docker://${hostOf(ours)}/x/one:t`])
    await copy(`${hostOf(ours)}/x/one:t`, `${hostOf(theirs)}/y/one:t`)
    const compared = await expectSameOnBoth(
      { registry: ours, repository: "x/one" },
      { registry: theirs, repository: "y/one" },
      ":t"
    )
    expect(compared.manifests).toBe(1)
    expect(compared.blobs).toBeGreaterThanOrEqual(2)
  })

  it("copies an image from docker-registry to ours with the same manifest bytes and blobs", async () => {
    await run(["copy", "--quiet", ...insecure, `docker-archive:${fixture("tarball/test_image_2.tar")}`, `docker://${hostOf(theirs)}/y/two:t`])
    await copy(`${hostOf(theirs)}/y/two:t`, `${hostOf(ours)}/x/two:t`)
    const compared = await expectSameOnBoth(
      { registry: theirs, repository: "y/two" },
      { registry: ours, repository: "x/two" },
      ":t"
    )
    expect(compared.manifests).toBe(1)
    expect(compared.blobs).toBeGreaterThanOrEqual(2)
  })

  it("copies an index with --all from ours to docker-registry, every child and blob included", async () => {
    const index = await pushIndex(ours.url, "x/multi", "t")
    await copy(`${hostOf(ours)}/x/multi:t`, `${hostOf(theirs)}/y/multi:t`, true)
    expect(sha256(await inspectRaw(`${hostOf(theirs)}/y/multi:t`))).toBe(index.digest)
    const compared = await expectSameOnBoth(
      { registry: ours, repository: "x/multi" },
      { registry: theirs, repository: "y/multi" },
      ":t"
    )
    expect(compared).toEqual({ manifests: 3, blobs: 6 })
  })

  it("copies an index with --all from docker-registry to ours, every child and blob included", async () => {
    const index = await pushIndex(theirs.url, "y/source", "t")
    await copy(`${hostOf(theirs)}/y/source:t`, `${hostOf(ours)}/x/back:t`, true)
    const served = await request(ours.url, "GET", "/v2/x/back/manifests/t", { headers: { accept } })
    expect(served.headers.get("content-type")).toBe(OCI_INDEX)
    expect(served.headers.get("docker-content-digest")).toBe(index.digest)
    const compared = await expectSameOnBoth(
      { registry: theirs, repository: "y/source" },
      { registry: ours, repository: "x/back" },
      ":t"
    )
    expect(compared).toEqual({ manifests: 3, blobs: 6 })
  })
})
