import * as FileSystem from "@effect/platform/FileSystem"
import { expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as TarStream from "tar-stream"
import * as EditCommand from "../../src/crane/EditCommand.js"
import * as Export from "../../src/crane/Export.js"
import * as Inspect from "../../src/crane/Inspect.js"
import * as Push from "../../src/crane/Push.js"
import * as Empty from "../../src/domain/Empty.js"
import * as ImageLayer from "../../src/domain/ImageLayer.js"
import * as Mutate from "../../src/domain/Mutate.js"
import * as Reference from "../../src/domain/Reference.js"
import * as Remote from "../../src/services/Remote.js"
import { env, host, pushImage, pushIndex, text } from "./support.js"

const fixture = (path: string) => fileURLToPath(new URL(`../../../shared/fixtures/ggcr/${path}`, import.meta.url))
const image1 = fixture("tarball/test_image_1.tar")

const bytes = (s: string) => new TextEncoder().encode(s)
const sha256 = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`

interface Entry {
  readonly name: string
  readonly mode: number
  readonly body: string
}

/** The entries of a tar stream with their modes and bodies. */
const entries = <E, R>(tar: Stream.Stream<Uint8Array, E, R>) =>
  Effect.flatMap(Stream.runCollect(tar), (chunks) =>
    Effect.promise(
      () =>
        new Promise<ReadonlyArray<Entry>>((resolve, reject) => {
          const found: Array<Entry> = []
          const extract = TarStream.extract()
          extract.on("entry", (header, body, next) => {
            const parts: Array<Buffer> = []
            body.on("data", (d: unknown) => {
              if (d instanceof Uint8Array) parts.push(Buffer.from(d))
            })
            body.on("end", () => {
              found.push({ name: header.name, mode: header.mode ?? 0, body: Buffer.concat(parts).toString() })
              next()
            })
          })
          extract.on("finish", () => resolve(found))
          extract.on("error", reject)
          extract.end(Buffer.concat(Chunk.toReadonlyArray(chunks)))
        })
    ))

/** A tar of directories and small files. */
const tarOf = (items: ReadonlyArray<{ readonly name: string; readonly type?: "directory"; readonly body?: string }>) =>
  new Promise<Uint8Array>((resolve, reject) => {
    const pack = TarStream.pack()
    const parts: Array<Buffer> = []
    pack.on("data", (d: unknown) => {
      if (d instanceof Uint8Array) parts.push(Buffer.from(d))
    })
    pack.on("end", () => resolve(Buffer.concat(parts)))
    pack.on("error", reject)
    for (const item of items) {
      if (item.type === "directory") pack.entry({ name: item.name, type: "directory", mode: 0o755 })
      else pack.entry({ name: item.name, mode: 0o644 }, item.body ?? "")
    }
    pack.finalize()
  })

/** An editor that records what the file held and writes `next` in its place. */
const recording = (next: (current: string) => string) => {
  const seen: Array<{ readonly path: string; readonly current: string }> = []
  const source = EditCommand.editor((path) =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const current = text(yield* Effect.orDie(fs.readFile(path)))
      seen.push({ path, current })
      yield* Effect.orDie(fs.writeFileString(path, next(current)))
    }))
  return { source, seen }
}

/** A shell script file, for {@link EditCommand.externalEditor}. */
const script = (body: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "crane-edit-test-" })
    const path = join(dir, "editor.sh")
    yield* fs.writeFileString(path, `#!/bin/sh\n${body}\n`)
    yield* fs.chmod(path, 0o755)
    return path
  })

const manifestOf = (ref: string) =>
  Effect.map(Inspect.manifest(ref), (b) => JSON.parse(text(b)) as {
    readonly mediaType?: string
    readonly config: { readonly digest: string; readonly size: number; readonly mediaType: string }
    readonly layers: ReadonlyArray<{ readonly digest: string }>
    readonly annotations?: Record<string, string>
  })

