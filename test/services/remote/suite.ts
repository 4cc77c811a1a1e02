/**
 * The behaviours of `Remote` that every registry must show, run against each peer: our
 * registry (in-process and over HTTP) and the CNCF distribution registry.
 */
import { expect } from "@effect/vitest"
import type * as Vitest from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Digest from "../../../src/domain/Digest.js"
import * as Empty from "../../../src/domain/Empty.js"
import * as MediaType from "../../../src/domain/MediaType.js"
import * as Mutate from "../../../src/domain/Mutate.js"
import * as Partial from "../../../src/domain/Partial.js"
import * as Platform from "../../../src/domain/Platform.js"
import * as Random from "../../../src/domain/Random.js"
import * as Reference from "../../../src/domain/Reference.js"
import * as RegistryError from "../../../src/services/RegistryError.js"
import * as Remote from "../../../src/services/Remote.js"
import {
  collect,
  digestsOf,
  type Env,
  eventsFor,
  freshRepository,
  Peer,
  progressRecorder,
  readAll,
  recordFromNow,
  requests,
  tagOf
} from "./support.js"

const arm64 = Platform.make({ os: "linux", architecture: "arm64", variant: "v8" })

const randomImage = (seed: string, layers = 3) =>
  Random.image({ layers, layerSize: 20_000, seed, mediaType: MediaType.OCI_MANIFEST })

const textBytes = (s: string) => new TextEncoder().encode(s)

