/**
 * Legacy `docker save` tarballs (the v1.2 layout), written as ggcr's `pkg/legacy/tarball`
 * writes them, for tools that still read the per-layer directories.
 *
 * Each image's config is stored as `<hex>.json`; each layer as a directory named by its v1
 * id holding `layer.tar` (the uncompressed layer), `json` (v1 layer metadata) and `VERSION`
 * (`1.0`). The v1 id of a layer is the sha256 of its compressed digest's hex and its
 * parent's id; the top layer's also covers the config's bytes. `manifest.json` lists each
 * image (`Config`, `RepoTags`, `Layers`, `LayerSources` for foreign layers) and
 * `repositories` maps each repository and tag to the image's top layer id.
 *
 * A tar header needs each entry's size first, and a layer's uncompressed size is rarely
 * known. {@link write} (a byte stream) reads each layer's uncompressed bytes once to count
 * them and once more to write them, as ggcr does; {@link writeToFile} reads each layer once,
 * spooling it to a file next to the output. Either way every layer's uncompressed bytes are
 * checked against its diff id as they stream, and nothing whole is held in memory.
 *
 * Reading such a tarball needs no module of its own: `Tarball.image` reads it.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import * as Descriptor from "../domain/Descriptor.js"
import * as Digest from "../domain/Digest.js"
import type { DigestMismatch, SizeMismatch } from "../domain/Errors.js"
import type * as Image from "../domain/Image.js"
import type * as ImageLayer from "../domain/ImageLayer.js"
import * as Json from "../domain/internal/json.js"
import * as TarStream from "../domain/internal/tar.js"
import * as MediaType from "../domain/MediaType.js"
import * as Reference from "../domain/Reference.js"
import { LegacyTarballError } from "./internal/legacyError.js"
import * as Legacy from "./internal/legacyLayers.js"
import type * as Tarball from "./Tarball.js"
import * as GatherWrites from "../services/internal/gatherWrites.js"
import * as FileOutput from "./internal/fileOutput.js"

/**
 * The typed failure of legacy tarball writes, with a `reason` for each case.
 *
 * @since 0.1.0
 */
export { LegacyTarballError, type LegacyTarballErrorReason } from "./internal/legacyError.js"

/**
 * How writing a legacy tarball may fail: an image's own error, a legacy tarball error, or a
 * layer whose uncompressed bytes are not the ones its diff id names.
 *
 * @since 0.1.0
 */
export type WriteError<E> = E | LegacyTarballError | DigestMismatch | SizeMismatch

/**
 * What to write: pairs of a reference and an image. An image under several tags is written
 * once with all of them; an image under digest references only is written without tags (and
 * without a `repositories` entry), as ggcr does.
 *
 * @since 0.1.0
 */
export type Images<E> = Tarball.Images<E>

/**
 * The v1 id of a layer, as ggcr's legacy writer computes it: the sha256 hex of
 * `"<digest hex> <parent id>"`, and for the top layer `" "` and the image config's exact
 * bytes after that. The bottom layer's parent id is `""`.
 *
 * @since 0.1.0
 */
export const layerId = (digest: Digest.Digest, parent: string, rawConfig?: Uint8Array): string =>
  Legacy.layerId(digest, parent, rawConfig)

const MANIFEST = "manifest.json"
const REPOSITORIES = "repositories"
const VERSION = new TextEncoder().encode("1.0")

type Planned<E> =
  | { readonly _tag: "Bytes"; readonly name: string; readonly bytes: Uint8Array }
  | { readonly _tag: "Layer"; readonly name: string; readonly layer: ImageLayer.ImageLayer<E> }

interface Plan<E> {
  readonly manifest: Tarball.Manifest
  readonly repositories: Readonly<Record<string, Readonly<Record<string, string>>>>
  readonly files: ReadonlyArray<Planned<E>>
}

/** Docker's familiar form of a tag (`ubuntu:latest`, `gcr.io/p/i:v1`), as `docker save` writes. */
const repoTag = (tag: Reference.Tag): string => Reference.shortName(tag)

const familiarRepository = (tag: Reference.Tag): string => {
  const full = Reference.shortName(tag)
  return full.slice(0, full.length - tag.tag.length - 1)
}

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

