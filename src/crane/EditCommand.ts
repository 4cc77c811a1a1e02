/**
 * Editing what a registry holds by hand (`crane edit config`, `crane edit manifest`,
 * `crane edit fs`), as ggcr's `internal/cmd/edit.go`: the new content comes either as it is
 * (a stream, such as stdin) or from an editor run on a temporary file holding the current
 * content, and the result is pushed by tag, or by digest when the image was named by digest.
 *
 * - config: the image gets the new config bytes; the manifest is re-encoded as ggcr encodes it
 *   (its fields sorted, the config descriptor in ggcr's field order) with the new config's
 *   digest and size, and nothing else changes.
 * - manifest: the new bytes are put as they are, under the media type they name.
 * - fs: a layer holding the one file is appended to the image.
 *
 * (`crane mutate`'s edits are in `crane/Edit`.)
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import * as Compression from "../domain/Compression.js"
import * as Descriptor from "../domain/Descriptor.js"
import * as Digest from "../domain/Digest.js"
import { InvalidDocument, type InvalidReference, type SizeMismatch } from "../domain/Errors.js"
import * as Extract from "../domain/Extract.js"
import type * as Image from "../domain/Image.js"
import * as ImageLayer from "../domain/ImageLayer.js"
import * as Json from "../domain/internal/json.js"
import * as Tar from "../domain/internal/tar.js"
import * as MediaType from "../domain/MediaType.js"
import * as Mutate from "../domain/Mutate.js"
import * as Partial from "../domain/Partial.js"
import * as Reference from "../domain/Reference.js"
import * as Static from "../domain/Static.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import * as Remote from "../services/Remote.js"
import type * as Inspect from "./Inspect.js"
import * as Options from "./Options.js"

// ---------------------------------------------------------------------------------------------
// errors and sources
// ---------------------------------------------------------------------------------------------

/**
 * Why an edit could not be made:
 * - `Editor`: the editor could not be started or did not exit with 0;
 * - `Io`: a temporary file could not be written or read;
 * - `NotAFile`: the path to edit in the image is a directory, link or device;
 * - `BadFilename`: the path to edit names no file (empty, or the root).
 *
 * @since 0.1.0
 */
export type EditCommandErrorReason = "Editor" | "Io" | "NotAFile" | "BadFilename"

/**
 * An edit that could not be made.
 *
 * @since 0.1.0
 */
export class EditCommandError extends Data.TaggedError("EditCommandError")<{
  readonly reason: EditCommandErrorReason
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.detail
  }
}