/** Registers the shared behaviours on `it`. */
export const remoteSuite = (it: Vitest.Vitest.MethodsNonLive<Env, true>) => {
  it.effect("pushes a random image and pulls it back with every digest equal", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("roundtrip")
      const image = yield* randomImage("roundtrip")
      const ref = tagOf(repo, "v1")
      yield* Remote.write(ref, image)
      const pulled = yield* Remote.image(ref)
      expect(yield* digestsOf(pulled)).toEqual(yield* digestsOf(image))
      const read = yield* readAll(pulled)
      expect(Buffer.compare(read.config, yield* image.rawConfigFile)).toBe(0)
      expect(read.sizes).toEqual(yield* Effect.forEach(yield* image.layers, (l) => l.size))
      expect(Buffer.compare(yield* pulled.rawManifest, yield* image.rawManifest)).toBe(0)
    }))

  it.effect("writes an image given last in a pipe", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("piped")
      const image = yield* randomImage("piped", 1)
      const ref = tagOf(repo, "v1")
      yield* image.pipe(Remote.write(ref, { concurrency: 1 }))
      expect((yield* Remote.head(ref)).digest).toBe(yield* image.digest)
    }))

  it.effect("sends no blob and no manifest when the tag already names the image", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("again")
      const image = yield* randomImage("again")
      const ref = tagOf(repo, "v1")
      yield* Remote.write(ref, image)
      const sent = yield* recordFromNow
      yield* Remote.write(ref, image)
      expect(sent().map((s) => s.method)).toEqual(["HEAD"])
      expect(sent()[0]?.path).toBe(`/v2/${repo.path}/manifests/v1`)
    }))

  it.effect("skips every blob the registry already has when pushing to a new tag", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("skip")
      const image = yield* randomImage("skip")
      yield* Remote.write(tagOf(repo, "v1"), image)
      const sent = yield* recordFromNow
      const recorder = yield* progressRecorder
      yield* Remote.write(tagOf(repo, "v2"), image, { progress: recorder.progress })
      const blobs = [yield* image.configName, ...(yield* digestsOf(image)).layers]
      expect(requests(sent(), "HEAD", "/blobs/").map((s) => s.path.split("/").at(-1)).sort()).toEqual([...blobs].sort())
      expect(requests(sent(), "POST", "/blobs/uploads")).toEqual([])
      expect(requests(sent(), "PUT", "/blobs/")).toEqual([])
      expect(requests(sent(), "PUT", "/manifests/v2")).toHaveLength(1)
      const events = yield* recorder.events
      for (const digest of blobs) {
        expect(eventsFor(events, digest).map((e) => e._tag === "Skip" ? e.reason : e._tag)).toEqual(["Exists"])
      }
    }))

  it.effect("reports a Start, Advances up to the size and a Done for each uploaded blob", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("progress")
      const image = yield* randomImage("progress", 2)
      const recorder = yield* progressRecorder
      yield* Remote.write(tagOf(repo, "v1"), image, { progress: recorder.progress })
      const events = yield* recorder.events
      for (const layer of yield* image.layers) {
        const digest = yield* layer.digest
        const size = yield* layer.size
        const mine = eventsFor(events, digest)
        expect(mine[0]).toEqual({ _tag: "Start", id: digest, total: size, direction: "Upload" })
        expect(mine.at(-1)).toEqual({ _tag: "Done", id: digest, total: size, direction: "Upload", bytes: size })
        const advances = mine.filter((e) => e._tag === "Advance").map((e) => e._tag === "Advance" ? e.bytes : 0)
        expect(advances.length).toBeGreaterThan(0)
        expect(advances).toEqual([...advances].sort((a, b) => a - b))
        expect(advances.at(-1)).toBe(size)
      }
      const manifest = eventsFor(events, yield* image.digest)
      expect(manifest.map((e) => e._tag)).toEqual(["Start", "Done"])
    }))

  it.effect("reports the bytes of each blob as an image is pulled", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("pull-progress")
      const image = yield* randomImage("pull-progress", 1)
      const ref = tagOf(repo, "v1")
      yield* Remote.write(ref, image)
      const recorder = yield* progressRecorder
      const pulled = yield* Remote.image(ref, { progress: recorder.progress })
      yield* readAll(pulled)
      const [layer] = (yield* digestsOf(image)).layers
      const size = (yield* pulled.manifest).layers[0]?.size
      const mine = eventsFor(yield* recorder.events, layer!)
      expect(mine[0]?._tag).toBe("Start")
      expect(mine.at(-1)).toEqual({ _tag: "Done", id: layer, total: size, direction: "Download", bytes: size })
    }))

  it.effect("mounts the blobs of an image read from another repository instead of uploading them", () =>
    Effect.gen(function*() {
      const source = yield* freshRepository("mount-source")
      const target = yield* freshRepository("mount-target")
      yield* Remote.write(tagOf(source, "v1"), yield* randomImage("mount"))
      const pulled = yield* Remote.image(tagOf(source, "v1"))
      const sent = yield* recordFromNow
      yield* Remote.write(tagOf(target, "v1"), pulled)
      const posts = requests(sent(), "POST", "/blobs/uploads")
      expect(posts).toHaveLength(4)
      for (const post of posts) expect(post.query.get("from")).toBe(source.path)
      expect(requests(sent(), "PUT", "/blobs/")).toEqual([])
      expect(requests(sent(), "PATCH", "/blobs/")).toEqual([])
      expect(requests(sent(), "GET", "/blobs/")).toEqual([])
      expect(yield* digestsOf(yield* Remote.image(tagOf(target, "v1")))).toEqual(yield* digestsOf(pulled))
    }))

  it.effect("mounts from the repositories named by mountFrom", () =>
    Effect.gen(function*() {
      const source = yield* freshRepository("mountfrom-source")
      const target = yield* freshRepository("mountfrom-target")
      const image = yield* randomImage("mountfrom")
      yield* Remote.write(tagOf(source, "v1"), image)
      const sent = yield* recordFromNow
      const recorder = yield* progressRecorder
      yield* Remote.write(tagOf(target, "v1"), image, { mountFrom: source, progress: recorder.progress })
      expect(requests(sent(), "POST", "/blobs/uploads").every((p) => p.query.get("mount") !== null)).toBe(true)
      expect(requests(sent(), "PUT", "/blobs/")).toEqual([])
      const skips = (yield* recorder.events).filter((e) => e._tag === "Skip")
      expect(skips.map((e) => e._tag === "Skip" ? e.reason : "")).toEqual(["Mounted", "Mounted", "Mounted", "Mounted"])
    }))

  it.effect("uploads blobs in PATCH chunks of chunkSize when asked", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("chunked")
      const image = yield* Random.image({ layers: 1, layerSize: 100_000, seed: "chunked", compression: "none" })
      const [layer] = yield* image.layers
      const size = yield* layer!.size
      const sent = yield* recordFromNow
      yield* Remote.write(tagOf(repo, "v1"), image, { chunkSize: 32 * 1024 })
      const patches = requests(sent(), "PATCH", "/blobs/uploads")
      expect(patches.length).toBe(Math.ceil(size / (32 * 1024)) + 1)
      const ranges = patches.map((p) => p.headers["content-range"])
      expect(ranges).toContain("32768-65535")
      expect(ranges).toContain(`98304-${size - 1}`)
      const pulled = yield* Remote.image(tagOf(repo, "v1"))
      expect(yield* digestsOf(pulled)).toEqual(yield* digestsOf(image))
      yield* readAll(pulled)
    }))

  it.effect("pushes an index and pulls the image of each platform from it", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("index")
      const index = yield* Random.index({
        images: 2,
        layers: 1,
        layerSize: 5_000,
        seed: "index",
        platforms: [Platform.defaultPlatform, arm64]
      })
      const ref = tagOf(repo, "multi")
      yield* Remote.writeIndex(ref, index)
      const children = (yield* index.indexManifest).manifests
      const amd = yield* Remote.image(ref)
      expect(yield* amd.digest).toBe(children[0]?.digest)
      const arm = yield* Remote.image(ref, { platform: arm64 })
      expect(yield* arm.digest).toBe(children[1]?.digest)
      expect((yield* arm.descriptor).platform).toEqual(arm64)
      yield* readAll(arm)
      const pulled = yield* Remote.index(ref)
      expect(yield* pulled.digest).toBe(yield* index.digest)
      const child = yield* pulled.image(children[1]!.digest)
      expect((yield* child.configFile).architecture).toBe("arm64")
    }))

  it.effect("fails with a RemoteError listing the platforms an index has when none matches", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("noplatform")
      const index = yield* Random.index({
        images: 2,
        layers: 1,
        layerSize: 1_000,
        seed: "noplatform",
        platforms: [Platform.defaultPlatform, arm64]
      })
      const ref = tagOf(repo, "multi")
      yield* Remote.writeIndex(ref, index)
      const s390x = Platform.make({ os: "linux", architecture: "s390x" })
      const error = yield* Effect.flip(Remote.image(ref, { platform: s390x }))
      expect(error._tag).toBe("RemoteError")
      if (error._tag !== "RemoteError") return
      expect(error.reason).toBe("NoMatchingPlatform")
      expect(error.available?.map(Platform.format)).toEqual(["linux/amd64", "linux/arm64/v8"])
      expect(error.message).toContain("linux/s390x")
      expect(error.message).toContain("linux/arm64/v8")
    }))

  it.effect("skips the children of an index the registry already has", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("index-skip")
      const index = yield* Random.index({ images: 2, layers: 1, layerSize: 2_000, seed: "index-skip" })
      const children = (yield* index.indexManifest).manifests
      const first = yield* index.image(children[0]!.digest)
      yield* Remote.write(Reference.withDigest(repo, children[0]!.digest), first)
      const sent = yield* recordFromNow
      yield* Remote.writeIndex(tagOf(repo, "multi"), index)
      const manifestPuts = requests(sent(), "PUT", "/manifests/").map((s) => s.path.split("/").at(-1))
      expect(manifestPuts).toEqual([children[1]!.digest, "multi"])
      const heads = requests(sent(), "HEAD", "/manifests/").map((s) => s.path.split("/").at(-1))
      expect(heads).toContain(children[0]!.digest)
    }))

  it.effect("writes a nested index and reads its inner index and images back", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("nested")
      const inner = yield* Random.index({ images: 1, layers: 1, layerSize: 2_000, seed: "nested-inner" })
      const sibling = yield* randomImage("nested-sibling", 1)
      const outer = Mutate.appendManifests(Empty.index, [{ add: inner }, { add: sibling }])
      const ref = tagOf(repo, "nested")
      yield* Remote.writeIndex(ref, outer)
      const [innerDescriptor, siblingDescriptor] = (yield* outer.indexManifest).manifests
      expect(innerDescriptor?.mediaType).toBe(MediaType.OCI_INDEX)
      const pulled = yield* Remote.index(ref)
      expect(yield* pulled.digest).toBe(yield* outer.digest)
      const pulledInner = yield* pulled.imageIndex(innerDescriptor!.digest)
      expect(yield* pulledInner.digest).toBe(yield* inner.digest)
      const [innerChild] = (yield* inner.indexManifest).manifests
      yield* readAll(yield* pulledInner.image(innerChild!.digest))
      // An index listed without a platform counts as linux/amd64: the image is looked for in it.
      expect(yield* (yield* Remote.image(ref)).digest).toBe(innerChild!.digest)
      expect((yield* Remote.image(Reference.withDigest(repo, siblingDescriptor!.digest))).digest).toBeDefined()
    }))

  it.effect("fails with UnexpectedMediaType when an index is asked for and an image is there", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("not-index")
      const ref = tagOf(repo, "v1")
      yield* Remote.write(ref, yield* randomImage("not-index", 1))
      const error = yield* Effect.flip(Remote.index(ref))
      expect(error._tag === "RemoteError" ? error.reason : error._tag).toBe("UnexpectedMediaType")
    }))

  it.effect("heads the descriptor that get fetches", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("head")
      const image = yield* randomImage("head", 1)
      const ref = tagOf(repo, "v1")
      yield* Remote.write(ref, image)
      const headed = yield* Remote.head(ref)
      const fetched = yield* Remote.get(ref)
      expect(headed).toEqual({ mediaType: MediaType.OCI_MANIFEST, digest: yield* image.digest, size: yield* image.size })
      expect(fetched.descriptor).toEqual(headed)
      expect(Buffer.compare(fetched.bytes, yield* image.rawManifest)).toBe(0)
      expect(fetched.mediaType).toBe(MediaType.OCI_MANIFEST)
    }))

  it.effect("tags the same manifest bytes under another tag", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("tag")
      const image = yield* randomImage("tag", 1)
      yield* Remote.write(tagOf(repo, "v1"), image)
      const fetched = yield* Remote.get(tagOf(repo, "v1"))
      yield* Remote.tag(tagOf(repo, "stable"), fetched)
      yield* image.pipe(Remote.tag(tagOf(repo, "latest")))
      for (const tag of ["stable", "latest"]) {
        expect((yield* Remote.head(tagOf(repo, tag))).digest).toBe(yield* image.digest)
      }
    }))

  it.effect("lists every tag of a repository, following the pages", () =>
    Effect.gen(function*() {
      const peer = yield* Peer
      const repo = yield* freshRepository("tags")
      const image = yield* randomImage("tags", 1)
      yield* Remote.write(tagOf(repo, "t1"), image)
      for (const tag of ["t2", "t3", "t4", "t5"]) yield* Remote.tag(tagOf(repo, tag), image)
      const sent = yield* recordFromNow
      const tags = yield* Remote.list(repo, { pageSize: 2 })
      expect([...tags].sort()).toEqual(["t1", "t2", "t3", "t4", "t5"])
      // docker-registry 2.8 does not page tags lists; ours does.
      if (peer.ours) expect(requests(sent(), "GET", "/tags/list")).toHaveLength(3)
    }))

  it.effect("lists one page of tags after a given tag", () =>
    Effect.gen(function*() {
      const peer = yield* Peer
      const repo = yield* freshRepository("tagpage")
      const image = yield* randomImage("tagpage", 1)
      yield* Remote.write(tagOf(repo, "a"), image)
      for (const tag of ["b", "c"]) yield* Remote.tag(tagOf(repo, tag), image)
      const page = yield* Remote.listPage(repo, { n: 1, last: "a" })
      if (peer.ours) {
        expect(page.items).toEqual(["b"])
        expect(Option.isSome(page.next)).toBe(true)
        const next = yield* Remote.listPage(repo, Option.getOrThrow(page.next))
        expect(next.items).toEqual(["c"])
      } else {
        expect(page.items).toContain("b")
      }
    }))

  it.effect("lists the repositories of the catalog", () =>
    Effect.gen(function*() {
      const peer = yield* Peer
      const first = yield* freshRepository("catalog")
      const second = yield* freshRepository("catalog")
      const image = yield* randomImage("catalog", 1)
      yield* Remote.write(tagOf(first, "v1"), image)
      yield* Remote.write(tagOf(second, "v1"), image)
      const registry = first.registry
      const all = yield* Remote.catalog(registry, { pageSize: 2 })
      expect(all).toContain(first.path)
      expect(all).toContain(second.path)
      expect(new Set(all).size).toBe(all.length)
      const page = yield* Remote.catalogPage(registry, { n: 1 })
      expect(page.items).toHaveLength(1)
      if (peer.ours) expect(Option.isSome(page.next)).toBe(true)
    }))

  it.effect("deletes a manifest, after which get fails with MANIFEST_UNKNOWN", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("delete")
      const image = yield* randomImage("delete", 1)
      yield* Remote.write(tagOf(repo, "v1"), image)
      const byDigest = Reference.withDigest(repo, yield* image.digest)
      yield* Remote.delete(byDigest)
      const error = yield* Effect.flip(Remote.get(byDigest))
      expect(RegistryError.hasCode("MANIFEST_UNKNOWN")(error)).toBe(true)
      expect(RegistryError.hasStatus(404)(error)).toBe(true)
      const headError = yield* Effect.flip(Remote.head(byDigest))
      expect(RegistryError.hasCode("MANIFEST_UNKNOWN")(headError)).toBe(true)
    }))

  it.effect("writes one blob with writeLayer and reads it back with layer", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("blob")
      const layer = Partial.staticLayer(textBytes("a blob of text"), "text/plain")
      yield* Remote.writeLayer(repo, layer)
      const digest = yield* layer.digest
      const read = yield* Remote.layer(Reference.withDigest(repo, digest))
      expect(yield* read.size).toBe(14)
      const bytes = new TextDecoder().decode(yield* collect(read.compressed))
      expect(bytes).toBe("a blob of text")
      expect(Option.getOrThrow(Remote.mountSource(read))).toEqual(repo)
    }))

  it.effect("finds the referrers of a manifest and filters them by artifact type", () =>
    Effect.gen(function*() {
      const peer = yield* Peer
      const repo = yield* freshRepository("referrers")
      const subject = yield* randomImage("subject", 1)
      yield* Remote.write(tagOf(repo, "v1"), subject)
      const signature = Mutate.subject(
        Partial.fromLayers(Effect.succeed(textBytes("{}")), Effect.succeed([Partial.staticLayer(textBytes("sig"), "text/plain")]), {
          mediaType: MediaType.OCI_MANIFEST,
          configMediaType: MediaType.OCI_EMPTY_JSON,
          artifactType: "application/vnd.example.signature"
        }),
        yield* subject.descriptor
      )
      const sbom = Mutate.subject(
        Partial.fromLayers(Effect.succeed(textBytes("{}")), Effect.succeed([Partial.staticLayer(textBytes("sbom"), "text/plain")]), {
          mediaType: MediaType.OCI_MANIFEST,
          configMediaType: "application/vnd.example.sbom"
        }),
        yield* subject.descriptor
      )
      const sent = yield* recordFromNow
      yield* Remote.write(Reference.withDigest(repo, yield* signature.digest), signature)
      yield* Remote.write(Reference.withDigest(repo, yield* sbom.digest), sbom)
      const fallback = Remote.fallbackTag(Reference.withDigest(repo, yield* subject.digest))
      expect(fallback.tag).toBe(`sha256-${Digest.hex(yield* subject.digest)}`)
      const fallbackPuts = requests(sent(), "PUT", `/manifests/${fallback.tag}`)
      // Our registry tracks referrers (OCI-Subject); docker-registry needs the fallback tag.
      expect(fallbackPuts).toHaveLength(peer.ours ? 0 : 2)

      const subjectRef = Reference.withDigest(repo, yield* subject.digest)
      const all = yield* Remote.referrers(subjectRef)
      expect(all.mediaType).toBe(MediaType.OCI_INDEX)
      expect(all.manifests.map((d) => d.digest).sort()).toEqual([yield* signature.digest, yield* sbom.digest].sort())
      const byType = new Map(all.manifests.map((d) => [d.digest, d.artifactType]))
      expect(byType.get(yield* signature.digest)).toBe("application/vnd.example.signature")
      expect(byType.get(yield* sbom.digest)).toBe("application/vnd.example.sbom")

      const signatures = yield* Remote.referrers(subjectRef, { artifactType: "application/vnd.example.signature" })
      expect(signatures.manifests.map((d) => d.digest)).toEqual([yield* signature.digest])
      const none = yield* Remote.referrers(Reference.withDigest(repo, Digest.fromBytes("nothing refers to this")))
      expect(none.manifests).toEqual([])
    }))
}
