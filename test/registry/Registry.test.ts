/**
 * The registry's endpoints, each behaviour once over a real port and once in-process.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import { readFileSync } from "node:fs"
import * as Digest from "../../src/domain/Digest.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Registry from "../../src/registry/Registry.js"
import * as BlobStore from "../../src/services/BlobStore.js"
import * as ManifestStore from "../../src/services/ManifestStore.js"
import {
  blob,
  chunked,
  type Env,
  errorCodes,
  image,
  json,
  patterned,
  pushBlob,
  pushImage,
  pushManifest,
  type Reply,
  send,
  transports
} from "./support.js"

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../../shared/fixtures/containers-image/manifests/${name}`, import.meta.url)))

const expectError = (reply: Reply, status: number, code: string) => {
  expect(reply.status).toBe(status)
  expect(reply.headers["content-type"]).toBe("application/json")
  expect(errorCodes(reply)).toEqual([code])
}

const same = (a: Uint8Array, b: Uint8Array) => expect(Buffer.compare(a, b)).toBe(0)

/** A manifest of an image, as bytes, with the given fields changed. */
const manifestOf = (fields: Record<string, unknown>) =>
  blob(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, ...fields }))

/** The digests of the descriptors of an index reply. */
const digestsOf = (reply: Reply) => (json(reply) as { manifests: ReadonlyArray<{ digest: string }> }).manifests.map((d) => d.digest)

const descriptorOf = (b: { readonly digest: string; readonly bytes: Uint8Array }, mediaType: string) => ({
  mediaType,
  digest: b.digest,
  size: b.bytes.byteLength
})

