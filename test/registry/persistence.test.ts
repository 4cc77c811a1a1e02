/**
 * The registry over the filesystem stores: what one server stored, a second server over the
 * same directory serves; and nothing outside the directory is ever touched, whatever the
 * names, tags, digests and upload ids of the requests say.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as MediaType from "../../src/domain/MediaType.js"
import { blob, chunked, errorCodes, image, json, onDisk, patterned, pushImage, pushManifest, send } from "./support.js"

const same = (a: Uint8Array, b: Uint8Array) => expect(Buffer.compare(a, b)).toBe(0)

/** A temporary directory for one test, removed at its end. */
const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "registry-disk-" }))

describe("Registry over the filesystem stores", () => {
  it.scoped("serves from a second server everything the first one stored", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const img = image(11)
      const artifact = blob(JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OCI_MANIFEST,
        config: { mediaType: "application/vnd.example.sbom", digest: img.config.digest, size: img.config.bytes.byteLength },
        layers: [],
        subject: { mediaType: MediaType.OCI_MANIFEST, digest: img.manifest.digest, size: img.manifest.bytes.byteLength }
      }))
      yield* Effect.gen(function*() {
        yield* pushImage("team/app", "v1", img)
        yield* pushManifest("team/app", "stable", img.manifest)
        yield* pushManifest("team/app", artifact.digest, artifact)
        yield* pushImage("other", "latest", image(12))
      }).pipe(Effect.provide(onDisk(root)))

      yield* Effect.gen(function*() {
        const manifest = yield* send("GET", "/v2/team/app/manifests/v1")
        expect(manifest.headers["content-type"]).toBe(MediaType.OCI_MANIFEST)
        same(manifest.body, img.manifest.bytes)
        for (const b of img.blobs) same((yield* send("GET", `/v2/team/app/blobs/${b.digest}`)).body, b.bytes)
        expect(json(yield* send("GET", "/v2/team/app/tags/list")).tags).toEqual(["stable", "v1"])
        expect(json(yield* send("GET", "/v2/_catalog")).repositories).toEqual(["other", "team/app"])
        const referrers = json(yield* send("GET", `/v2/team/app/referrers/${img.manifest.digest}`))
        expect(referrers.manifests).toEqual([{
          mediaType: MediaType.OCI_MANIFEST,
          digest: artifact.digest,
          size: artifact.bytes.byteLength,
          artifactType: "application/vnd.example.sbom"
        }])
      }).pipe(Effect.provide(onDisk(root)))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("lets a second server finish an upload the first one started", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const b = blob(patterned(100_000, 3))
      const location = yield* Effect.gen(function*() {
        const started = yield* send("POST", "/v2/repo/blobs/uploads/")
        const location = started.headers.location ?? ""
        yield* send("PATCH", location, { body: b.bytes.slice(0, 60_000), headers: { "content-range": "0-59999" } })
        return location
      }).pipe(Effect.provide(onDisk(root)))

      yield* Effect.gen(function*() {
        const status = yield* send("GET", location)
        expect(status.status).toBe(204)
        expect(status.headers.range).toBe("0-59999")
        yield* send("PATCH", location, { body: b.bytes.slice(60_000), headers: { "content-range": "60000-99999" } })
        expect((yield* send("PUT", `${location}?digest=${b.digest}`)).status).toBe(201)
        same((yield* send("GET", `/v2/repo/blobs/${b.digest}`)).body, b.bytes)
      }).pipe(Effect.provide(onDisk(root)))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("no longer serves from a second server what the first one deleted", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const img = image(13)
      yield* Effect.gen(function*() {
        yield* pushImage("repo", "v1", img)
        yield* pushManifest("repo", "v2", img.manifest)
        expect((yield* send("DELETE", "/v2/repo/manifests/v1")).status).toBe(202)
        expect((yield* send("DELETE", `/v2/repo/blobs/${img.layers[0]!.digest}`)).status).toBe(202)
      }).pipe(Effect.provide(onDisk(root)))

      yield* Effect.gen(function*() {
        expect((yield* send("GET", "/v2/repo/manifests/v1")).status).toBe(404)
        expect((yield* send("GET", "/v2/repo/manifests/v2")).status).toBe(200)
        expect((yield* send("GET", `/v2/repo/blobs/${img.layers[0]!.digest}`)).status).toBe(404)
        expect((yield* send("GET", `/v2/repo/blobs/${img.layers[1]!.digest}`)).status).toBe(200)
      }).pipe(Effect.provide(onDisk(root)))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("accepts concurrent uploads of the same blob, whole and in chunks", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const b = blob(patterned(1_000_000, 9))
      yield* Effect.gen(function*() {
        const replies = yield* Effect.all(
          Array.from({ length: 12 }, (_, i) =>
            i % 3 === 0
              ? send("POST", `/v2/repo${i}/blobs/uploads/?digest=${b.digest}`, { body: chunked(b.bytes, 64_000) })
              : Effect.gen(function*() {
                const location = (yield* send("POST", `/v2/repo${i}/blobs/uploads/`)).headers.location ?? ""
                yield* send("PATCH", location, { body: b.bytes.slice(0, 500_000), headers: { "content-range": "0-499999" } })
                return yield* send("PUT", `${location}?digest=${b.digest}`, { body: chunked(b.bytes.slice(500_000), 50_000) })
              })),
          { concurrency: "unbounded" }
        )
        expect(replies.map((r) => r.status)).toEqual(Array(12).fill(201))
        for (let i = 0; i < 12; i++) same((yield* send("GET", `/v2/repo${i}/blobs/${b.digest}`)).body, b.bytes)
      }).pipe(Effect.provide(onDisk(root)))
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("touches nothing outside its directory whatever names, tags, digests and upload ids say", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const parent = yield* tempDir
      const root = `${parent}/registry`
      yield* fs.makeDirectory(`${parent}/outside`)
      yield* fs.writeFileString(`${parent}/outside/secret`, "keep out")
      const before = (yield* fs.readDirectory(parent, { recursive: true })).sort()

      const img = image(14)
      const escape = "..%2F..%2Foutside"
      const answers = yield* Effect.gen(function*() {
        yield* pushImage("repo", "v1", img)
        const upload = (yield* send("POST", "/v2/repo/blobs/uploads/")).headers.location ?? ""
        const manifest = { body: img.manifest.bytes, contentType: MediaType.OCI_MANIFEST }
        return [
          ["POST", yield* send("POST", `/v2/${escape}/blobs/uploads/`)],
          ["POST nested", yield* send("POST", `/v2/repo%2F..%2F..%2F..%2Foutside/blobs/uploads/`)],
          ["PUT manifest", yield* send("PUT", `/v2/${escape}/manifests/v1`, manifest)],
          ["PUT underscore", yield* send("PUT", "/v2/repo/_manifests/x/manifests/v1", manifest)],
          ["PUT tag", yield* send("PUT", `/v2/repo/manifests/${escape}`, manifest)],
          ["PUT ?tag", yield* send("PUT", `/v2/repo/manifests/${img.manifest.digest}?tag=${escape}`, manifest)],
          ["GET tag", yield* send("GET", `/v2/repo/manifests/..%2F..%2F..%2F..%2Foutside%2Fsecret`)],
          ["GET digest", yield* send("GET", `/v2/repo/blobs/sha256:..%2F..%2F..%2F..%2Foutside%2Fsecret`)],
          ["DELETE digest", yield* send("DELETE", `/v2/repo/manifests/sha256:..%2F..%2Foutside`)],
          ["PATCH id", yield* send("PATCH", `/v2/repo/blobs/uploads/..%2F..%2F..%2Foutside`, { body: patterned(10) })],
          ["DELETE id", yield* send("DELETE", `/v2/repo/blobs/uploads/..%2F..%2F..%2Foutside`)],
          ["PUT ?digest", yield* send("PUT", `${upload}?digest=sha256:..%2F..%2Foutside`, { body: patterned(10) })],
          ["mount", yield* send("POST", `/v2/repo/blobs/uploads/?mount=${img.config.digest}&from=${escape}`)],
          ["referrers", yield* send("GET", `/v2/repo/referrers/sha256:..%2F..%2Foutside`)],
          ["tags", yield* send("GET", `/v2/${escape}/tags/list`)],
          ["catalog", yield* send("GET", `/v2/_catalog?last=${escape}`)]
        ] as const
      }).pipe(Effect.provide(onDisk(root)))

      const statuses = Object.fromEntries(answers.map(([what, reply]) => [what, reply.status]))
      expect(statuses).toEqual({
        POST: 400,
        "POST nested": 400,
        "PUT manifest": 400,
        "PUT underscore": 400,
        "PUT tag": 400,
        "PUT ?tag": 400,
        "GET tag": 404,
        "GET digest": 400,
        "DELETE digest": 400,
        "PATCH id": 404,
        "DELETE id": 404,
        "PUT ?digest": 400,
        mount: 202,
        referrers: 400,
        tags: 400,
        catalog: 200
      })
      expect(errorCodes(answers[0][1])).toEqual(["NAME_INVALID"])
      const after = (yield* fs.readDirectory(parent, { recursive: true })).filter((p) => !p.startsWith("registry"))
      expect(after).toEqual(before)
      expect(yield* fs.readFileString(`${parent}/outside/secret`)).toBe("keep out")
    }).pipe(Effect.provide(NodeContext.layer)))
})
