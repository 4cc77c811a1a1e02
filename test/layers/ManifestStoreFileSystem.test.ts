import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Descriptor from "../../src/domain/Descriptor.js"
import * as Digest from "../../src/domain/Digest.js"
import * as ManifestStoreFileSystem from "../../src/layers/ManifestStoreFileSystem.js"
import { manifestOf, manifestStoreSuite } from "../services/ManifestStore.suite.js"

const platform = Layer.merge(NodeFileSystem.layer, NodePath.layer)

const freshStore = Layer.unwrapScoped(
  Effect.map(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "manifeststore-" })),
    ManifestStoreFileSystem.layer
  )
).pipe(Layer.provide(platform))

manifestStoreSuite("ManifestStoreFileSystem", freshStore)

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "manifeststore-" }))

const filesUnder = (dir: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const files: Array<string> = []
    for (const entry of yield* fs.readDirectory(dir, { recursive: true })) {
      if ((yield* fs.stat(path.join(dir, entry))).type === "File") files.push(entry)
    }
    return files.sort()
  })

const scoped = <A, E>(title: string, body: () => Effect.Effect<A, E, FileSystem.FileSystem | Path.Path | Scope.Scope>) =>
  it.scoped(title, () => Effect.provide(body(), platform))

describe("ManifestStoreFileSystem: on disk", () => {
  scoped("lays metadata out under repositories/<name>", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const store = yield* ManifestStoreFileSystem.make(dir)
      const m = manifestOf("m")
      const sig = manifestOf("sig")
      const layer = Digest.fromBytes("layer")
      yield* store.putManifest("library/alpine", m, "latest")
      yield* store.linkBlob("library/alpine", layer)
      yield* store.putReferrer("library/alpine", m.digest, Descriptor.ofBytes(sig.mediaType, sig.bytes))
      const hex = (d: Digest.Digest) => Digest.hex(d)
      expect(yield* filesUnder(dir)).toEqual([
        `repositories/library/alpine/_layers/sha256/${hex(layer)}`,
        `repositories/library/alpine/_manifests/referrers/sha256/${hex(m.digest)}/sha256-${hex(sig.digest)}`,
        `repositories/library/alpine/_manifests/revisions/sha256/${hex(m.digest)}`,
        `repositories/library/alpine/_manifests/subjects/sha256/${hex(sig.digest)}/sha256-${hex(m.digest)}`,
        "repositories/library/alpine/_manifests/tags/latest/current"
      ])
    }))

  scoped("a new store over the same directory sees everything", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const before = yield* ManifestStoreFileSystem.make(dir)
      const m = manifestOf("m")
      const sig = manifestOf("sig")
      yield* before.putManifest("repo", m, "v1")
      yield* before.linkBlob("repo", Digest.fromBytes("layer"))
      yield* before.putReferrer("repo", m.digest, Descriptor.ofBytes(sig.mediaType, sig.bytes))

      const after = yield* ManifestStoreFileSystem.make(dir)
      expect(Option.map(yield* after.getManifest("repo", "v1"), (x) => x.digest)).toEqual(Option.some(m.digest))
      expect(yield* after.hasBlobLink("repo", Digest.fromBytes("layer"))).toBe(true)
      expect((yield* after.listReferrers("repo", m.digest)).map((d) => d.digest)).toEqual([sig.digest])
      expect(yield* after.listRepositories()).toEqual({ items: ["repo"], more: false })
    }))

  scoped("notices a stored manifest whose bytes changed", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const store = yield* ManifestStoreFileSystem.make(dir)
      const m = manifestOf("m")
      yield* store.putManifest("repo", m, "v1")
      const file = path.join(dir, "repositories", "repo", "_manifests", "revisions", "sha256", Digest.hex(m.digest))
      yield* fs.writeFileString(file, `${m.mediaType}\n{"tampered":true}`)
      const error = yield* Effect.flip(store.getManifest("repo", "v1"))
      expect(error._tag === "ManifestStoreError" && error.reason).toBe("Corrupt")
    }))

  scoped("touches nothing outside its root whatever it is given", () =>
    Effect.gen(function*() {
      const parent = yield* tempDir
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const root = path.join(parent, "store")
      const store = yield* ManifestStoreFileSystem.make(root)
      const m = manifestOf("m")
      for (const name of ["../escape", "../../escape", "a/../../../escape", "/tmp/escape"]) {
        yield* Effect.flip(store.putManifest(name, m, "t"))
        yield* Effect.flip(store.linkBlob(name, m.digest))
        yield* Effect.flip(store.deleteManifest(name, m.digest))
      }
      for (const tag of ["../../../../escape", "../current"]) {
        yield* Effect.flip(store.putManifest("repo", m, tag))
        yield* Effect.flip(store.deleteTag("repo", tag))
      }
      expect(yield* fs.readDirectory(parent)).toEqual(["store"])
      expect(yield* filesUnder(root)).toEqual([])
    }))
})
