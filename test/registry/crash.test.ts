/**
 * Crash safety of the registry over its filesystem stores: `crane registry serve --disk` is
 * killed with SIGKILL in the middle of a 200 MiB upload (streamed in a PATCH, sent whole in
 * the PUT that ends an upload session, or sent whole in a single `POST ?digest=`), and a new
 * server over the same directory must serve everything that was complete before, byte for
 * byte, and nothing of the broken upload as a blob.
 *
 * What a kill leaves behind: the bytes of an interrupted upload session stay in
 * `uploads/<id>/data` (a client can resume a chunked upload from the size the status GET
 * reports), and an interrupted single-request upload stays as a file in `tmp/`. Neither is
 * ever under `blobs/`; `BlobStore.purgeUploads` removes both once they are old enough.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import * as Http from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as BlobStoreFileSystem from "../../src/layers/BlobStoreFileSystem.js"
import { bin, ensureBuilt } from "../cli/support.js"
import {
  errorCodes,
  filesUnder,
  repeatedDigest,
  request,
  type Served,
  serve,
  sha256,
  snapshot,
  stream,
  type Streaming,
  uploadSize,
  waitFor
} from "./raw.js"
import { type Blob, blob, image, patterned } from "./support.js"

const MiB = 1024 * 1024
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
const OCI_INDEX = "application/vnd.oci.image.index.v1+json"

/** The big upload the server is killed in: 200 MiB of a 1 MiB block repeated. */
const big = { block: patterned(MiB, 77), total: 200 * MiB }
const bigDigest = repeatedDigest(big.block, big.total)
/** How much of it the server must have taken in before it is killed. */
const killAfter = 16 * MiB

/** What was complete before the crash: blobs by repository, manifests with their references. */
interface Pushed {
  readonly blobs: ReadonlyArray<{ readonly repository: string; readonly blob: Blob }>
  readonly manifests: ReadonlyArray<{
    readonly repository: string
    readonly references: ReadonlyArray<string>
    readonly manifest: Blob
    readonly mediaType: string
  }>
  readonly tags: Readonly<Record<string, ReadonlyArray<string>>>
  readonly catalog: ReadonlyArray<string>
}

const created = (what: string, status: number, text: string) => {
  if (status !== 201) throw new Error(`${what}: ${status} ${text}`)
}

