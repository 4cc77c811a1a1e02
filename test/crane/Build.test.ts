import { describe, expect, it, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { fileURLToPath } from "node:url"
import * as Append from "../../src/crane/Append.js"
import * as Edit from "../../src/crane/Edit.js"
import * as Inspect from "../../src/crane/Inspect.js"
import * as Mutate from "../../src/crane/Mutate.js"
import * as Push from "../../src/crane/Push.js"
import * as Rebase from "../../src/crane/Rebase.js"
import type * as ConfigFile from "../../src/domain/ConfigFile.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Platform from "../../src/domain/Platform.js"
import { env, host, pushImage, pushIndex, text } from "./support.js"

const content = fileURLToPath(new URL("../../../shared/fixtures/ggcr/crane/content.tar", import.meta.url))

const config: ConfigFile.ConfigFile = {
  architecture: "amd64",
  os: "linux",
  rootfs: { type: "layers", diff_ids: [] },
  config: { Env: ["PATH=/bin", "HOME=/root"], Cmd: ["sh"], Labels: { keep: "me" } }
}

describe("crane Edit", () => {
  it("replaces an environment variable where it stands and appends new ones", () => {
    const edited = Either.getOrThrow(Edit.editConfigFile(config, { env: [["HOME", "/home"], ["NEW", "1"]] }))
    expect(edited.config?.Env).toEqual(["PATH=/bin", "HOME=/home", "NEW=1"])
  })

  it("clears the command when it sets an entrypoint, as Docker does", () => {
    const edited = Either.getOrThrow(Edit.editConfigFile(config, { entrypoint: ["/init"] }))
    expect(edited.config?.Entrypoint).toEqual(["/init"])
    expect(edited.config?.Cmd).toBeUndefined()
  })

  it("keeps a command given with the entrypoint", () => {
    const edited = Either.getOrThrow(Edit.editConfigFile(config, { entrypoint: ["/init"], cmd: ["run"] }))
    expect(edited.config?.Cmd).toEqual(["run"])
  })

  it("adds labels to the existing ones", () => {
    const edited = Either.getOrThrow(Edit.editConfigFile(config, { labels: [["new", "label"]] }))
    expect(edited.config?.Labels).toEqual({ keep: "me", new: "label" })
  })

  it("refuses a label with an empty value", () => {
    const result = Edit.editConfigFile(config, { labels: [["empty", ""]] })
    expect(Either.isLeft(result) && result.left.message).toBe("parsing label \"empty\", value is empty")
  })

  it("sets the platform, dropping a variant the new one does not have", () => {
    const edited = Either.getOrThrow(
      Edit.editConfigFile({ ...config, variant: "v7" }, { platform: Platform.make({ os: "linux", architecture: "arm64" }) })
    )
    expect([edited.os, edited.architecture, edited.variant]).toEqual(["linux", "arm64", undefined])
  })

  it("replaces the exposed ports", () => {
    const edited = Either.getOrThrow(Edit.editConfigFile(config, { exposedPorts: ["80/tcp", "443/tcp"] }))
    expect(edited.config?.ExposedPorts).toEqual({ "80/tcp": {}, "443/tcp": {} })
  })

  it("leaves the config as it is when nothing changes", () => {
    expect(Either.getOrThrow(Edit.editConfigFile(config, {}))).toBe(config)
  })

  it("splits key=value at the first =", () => {
    expect(Either.getOrThrow(Edit.parseKeyValue("a=b=c"))).toEqual(["a", "b=c"])
    expect(Either.isLeft(Edit.parseKeyValue("nokey"))).toBe(true)
  })
})

layer(env)("crane Append, Mutate and Rebase", (it) => {
  it.effect("appends a layer file to an empty Docker image", () =>
    Effect.gen(function* () {
      const image = yield* Append.build([content])
      const manifest = yield* image.manifest
      expect(manifest.mediaType).toBe(MediaType.DOCKER_MANIFEST)
      expect(manifest.layers.map((l) => l.mediaType)).toEqual([MediaType.DOCKER_LAYER])
      expect((yield* image.configFile).rootfs.diff_ids).toHaveLength(1)
    }))

  it.effect("appends to an empty OCI image with ociEmptyBase", () =>
    Effect.gen(function* () {
      const image = yield* Append.build([content], { ociEmptyBase: true })
      const manifest = yield* image.manifest
      expect(manifest.mediaType).toBe(MediaType.OCI_MANIFEST)
      expect(manifest.config.mediaType).toBe(MediaType.OCI_CONFIG)
      expect(manifest.layers.map((l) => l.mediaType)).toEqual([MediaType.OCI_LAYER_GZIP])
    }))

  it.effect("appends on a base and annotates the result with the base's digest and name", () =>
    Effect.gen(function* () {
      const base = yield* pushImage("build/base:v1")
      const image = yield* Append.build([content], { base: `${host}/build/base:v1`, baseAnnotations: true })
      const manifest = yield* image.manifest
      expect(manifest.layers).toHaveLength(3)
      expect(manifest.annotations).toEqual({
        [Append.baseDigestAnnotation]: base,
        [Append.baseNameAnnotation]: `${host}/build/base:v1`
      })
    }))

  it.effect("pushes a mutated image by digest to the original repository when no tag is given", () =>
    Effect.gen(function* () {
      const original = yield* pushImage("build/mutate:v1")
      const pushed = yield* Mutate.mutate(`${host}/build/mutate@${original}`, { labels: [["a", "b"]] })
      expect(pushed.repository.path).toBe("build/mutate")
      expect(pushed.digest).not.toBe(original)
      const cf = JSON.parse(text(yield* Inspect.config(`${host}/build/mutate@${pushed.digest}`))) as ConfigFile.ConfigFile
      expect(cf.config?.Labels).toEqual({ a: "b" })
    }))

  it.effect("pushes a mutated image to the tag asked for, with its annotations", () =>
    Effect.gen(function* () {
      yield* pushImage("build/mutate-tag:v1")
      const pushed = yield* Mutate.mutate(`${host}/build/mutate-tag:v1`, {
        tag: `${host}/build/mutate-tag:v2`,
        annotations: [["org.example", "yes"]],
        append: [content]
      })
      expect(yield* Inspect.digest(`${host}/build/mutate-tag:v2`)).toBe(pushed.digest)
      const manifest = JSON.parse(text(yield* Inspect.manifest(`${host}/build/mutate-tag:v2`))) as {
        readonly annotations: Record<string, string>
        readonly layers: ReadonlyArray<unknown>
      }
      expect(manifest.annotations).toEqual({ "org.example": "yes" })
      expect(manifest.layers).toHaveLength(3)
    }))

  it.effect("refuses to annotate an index", () =>
    Effect.gen(function* () {
      yield* pushIndex("build/mutate-index:v1")
      const error = yield* Effect.flip(Mutate.mutate(`${host}/build/mutate-index:v1`, { annotations: [["a", "b"]] }))
      expect(error.message).toBe("mutating annotations on an index is not yet supported")
    }))

  it.effect("refuses a repository and a tag together", () =>
    Effect.gen(function* () {
      yield* pushImage("build/mutate-both:v1")
      const error = yield* Effect.flip(
        Mutate.mutate(`${host}/build/mutate-both:v1`, { tag: `${host}/x:y`, repo: `${host}/z` })
      )
      expect(error.message).toBe("repository can't be set when a tag is specified")
    }))

  it.effect("rebases an image onto a new base and records the new base in its annotations", () =>
    Effect.gen(function* () {
      yield* pushImage("build/old-base:v1", "old-base")
      const newBase = yield* pushImage("build/new-base:v1", "new-base")
      const app = yield* Append.build([content], { base: `${host}/build/old-base:v1`, baseAnnotations: true })
      yield* Push.pushItem(app, `${host}/build/app:v1`)
      const rebased = yield* Rebase.rebase(`${host}/build/app:v1`, {
        oldBase: `${host}/build/old-base:v1`,
        newBase: `${host}/build/new-base:v1`,
        tag: `${host}/build/app:rebased`
      })
      expect(rebased.changed).toBe(true)
      const manifest = JSON.parse(text(yield* Inspect.manifest(`${host}/build/app:rebased`))) as {
        readonly annotations: Record<string, string>
        readonly layers: ReadonlyArray<{ readonly digest: string }>
      }
      const baseLayers = JSON.parse(text(yield* Inspect.manifest(`${host}/build/new-base:v1`))) as {
        readonly layers: ReadonlyArray<{ readonly digest: string }>
      }
      const appLayers = (yield* app.manifest).layers
      expect(manifest.layers.map((l) => l.digest)).toEqual([
        ...baseLayers.layers.map((l) => l.digest),
        appLayers[appLayers.length - 1]?.digest
      ])
      expect(manifest.annotations[Append.baseDigestAnnotation]).toBe(newBase)
    }))

  it.effect("needs to know the new base when the image does not say it", () =>
    Effect.gen(function* () {
      yield* pushImage("build/no-base:v1")
      const error = yield* Effect.flip(Rebase.rebase(`${host}/build/no-base:v1`))
      expect(error.message).toBe("could not determine new base image from annotations")
    }))
})