const io = (what: string) => (cause: unknown) =>
  new EditCommandError({
    reason: "Io",
    detail: `${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })

/**
 * Where the new content of an edit comes from: given as it is (`Content`, as ggcr reads stdin
 * when it is not a terminal), or made by `edit`, which changes in place a temporary file that
 * holds the current content (`Editor`, as ggcr opens `$EDITOR`).
 *
 * @since 0.1.0
 */
export type Source<E = never, R = never> =
  | { readonly _tag: "Content"; readonly content: Stream.Stream<Uint8Array, E, R> }
  | { readonly _tag: "Editor"; readonly edit: (path: string) => Effect.Effect<void, E, R> }

/**
 * New content given as a stream (stdin) or bytes.
 *
 * @since 0.1.0
 */
export const content = <E = never, R = never>(data: Stream.Stream<Uint8Array, E, R> | Uint8Array): Source<E, R> => ({
  _tag: "Content",
  content: data instanceof Uint8Array ? Stream.succeed(data) : data
})

/**
 * New content made by a function that edits a file in place.
 *
 * @since 0.1.0
 */
export const editor = <E = never, R = never>(edit: (path: string) => Effect.Effect<void, E, R>): Source<E, R> => ({
  _tag: "Editor",
  edit
})

/**
 * The editor ggcr opens when none is named: `vi`.
 *
 * @since 0.1.0
 */
export const defaultEditor = "vi"

/**
 * An external editor run on the file, with the terminal as its stdin, stdout and stderr. The
 * command is run by `sh` with the file as its last argument, so it may carry arguments of its
 * own (`EDITOR="code --wait"`), as git runs `$EDITOR`; {@link defaultEditor} when empty.
 *
 * @since 0.1.0
 */
export const externalEditor = (
  command: string | undefined = defaultEditor
): Source<EditCommandError, CommandExecutor.CommandExecutor> => {
  const program = command === undefined || command.trim() === "" ? defaultEditor : command
  return editor((path) =>
    Command.make("sh", "-c", `${program} "$1"`, "crane-edit", path).pipe(
      Command.stdin("inherit"),
      Command.stdout("inherit"),
      Command.stderr("inherit"),
      Command.exitCode,
      Effect.mapError(
        (cause) => new EditCommandError({ reason: "Editor", detail: `running editor ${program}: ${cause.message}`, cause })
      ),
      Effect.flatMap((code) =>
        code === 0
          ? Effect.void
          : Effect.fail(new EditCommandError({ reason: "Editor", detail: `editor ${program} exited with status ${code}` }))
      )
    )
  )
}

/** Runs an editor on a temporary file holding `current`; gives the file's path in the scope. */
const editedFile = <E, R, E2>(
  edit: (path: string) => Effect.Effect<void, E, R>,
  current: Stream.Stream<Uint8Array, E2>,
  extension: string
) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* tempFile(fs, extension)
    yield* Stream.run(current, sinkTo(fs, path))
    yield* edit(path)
    return path
  })

/** A new empty file in a directory of its own, removed with the scope. */
const tempFile = (fs: FileSystem.FileSystem, extension: string) =>
  fs.makeTempFileScoped({ prefix: "crane-edit-", suffix: extension }).pipe(Effect.mapError(io("creating a temporary file")))

/** A sink writing a file, failing with an `Io` error. */
const sinkTo = (fs: FileSystem.FileSystem, path: string) => Sink.mapError(fs.sink(path), io(`writing ${path}`))

/** The new bytes of a document: the content as given, or the edited file (size capped). */
const documentFrom = <E, R, E2>(
  source: Source<E, R>,
  current: Effect.Effect<Uint8Array, E2>,
  subject: string
): Effect.Effect<Uint8Array, E | E2 | EditCommandError | SizeMismatch, R | FileSystem.FileSystem> =>
  source._tag === "Content"
    ? Effect.flatMap(Effect.context<R>(), (ctx) =>
      Partial.collectBytes(Stream.provideContext(source.content, ctx), subject))
    : Effect.scoped(
        Effect.gen(function* () {
          const fs = yield* FileSystem.FileSystem
          const path = yield* editedFile(source.edit, Stream.fromEffect(current), ".json")
          return yield* Partial.collectBytes(
            Stream.mapError(fs.stream(path), io(`reading ${path}`)),
            subject
          )
        })
      )

// ---------------------------------------------------------------------------------------------
// where the result goes
// ---------------------------------------------------------------------------------------------

/**
 * Options of the edits: where the result is pushed.
 *
 * @since 0.1.0
 */
export interface EditOptions extends Options.Options {
  /**
   * The reference to push the result to (`-t`). By default the reference edited, or, when it
   * names a digest, its repository by the new digest.
   */
  readonly tag?: string | undefined
}

/**
 * What an edit pushed: the reference, the digest of the new manifest, and the reference as
 * crane prints it (as it was written, unless it was made here from a digest).
 *
 * @since 0.1.0
 */
export interface Edited {
  readonly reference: Reference.Reference
  readonly digest: Digest.Digest
  readonly name: string
}

/**
 * The reference an edit is pushed to (ggcr's rule): the tag when given; else the source,
 * by the new digest when the source names a digest.
 *
 * @since 0.1.0
 */
export const destination = (
  source: Options.ReferenceInput,
  digest: Digest.Digest,
  options: EditOptions = {}
): Either.Either<Edited, InvalidReference> =>
  Either.gen(function* () {
    if (options.tag !== undefined) {
      return { reference: yield* Options.reference(options.tag, options), digest, name: options.tag }
    }
    const src = yield* Options.reference(source, options)
    if (Reference.isDigest(src)) {
      const reference = Reference.withDigest(src.repository, digest)
      return { reference, digest, name: Reference.name(reference) }
    }
    return { reference: src, digest, name: typeof source === "string" ? source : Reference.format(src) }
  })

const sameRepository = (a: Reference.Repository, b: Reference.Repository): boolean =>
  Reference.repositoryName(a) === Reference.repositoryName(b)

// ---------------------------------------------------------------------------------------------
// config
// ---------------------------------------------------------------------------------------------

/** An object whose fields are written in this order (a Go struct), not sorted (a Go map). */
class Ordered {
  constructor(readonly fields: ReadonlyArray<readonly [string, unknown]>) {}
}

const codePoints = (s: string): Array<number> => Array.from(s, (c) => c.codePointAt(0) ?? 0)

/** Orders keys as Go sorts map keys: by bytes of their UTF-8, which is by code point. */
const compareKeys = (a: string, b: string): number => {
  const x = codePoints(a)
  const y = codePoints(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return d
  }
  return x.length - y.length
}

const goEscapes: Readonly<Record<string, string>> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029"
}

const goString = (s: string): string => JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => goEscapes[c] ?? c)

/**
 * Compact JSON as Go's encoding/json writes a value decoded into `any`: object keys sorted,
 * `<`, `>`, `&`, U+2028 and U+2029 escaped; {@link Ordered} objects keep their field order.
 */
const goJson = (value: unknown): string => {
  if (value instanceof Ordered) {
    return `{${value.fields.filter(([, v]) => v !== undefined).map(([k, v]) => `${goString(k)}:${goJson(v)}`).join(",")}}`
  }
  if (Array.isArray(value)) return `[${value.map(goJson).join(",")}]`
  if (Json.isRecord(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort(compareKeys)
    return `{${keys.map((k) => `${goString(k)}:${goJson(value[k])}`).join(",")}}`
  }
  if (typeof value === "string") return goString(value)
  return JSON.stringify(value)
}

const descriptorFields = ["mediaType", "size", "digest", "data", "urls", "annotations", "platform", "artifactType"]
const platformFields = ["architecture", "os", "os.version", "os.features", "variant", "features"]

/** A record as an {@link Ordered} object: the known fields in order, then the others. */
const ordered = (
  value: Readonly<Record<string, unknown>>,
  known: ReadonlyArray<string>,
  nested: Readonly<Record<string, (v: unknown) => unknown>> = {}
): Ordered => {
  const fields: Array<readonly [string, unknown]> = []
  for (const key of known) {
    const f = nested[key]
    if (value[key] !== undefined) fields.push([key, f === undefined ? value[key] : f(value[key])])
  }
  for (const key of Object.keys(value)) if (!known.includes(key)) fields.push([key, value[key]])
  return new Ordered(fields)
}

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64")

/** True when the descriptor's embedded data are the bytes it describes (ggcr's `verify.Descriptor`). */
const dataMatches = (d: Descriptor.Descriptor): boolean => {
  if (d.data === undefined) return false
  const data = Buffer.from(d.data, "base64")
  return data.byteLength === d.size && Digest.fromBytes(data, Digest.algorithm(d.digest)) === d.digest
}

const badManifest = (detail: string) => new InvalidDocument({ kind: "manifest", reason: "Schema", detail })

/**
 * A manifest with its config descriptor pointing at new config bytes, encoded as ggcr's
 * `edit config` encodes it: the manifest read as a JSON object (so fields it does not know
 * stay, schema-agnostic) and written with sorted keys, the config descriptor in ggcr's field
 * order with the new sha256 digest and size (and embedded `data` replaced when it matched the
 * old config). Gives the bytes and the new config descriptor.
 *
 * @since 0.1.0
 */
export const replaceConfig = (
  manifest: Uint8Array,
  config: Uint8Array
): Either.Either<{ readonly bytes: Uint8Array; readonly config: Descriptor.Descriptor }, InvalidDocument> =>
  Either.gen(function* () {
    const doc = yield* Json.parse(manifest, "manifest")
    if (!Json.isRecord(doc)) return yield* Either.left(badManifest("the manifest is not a JSON object"))
    if (doc["config"] === undefined) return yield* Either.left(badManifest("config missing"))
    const old = yield* Json.decodeValue(Descriptor.Descriptor, doc["config"], "descriptor")
    const { data: _data, ...rest } = old
    const updated: Descriptor.Descriptor = {
      ...rest,
      digest: Digest.fromBytes(config),
      size: config.byteLength,
      ...(old.data !== undefined ? { data: dataMatches(old) ? base64(config) : old.data } : {})
    }
    const encoded = goJson({
      ...doc,
      config: ordered(updated, descriptorFields, {
        platform: (p) => (Json.isRecord(p) ? ordered(p, platformFields) : p)
      })
    })
    return { bytes: new TextEncoder().encode(encoded), config: updated }
  })

/**
 * How editing a config or manifest may fail.
 *
 * @since 0.1.0
 */
export type EditError =
  | Inspect.ImageError
  | Inspect.GetError
  | Remote.PullError
  | Remote.WriteError
  | InvalidDocument
  | SizeMismatch
  | EditCommandError

/**
 * Gives the image a reference names (for the options' platform) a new config and pushes it
 * (`crane edit config`): the new config blob is uploaded, the layers too when the destination
 * is another repository (mounted where the registry can), then the manifest of
 * {@link replaceConfig}, under the media type the image had.
 *
 * @since 0.1.0
 */
export const editConfig = <E = never, R = never>(
  ref: Options.ReferenceInput,
  source: Source<E, R>,
  options: EditOptions = {}
): Effect.Effect<Edited, EditError | E, R | RegistryTransport.RegistryTransport | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const src = yield* Options.reference(ref, options)
    const remote = Options.remote(options)
    const image = yield* Remote.image(src, remote)
    const edited = yield* documentFrom(source, image.rawConfigFile, "edited config")
    const replaced = yield* replaceConfig(yield* image.rawManifest, edited)
    const target = yield* destination(ref, Digest.fromBytes(replaced.bytes), options)
    const repository = target.reference.repository
    yield* Remote.writeLayer(repository, Static.layer(edited, replaced.config.mediaType), remote)
    if (!sameRepository(repository, src.repository)) {
      const manifest = yield* image.manifest
      yield* Effect.forEach(
        manifest.layers,
        (d) =>
          Effect.flatMap(image.layerByDigest(d.digest), (layer) =>
            Remote.writeLayer(repository, layer, { ...remote, mountFrom: src.repository })
          ),
        { concurrency: remote.concurrency, discard: true }
      )
    }
    yield* Remote.put(target.reference, { bytes: replaced.bytes, mediaType: yield* image.mediaType }, remote)
    return target
  })

// ---------------------------------------------------------------------------------------------
// manifest
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@link editManifest}.
 *
 * @since 0.1.0
 */
export interface ManifestOptions extends EditOptions {
  /** The media type to put the manifest with (`-m`); by default the one it names, else the old one. */
  readonly mediaType?: string | undefined
}

/**
 * The media type new manifest bytes are put with (ggcr's rule): the one asked for; else the
 * document's own `mediaType` when it is a non-empty string; else the one it replaces.
 *
 * @since 0.1.0
 */
export const manifestMediaType = (
  bytes: Uint8Array,
  previous: MediaType.MediaType,
  override?: string
): MediaType.MediaType => {
  if (override !== undefined && override !== "") return override
  const doc = Either.getOrUndefined(Json.parse(bytes, "manifest"))
  const own = Json.isRecord(doc) ? doc["mediaType"] : undefined
  return typeof own === "string" && own !== "" ? own : previous
}

/**
 * Replaces the manifest a reference names with new bytes, put as they are (`crane edit
 * manifest`); nothing they reference is written. No platform is picked: an index is edited
 * as an index.
 *
 * @since 0.1.0
 */
export const editManifest = <E = never, R = never>(
  ref: Options.ReferenceInput,
  source: Source<E, R>,
  options: ManifestOptions = {}
): Effect.Effect<Edited, EditError | E, R | RegistryTransport.RegistryTransport | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const src = yield* Options.reference(ref, options)
    const remote = Options.remote(options)
    const fetched = yield* Remote.get(src, remote)
    const edited = yield* documentFrom(source, Effect.succeed(fetched.bytes), "edited manifest")
    const target = yield* destination(ref, Digest.fromBytes(edited), options)
    const mediaType = manifestMediaType(edited, fetched.mediaType, options.mediaType)
    yield* Remote.put(target.reference, { bytes: edited, mediaType }, remote)
    return target
  })

// ---------------------------------------------------------------------------------------------
// fs
// ---------------------------------------------------------------------------------------------

/**
 * A path in an image as a relative, clean archive path, as ggcr's `filepath.Clean("/" + name)`
 * without the leading slash (`/etc//motd` and `../etc/motd` are `etc/motd`). Fails on a path
 * that names the root.
 *
 * @since 0.1.0
 */
export const filePath = (name: string): Either.Either<string, EditCommandError> => {
  const parts: Array<string> = []
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") parts.pop()
    else parts.push(part)
  }
  return parts.length === 0
    ? Either.left(new EditCommandError({ reason: "BadFilename", detail: `no file to edit in ${JSON.stringify(name)}` }))
    : Either.right(parts.join("/"))
}

/** A safe extension for the temporary file, so the editor can pick its syntax. */
const extensionOf = (path: string): string => {
  const base = path.slice(path.lastIndexOf("/") + 1)
  const dot = base.lastIndexOf(".")
  const ext = dot <= 0 ? "" : base.slice(dot)
  return /^\.[A-Za-z0-9_-]{1,16}$/.test(ext) ? ext : ""
}

/**
 * The header of a new file (ggcr's `blankHeader`): a regular file of mode 0555, owned by root,
 * dated at the Unix epoch, so it does not depend on who made it or when.
 *
 * @since 0.1.0
 */
export const blankHeader = (path: string): Tar.Header => Tar.plainFileHeader(path, 0, 0o555)

const normalized = (name: string): string => Either.getOrElse(filePath(name), () => "")

/**
 * Finds a file in the flattened filesystem of an image and writes its bytes to `to`; gives
 * its header, or `None` when the image has no such path. Reading stops at the file.
 */
const findFile = <E>(image: Image.Image<E>, path: string, to: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const found = yield* Tar.read(Extract.extract(image)).pipe(
      Stream.filter((entry) => normalized(entry.header.name) === path),
      Stream.take(1),
      Stream.mapEffect((entry) =>
        entry.header.type !== "file"
          ? Effect.fail(
              new EditCommandError({ reason: "NotAFile", detail: `${path} is not a regular file in the image (${entry.header.type})` })
            )
          : Effect.as(
Stream.run(entry.body, sinkTo(fs, to)), entry.header
            )
      ),
      Stream.runHead
    )
    return found
  })