/** Pushes blobs in the three ways a client can, manifests by tag and by digest, and an index. */
const pushAll = async (url: string): Promise<Pushed> => {
  const blobs: Array<{ repository: string; blob: Blob }> = []
  const putBlob = async (repository: string, b: Blob, way: "session" | "single" | "chunked") => {
    if (way === "single") {
      const reply = await request(url, "POST", `/v2/${repository}/blobs/uploads/?digest=${b.digest}`, { body: b.bytes })
      created(`POST ${b.digest}`, reply.status, reply.text)
    } else {
      const location = (await request(url, "POST", `/v2/${repository}/blobs/uploads/`)).headers.get("location") ?? ""
      if (way === "chunked") {
        const third = Math.ceil(b.bytes.byteLength / 3)
        for (let start = 0; start < b.bytes.byteLength; start += third) {
          const end = Math.min(b.bytes.byteLength, start + third)
          const reply = await request(url, "PATCH", location, {
            body: b.bytes.slice(start, end),
            headers: { "content-range": `${start}-${end - 1}` }
          })
          if (reply.status !== 202) throw new Error(`PATCH: ${reply.status} ${reply.text}`)
        }
        const reply = await request(url, "PUT", `${location}?digest=${b.digest}`)
        created(`PUT ${b.digest}`, reply.status, reply.text)
      } else {
        const reply = await request(url, "PUT", `${location}?digest=${b.digest}`, { body: b.bytes })
        created(`PUT ${b.digest}`, reply.status, reply.text)
      }
    }
    blobs.push({ repository, blob: b })
  }
  const putManifest = async (repository: string, reference: string, manifest: Blob, mediaType = OCI_MANIFEST) => {
    const reply = await request(url, "PUT", `/v2/${repository}/manifests/${reference}`, {
      body: manifest.bytes,
      headers: { "content-type": mediaType }
    })
    created(`PUT manifest ${reference}`, reply.status, reply.text)
  }

  const app = image(21)
  for (const b of app.blobs) await putBlob("crash/app", b, "session")
  await putManifest("crash/app", "v1", app.manifest)
  await putManifest("crash/app", "stable", app.manifest)
  const large = blob(patterned(3 * MiB + 5, 23))
  await putBlob("crash/app", large, "chunked")

  const other = image(22)
  for (const b of other.blobs) await putBlob("crash/other", b, "single")
  await putManifest("crash/other", other.manifest.digest, other.manifest)

  const amd = image(24)
  const arm = image(25)
  for (const b of [...amd.blobs, ...arm.blobs]) await putBlob("crash/multi", b, "session")
  await putManifest("crash/multi", amd.manifest.digest, amd.manifest)
  await putManifest("crash/multi", arm.manifest.digest, arm.manifest)
  const index = blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { mediaType: OCI_MANIFEST, digest: amd.manifest.digest, size: amd.manifest.bytes.byteLength, platform: { os: "linux", architecture: "amd64" } },
      { mediaType: OCI_MANIFEST, digest: arm.manifest.digest, size: arm.manifest.bytes.byteLength, platform: { os: "linux", architecture: "arm64" } }
    ]
  }))
  await putManifest("crash/multi", "latest", index, OCI_INDEX)

  return {
    blobs,
    manifests: [
      { repository: "crash/app", references: ["v1", "stable", app.manifest.digest], manifest: app.manifest, mediaType: OCI_MANIFEST },
      { repository: "crash/other", references: [other.manifest.digest], manifest: other.manifest, mediaType: OCI_MANIFEST },
      { repository: "crash/multi", references: [amd.manifest.digest], manifest: amd.manifest, mediaType: OCI_MANIFEST },
      { repository: "crash/multi", references: [arm.manifest.digest], manifest: arm.manifest, mediaType: OCI_MANIFEST },
      { repository: "crash/multi", references: ["latest", index.digest], manifest: index, mediaType: OCI_INDEX }
    ],
    tags: { "crash/app": ["stable", "v1"], "crash/other": [], "crash/multi": ["latest"] },
    catalog: ["crash/app", "crash/multi", "crash/other"]
  }
}

/** The parts of the store's directory that hold content (not upload sessions or temporary files). */
const content = (root: string) =>
  Object.fromEntries(
    Object.entries(snapshot(root)).filter(([file]) => file.startsWith("blobs/") || file.startsWith("repositories/"))
  )

/** Reads a blob by streaming its body into a hash: its status, size and digest. */
const hashBlob = (url: string, path: string) =>
  new Promise<{ readonly status: number; readonly size: number; readonly digest: string }>((resolve, reject) => {
    Http.get(new URL(path, url), (response) => {
      const hash = createHash("sha256")
      let size = 0
      response.on("data", (d: Buffer) => {
        hash.update(d)
        size += d.byteLength
      })
      response.on("error", reject)
      response.on("end", () => resolve({ status: response.statusCode ?? 0, size, digest: `sha256:${hash.digest("hex")}` }))
    }).on("error", reject)
  })

const purge = (root: string) =>
  Effect.runPromise(
    Effect.flatMap(BlobStoreFileSystem.make(root), (store) => store.purgeUploads(Duration.zero)).pipe(
      Effect.provide(NodeContext.layer)
    )
  )

/** How an interrupted upload is started, and how far it has got on the server. */
interface Interrupted {
  readonly streaming: Streaming
  readonly arrived: () => Promise<number>
  /** The path of the upload session, when the upload has one. */
  readonly location?: string
}

