/**
 * Bad input over raw HTTP (`fetch`, and `node:http` where a path must leave unresolved): every
 * refusal answers the spec's error code and status, and leaves the registry as it was: the
 * same catalog, the same tags, and (over the filesystem stores) the same files with the same
 * content in the store's directory.
 *
 * Limits: a manifest is refused past the registry's size limit (4 MiB by default) with 413;
 * blobs and upload chunks have no size limit, only the lengths a request itself announces
 * (`Content-Length`, `Content-Range`), which a body must match exactly.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Running, startOurs, startOursOnDisk } from "./peers.js"
import { errorCodes, type RawReply, request, requestRaw, sha256, snapshot, stream, uploadSize } from "./raw.js"
import { type Blob, blob, image, patterned } from "./support.js"

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
const OCI_INDEX = "application/vnd.oci.image.index.v1+json"
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

const expectRefused = (reply: RawReply, status: number, code: string) =>
  expect({ status: reply.status, codes: errorCodes(reply) }).toEqual({ status, codes: [code] })

const descriptor = (b: Blob, mediaType: string) => ({ mediaType, digest: b.digest, size: b.bytes.byteLength })

interface Target {
  readonly name: string
  readonly start: () => Promise<{ readonly registry: Running; readonly root: string | undefined }>
}

const targets: ReadonlyArray<Target> = [
  { name: "memory", start: async () => ({ registry: await startOurs(), root: undefined }) },
  {
    name: "filesystem",
    start: async () => {
      const root = mkdtempSync(join(tmpdir(), "registry-bad-input-"))
      return { registry: await startOursOnDisk(root), root }
    }
  }
]

for (const target of targets) {
  describe(`Registry (${target.name} stores) refusing bad input`, () => {
    let registry: Running
    let root: string | undefined
    const seeded = image(61)
    const url = () => registry.url

    const pushBlob = async (repository: string, b: Blob) => {
      const reply = await request(url(), "POST", `/v2/${repository}/blobs/uploads/?digest=${b.digest}`, { body: b.bytes })
      expect(reply.status).toBe(201)
    }
    const putManifest = (repository: string, reference: string, body: Uint8Array | string, contentType?: string) =>
      request(url(), "PUT", `/v2/${repository}/manifests/${reference}`, {
        body,
        ...(contentType !== undefined ? { headers: { "content-type": contentType } } : {})
      })
    const startUpload = async (repository = "seed/app") =>
      (await request(url(), "POST", `/v2/${repository}/blobs/uploads/`)).headers.get("location") ?? ""

    beforeAll(async () => {
      ;({ registry, root } = await target.start())
      for (const b of seeded.blobs) await pushBlob("seed/app", b)
      expect((await putManifest("seed/app", "v1", seeded.manifest.bytes, OCI_MANIFEST)).status).toBe(201)
      expect((await putManifest("seed/app", "v2", seeded.manifest.bytes, OCI_MANIFEST)).status).toBe(201)
      await pushBlob("seed/other", seeded.config)
    })
    afterAll(async () => {
      await registry.stop()
      if (root !== undefined) rmSync(root, { recursive: true, force: true })
    })

    /**
     * What the registry holds: its catalog, every repository's tags and, over the filesystem
     * stores, every file of its directory with its content (with `uploadsMayGrow`, only the
     * names of the files of upload sessions).
     */
    const state = async (options: { readonly uploadsMayGrow?: boolean } = {}) => {
      const catalog = (JSON.parse((await request(url(), "GET", "/v2/_catalog")).text) as { repositories: Array<string> })
        .repositories
      const tags: Record<string, unknown> = {}
      for (const name of catalog) tags[name] = JSON.parse((await request(url(), "GET", `/v2/${name}/tags/list`)).text)
      const files = root === undefined ? {} : snapshot(root)
      if (options.uploadsMayGrow === true) {
        for (const file of Object.keys(files)) if (file.startsWith("uploads/")) files[file] = "(upload session)"
      }
      return { catalog, tags, files }
    }

    /** Runs the refusals and checks the registry holds afterwards what it held before. */
    const unchanged = async (refusals: () => Promise<void>, options: { readonly uploadsMayGrow?: boolean } = {}) => {
      const before = await state(options)
      expect(before.catalog).toEqual(["seed/app", "seed/other"])
      await refusals()
      expect(await state(options)).toEqual(before)
    }

    // ---- manifests

    it("refuses a manifest that is not JSON with MANIFEST_INVALID 400", () =>
      unchanged(async () => {
        const broken = '{"schemaVersion": 2, "config": '
        expectRefused(await putManifest("seed/app", "broken", broken, OCI_MANIFEST), 400, "MANIFEST_INVALID")
        expectRefused(await putManifest("seed/app", sha256(broken), broken, OCI_MANIFEST), 400, "MANIFEST_INVALID")
        expectRefused(await putManifest("seed/new", "broken", broken, OCI_MANIFEST), 400, "MANIFEST_INVALID")
      }))

    it("refuses JSON that is not a schema 2 manifest with MANIFEST_INVALID 400", () =>
      unchanged(async () => {
        for (const body of ['{"hello":"world"}', "[]", '"text"', `{"schemaVersion":3,"mediaType":"${OCI_MANIFEST}"}`]) {
          expectRefused(await putManifest("seed/app", "odd", body, OCI_MANIFEST), 400, "MANIFEST_INVALID")
        }
        const noConfig = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] })
        expectRefused(await putManifest("seed/app", "odd", noConfig, OCI_MANIFEST), 400, "MANIFEST_INVALID")
      }))

    it("refuses a manifest whose Content-Type names no manifest type and which has no mediaType with MANIFEST_INVALID 400", () =>
      unchanged(async () => {
        const bare = new TextEncoder().encode(JSON.stringify({
          schemaVersion: 2,
          config: descriptor(seeded.config, OCI_CONFIG),
          layers: seeded.layers.map((l) => descriptor(l, OCI_LAYER))
        }))
        for (const contentType of [undefined, "application/octet-stream", "application/json", "text/plain"]) {
          const reply = await putManifest("seed/app", "bare", bare, contentType)
          expect({ contentType, status: reply.status }).toEqual({ contentType, status: 400 })
          expect(errorCodes(reply)).toEqual(["MANIFEST_INVALID"])
        }
        expect((await request(url(), "HEAD", `/v2/seed/app/manifests/${sha256(bare)}`)).status).toBe(404)
      }))

    it("refuses a manifest of an unknown media type with MANIFEST_INVALID 400", () =>
      unchanged(async () => {
        const type = "application/vnd.example.unknown.v1+json"
        const odd = JSON.stringify({
          schemaVersion: 2,
          mediaType: type,
          config: descriptor(seeded.config, OCI_CONFIG),
          layers: []
        })
        expectRefused(await putManifest("seed/app", "odd", odd, type), 400, "MANIFEST_INVALID")
        expectRefused(await putManifest("seed/app", "odd", odd, "application/octet-stream"), 400, "MANIFEST_INVALID")
      }))

    it("refuses a manifest referencing blobs the repository does not hold with MANIFEST_BLOB_UNKNOWN 400", () =>
      unchanged(async () => {
        const missing = blob(patterned(500, 62))
        const withMissingLayer = JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: descriptor(seeded.config, OCI_CONFIG),
          layers: [descriptor(missing, OCI_LAYER)]
        })
        const reply = await putManifest("seed/app", "missing", withMissingLayer, OCI_MANIFEST)
        expectRefused(reply, 400, "MANIFEST_BLOB_UNKNOWN")
        expect(reply.text).toContain(missing.digest)
        // seed/other holds the config but none of the layers.
        expectRefused(await putManifest("seed/other", "v1", seeded.manifest.bytes, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN")
        expectRefused(await putManifest("seed/new", "v1", seeded.manifest.bytes, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN")
      }))

    it("refuses an index referencing manifests the repository does not hold with MANIFEST_BLOB_UNKNOWN 400", () =>
      unchanged(async () => {
        const index = JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_INDEX,
          manifests: [descriptor(seeded.manifest, OCI_MANIFEST), descriptor(image(63).manifest, OCI_MANIFEST)]
        })
        expectRefused(await putManifest("seed/app", "multi", index, OCI_INDEX), 400, "MANIFEST_BLOB_UNKNOWN")
        expectRefused(await putManifest("seed/other", "multi", index, OCI_INDEX), 400, "MANIFEST_BLOB_UNKNOWN")
      }))

    it("refuses a manifest PUT by a digest its bytes do not have with DIGEST_INVALID 400", () =>
      unchanged(async () => {
        const wrong = sha256("other bytes")
        expectRefused(await putManifest("seed/app", wrong, seeded.manifest.bytes, OCI_MANIFEST), 400, "DIGEST_INVALID")
        expectRefused(await putManifest("seed/app", "sha256:abc", seeded.manifest.bytes, OCI_MANIFEST), 400, "DIGEST_INVALID")
        expect((await request(url(), "HEAD", `/v2/seed/app/manifests/${wrong}`)).status).toBe(404)
      }))

    it("refuses a manifest larger than the limit with 413 MANIFEST_INVALID, with or without Content-Length", () =>
      unchanged(async () => {
        const padding = "x".repeat(4 * 1024 * 1024)
        const huge = JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: descriptor(seeded.config, OCI_CONFIG),
          layers: [],
          annotations: { padding }
        })
        expectRefused(await putManifest("seed/app", "huge", huge, OCI_MANIFEST), 413, "MANIFEST_INVALID")
        const block = new TextEncoder().encode(huge)
        const chunked = await stream(`${url()}/v2/seed/app/manifests/huge`, "PUT", { block, total: block.byteLength }, {
          "content-type": OCI_MANIFEST
        }).done
        expect(chunked.status).toBe(413)
        expect(JSON.parse(chunked.text ?? "{}")).toMatchObject({ errors: [{ code: "MANIFEST_INVALID" }] })
      }))

    // ---- names and tags

    it("refuses repository names outside the grammar with NAME_INVALID 400 on every endpoint", () =>
      unchanged(async () => {
        const names = ["../x", "a/../b", "..", "./x", "a/./b", "Upper", "a/Upper", "%2e%2e/x", "a/%2e%2e/b", "a/%2E%2E/b", "a/%2e/b"]
        const digest = seeded.config.digest
        for (const name of names) {
          const answers: Record<string, number | ReadonlyArray<string>> = {}
          const record = async (what: string, method: string, path: string, body?: Uint8Array) => {
            const reply = await requestRaw(url(), method, path, {
              ...(body !== undefined ? { body, headers: { "content-type": OCI_MANIFEST } } : {})
            })
            answers[`${what} status`] = reply.status
            if (method !== "HEAD") answers[`${what} codes`] = errorCodes(reply)
          }
          await record("PUT manifest", "PUT", `/v2/${name}/manifests/v1`, seeded.manifest.bytes)
          await record("GET manifest", "GET", `/v2/${name}/manifests/v1`)
          await record("HEAD manifest", "HEAD", `/v2/${name}/manifests/v1`)
          await record("DELETE manifest", "DELETE", `/v2/${name}/manifests/${seeded.manifest.digest}`)
          await record("POST upload", "POST", `/v2/${name}/blobs/uploads/`)
          await record("POST blob", "POST", `/v2/${name}/blobs/uploads/?digest=${digest}`, seeded.config.bytes)
          await record("mount", "POST", `/v2/${name}/blobs/uploads/?mount=${digest}&from=seed/app`)
          await record("GET blob", "GET", `/v2/${name}/blobs/${digest}`)
          await record("DELETE blob", "DELETE", `/v2/${name}/blobs/${digest}`)
          await record("tags", "GET", `/v2/${name}/tags/list`)
          await record("referrers", "GET", `/v2/${name}/referrers/${seeded.manifest.digest}`)
          const expected = Object.fromEntries(
            Object.keys(answers).map((key) => [key, key.endsWith("status") ? 400 : ["NAME_INVALID"]])
          )
          expect({ name, answers }).toEqual({ name, answers: expected })
        }
      }))

    it("refuses a mount from a repository name outside the grammar by starting an upload, mounting nothing", async () => {
      const before = await state()
      for (const from of ["../seed/app", "seed/app/..", "Seed/App"]) {
        const reply = await request(url(), "POST", `/v2/seed/app/blobs/uploads/?mount=${seeded.config.digest}&from=${encodeURIComponent(from)}`)
        expect(reply.status).toBe(202)
        expect(reply.headers.get("location")).toMatch(/^\/v2\/seed\/app\/blobs\/uploads\//)
        expect((await request(url(), "DELETE", reply.headers.get("location") ?? "")).status).toBe(204)
      }
      expect(await state()).toEqual(before)
    })

    it("refuses tags outside the grammar with MANIFEST_INVALID 400, in the path and in ?tag=", () =>
      unchanged(async () => {
        for (const tag of ["..", "%2e%2e", ".hidden", "-dash", "a".repeat(129), "a%2Fb"]) {
          const reply = await requestRaw(url(), "PUT", `/v2/seed/app/manifests/${tag}`, {
            body: seeded.manifest.bytes,
            headers: { "content-type": OCI_MANIFEST }
          })
          expect({ tag, status: reply.status, codes: errorCodes(reply) }).toEqual({ tag, status: 400, codes: ["MANIFEST_INVALID"] })
        }
        const viaQuery = await request(url(), "PUT", `/v2/seed/app/manifests/${seeded.manifest.digest}?tag=v3&tag=..`, {
          body: seeded.manifest.bytes,
          headers: { "content-type": OCI_MANIFEST }
        })
        expectRefused(viaQuery, 400, "MANIFEST_INVALID")
      }))

    // ---- blobs

    it("refuses a single POST ?digest= whose bytes have another digest with DIGEST_INVALID 400, keeping nothing", () =>
      unchanged(async () => {
        const bytes = patterned(100_000, 64)
        const wrong = sha256("not these bytes")
        expectRefused(await request(url(), "POST", `/v2/seed/app/blobs/uploads/?digest=${wrong}`, { body: bytes }), 400, "DIGEST_INVALID")
        for (const digest of [wrong, sha256(bytes)]) {
          expect((await request(url(), "HEAD", `/v2/seed/app/blobs/${digest}`)).status).toBe(404)
        }
      }))

    it("refuses to commit an upload under a digest its bytes do not have with DIGEST_INVALID 400, keeping the session", async () => {
      const location = await startUpload()
      const bytes = patterned(70_000, 65)
      expect((await request(url(), "PATCH", location, { body: bytes })).status).toBe(202)
      await unchanged(async () => {
        const wrong = sha256("not these bytes")
        expectRefused(await request(url(), "PUT", `${location}?digest=${wrong}`), 400, "DIGEST_INVALID")
        expectRefused(await request(url(), "PUT", `${location}?digest=sha256:abc`), 400, "DIGEST_INVALID")
        expectRefused(await request(url(), "PUT", location), 400, "DIGEST_INVALID")
        for (const digest of [wrong, sha256(bytes)]) {
          expect((await request(url(), "HEAD", `/v2/seed/app/blobs/${digest}`)).status).toBe(404)
        }
        expect(uploadSize(await request(url(), "GET", location))).toBe(bytes.byteLength)
      })
      expect((await request(url(), "PUT", `${location}?digest=${sha256(bytes)}`)).status).toBe(201)
    })

    it("refuses a monolithic upload PUT whose bytes have another digest with DIGEST_INVALID 400, storing no blob", async () => {
      const location = await startUpload()
      // The session keeps the bytes of the refused PUT (BlobStore.commitUpload's contract), so
      // only the size of its file may change.
      await unchanged(async () => {
        const bytes = patterned(50_000, 66)
        const wrong = sha256("not these bytes")
        expectRefused(await request(url(), "PUT", `${location}?digest=${wrong}`, { body: bytes }), 400, "DIGEST_INVALID")
        for (const digest of [wrong, sha256(bytes)]) {
          expect((await request(url(), "HEAD", `/v2/seed/app/blobs/${digest}`)).status).toBe(404)
        }
      }, { uploadsMayGrow: true })
      expect((await request(url(), "DELETE", location)).status).toBe(204)
    })

    it("refuses a chunk longer than its Content-Range with SIZE_INVALID 400, keeping the upload as it was", async () => {
      const location = await startUpload()
      await unchanged(async () => {
        const announced = await request(url(), "PATCH", location, { body: patterned(150), headers: { "content-range": "0-99" } })
        expectRefused(announced, 400, "SIZE_INVALID")
        const streamed = await stream(new URL(location, url()).href, "PATCH", { block: patterned(150), total: 150 }, {
          "content-range": "0-99"
        }).done
        expect(streamed.status).toBe(400)
        expect(JSON.parse(streamed.text ?? "{}")).toMatchObject({ errors: [{ code: "SIZE_INVALID" }] })
        expect((await request(url(), "GET", location)).headers.get("range")).toBe("0-0")
      })
      expect((await request(url(), "DELETE", location)).status).toBe(204)
    })

    it("refuses a chunk shorter than its Content-Range with SIZE_INVALID 400, keeping the upload as it was", async () => {
      const location = await startUpload()
      expect((await request(url(), "PATCH", location, { body: patterned(100), headers: { "content-range": "0-99" } })).status).toBe(202)
      await unchanged(async () => {
        const streamed = await stream(new URL(location, url()).href, "PATCH", { block: patterned(50), total: 50 }, {
          "content-range": "100-199"
        }).done
        expect(streamed.status).toBe(400)
        expect(JSON.parse(streamed.text ?? "{}")).toMatchObject({ errors: [{ code: "SIZE_INVALID" }] })
        const final = await stream(new URL(`${location}?digest=${sha256("x")}`, url()).href, "PUT", {
          block: patterned(50),
          total: 50
        }, { "content-range": "100-199" }).done
        expect(final.status).toBe(400)
        expect((await request(url(), "GET", location)).headers.get("range")).toBe("0-99")
      })
      expect((await request(url(), "DELETE", location)).status).toBe(204)
    })

    it("refuses an out-of-order chunk with 416 BLOB_UPLOAD_INVALID, keeping the upload as it was", async () => {
      const location = await startUpload()
      expect((await request(url(), "PATCH", location, { body: patterned(100), headers: { "content-range": "0-99" } })).status).toBe(202)
      await unchanged(async () => {
        for (const range of ["0-99", "50-149", "101-200", "200-299"]) {
          const reply = await request(url(), "PATCH", location, { body: patterned(100), headers: { "content-range": range } })
          expectRefused(reply, 416, "BLOB_UPLOAD_INVALID")
          expect(reply.headers.get("range")).toBe("0-99")
        }
      })
      expect((await request(url(), "DELETE", location)).status).toBe(204)
    })
  })
}