for (const [transport, makeLayer] of transports) {
  describe(`Registry ${transport}`, () => {
    const test = (title: string, body: () => Effect.Effect<unknown, unknown, Env>, options: Registry.Options = {}) =>
      it.effect(title, () => Effect.provide(body(), makeLayer(options)))

    describe("base", () => {
      test("answers GET /v2/ with 200 and the API version header", () =>
        Effect.gen(function*() {
          const reply = yield* send("GET", "/v2/")
          expect(reply.status).toBe(200)
          expect(reply.headers["docker-distribution-api-version"]).toBe("registry/2.0")
          expect(json(reply)).toEqual({})
        }))

      test("answers a path that names no endpoint with 404 and an OCI error body", () =>
        Effect.gen(function*() {
          expectError(yield* send("GET", "/v2/repo/unknown/thing"), 404, "UNSUPPORTED")
          expectError(yield* send("GET", "/other"), 404, "UNSUPPORTED")
        }))

      test("answers a method an endpoint does not take with 405 UNSUPPORTED and Allow", () =>
        Effect.gen(function*() {
          const reply = yield* send("POST", "/v2/repo/manifests/latest")
          expectError(reply, 405, "UNSUPPORTED")
          expect(reply.headers.allow).toBe("GET, HEAD, PUT, DELETE")
        }))

      test("puts the API version header on errors too", () =>
        Effect.gen(function*() {
          const reply = yield* send("GET", "/v2/repo/manifests/missing")
          expect(reply.headers["docker-distribution-api-version"]).toBe("registry/2.0")
        }))
    })

    describe("pulling blobs", () => {
      test("serves a blob with its length, digest and octet-stream type", () =>
        Effect.gen(function*() {
          const b = blob(patterned(70_000))
          yield* pushBlob("library/data", b)
          const reply = yield* send("GET", `/v2/library/data/blobs/${b.digest}`)
          expect(reply.status).toBe(200)
          expect(reply.headers["content-length"]).toBe("70000")
          expect(reply.headers["content-type"]).toBe("application/octet-stream")
          expect(reply.headers["docker-content-digest"]).toBe(b.digest)
          same(reply.body, b.bytes)
        }))

      test("answers HEAD of a blob with its length and digest and no body", () =>
        Effect.gen(function*() {
          const b = blob(patterned(1234))
          yield* pushBlob("repo", b)
          const reply = yield* send("HEAD", `/v2/repo/blobs/${b.digest}`)
          expect(reply.status).toBe(200)
          expect(reply.headers["content-length"]).toBe("1234")
          expect(reply.headers["docker-content-digest"]).toBe(b.digest)
        }))

      test("serves an empty blob", () =>
        Effect.gen(function*() {
          const b = blob(new Uint8Array(0))
          yield* pushBlob("repo", b)
          const reply = yield* send("GET", `/v2/repo/blobs/${b.digest}`)
          expect(reply.status).toBe(200)
          expect(reply.headers["content-length"]).toBe("0")
          expect(reply.body.byteLength).toBe(0)
        }))

      test("serves a byte range with 206 and Content-Range", () =>
        Effect.gen(function*() {
          const b = blob(patterned(10_000))
          yield* pushBlob("repo", b)
          const reply = yield* send("GET", `/v2/repo/blobs/${b.digest}`, { headers: { range: "bytes=100-1099" } })
          expect(reply.status).toBe(206)
          expect(reply.headers["content-range"]).toBe("bytes 100-1099/10000")
          expect(reply.headers["content-length"]).toBe("1000")
          same(reply.body, b.bytes.slice(100, 1100))
        }))

      test("serves open-ended and suffix ranges", () =>
        Effect.gen(function*() {
          const b = blob(patterned(5000))
          yield* pushBlob("repo", b)
          const open = yield* send("GET", `/v2/repo/blobs/${b.digest}`, { headers: { range: "bytes=4000-" } })
          expect(open.status).toBe(206)
          expect(open.headers["content-range"]).toBe("bytes 4000-4999/5000")
          same(open.body, b.bytes.slice(4000))
          const suffix = yield* send("GET", `/v2/repo/blobs/${b.digest}`, { headers: { range: "bytes=-10" } })
          expect(suffix.status).toBe(206)
          expect(suffix.headers["content-range"]).toBe("bytes 4990-4999/5000")
          same(suffix.body, b.bytes.slice(4990))
        }))

      test("answers 416 with Content-Range bytes */size to a range starting past the end", () =>
        Effect.gen(function*() {
          const b = blob(patterned(500))
          yield* pushBlob("repo", b)
          const reply = yield* send("GET", `/v2/repo/blobs/${b.digest}`, { headers: { range: "bytes=500-600" } })
          expect(reply.status).toBe(416)
          expect(reply.headers["content-range"]).toBe("bytes */500")
        }))

      test("answers BLOB_UNKNOWN 404 for a blob only another repository holds", () =>
        Effect.gen(function*() {
          const b = blob("only in a")
          yield* pushBlob("a", b)
          expectError(yield* send("GET", `/v2/b/blobs/${b.digest}`), 404, "BLOB_UNKNOWN")
          expect((yield* send("HEAD", `/v2/b/blobs/${b.digest}`)).status).toBe(404)
        }))

      test("answers DIGEST_INVALID 400 for a malformed digest, never a server error", () =>
        Effect.gen(function*() {
          expectError(yield* send("GET", "/v2/repo/blobs/sha256:totallywrong"), 400, "DIGEST_INVALID")
          expectError(yield* send("GET", "/v2/repo/blobs/md5:d41d8cd98f00b204e9800998ecf8427e"), 400, "DIGEST_INVALID")
          expectError(yield* send("GET", "/v2/repo/blobs/..%2F..%2Fetc%2Fpasswd"), 400, "DIGEST_INVALID")
        }))

      test("answers NAME_INVALID 400 for a repository name outside the grammar", () =>
        Effect.gen(function*() {
          const digest = Digest.fromBytes("x")
          expectError(yield* send("GET", `/v2/Upper/blobs/${digest}`), 400, "NAME_INVALID")
          expectError(yield* send("GET", `/v2/a/-b/blobs/${digest}`), 400, "NAME_INVALID")
          expectError(yield* send("GET", `/v2/a/b./blobs/${digest}`), 400, "NAME_INVALID")
          expectError(yield* send("GET", `/v2/a//b/blobs/${digest}`), 400, "NAME_INVALID")
          expectError(yield* send("POST", "/v2/_hidden/blobs/uploads/"), 400, "NAME_INVALID")
        }))

      test("routes names of several components, including components that look like endpoints", () =>
        Effect.gen(function*() {
          const img = image(7)
          for (const name of ["a/blobs/b", "x/manifests", "tags/list/y", "deep/er/and/deeper"]) {
            yield* pushImage(name, "v1", img)
            expect((yield* send("GET", `/v2/${name}/manifests/v1`)).status).toBe(200)
            expect((yield* send("GET", `/v2/${name}/blobs/${img.config.digest}`)).status).toBe(200)
            expect(json(yield* send("GET", `/v2/${name}/tags/list`))).toEqual({ name, tags: ["v1"] })
          }
        }))
    })

    describe("deleting blobs", () => {
      test("deletes a blob from a repository with 202, after which it is 404 there", () =>
        Effect.gen(function*() {
          const b = blob("to delete")
          yield* pushBlob("repo", b)
          const reply = yield* send("DELETE", `/v2/repo/blobs/${b.digest}`)
          expect(reply.status).toBe(202)
          expectError(yield* send("GET", `/v2/repo/blobs/${b.digest}`), 404, "BLOB_UNKNOWN")
        }))

      test("answers BLOB_UNKNOWN 404 to deleting a blob the repository does not hold", () =>
        Effect.gen(function*() {
          expectError(yield* send("DELETE", `/v2/repo/blobs/${Digest.fromBytes("absent")}`), 404, "BLOB_UNKNOWN")
        }))

      test("keeps serving a deleted blob from the other repositories holding it", () =>
        Effect.gen(function*() {
          const b = blob("shared")
          yield* pushBlob("one", b)
          yield* pushBlob("two", b)
          expect((yield* send("DELETE", `/v2/one/blobs/${b.digest}`)).status).toBe(202)
          same((yield* send("GET", `/v2/two/blobs/${b.digest}`)).body, b.bytes)
        }))
    })

    describe("uploading blobs", () => {
      test("uploads a whole blob with a single POST ?digest=", () =>
        Effect.gen(function*() {
          const b = blob(patterned(3000))
          const reply = yield* send("POST", `/v2/repo/blobs/uploads/?digest=${b.digest}`, { body: b.bytes })
          expect(reply.status).toBe(201)
          expect(reply.headers.location).toBe(`/v2/repo/blobs/${b.digest}`)
          expect(reply.headers["docker-content-digest"]).toBe(b.digest)
          same((yield* send("GET", reply.headers.location ?? "")).body, b.bytes)
        }))

      test("answers DIGEST_INVALID 400 to a single POST whose bytes have another digest", () =>
        Effect.gen(function*() {
          const b = blob("the real bytes")
          const wrong = Digest.fromBytes("other bytes")
          expectError(yield* send("POST", `/v2/repo/blobs/uploads/?digest=${wrong}`, { body: b.bytes }), 400, "DIGEST_INVALID")
          expect((yield* send("HEAD", `/v2/repo/blobs/${wrong}`)).status).toBe(404)
          const store = yield* BlobStore.BlobStore
          expect(yield* store.stat(wrong)).toEqual(Option.none())
        }))

      test("starts an upload session with 202, Location, Range 0-0 and Docker-Upload-UUID", () =>
        Effect.gen(function*() {
          const reply = yield* send("POST", "/v2/repo/blobs/uploads/")
          expect(reply.status).toBe(202)
          const id = reply.headers["docker-upload-uuid"] ?? ""
          expect(BlobStore.isUploadId(id)).toBe(true)
          expect(reply.headers.location).toBe(`/v2/repo/blobs/uploads/${id}`)
          expect(reply.headers.range).toBe("0-0")
        }))

      test("uploads a blob in ordered chunks, reporting the range after each", () =>
        Effect.gen(function*() {
          const b = blob(patterned(2500))
          const location = (yield* send("POST", "/v2/repo/blobs/uploads/")).headers.location ?? ""
          const first = yield* send("PATCH", location, { body: b.bytes.slice(0, 1000), headers: { "content-range": "0-999" } })
          expect(first.status).toBe(202)
          expect(first.headers.range).toBe("0-999")
          expect(first.headers.location).toBe(location)
          const second = yield* send("PATCH", location, {
            body: b.bytes.slice(1000, 2000),
            headers: { "content-range": "1000-1999" }
          })
          expect(second.headers.range).toBe("0-1999")
          const done = yield* send("PUT", `${location}?digest=${b.digest}`, {
            body: b.bytes.slice(2000),
            headers: { "content-range": "2000-2499" }
          })
          expect(done.status).toBe(201)
          expect(done.headers.location).toBe(`/v2/repo/blobs/${b.digest}`)
          same((yield* send("GET", `/v2/repo/blobs/${b.digest}`)).body, b.bytes)
        }))

      test("answers 416 with the upload's Range and Location to an out-of-order chunk, keeping the upload", () =>
        Effect.gen(function*() {
          const b = blob(patterned(200))
          const location = (yield* send("POST", "/v2/repo/blobs/uploads/")).headers.location ?? ""
          yield* send("PATCH", location, { body: b.bytes.slice(0, 100), headers: { "content-range": "0-99" } })
          const again = yield* send("PATCH", location, { body: b.bytes.slice(0, 100), headers: { "content-range": "0-99" } })
          expectError(again, 416, "BLOB_UPLOAD_INVALID")
          expect(again.headers.range).toBe("0-99")
          expect(again.headers.location).toBe(location)
          const ahead = yield* send("PATCH", location, { body: b.bytes.slice(150), headers: { "content-range": "150-199" } })
          expect(ahead.status).toBe(416)
          yield* send("PATCH", location, { body: b.bytes.slice(100), headers: { "content-range": "100-199" } })
          expect((yield* send("PUT", `${location}?digest=${b.digest}`)).status).toBe(201)
          same((yield* send("GET", `/v2/repo/blobs/${b.digest}`)).body, b.bytes)
        }))

      test("answers 416 to a final PUT chunk out of order", () =>
        Effect.gen(function*() {
          const b = blob(patterned(100))
          const location = (yield* send("POST", "/v2/repo/blobs/uploads/")).headers.location ?? ""
          const reply = yield* send("PUT", `${location}?digest=${b.digest}`, {
            body: b.bytes.slice(50),
            headers: { "content-range": "50-99" }
          })
          expect(reply.status).toBe(416)
          expect(reply.headers.range).toBe("0-0")
        }))

      test("appends streamed chunks without Content-Range", () =>
        Effect.gen(function*() {
          const b = blob(patterned(300_000))
          const location = (yield* send("POST", "/v2/repo/blobs/uploads/")).headers.location ?? ""
          const first = yield* send("PATCH", location, { body: chunked(b.bytes.slice(0, 100_000), 7000) })
          expect(first.status).toBe(202)
          expect(first.headers.range).toBe("0-99999")
          const second = yield* send("PATCH", location, { body: chunked(b.bytes.slice(100_000), 9000) })
          expect(second.headers.range).toBe("0-299999")
          expect((yield* send("PUT", `${location}?digest=${b.digest}`)).status).toBe(201)
          same((yield* send("GET", `/v2/repo/blobs/${b.digest}`)).body, b.bytes)
        }))

      test("finishes an upload with the whole blob as the PUT body", () =>
        Effect.gen(function*() {
          const b = blob(patterned(4096))
          const location = (yield* send("POST", "/v2/repo/blobs/uploads/")).headers.location ?? ""
          const reply = yield* send("PUT", `${location}?digest=${b.digest}`, { body: chunked(b.bytes, 1000) })
          expect(reply.status).toBe(201)
          expect(reply.headers["docker-content-digest"]).toBe(b.digest)
          same((yield* send("GET", `/v2/repo/blobs/${b.digest}`)).body, b.bytes)
        }))

      test("answers DIGEST_INVALID 400 when the uploaded bytes do not match the digest, storing nothing", () =>
        Effect.gen(function*() {
          const wrong = Digest.fromBytes("something else")
          const location = (yield* send("POST", "/v2/repo/blobs/uploads/")).headers.location ?? ""
          expectError(yield* send("PUT", `${location}?digest=${wrong}`, { body: patterned(64) }), 400, "DIGEST_INVALID")
          expect((yield* send("HEAD", `/v2/repo/blobs/${wrong}`)).status).toBe(404)
          const store = yield* BlobStore.BlobStore
          expect(yield* store.stat(wrong)).toEqual(Option.none())
        }))

      test("answers DIGEST_INVALID 400 to a PUT without a digest or with a malformed one", () =>
        Effect.gen(function*() {
          const location = (yield* send("POST", "/v2/repo/blobs/uploads/")).headers.location ?? ""
          expectError(yield* send("PUT", location, { body: patterned(8) }), 400, "DIGEST_INVALID")
          expectError(yield* send("PUT", `${location}?digest=sha256:nope`), 400, "DIGEST_INVALID")
        }))

      test("answers SIZE_INVALID 400 when Content-Length contradicts Content-Range", () =>
        Effect.gen(function*() {
          const location = (yield* send("POST", "/v2/repo/blobs/uploads/")).headers.location ?? ""
          const reply = yield* send("PATCH", location, { body: patterned(50), headers: { "content-range": "0-99" } })
          expectError(reply, 400, "SIZE_INVALID")
          expect((yield* send("GET", location)).headers.range).toBe("0-0")
        }))

      test("answers BLOB_UPLOAD_INVALID 400 to a malformed Content-Range", () =>
        Effect.gen(function*() {
          const location = (yield* send("POST", "/v2/repo/blobs/uploads/")).headers.location ?? ""
          const reply = yield* send("PATCH", location, { body: patterned(10), headers: { "content-range": "ten-twenty" } })
          expectError(reply, 400, "BLOB_UPLOAD_INVALID")
        }))

      test("reports an upload's status with 204, Range and Location", () =>
        Effect.gen(function*() {
          const location = (yield* send("POST", "/v2/repo/blobs/uploads/")).headers.location ?? ""
          yield* send("PATCH", location, { body: patterned(77) })
          const reply = yield* send("GET", location)
          expect(reply.status).toBe(204)
          expect(reply.headers.range).toBe("0-76")
          expect(reply.headers.location).toBe(location)
        }))

      test("cancels an upload with 204, after which the upload is unknown", () =>
        Effect.gen(function*() {
          const location = (yield* send("POST", "/v2/repo/blobs/uploads/")).headers.location ?? ""
          expect((yield* send("DELETE", location)).status).toBe(204)
          expectError(yield* send("GET", location), 404, "BLOB_UPLOAD_UNKNOWN")
          expectError(yield* send("DELETE", location), 404, "BLOB_UPLOAD_UNKNOWN")
        }))

      test("answers BLOB_UPLOAD_UNKNOWN 404 for upload ids it never gave out", () =>
        Effect.gen(function*() {
          const digest = Digest.fromBytes("x")
          for (const id of ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "..%2F..%2Fblobs"]) {
            expectError(yield* send("PATCH", `/v2/repo/blobs/uploads/${id}`, { body: patterned(3) }), 404, "BLOB_UPLOAD_UNKNOWN")
            expectError(yield* send("PUT", `/v2/repo/blobs/uploads/${id}?digest=${digest}`), 404, "BLOB_UPLOAD_UNKNOWN")
            expectError(yield* send("GET", `/v2/repo/blobs/uploads/${id}`), 404, "BLOB_UPLOAD_UNKNOWN")
          }
        }))

      test("accepts concurrent uploads of the same blob", () =>
        Effect.gen(function*() {
          const b = blob(patterned(200_000, 5))
          const replies = yield* Effect.all(
            Array.from({ length: 8 }, (_, i) =>
              i % 2 === 0
                ? send("POST", `/v2/repo${i}/blobs/uploads/?digest=${b.digest}`, { body: chunked(b.bytes, 10_000) })
                : Effect.flatMap(send("POST", `/v2/repo${i}/blobs/uploads/`), (started) =>
                  send("PUT", `${started.headers.location ?? ""}?digest=${b.digest}`, { body: chunked(b.bytes, 30_000) }))),
            { concurrency: "unbounded" }
          )
          expect(replies.map((r) => r.status)).toEqual(Array(8).fill(201))
          for (let i = 0; i < 8; i++) same((yield* send("GET", `/v2/repo${i}/blobs/${b.digest}`)).body, b.bytes)
        }))
    })

    describe("mounting blobs", () => {
      test("mounts a blob from a repository holding it with 201 and the blob's Location", () =>
        Effect.gen(function*() {
          const b = blob("mount me")
          yield* pushBlob("source/repo", b)
          const reply = yield* send("POST", `/v2/target/blobs/uploads/?mount=${b.digest}&from=source/repo`)
          expect(reply.status).toBe(201)
          expect(reply.headers.location).toBe(`/v2/target/blobs/${b.digest}`)
          expect(reply.headers["docker-content-digest"]).toBe(b.digest)
          same((yield* send("GET", `/v2/target/blobs/${b.digest}`)).body, b.bytes)
        }))

      test("starts an upload session instead when the source repository does not hold the blob", () =>
        Effect.gen(function*() {
          const b = blob("only elsewhere")
          yield* pushBlob("elsewhere", b)
          const reply = yield* send("POST", `/v2/target/blobs/uploads/?mount=${b.digest}&from=source`)
          expect(reply.status).toBe(202)
          expect(reply.headers.location?.startsWith("/v2/target/blobs/uploads/")).toBe(true)
          expect((yield* send("HEAD", `/v2/target/blobs/${b.digest}`)).status).toBe(404)
        }))

      test("starts an upload session for a mount without from", () =>
        Effect.gen(function*() {
          const b = blob("mount without from")
          yield* pushBlob("source", b)
          const reply = yield* send("POST", `/v2/target/blobs/uploads/?mount=${b.digest}`)
          expect(reply.status).toBe(202)
          expect(reply.headers["docker-upload-uuid"]).toBeDefined()
        }))

      test("answers DIGEST_INVALID 400 to a malformed mount digest", () =>
        Effect.gen(function*() {
          expectError(yield* send("POST", "/v2/target/blobs/uploads/?mount=sha256:abc&from=source"), 400, "DIGEST_INVALID")
        }))
    })

    describe("pushing and pulling manifests", () => {
      test("stores a manifest by tag and serves its exact bytes by tag and by digest", () =>
        Effect.gen(function*() {
          const img = image()
          const pushed = yield* pushImage("app", "v1", img)
          expect(pushed.headers.location).toBe(`/v2/app/manifests/${img.manifest.digest}`)
          expect(pushed.headers["docker-content-digest"]).toBe(img.manifest.digest)
          for (const reference of ["v1", img.manifest.digest]) {
            const reply = yield* send("GET", `/v2/app/manifests/${reference}`)
            expect(reply.status).toBe(200)
            expect(reply.headers["content-type"]).toBe(MediaType.OCI_MANIFEST)
            expect(reply.headers["docker-content-digest"]).toBe(img.manifest.digest)
            expect(reply.headers["content-length"]).toBe(String(img.manifest.bytes.byteLength))
            same(reply.body, img.manifest.bytes)
          }
        }))

      test("answers HEAD of a manifest with its type, length and digest", () =>
        Effect.gen(function*() {
          const img = image()
          yield* pushImage("app", "v1", img)
          const reply = yield* send("HEAD", "/v2/app/manifests/v1")
          expect(reply.status).toBe(200)
          expect(reply.headers["content-type"]).toBe(MediaType.OCI_MANIFEST)
          expect(reply.headers["content-length"]).toBe(String(img.manifest.bytes.byteLength))
          expect(reply.headers["docker-content-digest"]).toBe(img.manifest.digest)
        }))

      test("keeps the media type a Docker manifest was pushed with", () =>
        Effect.gen(function*() {
          const img = image(3)
          for (const b of img.blobs) yield* pushBlob("docker", b)
          const manifest = blob(JSON.stringify({
            schemaVersion: 2,
            mediaType: MediaType.DOCKER_MANIFEST,
            config: descriptorOf(img.config, MediaType.DOCKER_CONFIG),
            layers: img.layers.map((l) => descriptorOf(l, MediaType.DOCKER_LAYER))
          }))
          yield* pushManifest("docker", "latest", manifest, MediaType.DOCKER_MANIFEST)
          const reply = yield* send("GET", "/v2/docker/manifests/latest")
          expect(reply.headers["content-type"]).toBe(MediaType.DOCKER_MANIFEST)
        }))

      test("stores a manifest without a mediaType field under the Content-Type it came with", () =>
        Effect.gen(function*() {
          const img = image(4)
          for (const b of img.blobs) yield* pushBlob("nomime", b)
          const manifest = blob(JSON.stringify({
            schemaVersion: 2,
            config: descriptorOf(img.config, MediaType.OCI_CONFIG),
            layers: []
          }))
          yield* pushManifest("nomime", "v1", manifest, MediaType.OCI_MANIFEST)
          expect((yield* send("HEAD", "/v2/nomime/manifests/v1")).headers["content-type"]).toBe(MediaType.OCI_MANIFEST)
        }))

      test("stores a manifest pushed by digest and refuses bytes with another digest", () =>
        Effect.gen(function*() {
          const img = image()
          for (const b of img.blobs) yield* pushBlob("app", b)
          const ok = yield* send("PUT", `/v2/app/manifests/${img.manifest.digest}`, {
            body: img.manifest.bytes,
            contentType: MediaType.OCI_MANIFEST
          })
          expect(ok.status).toBe(201)
          const wrong = Digest.fromBytes("not these bytes")
          const reply = yield* send("PUT", `/v2/app/manifests/${wrong}`, {
            body: img.manifest.bytes,
            contentType: MediaType.OCI_MANIFEST
          })
          expectError(reply, 400, "DIGEST_INVALID")
          expect((yield* send("GET", `/v2/app/manifests/${wrong}`)).status).toBe(404)
        }))

      test("refuses a manifest whose blobs are not in the repository with MANIFEST_BLOB_UNKNOWN", () =>
        Effect.gen(function*() {
          const img = image()
          yield* pushBlob("app", img.config)
          yield* pushBlob("app", img.layers[0]!)
          for (const b of img.blobs) yield* pushBlob("other", b)
          const reply = yield* send("PUT", "/v2/app/manifests/v1", { body: img.manifest.bytes, contentType: MediaType.OCI_MANIFEST })
          expectError(reply, 400, "MANIFEST_BLOB_UNKNOWN")
          expect(json(reply).errors[0].detail).toContain(img.layers[1]!.digest)
          expect((yield* send("GET", "/v2/app/manifests/v1")).status).toBe(404)
        }))

      test("refuses a manifest whose descriptor has the wrong size for its blob", () =>
        Effect.gen(function*() {
          const img = image()
          for (const b of img.blobs) yield* pushBlob("app", b)
          const manifest = manifestOf({
            config: { ...descriptorOf(img.config, MediaType.OCI_CONFIG), size: img.config.bytes.byteLength + 1 },
            layers: []
          })
          const reply = yield* send("PUT", "/v2/app/manifests/v1", { body: manifest.bytes, contentType: MediaType.OCI_MANIFEST })
          expectError(reply, 400, "MANIFEST_INVALID")
        }))

      test("does not require non-distributable layers to be in the registry", () =>
        Effect.gen(function*() {
          const img = image()
          yield* pushBlob("app", img.config)
          const foreign = blob("a foreign layer we never get")
          const manifest = manifestOf({
            config: descriptorOf(img.config, MediaType.OCI_CONFIG),
            layers: [descriptorOf(foreign, MediaType.OCI_RESTRICTED_LAYER_GZIP)]
          })
          expect((yield* pushManifest("app", "foreign", manifest)).status).toBe(201)
        }))

      test("accepts an index whose children are manifests of the repository", () =>
        Effect.gen(function*() {
          const a = image(1)
          const b = image(2)
          yield* pushImage("multi", "amd64", a)
          yield* pushImage("multi", "arm64", b)
          const index = blob(JSON.stringify({
            schemaVersion: 2,
            mediaType: MediaType.OCI_INDEX,
            manifests: [
              { ...descriptorOf(a.manifest, MediaType.OCI_MANIFEST), platform: { os: "linux", architecture: "amd64" } },
              { ...descriptorOf(b.manifest, MediaType.OCI_MANIFEST), platform: { os: "linux", architecture: "arm64" } }
            ]
          }))
          yield* pushManifest("multi", "latest", index, MediaType.OCI_INDEX)
          const reply = yield* send("GET", "/v2/multi/manifests/latest")
          expect(reply.headers["content-type"]).toBe(MediaType.OCI_INDEX)
          same(reply.body, index.bytes)
        }))

      test("refuses an index whose child manifests are not in the repository with MANIFEST_BLOB_UNKNOWN", () =>
        Effect.gen(function*() {
          const a = image(1)
          yield* pushImage("elsewhere", "v1", a)
          const index = blob(JSON.stringify({
            schemaVersion: 2,
            mediaType: MediaType.OCI_INDEX,
            manifests: [descriptorOf(a.manifest, MediaType.OCI_MANIFEST)]
          }))
          const reply = yield* send("PUT", "/v2/multi/manifests/latest", { body: index.bytes, contentType: MediaType.OCI_INDEX })
          expectError(reply, 400, "MANIFEST_BLOB_UNKNOWN")
        }))

      test("refuses documents that are not image manifests or indexes with MANIFEST_INVALID", () =>
        Effect.gen(function*() {
          const cases: ReadonlyArray<readonly [string, string]> = [
            ["non-json.manifest.json", MediaType.OCI_MANIFEST],
            ["v2s1.manifest.json", MediaType.DOCKER_MANIFEST_SCHEMA1_SIGNED],
            ["v2s1-unsigned.manifest.json", MediaType.DOCKER_MANIFEST_SCHEMA1],
            ["unknown-version.manifest.json", MediaType.OCI_MANIFEST],
            ["ociv1.artifact.json", "application/vnd.oci.artifact.manifest.v1+json"]
          ]
          for (const [name, contentType] of cases) {
            const reply = yield* send("PUT", "/v2/app/manifests/bad", { body: fixture(name), contentType })
            expect({ name, status: reply.status }).toEqual({ name, status: 400 })
            expect(errorCodes(reply)).toEqual(["MANIFEST_INVALID"])
          }
          expect((yield* send("GET", "/v2/app/manifests/bad")).status).toBe(404)
        }))

      test("refuses a manifest whose mediaType contradicts its Content-Type", () =>
        Effect.gen(function*() {
          const img = image()
          for (const b of img.blobs) yield* pushBlob("app", b)
          const reply = yield* send("PUT", "/v2/app/manifests/v1", { body: img.manifest.bytes, contentType: MediaType.DOCKER_MANIFEST })
          expectError(reply, 400, "MANIFEST_INVALID")
        }))

      test("refuses an invalid tag with MANIFEST_INVALID", () =>
        Effect.gen(function*() {
          const img = image()
          for (const b of img.blobs) yield* pushBlob("app", b)
          const reply = yield* send("PUT", "/v2/app/manifests/.hidden", { body: img.manifest.bytes, contentType: MediaType.OCI_MANIFEST })
          expectError(reply, 400, "MANIFEST_INVALID")
        }))

      test("answers MANIFEST_UNKNOWN for an unknown tag and NAME_UNKNOWN for an unknown repository", () =>
        Effect.gen(function*() {
          yield* pushImage("app", "v1", image())
          expectError(yield* send("GET", "/v2/app/manifests/v2"), 404, "MANIFEST_UNKNOWN")
          expectError(yield* send("GET", `/v2/app/manifests/${Digest.fromBytes("x")}`), 404, "MANIFEST_UNKNOWN")
          expectError(yield* send("GET", "/v2/app/manifests/.INVALID_MANIFEST_NAME"), 404, "MANIFEST_UNKNOWN")
          expectError(yield* send("GET", "/v2/nothing/here/manifests/v1"), 404, "NAME_UNKNOWN")
          expect((yield* send("HEAD", "/v2/app/manifests/v2")).status).toBe(404)
        }))

      test("answers DIGEST_INVALID 400 for a malformed digest reference", () =>
        Effect.gen(function*() {
          expectError(yield* send("GET", "/v2/app/manifests/sha256:totallywrong"), 400, "DIGEST_INVALID")
          expectError(yield* send("DELETE", "/v2/app/manifests/sha256:totallywrong"), 400, "DIGEST_INVALID")
        }))

      test("moves a tag to the manifest pushed last under it", () =>
        Effect.gen(function*() {
          const a = image(1)
          const b = image(2)
          yield* pushImage("app", "latest", a)
          yield* pushImage("app", "latest", b)
          expect((yield* send("HEAD", "/v2/app/manifests/latest")).headers["docker-content-digest"]).toBe(b.manifest.digest)
          expect((yield* send("HEAD", `/v2/app/manifests/${a.manifest.digest}`)).status).toBe(200)
        }))

      test("adds the tags of ?tag= parameters and names them in OCI-Tag", () =>
        Effect.gen(function*() {
          const img = image()
          for (const b of img.blobs) yield* pushBlob("app", b)
          const reply = yield* send("PUT", `/v2/app/manifests/${img.manifest.digest}?tag=1.2.3&tag=1.2&tag=latest`, {
            body: img.manifest.bytes,
            contentType: MediaType.OCI_MANIFEST
          })
          expect(reply.status).toBe(201)
          expect(reply.headers["oci-tag"]).toBe("1.2.3, 1.2, latest")
          expect(json(yield* send("GET", "/v2/app/tags/list")).tags).toEqual(["1.2", "1.2.3", "latest"])
        }))
    })

    describe("size limit", () => {
      test("refuses a manifest larger than the limit with 413", () =>
        Effect.gen(function*() {
          const img = image()
          for (const b of img.blobs) yield* pushBlob("app", b)
          const big = manifestOf({
            config: descriptorOf(img.config, MediaType.OCI_CONFIG),
            layers: [],
            annotations: { padding: "x".repeat(2000) }
          })
          const reply = yield* send("PUT", "/v2/app/manifests/big", { body: big.bytes, contentType: MediaType.OCI_MANIFEST })
          expectError(reply, 413, "MANIFEST_INVALID")
          const streamed = yield* send("PUT", "/v2/app/manifests/big", {
            body: chunked(big.bytes, 100),
            contentType: MediaType.OCI_MANIFEST
          })
          expectError(streamed, 413, "MANIFEST_INVALID")
          expect((yield* pushManifest("app", "small", img.manifest)).status).toBe(201)
        }), { maxManifestSize: 1024 })
    })

    describe("deleting manifests", () => {
      test("deletes a manifest by digest with 202, removing the tags pointing at it", () =>
        Effect.gen(function*() {
          const img = image()
          yield* pushImage("app", "v1", img)
          yield* pushManifest("app", "v2", img.manifest)
          expect((yield* send("DELETE", `/v2/app/manifests/${img.manifest.digest}`)).status).toBe(202)
          expectError(yield* send("GET", `/v2/app/manifests/${img.manifest.digest}`), 404, "MANIFEST_UNKNOWN")
          expectError(yield* send("GET", "/v2/app/manifests/v1"), 404, "MANIFEST_UNKNOWN")
          expect(json(yield* send("GET", "/v2/app/tags/list")).tags).toEqual([])
          expectError(yield* send("DELETE", `/v2/app/manifests/${img.manifest.digest}`), 404, "MANIFEST_UNKNOWN")
        }))

      test("deletes a tag with 202, keeping the manifest", () =>
        Effect.gen(function*() {
          const img = image()
          yield* pushImage("app", "v1", img)
          yield* pushManifest("app", "v2", img.manifest)
          expect((yield* send("DELETE", "/v2/app/manifests/v1")).status).toBe(202)
          expect((yield* send("GET", "/v2/app/manifests/v1")).status).toBe(404)
          expect((yield* send("GET", "/v2/app/manifests/v2")).status).toBe(200)
          expect((yield* send("GET", `/v2/app/manifests/${img.manifest.digest}`)).status).toBe(200)
          expectError(yield* send("DELETE", "/v2/app/manifests/v1"), 404, "MANIFEST_UNKNOWN")
        }))

      test("answers NAME_UNKNOWN 404 to a delete in an unknown repository", () =>
        Effect.gen(function*() {
          expectError(yield* send("DELETE", `/v2/nowhere/manifests/${Digest.fromBytes("x")}`), 404, "NAME_UNKNOWN")
        }))
    })

    describe("deletes disabled", () => {
      test("refuses deletes of manifests, tags and blobs with 405 UNSUPPORTED", () =>
        Effect.gen(function*() {
          const img = image()
          yield* pushImage("app", "v1", img)
          expectError(yield* send("DELETE", `/v2/app/manifests/${img.manifest.digest}`), 405, "UNSUPPORTED")
          expectError(yield* send("DELETE", "/v2/app/manifests/v1"), 405, "UNSUPPORTED")
          expectError(yield* send("DELETE", `/v2/app/blobs/${img.config.digest}`), 405, "UNSUPPORTED")
          expect((yield* send("GET", "/v2/app/manifests/v1")).status).toBe(200)
          expect((yield* send("GET", `/v2/app/blobs/${img.config.digest}`)).status).toBe(200)
        }), { deleteEnabled: false })
    })

    describe("referrers", () => {
      // An artifact about `subject`: its config type is the artifact type unless one is given.
      const pushArtifact = (repository: string, subject: { digest: string; bytes: Uint8Array }, type: string, options: {
        readonly artifactType?: string
        readonly annotation?: string
      } = {}) =>
        Effect.gen(function*() {
          const payload = blob(`payload of ${type} ${options.annotation ?? ""}`)
          const empty = blob("{}")
          yield* pushBlob(repository, payload)
          yield* pushBlob(repository, empty)
          const manifest = manifestOf({
            ...(options.artifactType !== undefined ? { artifactType: options.artifactType } : {}),
            config: options.artifactType !== undefined
              ? descriptorOf(empty, MediaType.OCI_EMPTY_JSON)
              : descriptorOf(payload, type),
            layers: [options.artifactType !== undefined ? descriptorOf(payload, type) : descriptorOf(empty, MediaType.OCI_EMPTY_JSON)],
            subject: descriptorOf(subject, MediaType.OCI_MANIFEST),
            ...(options.annotation !== undefined ? { annotations: { note: options.annotation } } : {})
          })
          const reply = yield* pushManifest(repository, manifest.digest, manifest)
          return { manifest, reply }
        })

      test("answers OCI-Subject and lists the manifest among its subject's referrers", () =>
        Effect.gen(function*() {
          const img = image()
          yield* pushImage("app", "v1", img)
          const sbom = yield* pushArtifact("app", img.manifest, "application/vnd.example.sbom", { annotation: "sbom" })
          expect(sbom.reply.headers["oci-subject"]).toBe(img.manifest.digest)
          const sig = yield* pushArtifact("app", img.manifest, "application/vnd.example.payload", {
            artifactType: "application/vnd.example.signature",
            annotation: "sig"
          })
          const reply = yield* send("GET", `/v2/app/referrers/${img.manifest.digest}`)
          expect(reply.status).toBe(200)
          expect(reply.headers["content-type"]).toBe(MediaType.OCI_INDEX)
          const index = json(reply)
          expect(index.schemaVersion).toBe(2)
          expect(index.mediaType).toBe(MediaType.OCI_INDEX)
          const expected = [
            {
              mediaType: MediaType.OCI_MANIFEST,
              digest: sbom.manifest.digest,
              size: sbom.manifest.bytes.byteLength,
              artifactType: "application/vnd.example.sbom",
              annotations: { note: "sbom" }
            },
            {
              mediaType: MediaType.OCI_MANIFEST,
              digest: sig.manifest.digest,
              size: sig.manifest.bytes.byteLength,
              artifactType: "application/vnd.example.signature",
              annotations: { note: "sig" }
            }
          ].sort((a, b) => (a.digest < b.digest ? -1 : 1))
          expect(index.manifests).toEqual(expected)
        }))

      test("filters referrers by artifactType and says so in OCI-Filters-Applied", () =>
        Effect.gen(function*() {
          const img = image()
          yield* pushImage("app", "v1", img)
          yield* pushArtifact("app", img.manifest, "application/vnd.example.sbom")
          const sig = yield* pushArtifact("app", img.manifest, "application/vnd.example.sig")
          const reply = yield* send("GET", `/v2/app/referrers/${img.manifest.digest}?artifactType=application/vnd.example.sig`)
          expect(reply.headers["oci-filters-applied"]).toBe("artifactType")
          expect(digestsOf(reply)).toEqual([sig.manifest.digest])
          const unfiltered = yield* send("GET", `/v2/app/referrers/${img.manifest.digest}`)
          expect(unfiltered.headers["oci-filters-applied"]).toBeUndefined()
        }))

      test("lists referrers of a subject that was never pushed", () =>
        Effect.gen(function*() {
          const ghost = blob("a manifest that never arrives")
          const artifact = yield* pushArtifact("app", ghost, "application/vnd.example.sbom")
          expect(artifact.reply.headers["oci-subject"]).toBe(ghost.digest)
          const reply = yield* send("GET", `/v2/app/referrers/${ghost.digest}`)
          expect(digestsOf(reply)).toEqual([artifact.manifest.digest])
        }))

      test("answers an empty index for a subject without referrers, even in an unknown repository", () =>
        Effect.gen(function*() {
          for (const repository of ["app", "unknown"]) {
            const reply = yield* send("GET", `/v2/${repository}/referrers/${Digest.fromBytes("nothing")}`)
            expect(reply.status).toBe(200)
            expect(json(reply)).toEqual({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] })
          }
        }))

      test("drops a deleted manifest from its subject's referrers", () =>
        Effect.gen(function*() {
          const img = image()
          yield* pushImage("app", "v1", img)
          const artifact = yield* pushArtifact("app", img.manifest, "application/vnd.example.sbom")
          yield* send("DELETE", `/v2/app/manifests/${artifact.manifest.digest}`)
          expect(json(yield* send("GET", `/v2/app/referrers/${img.manifest.digest}`)).manifests).toEqual([])
        }))

      test("answers DIGEST_INVALID 400 to a malformed subject digest", () =>
        Effect.gen(function*() {
          expectError(yield* send("GET", "/v2/app/referrers/sha256:short"), 400, "DIGEST_INVALID")
        }))
    })

    describe("listing tags and repositories", () => {
      test("lists tags in order and pages them with n and last, with a Link to the next page", () =>
        Effect.gen(function*() {
          const img = image()
          yield* pushImage("app", "b", img)
          for (const tag of ["a", "C", "d", "e"]) yield* pushManifest("app", tag, img.manifest)
          const all = yield* send("GET", "/v2/app/tags/list")
          expect(json(all)).toEqual({ name: "app", tags: ["C", "a", "b", "d", "e"] })
          expect(all.headers.link).toBeUndefined()
          const first = yield* send("GET", "/v2/app/tags/list?n=2")
          expect(json(first).tags).toEqual(["C", "a"])
          expect(first.headers.link).toBe(`</v2/app/tags/list?last=a&n=2>; rel="next"`)
          const next = yield* send("GET", "/v2/app/tags/list?last=a&n=2")
          expect(json(next).tags).toEqual(["b", "d"])
          const last = yield* send("GET", "/v2/app/tags/list?last=d&n=2")
          expect(json(last).tags).toEqual(["e"])
          expect(last.headers.link).toBeUndefined()
          expect(json(yield* send("GET", "/v2/app/tags/list?last=b")).tags).toEqual(["d", "e"])
        }))

      test("answers n=0 with an empty list and no Link", () =>
        Effect.gen(function*() {
          yield* pushImage("app", "v1", image())
          const reply = yield* send("GET", "/v2/app/tags/list?n=0")
          expect(json(reply).tags).toEqual([])
          expect(reply.headers.link).toBeUndefined()
        }))

      test("answers 400 to an n that is not a count", () =>
        Effect.gen(function*() {
          yield* pushImage("app", "v1", image())
          expect((yield* send("GET", "/v2/app/tags/list?n=-1")).status).toBe(400)
          expect((yield* send("GET", "/v2/app/tags/list?n=many")).status).toBe(400)
        }))

      test("answers NAME_UNKNOWN 404 to the tags of an unknown repository", () =>
        Effect.gen(function*() {
          expectError(yield* send("GET", "/v2/unknown/tags/list"), 404, "NAME_UNKNOWN")
        }))

      test("lists the repositories in the catalog, paged with n and last and a Link header", () =>
        Effect.gen(function*() {
          const img = image()
          for (const name of ["zeta", "alpha/one", "alpha", "mid/dle/name"]) yield* pushImage(name, "v1", img)
          expect(json(yield* send("GET", "/v2/_catalog"))).toEqual({ repositories: ["alpha", "alpha/one", "mid/dle/name", "zeta"] })
          const first = yield* send("GET", "/v2/_catalog?n=3")
          expect(json(first).repositories).toEqual(["alpha", "alpha/one", "mid/dle/name"])
          expect(first.headers.link).toBe(`</v2/_catalog?last=mid%2Fdle%2Fname&n=3>; rel="next"`)
          const next = yield* send("GET", "/v2/_catalog?last=mid%2Fdle%2Fname&n=3")
          expect(json(next).repositories).toEqual(["zeta"])
          expect(next.headers.link).toBeUndefined()
        }))
    })

    describe("logging", () => {
      it.effect("calls the logger once per request with its method, URL, status and error code", () =>
        Effect.gen(function*() {
          const entries: Array<Registry.RequestLog> = []
          const logger = (entry: Registry.RequestLog) => Effect.sync(() => void entries.push(entry))
          yield* Effect.gen(function*() {
            yield* send("GET", "/v2/")
            yield* send("GET", "/v2/app/manifests/missing")
          }).pipe(Effect.provide(makeLayer({ logger })))
          expect(entries.map(({ code, method, status, url }) => ({ code, method, status, url }))).toEqual([
            { method: "GET", url: "/v2/", status: 200, code: undefined },
            { method: "GET", url: "/v2/app/manifests/missing", status: 404, code: "NAME_UNKNOWN" }
          ])
          expect(entries.every((e) => e.durationMillis >= 0)).toBe(true)
        }))
    })

    describe("storage", () => {
      test("links pushed blobs to their repository and stores manifests with their media type", () =>
        Effect.gen(function*() {
          const img = image()
          yield* pushImage("app", "v1", img)
          const manifests = yield* ManifestStore.ManifestStore
          for (const b of img.blobs) expect(yield* manifests.hasBlobLink("app", b.digest)).toBe(true)
          const stored = yield* manifests.getManifest("app", "v1")
          expect(Option.map(stored, (m) => m.mediaType)).toEqual(Option.some(MediaType.OCI_MANIFEST))
        }))
    })
  })
}