/**
 * Options of {@link editFile}.
 *
 * @since 0.1.0
 */
export interface FileOptions extends EditOptions {
  /** The history entry's `created_by` (ggcr writes its command line); `crane edit fs` by default. */
  readonly createdBy?: string | undefined
}

/**
 * How editing a file may fail.
 *
 * @since 0.1.0
 */
export type FileError =
  | Inspect.ImageError
  | Remote.PullError
  | Remote.WriteError
  | Extract.TarError
  | Compression.CompressionError
  | EditCommandError

/**
 * The layer of one file: a tar holding it under `header` (its size set from the file), read
 * from `path` each time the layer is read, gzipped.
 *
 * @since 0.1.0
 */
export const fileLayer = (
  header: Tar.Header,
  path: string
): Effect.Effect<ImageLayer.ImageLayer<Extract.TarError | EditCommandError | Compression.CompressionError>, EditCommandError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(path).pipe(Effect.mapError(io(`reading ${path}`)))
    const entry: Tar.Entry<EditCommandError> = {
      header: { ...header, type: "file", size: Number(info.size) },
      body: Stream.mapError(fs.stream(path), io(`reading ${path}`))
    }
    return ImageLayer.fromUncompressed(Tar.write(Stream.make(entry)), { mediaType: MediaType.DOCKER_LAYER })
  })