interface Scenario {
  readonly name: string
  readonly start: (url: string, root: string) => Promise<Interrupted>
  /** Where the interrupted upload's bytes stay: an upload session, or a file in `tmp/`. */
  readonly leftover: "session" | "tmp"
}

const repository = "crash/big"

const startSession = async (url: string) => {
  const started = await request(url, "POST", `/v2/${repository}/blobs/uploads/`)
  const location = started.headers.get("location") ?? ""
  const arrived = async () => uploadSize(await request(url, "GET", location))
  return { location, arrived, at: new URL(location, url).href }
}

const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "a chunked-encoding PATCH streaming into an upload session",
    leftover: "session",
    start: async (url) => {
      const { arrived, at, location } = await startSession(url)
      return { streaming: stream(at, "PATCH", big), arrived, location }
    }
  },
  {
    name: "the monolithic PUT that sends a whole blob to its upload session",
    leftover: "session",
    start: async (url) => {
      const { arrived, at, location } = await startSession(url)
      const streaming = stream(`${at}?digest=${bigDigest}`, "PUT", big, { "content-length": String(big.total) })
      return { streaming, arrived, location }
    }
  },
  {
    name: "a single POST ?digest= carrying the whole blob",
    leftover: "tmp",
    start: (url, root) => {
      const streaming = stream(`${url}/v2/${repository}/blobs/uploads/?digest=${bigDigest}`, "POST", big, {
        "content-length": String(big.total)
      })
      const arrived = () => Math.max(0, ...filesUnder(join(root, "tmp")).map((f) => statSync(join(root, "tmp", f)).size))
      return Promise.resolve({ streaming, arrived: () => Promise.resolve(arrived()) })
    }
  }
]