const plan = <E>(
  images: ReadonlyArray<readonly [Reference.Reference, Image.Image<E>]>
): Effect.Effect<Plan<E>, E | LegacyTarballError> =>
  Effect.gen(function* () {
    const groups: Array<{
      readonly image: Image.Image<E>
      readonly digest: Digest.Digest
      readonly configHex: string
      readonly tags: Array<Reference.Tag>
    }> = []
    for (const [ref, img] of images) {
      const digest = yield* img.digest
      let group = groups.find((g) => g.digest === digest)
      if (group === undefined) {
        group = { image: img, digest, configHex: Digest.hex(yield* img.configName), tags: [] }
        groups.push(group)
      }
      if (ref._tag === "Tag" && !group.tags.some((t) => repoTag(t) === repoTag(ref))) group.tags.push(ref)
    }
    if (groups.length === 0) return yield* Effect.fail(new LegacyTarballError({ reason: "NoImages" }))
    // ggcr orders images by config digest, and each image's tags by name.
    groups.sort((a, b) => compareStrings(a.configHex, b.configHex))
    const manifest: Array<Tarball.ManifestEntry> = []
    const repositories: Record<string, Record<string, string>> = {}
    const files: Array<Planned<E>> = []
    const written = new Set<string>()
    for (const group of groups) {
      const img = group.image
      const configName = `${group.configHex}.json`
      const rawConfig = yield* img.rawConfigFile
      if (!written.has(configName)) {
        written.add(configName)
        files.push({ _tag: "Bytes", name: configName, bytes: rawConfig })
      }
      const m = yield* img.manifest
      const layers = yield* img.layers
      const v1 = yield* Legacy.chain(m.layers.map((d) => d.digest), yield* img.configFile, rawConfig)
      const sources: Record<string, Descriptor.Descriptor> = {}
      const layerFiles: Array<string> = []
      for (const [i, current] of v1.entries()) {
        const layer = layers[i]
        const descriptor = m.layers[i]
        if (layer === undefined || descriptor === undefined) continue
        if (!MediaType.isDistributable(descriptor.mediaType)) sources[yield* layer.diffId] = descriptor
        const name = `${current.id}/layer.tar`
        layerFiles.push(name)
        if (written.has(current.id)) continue
        written.add(current.id)
        files.push(
          { _tag: "Layer", name, layer },
          { _tag: "Bytes", name: `${current.id}/json`, bytes: current.json },
          { _tag: "Bytes", name: `${current.id}/VERSION`, bytes: VERSION }
        )
      }
      const tags = group.tags.map(repoTag).sort(compareStrings)
      manifest.push({
        Config: configName,
        RepoTags: tags.length > 0 ? tags : null,
        Layers: layerFiles,
        ...(Object.keys(sources).length > 0 ? { LayerSources: sources } : {})
      })
      const top = v1[v1.length - 1]
      if (top !== undefined) {
        for (const tag of group.tags) {
          const repository = familiarRepository(tag)
          repositories[repository] = { ...repositories[repository], [tag.tag]: top.id }
        }
      }
    }
    return { manifest, repositories, files }
  })

const manifestShape = Json.array(
  Json.struct(["Config", "RepoTags", "Layers", ["LayerSources", Json.map(Json.descriptorShape)]])
)

/**
 * The `manifest.json` that {@link write} would write for these images.
 *
 * @since 0.1.0
 */
export const computeManifest = <E>(images: Images<E>): Effect.Effect<Tarball.Manifest, E | LegacyTarballError> =>
  Effect.map(plan(Array.from(images)), (planned) => planned.manifest)


/** A layer's uncompressed bytes, ready for a tar entry: their size and a stream of them. */
interface Sized<E> {
  readonly size: number
  readonly body: Stream.Stream<Uint8Array, E>
}

/** How a layer's uncompressed bytes get a size before they are written. */
type Sizer = <E>(layer: Stream.Stream<Uint8Array, E>) => Effect.Effect<Sized<E | LegacyTarballError>, E | LegacyTarballError>

/** Counts the bytes by reading them once, then gives the same stream to read again. */
const countTwice: Sizer = (layer) =>
  Effect.map(
    Stream.runFold(layer, 0, (n, chunk) => n + chunk.byteLength),
    (size) => ({ size, body: layer })
  )

const uncompressedOf = <E>(layer: ImageLayer.ImageLayer<E>): Stream.Stream<Uint8Array, E | DigestMismatch | SizeMismatch> =>
  Stream.unwrap(
    Effect.map(layer.diffId, (diffId) =>
      Digest.verifyStream(layer.uncompressed, diffId, { subject: `layer ${diffId} (uncompressed)` })
    )
  )