/**
 * Appends a layer holding one file to the image a reference names and pushes the result
 * (`crane edit fs`). Given content becomes a new file with {@link blankHeader}; an editor edits
 * the file as the image has it (its header kept) or, when it has none, a new empty one. The
 * history entry says `author: crane`. Content is spooled to a temporary file, never held in
 * memory.
 *
 * @since 0.1.0
 */
export const editFile = <E = never, R = never>(
  ref: Options.ReferenceInput,
  filename: string,
  source: Source<E, R>,
  options: FileOptions = {}
): Effect.Effect<Edited, FileError | E, R | RegistryTransport.RegistryTransport | FileSystem.FileSystem> =>
  Effect.scoped(
    Effect.gen(function* () {
      const path = yield* filePath(filename)
      const fs = yield* FileSystem.FileSystem
      const image = yield* Options.reference(ref, options).pipe(
        Effect.flatMap((src) => Remote.image(src, Options.remote(options)))
      )
      let header: Tar.Header
      let file: string
      if (source._tag === "Content") {
        file = yield* tempFile(fs, "")
        yield* Stream.run(source.content, sinkTo(fs, file))
        header = blankHeader(path)
      } else {
        const scratch = yield* tempFile(fs, "")
        const existing = yield* findFile(image, path, scratch)
        const current = Option.isSome(existing) ? fs.stream(scratch) : Stream.empty
        file = yield* editedFile(source.edit, Stream.mapError(current, io(`reading ${scratch}`)), extensionOf(path))
        header = Option.getOrElse(existing, () => blankHeader(path))
      }
      const layer = yield* fileLayer(header, file)
      const edited = Mutate.append(image, [
        { layer, history: { author: "crane", created_by: options.createdBy ?? "crane edit fs" } }
      ])
      const target = yield* destination(ref, yield* edited.digest, options)
      yield* Remote.write(target.reference, edited, Options.remote(options))
      return target
    })
  )