layer(env)("crane EditCommand: replaceConfig", (it) => {
  it("re-encodes the manifest with sorted keys and the config descriptor in ggcr's field order", () => {
    const manifest = bytes(
      `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
        `"config":{"digest":"sha256:${"0".repeat(64)}","size":2,"mediaType":"application/vnd.oci.image.config.v1+json","annotations":{"z":"1","a":"<&>"}},` +
        `"layers":[{"size":3,"mediaType":"m","digest":"sha256:${"1".repeat(64)}"}],"zeta":{"b":1,"a":2}}`
    )
    const config = bytes("{\"new\":true}")
    const replaced = Either.getOrThrow(EditCommand.replaceConfig(manifest, config))
    expect(text(replaced.bytes)).toBe(
      `{"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":${config.byteLength},"digest":"${sha256(config)}",` +
        `"annotations":{"a":"\\u003c\\u0026\\u003e","z":"1"}},` +
        `"layers":[{"digest":"sha256:${"1".repeat(64)}","mediaType":"m","size":3}],` +
        `"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2,"zeta":{"a":2,"b":1}}`
    )
    expect(replaced.config.digest).toBe(sha256(config))
  })

  it("replaces embedded data that matched the old config, and keeps data that did not", () => {
    const old = bytes("{}")
    const config = bytes("{\"a\":1}")
    const withData = (data: string) =>
      bytes(
        `{"schemaVersion":2,"config":{"mediaType":"c","size":2,"digest":"${sha256(old)}","data":"${data}"},"layers":[]}`
      )
    const matched = Either.getOrThrow(EditCommand.replaceConfig(withData(Buffer.from(old).toString("base64")), config))
    expect(matched.config.data).toBe(Buffer.from(config).toString("base64"))
    const stale = Either.getOrThrow(EditCommand.replaceConfig(withData("bm9wZQ=="), config))
    expect(stale.config.data).toBe("bm9wZQ==")
  })

  it("refuses a manifest without a config, or one that is not JSON", () => {
    const missing = EditCommand.replaceConfig(bytes("{\"schemaVersion\":2}"), bytes("{}"))
    expect(Either.isLeft(missing) && missing.left.message).toContain("config missing")
    const notJson = EditCommand.replaceConfig(bytes("nope"), bytes("{}"))
    expect(Either.isLeft(notJson) && notJson.left._tag).toBe("InvalidDocument")
  })

  it("puts manifests under the media type asked for, else the one they name, else the old one", () => {
    const named = bytes("{\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}")
    expect(EditCommand.manifestMediaType(named, "old", "forced")).toBe("forced")
    expect(EditCommand.manifestMediaType(named, "old")).toBe("application/vnd.oci.image.index.v1+json")
    expect(EditCommand.manifestMediaType(bytes("{\"mediaType\":5}"), "old")).toBe("old")
    expect(EditCommand.manifestMediaType(bytes("not json"), "old")).toBe("old")
  })

  it("cleans the path of a file to edit, and refuses the root", () => {
    expect(EditCommand.filePath("/etc//default/./motd")).toEqual(Either.right("etc/default/motd"))
    expect(EditCommand.filePath("../../etc/motd")).toEqual(Either.right("etc/motd"))
    expect(Either.isLeft(EditCommand.filePath("/"))).toBe(true)
    expect(Either.isLeft(EditCommand.filePath(""))).toBe(true)
  })
})