const writeWith = <E>(images: Images<E>, sizer: Sizer): Stream.Stream<Uint8Array, WriteError<E>> => {
  const pairs = Array.from(images)
  return Stream.unwrap(
    Effect.map(plan(pairs), (planned) => {
      const manifest = Json.encode(planned.manifest, manifestShape)
      const repositories = Json.encode(planned.repositories, Json.map(Json.map()))
      const files: ReadonlyArray<Planned<E>> = [
        ...planned.files,
        { _tag: "Bytes", name: MANIFEST, bytes: manifest },
        { _tag: "Bytes", name: REPOSITORIES, bytes: repositories }
      ]
      const entries = Stream.fromIterable(files).pipe(
        Stream.mapEffect((file): Effect.Effect<TarStream.Entry<WriteError<E>>, WriteError<E>> =>
          file._tag === "Bytes"
            ? Effect.succeed({ header: TarStream.plainFileHeader(file.name, file.bytes.byteLength), body: Stream.succeed(file.bytes) })
            : Effect.map(sizer(uncompressedOf(file.layer)), (sized) => ({
                header: TarStream.plainFileHeader(file.name, sized.size),
                body: sized.body
              }))
        )
      )
      return TarStream.write(entries).pipe(
        Stream.mapError((error): WriteError<E> =>
          error instanceof TarStream.TarError
            ? new LegacyTarballError({ reason: "Corrupt", detail: error.message, cause: error })
            : error
        )
      )
    })
  )
}

/**
 * Writes images as a legacy tarball (ggcr's `legacy/tarball.MultiWrite`), as a stream of tar
 * bytes: for each image (ordered by config digest) its config as `<hex>.json`, then each of
 * its layers not yet written as `<id>/layer.tar`, `<id>/json` and `<id>/VERSION`; then
 * `manifest.json` and `repositories`. Each layer's uncompressed bytes are read twice, once to
 * learn their size and once into the tar, and checked against its diff id both times.
 * Fails with `NoImages` when given none, `HistoryMismatch` when a config's history does not
 * match its layers.
 *
 * @since 0.1.0
 */
export const write = <E>(images: Images<E>): Stream.Stream<Uint8Array, WriteError<E>> => writeWith(images, countTwice)

/** Spools each layer into its own file in `dir`, counting it; the file goes once read back. */
const spoolInto = (fs: FileSystem.FileSystem, dir: string): Sizer => {
  let next = 0
  return <E>(layer: Stream.Stream<Uint8Array, E>) =>
    Effect.suspend(() => {
      const file = `${dir}/${next++}.tar`
      const io = (cause: PlatformError) => new LegacyTarballError({ reason: "Io", path: file, cause })
      // Gathered writes, which also count the bytes.
      const spooled = Effect.scoped(
        Effect.flatMap(fs.open(file, { flag: "wx" }).pipe(Effect.mapError(io)), (handle) =>
          GatherWrites.writeStream(handle, layer, { onError: io }))
      )
      return spooled.pipe(
        Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.ignore(fs.remove(file, { force: true })))),
        Effect.map((size) => ({
          size,
          body: fs.stream(file, { chunkSize: FileSystem.KiB(256) }).pipe(
            Stream.mapError(io),
            Stream.ensuring(Effect.ignore(fs.remove(file, { force: true })))
          )
        }))
      )
    })
}

/**
 * Writes images as a legacy tarball at `path` (ggcr's `crane.MultiSaveLegacy`). Each layer
 * is read once: its uncompressed bytes are checked against its diff id while they are
 * spooled to a file in a scratch directory next to `path` (removed as soon as the layer is
 * in the tarball), which gives the size the tar header needs. The tarball goes to a
 * temporary file (`<path>.tmp-<random>`) renamed into place once whole; on failure or
 * interruption the temporary and scratch files are removed, so no half-written tarball is
 * ever visible at `path`.
 *
 * @since 0.1.0
 */
export const writeToFile = <E>(
  path: string,
  images: Images<E>
): Effect.Effect<void, WriteError<E>, FileSystem.FileSystem> => {
  const pairs = Array.from(images)
  return Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const scratch = `${path}.spool-${randomBytes(6).toString("hex")}`
    const io = (target: string) => (cause: PlatformError) => new LegacyTarballError({ reason: "Io", path: target, cause })
    yield* fs.makeDirectory(scratch, { mode: 0o700 }).pipe(Effect.mapError(io(scratch)))
    yield* FileOutput.writeAtomically(fs, path, writeWith(pairs, spoolInto(fs, scratch)), io).pipe(
      Effect.ensuring(Effect.ignore(fs.remove(scratch, { recursive: true })))
    )
  })
}