describe("Registry.layerServer", () => {
  it.effect("listens on a free port with port 0 and tells its address", () =>
    Effect.gen(function*() {
      const url = yield* Registry.url
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(url.endsWith(":0")).toBe(false)
      const response = yield* Effect.promise(() => fetch(`${url}/v2/`))
      expect(response.status).toBe(200)
      expect(response.headers.get("docker-distribution-api-version")).toBe("registry/2.0")
    }).pipe(Effect.provide(Registry.layerServer({ port: 0 }).pipe(Layer.provide(Registry.layerMemory)))))
})

describe("Registry.app", () => {
  it.effect("answers web requests through HttpApp.toWebHandlerLayer", () =>
    Effect.gen(function*() {
      const { dispose, handler } = HttpApp.toWebHandlerLayer(Registry.app, Registry.layerMemory)
      const b = blob("through the web handler")
      const created = yield* Effect.promise(() =>
        handler(new Request(`http://registry.test/v2/web/blobs/uploads/?digest=${b.digest}`, { method: "POST", body: b.bytes }))
      )
      expect(created.status).toBe(201)
      const served = yield* Effect.promise(() => handler(new Request(`http://registry.test/v2/web/blobs/${b.digest}`)))
      expect(new Uint8Array(yield* Effect.promise(() => served.arrayBuffer()))).toEqual(b.bytes)
      yield* Effect.promise(dispose)
    }))
})

describe("Registry.logRequest", () => {
  it.effect("logs a request as one line, at warning level when it was refused", () =>
    Effect.gen(function*() {
      const lines: Array<{ level: string; message: unknown }> = []
      const capture = Logger.make(({ logLevel, message }) => void lines.push({ level: logLevel.label, message }))
      yield* Effect.gen(function*() {
        yield* Registry.logRequest({ method: "GET", url: "/v2/", status: 200, durationMillis: 3 })
        yield* Registry.logRequest({
          method: "GET",
          url: "/v2/a/manifests/x",
          status: 404,
          code: "NAME_UNKNOWN",
          detail: "no such repository",
          durationMillis: 1
        })
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      expect(lines).toEqual([
        { level: "INFO", message: ["GET /v2/ 200 (3 ms)"] },
        { level: "WARN", message: ["GET /v2/a/manifests/x 404 NAME_UNKNOWN no such repository (1 ms)"] }
      ])
    }))
})