layer(env)("crane EditCommand: against a registry", (it) => {
  it.effect("gives an image new config bytes from content, keeping its layers", () =>
    Effect.gen(function* () {
      yield* Push.push(image1, `${host}/edit/config:v1`)
      const before = yield* manifestOf(`${host}/edit/config:v1`)
      const config = bytes("{\"architecture\":\"arm64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}")
      const edited = yield* EditCommand.editConfig(`${host}/edit/config:v1`, EditCommand.content(Stream.make(config)))
      expect(edited.name).toBe(`${host}/edit/config:v1`)
      expect(text(yield* Inspect.config(`${host}/edit/config:v1`))).toBe(text(config))
      const after = yield* manifestOf(`${host}/edit/config:v1`)
      expect(after.config.digest).toBe(sha256(config))
      expect(after.config.mediaType).toBe(before.config.mediaType)
      expect(after.layers).toEqual(before.layers)
      expect(yield* Inspect.digest(`${host}/edit/config:v1`)).toBe(edited.digest)
    }))

  it.effect("shows the editor the current config, and pushes by the new digest when named by digest", () =>
    Effect.gen(function* () {
      const digest = yield* pushImage("edit/config-digest:v1")
      const original = text(yield* Inspect.config(`${host}/edit/config-digest:v1`))
      const { seen, source } = recording((current) => current.replace("\"os\"", "\"os.note\":\"hi\",\"os\""))
      const edited = yield* EditCommand.editConfig(`${host}/edit/config-digest@${digest}`, source)
      expect(seen.map((s) => s.current)).toEqual([original])
      expect(seen[0]?.path.endsWith(".json")).toBe(true)
      expect(edited.reference._tag).toBe("Digest")
      expect(edited.name).toBe(`${host}/edit/config-digest@${edited.digest}`)
      expect(edited.digest).not.toBe(digest)
      expect(text(yield* Inspect.config(edited.name))).toContain("\"os.note\":\"hi\"")
      // The tag still names the old image: nothing was pushed by tag.
      expect(yield* Inspect.digest(`${host}/edit/config-digest:v1`)).toBe(digest)
    }))

  it.effect("copies the layers when the edited image goes to another repository", () =>
    Effect.gen(function* () {
      yield* pushImage("edit/config-src:v1")
      const edited = yield* EditCommand.editConfig(`${host}/edit/config-src:v1`, EditCommand.content(bytes("{}")), {
        tag: `${host}/edit/config-dst:v1`
      })
      expect(edited.name).toBe(`${host}/edit/config-dst:v1`)
      const manifest = yield* manifestOf(`${host}/edit/config-dst:v1`)
      for (const l of manifest.layers) {
        const blob = yield* Stream.runCollect(yield* Inspect.blob(`${host}/edit/config-dst@${l.digest}`))
        expect(sha256(Buffer.concat(Chunk.toReadonlyArray(blob)))).toBe(l.digest)
      }
    }))

  it.effect("puts new manifest bytes as they are, under the media type they name", () =>
    Effect.gen(function* () {
      yield* pushImage("edit/manifest:v1")
      const raw = text(yield* Inspect.manifest(`${host}/edit/manifest:v1`))
      const annotated = raw.replace("\"schemaVersion\":2", "\"schemaVersion\":2,\"annotations\":{\"edited\":\"yes\"}")
      expect(annotated).not.toBe(raw)
      const edited = yield* EditCommand.editManifest(`${host}/edit/manifest:v1`, EditCommand.content(bytes(annotated)), {
        tag: `${host}/edit/manifest:annotated`
      })
      expect(edited.digest).toBe(sha256(bytes(annotated)))
      expect(text(yield* Inspect.manifest(`${host}/edit/manifest:annotated`))).toBe(annotated)
      expect((yield* Inspect.head(`${host}/edit/manifest:annotated`)).mediaType).toBe(
        (JSON.parse(annotated) as { mediaType: string }).mediaType
      )
    }))

  it.effect("shows the editor an index as it is, never a platform's image", () =>
    Effect.gen(function* () {
      const index = yield* pushIndex("edit/index:v1")
      const raw = text(yield* index.rawManifest)
      const { seen, source } = recording((current) => current)
      const edited = yield* EditCommand.editManifest(`${host}/edit/index:v1`, source)
      expect(seen.map((s) => s.current)).toEqual([raw])
      expect(edited.digest).toBe(yield* index.digest)
    }))

  it.effect("appends a layer holding a new file from content", () =>
    Effect.gen(function* () {
      yield* Push.push(image1, `${host}/edit/fs:v1`)
      const edited = yield* EditCommand.editFile(
        `${host}/edit/fs:v1`,
        "/etc/greeting",
        EditCommand.content(Stream.make(bytes("hello "), bytes("world\n"))),
        { tag: `${host}/edit/fs:greeting`, createdBy: "crane edit fs test" }
      )
      expect(edited.name).toBe(`${host}/edit/fs:greeting`)
      const files = yield* entries(Export.fromReference(`${host}/edit/fs:greeting`))
      expect(files.find((e) => e.name === "etc/greeting")).toEqual({ name: "etc/greeting", mode: 0o555, body: "hello world\n" })
      expect(files.map((e) => e.name)).toContain("foo")
      const config = JSON.parse(text(yield* Inspect.config(`${host}/edit/fs:greeting`))) as {
        history: ReadonlyArray<{ author?: string; created_by?: string }>
      }
      expect(config.history.at(-1)).toMatchObject({ author: "crane", created_by: "crane edit fs test" })
      const before = yield* manifestOf(`${host}/edit/fs:v1`)
      expect((yield* manifestOf(`${host}/edit/fs:greeting`)).layers).toHaveLength(before.layers.length + 1)
    }))

  it.scoped("lets an external editor change a file the image has, keeping its mode", () =>
    Effect.gen(function* () {
      yield* Push.push(image1, `${host}/edit/fs-editor:v1`)
      const before = (yield* entries(Export.fromReference(`${host}/edit/fs-editor:v1`))).find((e) => e.name === "foo")
      expect(before).toBeDefined()
      const editor = yield* script("printf 'was:%s' \"$(cat \"$1\")\" > \"$1\"")
      yield* EditCommand.editFile(`${host}/edit/fs-editor:v1`, "foo", EditCommand.externalEditor(editor))
      const after = (yield* entries(Export.fromReference(`${host}/edit/fs-editor:v1`))).find((e) => e.name === "foo")
      expect(after).toEqual({ name: "foo", mode: before?.mode, body: `was:${before?.body.trimEnd() ?? ""}` })
    }))

  it.effect("starts an editor on an empty file when the image has none at that path", () =>
    Effect.gen(function* () {
      yield* Push.push(image1, `${host}/edit/fs-new:v1`)
      const { seen, source } = recording(() => "new\n")
      yield* EditCommand.editFile(`${host}/edit/fs-new:v1`, "dir/new.conf", source)
      expect(seen.map((s) => s.current)).toEqual([""])
      expect(seen[0]?.path.endsWith(".conf")).toBe(true)
      const files = yield* entries(Export.fromReference(`${host}/edit/fs-new:v1`))
      expect(files.find((e) => e.name === "dir/new.conf")).toEqual({ name: "dir/new.conf", mode: 0o555, body: "new\n" })
    }))

  it.effect("refuses to edit a directory", () =>
    Effect.gen(function* () {
      const tar = yield* Effect.promise(() => tarOf([{ name: "etc/", type: "directory" }, { name: "etc/motd", body: "hi" }]))
      const image = Mutate.appendLayers(Empty.image, [ImageLayer.fromUncompressed(Stream.make(tar))])
      yield* Remote.write(yield* Reference.parse(`${host}/edit/fs-dir:v1`), image)
      const { seen, source } = recording((c) => c)
      const error = yield* Effect.flip(EditCommand.editFile(`${host}/edit/fs-dir:v1`, "/etc", source))
      expect(error._tag === "EditCommandError" && error.reason).toBe("NotAFile")
      expect(seen).toEqual([])
    }))

  it.scoped("fails with the editor's exit status, pushing nothing", () =>
    Effect.gen(function* () {
      const digest = yield* pushImage("edit/editor-fails:v1")
      const editor = yield* script("exit 3")
      const error = yield* Effect.flip(
        EditCommand.editConfig(`${host}/edit/editor-fails:v1`, EditCommand.externalEditor(editor))
      )
      expect(error._tag === "EditCommandError" && error.message).toContain("exited with status 3")
      expect(yield* Inspect.digest(`${host}/edit/editor-fails:v1`)).toBe(digest)
    }))

  it("pushes to the tag given, or the source, or its repository by the new digest", () => {
    const digest = sha256(bytes("x")) as Parameters<typeof EditCommand.destination>[1]
    const tagged = Either.getOrThrow(EditCommand.destination("reg.example/a:1", digest, { tag: "reg.example/b:2" }))
    expect(tagged.name).toBe("reg.example/b:2")
    expect(Either.getOrThrow(EditCommand.destination("reg.example/a:1", digest)).name).toBe("reg.example/a:1")
    const byDigest = Either.getOrThrow(EditCommand.destination(`reg.example/a@${sha256(bytes("y"))}`, digest))
    expect(byDigest.name).toBe(`reg.example/a@${digest}`)
    expect(Reference.isDigest(byDigest.reference)).toBe(true)
  })
})
