/**
 * The behaviour every ManifestStore implementation must have. Each layer's test file runs it
 * with a fresh, empty store per test.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Descriptor from "../../src/domain/Descriptor.js"
import * as Digest from "../../src/domain/Digest.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as ManifestStore from "../../src/services/ManifestStore.js"

const text = new TextEncoder()

/** A manifest with distinct bytes per `seed`; the bytes are not re-serialised anywhere. */
export const manifestOf = (seed: string, mediaType: string = MediaType.OCI_MANIFEST): ManifestStore.StoredManifest => {
  const bytes = text.encode(`{"schemaVersion":2,"mediaType":"${mediaType}","seed":"${seed}"}`)
  return { bytes, mediaType, digest: Digest.fromBytes(bytes) }
}

const digestsOf = <E, R>(stream: Stream.Stream<Digest.Digest, E, R>) =>
  Effect.map(Stream.runCollect(stream), (c) => Chunk.toReadonlyArray(c))

const tagsOf = (repository: string, options?: ManifestStore.PageOptions) =>
  Effect.flatMap(ManifestStore.ManifestStore, (store) => store.listTags(repository, options))

export const manifestStoreSuite = (name: string, layer: Layer.Layer<ManifestStore.ManifestStore, unknown>) =>
  describe(`${name}: manifests`, () => {
    const test = <A, E>(title: string, body: () => Effect.Effect<A, E, ManifestStore.ManifestStore>) =>
      it.effect(title, () => Effect.provide(body(), layer))

    test("stores a manifest and finds it by digest and by tag, bytes and media type intact", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        const m = manifestOf("one", MediaType.DOCKER_MANIFEST)
        yield* store.putManifest("library/alpine", m, "3.20")
        const byDigest = yield* store.getManifest("library/alpine", m.digest)
        const byTag = yield* store.getManifest("library/alpine", "3.20")
        for (const found of [byDigest, byTag]) {
          expect(Option.isSome(found)).toBe(true)
          if (Option.isSome(found)) {
            expect(found.value.digest).toBe(m.digest)
            expect(found.value.mediaType).toBe(MediaType.DOCKER_MANIFEST)
            expect(Buffer.compare(found.value.bytes, m.bytes)).toBe(0)
          }
        }
        expect(Option.isNone(yield* store.getManifest("library/alpine", "latest"))).toBe(true)
        expect(Option.isNone(yield* store.getManifest("library/alpine", manifestOf("other").digest))).toBe(true)
        expect(Option.isNone(yield* store.getManifest("library/other", m.digest))).toBe(true)
      }))

    test("refuses a manifest whose bytes are not the ones its digest names", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        const m = manifestOf("one")
        const error = yield* Effect.flip(store.putManifest("repo", { ...m, digest: manifestOf("two").digest }, "t"))
        expect(error._tag).toBe("DigestMismatch")
        expect(Option.isNone(yield* store.getManifest("repo", "t"))).toBe(true)
      }))

    test("moves a tag to the manifest pushed last under it", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        const first = manifestOf("first")
        const second = manifestOf("second")
        yield* store.putManifest("repo", first, "latest")
        yield* store.putManifest("repo", second, "latest")
        const found = yield* store.getManifest("repo", "latest")
        expect(Option.map(found, (m) => m.digest)).toEqual(Option.some(second.digest))
        expect(Option.isSome(yield* store.getManifest("repo", first.digest))).toBe(true)
      }))

    test("deletes a tag but not its manifest", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        const m = manifestOf("m")
        yield* store.putManifest("repo", m, "v1")
        expect(yield* store.deleteTag("repo", "v1")).toBe(true)
        expect(yield* store.deleteTag("repo", "v1")).toBe(false)
        expect(yield* store.deleteTag("nowhere", "v1")).toBe(false)
        expect(Option.isNone(yield* store.getManifest("repo", "v1"))).toBe(true)
        expect(Option.isSome(yield* store.getManifest("repo", m.digest))).toBe(true)
      }))

    test("deletes a manifest with the tags pointing at it and its referrer entries", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        const subject = manifestOf("subject")
        const other = manifestOf("other")
        const signature = manifestOf("signature")
        yield* store.putManifest("repo", subject, "v1")
        yield* store.putManifest("repo", subject, "stable")
        yield* store.putManifest("repo", other, "v2")
        yield* store.putManifest("repo", signature)
        yield* store.putReferrer(
          "repo",
          subject.digest,
          Descriptor.ofBytes(signature.mediaType, signature.bytes, { artifactType: "application/vnd.example.sig" })
        )
        expect(yield* store.listReferrers("repo", subject.digest)).toHaveLength(1)

        expect(yield* store.deleteManifest("repo", subject.digest)).toBe(true)
        expect(Option.isNone(yield* store.getManifest("repo", subject.digest))).toBe(true)
        expect(Option.map(yield* tagsOf("repo"), (p) => p.items)).toEqual(Option.some(["v2"]))
        // Referrers of a deleted subject stay listed, as the spec allows pushing them first.
        expect(yield* store.listReferrers("repo", subject.digest)).toHaveLength(1)

        expect(yield* store.deleteManifest("repo", signature.digest)).toBe(true)
        expect(yield* store.listReferrers("repo", subject.digest)).toEqual([])
        expect(yield* store.deleteManifest("repo", signature.digest)).toBe(false)
        expect(yield* store.deleteManifest("nowhere", signature.digest)).toBe(false)
        expect(yield* digestsOf(store.listManifests("repo"))).toEqual([other.digest])
      }))

    test("lists tags in lexical order, a page at a time", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        const tags = ["v10", "latest", "v2", "V1", "1.0", "_x", "a-b", "a.b", "a_b"]
        for (const tag of tags) yield* store.putManifest("repo", manifestOf(tag), tag)
        const sorted = [...tags].sort()
        expect(yield* tagsOf("repo")).toEqual(Option.some({ items: sorted, more: false }))
        expect(yield* tagsOf("repo", { n: 3 })).toEqual(Option.some({ items: sorted.slice(0, 3), more: true }))
        expect(yield* tagsOf("repo", { n: 3, last: sorted[2]! })).toEqual(
          Option.some({ items: sorted.slice(3, 6), more: true })
        )
        expect(yield* tagsOf("repo", { n: 3, last: sorted[5]! })).toEqual(
          Option.some({ items: sorted.slice(6), more: false })
        )
        expect(yield* tagsOf("repo", { last: "latest" })).toEqual(
          Option.some({ items: sorted.filter((t) => t > "latest"), more: false })
        )
        expect(yield* tagsOf("repo", { n: 0 })).toEqual(Option.some({ items: [], more: true }))
        expect(yield* tagsOf("repo", { last: "zzz" })).toEqual(Option.some({ items: [], more: false }))
      }))

    test("knows unknown repositories from repositories without tags", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        expect(yield* tagsOf("unknown")).toEqual(Option.none())
        yield* store.putManifest("untagged", manifestOf("x"))
        expect(yield* tagsOf("untagged")).toEqual(Option.some({ items: [], more: false }))
      }))

    test("lists repositories in lexical order, a page at a time", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        const names = ["b", "a/b", "a", "a-b", "a/b/c", "library/alpine", "z0"]
        for (const n of names) yield* store.putManifest(n, manifestOf(n))
        yield* store.linkBlob("blobs-only", Digest.fromBytes("layer"))
        const sorted = [...names, "blobs-only"].sort()
        expect(yield* store.listRepositories()).toEqual({ items: sorted, more: false })
        expect(yield* store.listRepositories({ n: 2 })).toEqual({ items: sorted.slice(0, 2), more: true })
        expect(yield* store.listRepositories({ n: 4, last: sorted[1]! })).toEqual({
          items: sorted.slice(2, 6),
          more: true
        })
        expect(yield* store.listRepositories({ n: 100, last: sorted[5]! })).toEqual({
          items: sorted.slice(6),
          more: false
        })
      }))

    test("links blobs to repositories", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        const layer = Digest.fromBytes("layer")
        const config = Digest.fromBytes("config")
        expect(yield* store.hasBlobLink("repo", layer)).toBe(false)
        yield* store.linkBlob("repo", layer)
        yield* store.linkBlob("repo", layer)
        yield* store.linkBlob("repo", config)
        expect(yield* store.hasBlobLink("repo", layer)).toBe(true)
        expect(yield* store.hasBlobLink("other", layer)).toBe(false)
        expect(yield* digestsOf(store.listBlobLinks("repo"))).toEqual([layer, config].sort())
        expect(yield* store.unlinkBlob("repo", layer)).toBe(true)
        expect(yield* store.unlinkBlob("repo", layer)).toBe(false)
        expect(yield* store.hasBlobLink("repo", layer)).toBe(false)
        expect(yield* digestsOf(store.listBlobLinks("nowhere"))).toEqual([])
      }))

    test("keeps referrers with their artifact type and annotations, ordered by digest", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        const subject = manifestOf("image").digest
        const sbom = manifestOf("sbom")
        const sig = manifestOf("sig")
        const sbomDescriptor = Descriptor.ofBytes(sbom.mediaType, sbom.bytes, {
          artifactType: "application/spdx+json",
          annotations: { "org.opencontainers.image.created": "2024-01-01T00:00:00Z" }
        })
        const sigDescriptor = Descriptor.ofBytes(sig.mediaType, sig.bytes, { artifactType: "application/vnd.dev.sig" })
        yield* store.putReferrer("repo", subject, sbomDescriptor)
        yield* store.putReferrer("repo", subject, sigDescriptor)
        yield* store.putReferrer("repo", subject, sigDescriptor)
        const listed = yield* store.listReferrers("repo", subject)
        const expected = [sbomDescriptor, sigDescriptor].sort((a, b) => (a.digest < b.digest ? -1 : 1))
        expect(listed).toEqual(expected)
        expect(yield* store.listReferrers("repo", manifestOf("nothing").digest)).toEqual([])
        expect(yield* store.listReferrers("other", subject)).toEqual([])
      }))

    test("refuses repository names that are not names", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        const m = manifestOf("x")
        const bad = [
          "..",
          "../etc",
          "a/../b",
          "a/./b",
          "a//b",
          "/a",
          "a/",
          "A",
          "_a",
          "a/_manifests",
          "a b",
          "",
          "a\u0000b",
          "a".repeat(256)
        ]
        for (const name of bad) {
          const errors = [
            yield* Effect.flip(store.putManifest(name, m, "t")),
            yield* Effect.flip(store.getManifest(name, "t")),
            yield* Effect.flip(store.deleteManifest(name, m.digest)),
            yield* Effect.flip(store.listTags(name)),
            yield* Effect.flip(store.linkBlob(name, m.digest)),
            yield* Effect.flip(store.hasBlobLink(name, m.digest)),
            yield* Effect.flip(Stream.runDrain(store.listManifests(name)))
          ]
          for (const e of errors) expect(e._tag === "ManifestStoreError" && e.reason).toBe("InvalidName")
        }
        expect(yield* store.listRepositories()).toEqual({ items: [], more: false })
      }))

    test("refuses tags, digests and media types that are not", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        const m = manifestOf("x")
        for (const tag of ["../x", "a/b", ".hidden", "-x", "", "x".repeat(129), "a:b"]) {
          const put = yield* Effect.flip(store.putManifest("repo", m, tag))
          expect(put._tag === "ManifestStoreError" && put.reason).toBe("InvalidTag")
          const reason = tag.includes(":") ? "InvalidDigest" : "InvalidTag"
          expect((yield* Effect.flip(store.getManifest("repo", tag))).reason).toBe(reason)
        }
        expect((yield* Effect.flip(store.getManifest("repo", "sha256:../../x"))).reason).toBe("InvalidDigest")
        expect((yield* Effect.flip(store.linkBlob("repo", "sha256:../x" as Digest.Digest))).reason).toBe(
          "InvalidDigest"
        )
        const badType = yield* Effect.flip(store.putManifest("repo", { ...m, mediaType: "a/b\nc" }))
        expect(badType._tag === "ManifestStoreError" && badType.reason).toBe("InvalidMediaType")
        const badReferrer = yield* Effect.flip(
          store.putReferrer("repo", m.digest, { ...Descriptor.ofBytes(m.mediaType, m.bytes), digest: "x/../y" as Digest.Digest })
        )
        expect(badReferrer.reason).toBe("InvalidDigest")
        const negative = yield* Effect.flip(
          store.putReferrer("repo", m.digest, { ...Descriptor.ofBytes(m.mediaType, m.bytes), size: -1 })
        )
        expect(negative.reason).toBe("InvalidDescriptor")
        expect(yield* tagsOf("repo")).toEqual(Option.none())
      }))

    test("does not let a caller change a stored manifest through its buffer", () =>
      Effect.gen(function*() {
        const store = yield* ManifestStore.ManifestStore
        const m = manifestOf("mutable")
        const bytes = m.bytes.slice()
        yield* store.putManifest("repo", { ...m, bytes }, "t")
        bytes.fill(0)
        const found = yield* store.getManifest("repo", "t")
        expect(Option.map(found, (f) => Buffer.compare(f.bytes, m.bytes))).toEqual(Option.some(0))
      }))
  })