for (const scenario of scenarios) {
  describe.sequential(`crane registry serve --disk killed with SIGKILL during ${scenario.name}`, () => {
    let root = ""
    let restarted: Served | undefined
    let pushed: Pushed
    let before: Record<string, string> = {}
    let interrupted: Interrupted
    let atKill = 0

    beforeAll(async () => {
      await ensureBuilt()
      root = mkdtempSync(join(tmpdir(), "registry-crash-"))
      const first = await serve(bin, root)
      try {
        pushed = await pushAll(first.url)
        before = content(root)
        interrupted = await scenario.start(first.url, root)
        atKill = await waitFor("the server to take in part of the upload", async () => {
          const n = await interrupted.arrived()
          return n >= killAfter ? n : undefined
        })
      } finally {
        await first.stop("SIGKILL")
      }
      const ended = await interrupted.streaming.done
      if (ended.error === undefined) throw new Error(`the upload ended with ${ended.status} before the kill`)
      restarted = await serve(bin, root)
    }, 120_000)

    afterAll(async () => {
      await restarted?.stop()
      if (root !== "") rmSync(root, { recursive: true, force: true })
    })

    const url = () => restarted?.url ?? ""

    it("was killed while the upload was under way", () => {
      expect(atKill).toBeGreaterThanOrEqual(killAfter)
      expect(interrupted.streaming.sent()).toBeLessThan(big.total)
    })

    it("serves every blob completed before the crash, byte for byte", async () => {
      for (const { blob: b, repository: name } of pushed.blobs) {
        const reply = await request(url(), "GET", `/v2/${name}/blobs/${b.digest}`)
        expect({ digest: b.digest, status: reply.status }).toEqual({ digest: b.digest, status: 200 })
        expect(sha256(reply.body)).toBe(b.digest)
        expect(Buffer.compare(reply.body, b.bytes)).toBe(0)
      }
    })

    it("serves every manifest completed before the crash by tag and by digest, with its media type", async () => {
      for (const { manifest, mediaType, references, repository: name } of pushed.manifests) {
        for (const reference of references) {
          const reply = await request(url(), "GET", `/v2/${name}/manifests/${reference}`, { headers: { accept: mediaType } })
          expect({ reference, status: reply.status }).toEqual({ reference, status: 200 })
          expect(reply.headers.get("content-type")).toBe(mediaType)
          expect(reply.headers.get("docker-content-digest")).toBe(manifest.digest)
          expect(Buffer.compare(reply.body, manifest.bytes)).toBe(0)
        }
      }
    })

    it("lists the same tags and catalog as before the crash", async () => {
      for (const [name, tags] of Object.entries(pushed.tags)) {
        expect(JSON.parse((await request(url(), "GET", `/v2/${name}/tags/list`)).text)).toEqual({ name, tags })
      }
      const catalog = JSON.parse((await request(url(), "GET", "/v2/_catalog")).text) as { repositories: Array<string> }
      expect(catalog.repositories.filter((name) => name !== repository)).toEqual(pushed.catalog)
    })

    it("does not serve the interrupted upload as a blob", async () => {
      const head = await request(url(), "HEAD", `/v2/${repository}/blobs/${bigDigest}`)
      expect(head.status).toBe(404)
      expect(errorCodes(await request(url(), "GET", `/v2/${repository}/blobs/${bigDigest}`))).toEqual(["BLOB_UNKNOWN"])
    })

    it("leaves blobs/ and repositories/ exactly as they were before the interrupted upload began", () => {
      expect(content(root)).toEqual(before)
      for (const file of filesUnder(join(root, "blobs"))) {
        const [, prefix = "", hex = ""] = /^sha256\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(file) ?? []
        expect(hex.startsWith(prefix) && prefix !== "", file).toBe(true)
        expect(sha256(readFileSync(join(root, "blobs", file)))).toBe(`sha256:${hex}`)
      }
    })

    if (scenario.leftover === "session") {
      it("keeps the bytes that arrived in the upload session and reports them on a status GET", async () => {
        const status = await request(url(), "GET", interrupted.location ?? "")
        expect(status.status).toBe(204)
        const size = uploadSize(status)
        expect(size).toBeGreaterThanOrEqual(atKill)
        expect(size).toBeLessThan(big.total)
        const files = filesUnder(join(root, "uploads"))
        expect(files.filter((f) => f.endsWith("/data"))).toHaveLength(1)
      })
    } else {
      it("keeps the bytes that arrived as a file in tmp/ only, and starts no upload session", () => {
        const files = filesUnder(join(root, "tmp"))
        expect(files).toHaveLength(1)
        expect(statSync(join(root, "tmp", files[0] ?? "")).size).toBeGreaterThanOrEqual(atKill)
        expect(filesUnder(join(root, "uploads"))).toEqual([])
      })
    }

    if (scenario.name.includes("PATCH")) {
      it("lets the client resume the interrupted upload from the reported size and finish it", async () => {
        const location = interrupted.location ?? ""
        const size = uploadSize(await request(url(), "GET", location))
        const rest = stream(new URL(location, url()).href, "PATCH", { ...big, offset: size, total: big.total - size }, {
          "content-range": `${size}-${big.total - 1}`,
          "content-length": String(big.total - size)
        })
        expect((await rest.done).status).toBe(202)
        const done = await request(url(), "PUT", `${location}?digest=${bigDigest}`)
        expect(done.status).toBe(201)
        expect(await hashBlob(url(), `/v2/${repository}/blobs/${bigDigest}`)).toEqual({
          status: 200,
          size: big.total,
          digest: bigDigest
        })
        expect(filesUnder(join(root, "uploads"))).toEqual([])
      }, 120_000)
    } else {
      it("lets purgeUploads remove the leftover and nothing else", async () => {
        const purged = await purge(root)
        expect(purged).toBe(scenario.leftover === "session" ? 1 : 0)
        expect(filesUnder(join(root, "uploads"))).toEqual([])
        expect(filesUnder(join(root, "tmp"))).toEqual([])
        expect(content(root)).toEqual(before)
        const first = pushed.blobs[0]
        expect((await request(url(), "HEAD", `/v2/${first?.repository}/blobs/${first?.blob.digest}`)).status).toBe(200)
      })
    }
  })
}
