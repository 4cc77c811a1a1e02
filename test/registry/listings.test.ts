/**
 * The catalog and tag listings over raw HTTP (`fetch`), as a client that only knows the spec
 * reads them: whole, and page by page following the `Link` header to the end. The conformance
 * port covers tags with `n` and `last` but not the catalog nor `Link`; this file adds both, on
 * our registry (memory and filesystem stores) and on the CNCF distribution registry as the
 * reference.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { hasDockerRegistry, type Running, startDockerRegistry, startOurs, startOursOnDisk } from "./peers.js"
import { request } from "./raw.js"
import { type Blob, image } from "./support.js"

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

interface Target {
  readonly name: string
  readonly available: boolean
  readonly start: () => Promise<Running>
  /** docker-registry ignores `n` on tag lists, so it has no pages to follow there. */
  readonly pagesTags: boolean
}

const targets: ReadonlyArray<Target> = [
  { name: "ours (memory)", available: true, start: () => startOurs(), pagesTags: true },
  {
    name: "ours (filesystem)",
    available: true,
    pagesTags: true,
    start: async () => {
      const root = mkdtempSync(join(tmpdir(), "registry-listings-"))
      const running = await startOursOnDisk(root)
      return {
        url: running.url,
        stop: async () => {
          await running.stop()
          rmSync(root, { recursive: true, force: true })
        }
      }
    }
  },
  { name: "docker-registry", available: hasDockerRegistry, start: startDockerRegistry, pagesTags: false }
]

const repositories = ["alpha", "alpha/one", "beta/deep/name", "gamma", "zeta"]
const tags = ["1.0", "1.1", "2.0", "latest", "v1", "v2", "v3"]

/** The next page's path from a `Link: <path>; rel="next"` header, if any. */
const nextOf = (link: string | null): string | undefined => {
  const match = link === null ? null : /^<([^>]+)>;\s*rel="?next"?/.exec(link)
  return match?.[1]
}

for (const target of targets) {
  describe.skipIf(!target.available)(`listings over raw HTTP on ${target.name}`, () => {
    let registry: Running

    const pushBlob = async (repository: string, b: Blob) => {
      const started = await request(registry.url, "POST", `/v2/${repository}/blobs/uploads/`)
      const location = new URL(started.headers.get("location") ?? "", registry.url)
      location.searchParams.set("digest", b.digest)
      expect((await request(registry.url, "PUT", location.href, { body: b.bytes })).status).toBe(201)
    }
    const putManifest = async (repository: string, tag: string, manifest: Blob) => {
      const reply = await request(registry.url, "PUT", `/v2/${repository}/manifests/${tag}`, {
        body: manifest.bytes,
        headers: { "content-type": OCI_MANIFEST }
      })
      expect(reply.status).toBe(201)
    }

    /** Reads a listing page by page from `first`, following `Link`; gives the pages' items. */
    const follow = async (first: string, field: "repositories" | "tags") => {
      const pages: Array<ReadonlyArray<string>> = []
      let path: string | undefined = first
      while (path !== undefined && pages.length < 20) {
        const reply = await request(registry.url, "GET", path)
        expect(reply.status).toBe(200)
        pages.push((JSON.parse(reply.text) as Record<string, ReadonlyArray<string>>)[field] ?? [])
        path = nextOf(reply.headers.get("link"))
      }
      return pages
    }

    beforeAll(async () => {
      registry = await target.start()
      const img = image(71)
      // Pushed out of order, so that the listings' order is the registry's doing.
      for (const repository of [...repositories].reverse()) {
        for (const b of img.blobs) await pushBlob(repository, b)
        await putManifest(repository, "latest", img.manifest)
      }
      for (const tag of [...tags].reverse()) await putManifest("gamma", tag, img.manifest)
    })
    afterAll(async () => {
      await registry.stop()
    })

    it("lists every repository in the catalog, in lexical order", async () => {
      const reply = await request(registry.url, "GET", "/v2/_catalog")
      expect(reply.status).toBe(200)
      expect(reply.headers.get("content-type")).toMatch(/^application\/json/)
      expect(JSON.parse(reply.text)).toEqual({ repositories })
    })

    it("pages the catalog with n, a Link header leading to each next page until the last", async () => {
      const pages = await follow("/v2/_catalog?n=2", "repositories")
      expect(pages).toEqual([["alpha", "alpha/one"], ["beta/deep/name", "gamma"], ["zeta"]])
    })

    it("starts the catalog after last", async () => {
      const reply = await request(registry.url, "GET", `/v2/_catalog?n=10&last=${encodeURIComponent("alpha/one")}`)
      expect(JSON.parse(reply.text)).toEqual({ repositories: ["beta/deep/name", "gamma", "zeta"] })
    })

    it.skipIf(!target.pagesTags)("pages a tag list with n, a Link header leading to each next page until the last", async () => {
      const pages = await follow("/v2/gamma/tags/list?n=3", "tags")
      expect(pages).toEqual([["1.0", "1.1", "2.0"], ["latest", "v1", "v2"], ["v3"]])
    })
  })
}
