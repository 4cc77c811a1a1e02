/**
 * Changing images and indexes, as ggcr's `mutate` package: append layers, replace the config
 * or parts of it, set timestamps, media types, annotations and subjects, rebase onto another
 * base, and add or remove the children of an index.
 *
 * Every combinator takes values and returns a value; nothing is read until something reads
 * the result, and then each part is computed once. Generated manifests and configs are
 * serialised once and from then on their bytes are the truth. A manifest or config whose value
 * a change leaves as it was keeps its exact bytes, and so its digest.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import type * as Compression from "./Compression.js"
import * as ConfigFile from "./ConfigFile.js"
import type * as Descriptor from "./Descriptor.js"
import type * as Digest from "./Digest.js"
import * as Image from "./Image.js"
import * as ImageIndex from "./ImageIndex.js"
import * as ImageLayer from "./ImageLayer.js"
import type * as IndexManifest from "./IndexManifest.js"
import { editImage, editIndex } from "./internal/mutateImage.js"
import { retime } from "./internal/mutateTar.js"
import * as Manifest from "./Manifest.js"
import * as MediaType from "./MediaType.js"
import type * as Platform from "./Platform.js"

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

/**
 * Why an image could not be rebased.
 *
 * @since 0.1.0
 */
export type RebaseErrorReason = "TooFewLayers" | "LayerMismatch" | "MalformedHistory"

/**
 * An image could not be rebased: it is not built on the old base (it has fewer layers, or a
 * layer differs), or a config's history lists more layers than the image has.
 *
 * @since 0.1.0
 */
export class RebaseError extends Data.TaggedError("RebaseError")<{
  readonly reason: RebaseErrorReason
  readonly detail: string
  /** For `LayerMismatch`: the index of the first layer that differs. */
  readonly layer?: number | undefined
}> {
  override get message(): string {
    return `cannot rebase (${this.reason}): ${this.detail}`
  }
}

/**
 * Why a timestamp was refused.
 *
 * @since 0.1.0
 */
export type InvalidTimestampReason = "NotADate" | "OutOfRange"

/**
 * A `Date` that cannot be written where it was asked for: an invalid date, a year outside
 * 0000-9999 in a config, or a time a tar header cannot hold (before 1970 or after 2038-01-19).
 *
 * @since 0.1.0
 */
export class InvalidTimestamp extends Data.TaggedError("InvalidTimestamp")<{
  readonly reason: InvalidTimestampReason
  readonly detail: string
}> {
  override get message(): string {
    return `invalid timestamp (${this.reason}): ${this.detail}`
  }
}

/**
 * A layer's tar could not be rewritten: its uncompressed bytes are not a readable tar.
 *
 * @since 0.1.0
 */
export class LayerRewriteError extends Data.TaggedError("LayerRewriteError")<{
  readonly reason: "CorruptTar"
  /** The index of the layer in the image. */
  readonly layer: number
  readonly cause: unknown
}> {
  override get message(): string {
    const detail = this.cause instanceof Error ? `: ${this.cause.message}` : ""
    return `cannot rewrite the tar of layer ${this.layer}${detail}`
  }
}

// ---------------------------------------------------------------------------------------------
// time
// ---------------------------------------------------------------------------------------------

/**
 * Go's zero time, `0001-01-01T00:00:00Z`: what ggcr writes for a history entry without a time
 * and what {@link canonical} sets every timestamp to. In tar headers it is written as the Unix
 * epoch, as Go's archive/tar does.
 *
 * @since 0.1.0
 */
export const zeroTime: Date = new Date("0001-01-01T00:00:00Z")

const ZERO_TIME = "0001-01-01T00:00:00Z"

/**
 * A date as ggcr writes it in configs: RFC 3339 in UTC, with fractional seconds only when
 * there are some (Go's `time.RFC3339Nano`).
 *
 * @since 0.1.0
 */
export const formatTime = (date: Date): Either.Either<string, InvalidTimestamp> => {
  if (Number.isNaN(date.getTime())) {
    return Either.left(new InvalidTimestamp({ reason: "NotADate", detail: "the Date is invalid" }))
  }
  const year = date.getUTCFullYear()
  if (year < 0 || year > 9999) {
    return Either.left(new InvalidTimestamp({ reason: "OutOfRange", detail: `year ${year} is not in 0000-9999` }))
  }
  return Either.right(date.toISOString().replace(/\.?0+Z$/, "Z"))
}

const MAX_TAR_SECONDS = 0x7fffffff

/** The time a tar header gets for `date`: whole seconds since the epoch; Go's zero is 0. */
const tarTime = (date: Date): Either.Either<Date, InvalidTimestamp> => {
  const ms = date.getTime()
  if (Number.isNaN(ms)) return Either.left(new InvalidTimestamp({ reason: "NotADate", detail: "the Date is invalid" }))
  if (ms === zeroTime.getTime()) return Either.right(new Date(0))
  const seconds = Math.floor(ms / 1000)
  if (seconds < 0 || seconds > MAX_TAR_SECONDS) {
    return Either.left(
      new InvalidTimestamp({ reason: "OutOfRange", detail: `${date.toISOString()} does not fit a tar header` })
    )
  }
  return Either.right(new Date(seconds * 1000))
}

// ---------------------------------------------------------------------------------------------
// appending layers
// ---------------------------------------------------------------------------------------------

/**
 * A layer to append, with what to record about it (ggcr's `Addendum`). `annotations`,
 * `urls` and `mediaType` override the layer's own descriptor in the manifest; `history` is its
 * config history entry (`{created: "0001-01-01T00:00:00Z"}` when left out, as ggcr writes).
 *
 * @since 0.1.0
 */
export interface LayerAddendum<E = never> {
  readonly layer: ImageLayer.ImageLayer<E>
  readonly history?: ConfigFile.History | undefined
  readonly annotations?: Descriptor.Annotations | undefined
  readonly mediaType?: MediaType.MediaType | undefined
  readonly urls?: ReadonlyArray<string> | undefined
}

/**
 * A history entry with no layer (an `ENV` or `LABEL` step): it must say `empty_layer: true`.
 *
 * @since 0.1.0
 */
export interface HistoryAddendum {
  readonly layer?: undefined
  readonly history: ConfigFile.History & { readonly empty_layer: true }
}

/**
 * What {@link append} takes: a layer with its history, or a history entry alone.
 *
 * @since 0.1.0
 */
export type Addendum<E = never> = LayerAddendum<E> | HistoryAddendum

const hasLayer = <E>(add: Addendum<E>): add is LayerAddendum<E> => add.layer !== undefined

const historyOf = <E>(add: Addendum<E>): ConfigFile.History =>
  add.history === undefined ? { created: ZERO_TIME } : { ...add.history, created: add.history.created ?? ZERO_TIME }

const nonEmpty = <A>(value: A | undefined, size: (a: A) => number): A | undefined =>
  value !== undefined && size(value) > 0 ? value : undefined

/**
 * The media type a layer gets in a manifest of the given type: a distributable Docker layer in
 * an OCI manifest becomes the OCI type of the same compression, and the other way round where
 * Docker has one. The bytes are the same; only the name changes.
 */
const layerTypeFor = (layerType: MediaType.MediaType, manifestType: MediaType.MediaType): MediaType.MediaType => {
  const compression = MediaType.layerCompression(layerType)
  if (compression === undefined || !MediaType.isDistributable(layerType) || !MediaType.isImage(manifestType)) {
    return layerType
  }
  if (MediaType.isDocker(layerType) === MediaType.isDocker(manifestType)) return layerType
  return MediaType.layerFor(manifestType, compression)
}

/** The layer as the manifest will list it: the addendum's overrides applied to its descriptor. */
const describeAdded = <E>(
  add: LayerAddendum<E>,
  manifestType: MediaType.MediaType
): Effect.Effect<ImageLayer.ImageLayer<E>, E> =>
  Effect.map(add.layer.descriptor, (own) => {
    const mediaType = add.mediaType ?? layerTypeFor(own.mediaType, manifestType)
    const annotations = nonEmpty(add.annotations, (a) => Object.keys(a).length) ?? own.annotations
    const urls = nonEmpty(add.urls, (u) => u.length) ?? own.urls
    if (mediaType === own.mediaType && annotations === own.annotations && urls === own.urls) return add.layer
    const { annotations: _annotations, urls: _urls, ...rest } = own
    const descriptor: Descriptor.Descriptor = {
      ...rest,
      mediaType,
      ...(urls !== undefined ? { urls } : {}),
      ...(annotations !== undefined ? { annotations } : {})
    }
    return ImageLayer.make<E>({
      digest: add.layer.digest,
      diffId: add.layer.diffId,
      size: add.layer.size,
      mediaType: Effect.succeed(mediaType),
      descriptor: Effect.succeed(descriptor),
      compressed: add.layer.compressed,
      uncompressed: add.layer.uncompressed
    })
  })

interface Stacked<E> {
  readonly layers: ReadonlyArray<ImageLayer.ImageLayer<E>>
  readonly descriptors: ReadonlyArray<Descriptor.Descriptor>
  readonly history: ReadonlyArray<ConfigFile.History>
}

const concurrency = 4

/** The layers, descriptors and history entries a list of addenda contributes. */
const stack = <E>(adds: ReadonlyArray<Addendum<E>>, manifestType: MediaType.MediaType): Effect.Effect<Stacked<E>, E> =>
  Effect.gen(function* () {
    const layers = yield* Effect.forEach(adds.filter(hasLayer), (add) => describeAdded(add, manifestType))
    const descriptors = yield* Effect.forEach(layers, (l) => l.descriptor, { concurrency })
    return { layers, descriptors, history: adds.map(historyOf) }
  })

const diffIdsOf = <E>(
  layers: ReadonlyArray<ImageLayer.ImageLayer<E>>
): Effect.Effect<ReadonlyArray<Digest.Digest>, E> =>
  Effect.forEach(layers, (l) => l.diffId, { concurrency })

const appendAll = <E>(image: Image.Image<E>, adds: ReadonlyArray<Addendum<E>>): Image.Image<E> =>
  adds.length === 0
    ? image
    : editImage(
        image,
        Effect.gen(function* () {
          const manifest = yield* image.manifest
          const manifestType = manifest.mediaType ?? (yield* image.mediaType)
          const added = yield* stack(adds, manifestType)
          const layers = [...(yield* image.layers), ...added.layers]
          const edited: Manifest.Manifest = { ...manifest, layers: [...manifest.layers, ...added.descriptors] }
          // An artifact's config is not an image config: keep its bytes, as ggcr does.
          if (!MediaType.isConfig(manifest.config.mediaType)) return { manifest: edited, layers }
          const config = yield* image.configFile
          const diffIds = yield* diffIdsOf(added.layers)
          const configFile: ConfigFile.ConfigFile = {
            ...config,
            rootfs: { ...config.rootfs, diff_ids: [...ConfigFile.diffIds(config), ...diffIds] },
            history: [...(config.history ?? []), ...added.history]
          }
          return { manifest: edited, configFile, layers }
        }),
        // Stream layers not read yet: the layers as they are, so a sink can read them first.
        Effect.map(image.layers, (below) => [...below, ...adds.filter(hasLayer).map((add) => add.layer)])
      )

/**
 * Appends addenda to an image (ggcr's `Append`): each layer goes on top with its descriptor
 * overrides, its diff id goes into `rootfs.diff_ids` and its history entry into `history`.
 * The manifest keeps its media type; an appended layer of the other family (a Docker layer in
 * an OCI manifest, or the reverse) is listed under this family's type of the same compression,
 * unless the addendum names a media type. An artifact's config (not an image config) is kept
 * as it is. With no addenda the image is returned as it is.
 *
 * @since 0.1.0
 */
export const append: {
  <E2>(addenda: Iterable<Addendum<E2>>): <E>(image: Image.Image<E>) => Image.Image<E | E2>
  <E, E2>(image: Image.Image<E>, addenda: Iterable<Addendum<E2>>): Image.Image<E | E2>
} = dual(
  2,
  <E, E2>(image: Image.Image<E>, addenda: Iterable<Addendum<E2>>): Image.Image<E | E2> =>
    appendAll<E | E2>(image, Array.from(addenda))
)

/**
 * Appends layers to an image with default history entries (ggcr's `AppendLayers`); see
 * {@link append}.
 *
 * @since 0.1.0
 */
export const appendLayers: {
  <E2>(layers: Iterable<ImageLayer.ImageLayer<E2>>): <E>(image: Image.Image<E>) => Image.Image<E | E2>
  <E, E2>(image: Image.Image<E>, layers: Iterable<ImageLayer.ImageLayer<E2>>): Image.Image<E | E2>
} = dual(
  2,
  <E, E2>(image: Image.Image<E>, layers: Iterable<ImageLayer.ImageLayer<E2>>): Image.Image<E | E2> =>
    appendAll<E | E2>(image, Array.from(layers, (layer) => ({ layer })))
)

// ---------------------------------------------------------------------------------------------
// config and manifest edits
// ---------------------------------------------------------------------------------------------

const editConfig = <E, E2>(
  image: Image.Image<E>,
  f: (config: ConfigFile.ConfigFile) => Either.Either<ConfigFile.ConfigFile, E2>
): Image.Image<E | E2> =>
  editImage<E | E2>(
    image,
    Effect.gen(function* () {
      const configFile = yield* f(yield* image.configFile)
      return { manifest: yield* image.manifest, configFile, layers: yield* image.layers }
    }),
    image.layers
  )

const editManifest = <E>(
  image: Image.Image<E>,
  f: (manifest: Manifest.Manifest) => Manifest.Manifest
): Image.Image<E> =>
  editImage(
    image,
    Effect.map(Effect.all([image.manifest, image.layers]), ([manifest, layers]) => ({ manifest: f(manifest), layers })),
    image.layers
  )

/**
 * Replaces the run configuration (`config`) of an image's config file (ggcr's `Config`).
 *
 * @since 0.1.0
 */
export const config: {
  (config: ConfigFile.Config): <E>(image: Image.Image<E>) => Image.Image<E>
  <E>(image: Image.Image<E>, config: ConfigFile.Config): Image.Image<E>
} = dual(
  2,
  <E>(image: Image.Image<E>, cfg: ConfigFile.Config): Image.Image<E> =>
    editConfig(image, (cf) => Either.right({ ...cf, config: cfg }))
)

/**
 * Replaces an image's whole config file (ggcr's `ConfigFile`). It is serialised once; the
 * layers stay as they are, so the caller keeps `rootfs.diff_ids` right.
 *
 * @since 0.1.0
 */
export const configFile: {
  (configFile: ConfigFile.ConfigFile): <E>(image: Image.Image<E>) => Image.Image<E>
  <E>(image: Image.Image<E>, configFile: ConfigFile.ConfigFile): Image.Image<E>
} = dual(
  2,
  <E>(image: Image.Image<E>, cf: ConfigFile.ConfigFile): Image.Image<E> =>
    editImage(
      image,
      Effect.map(Effect.all([image.manifest, image.layers]), ([manifest, layers]) => ({
        manifest,
        configFile: cf,
        layers
      })),
      image.layers
    )
)

/**
 * Sets the `created` time of an image's config (ggcr's `CreatedAt`).
 *
 * @since 0.1.0
 */
export const createdAt: {
  (date: Date): <E>(image: Image.Image<E>) => Image.Image<E | InvalidTimestamp>
  <E>(image: Image.Image<E>, date: Date): Image.Image<E | InvalidTimestamp>
} = dual(
  2,
  <E>(image: Image.Image<E>, date: Date): Image.Image<E | InvalidTimestamp> =>
    editConfig(image, (cf) => Either.map(formatTime(date), (created) => ({ ...cf, created })))
)

/**
 * Sets the media type of an image's manifest (ggcr's `MediaType`). Nothing else changes.
 *
 * @since 0.1.0
 */
export const mediaType: {
  (mediaType: MediaType.MediaType): <E>(image: Image.Image<E>) => Image.Image<E>
  <E>(image: Image.Image<E>, mediaType: MediaType.MediaType): Image.Image<E>
} = dual(
  2,
  <E>(image: Image.Image<E>, mt: MediaType.MediaType): Image.Image<E> =>
    editManifest(image, (m) => ({ ...m, mediaType: mt }))
)

/**
 * Sets the media type of an image's config descriptor (ggcr's `ConfigMediaType`). The config
 * bytes stay as they are.
 *
 * @since 0.1.0
 */
export const configMediaType: {
  (mediaType: MediaType.MediaType): <E>(image: Image.Image<E>) => Image.Image<E>
  <E>(image: Image.Image<E>, mediaType: MediaType.MediaType): Image.Image<E>
} = dual(
  2,
  <E>(image: Image.Image<E>, mt: MediaType.MediaType): Image.Image<E> =>
    editManifest(image, (m) => ({ ...m, config: { ...m.config, mediaType: mt } }))
)

const mergeAnnotations = (
  current: Descriptor.Annotations | undefined,
  added: Descriptor.Annotations
): Descriptor.Annotations | undefined =>
  current === undefined && Object.keys(added).length === 0 ? undefined : { ...current, ...added }

/**
 * Adds annotations to an image's manifest (ggcr's `Annotations`): the given keys are set,
 * other existing keys stay.
 *
 * @since 0.1.0
 */
export const annotations: {
  (annotations: Descriptor.Annotations): <E>(image: Image.Image<E>) => Image.Image<E>
  <E>(image: Image.Image<E>, annotations: Descriptor.Annotations): Image.Image<E>
} = dual(
  2,
  <E>(image: Image.Image<E>, added: Descriptor.Annotations): Image.Image<E> =>
    editManifest(image, (m) => {
      const merged = mergeAnnotations(m.annotations, added)
      return merged === undefined ? m : { ...m, annotations: merged }
    })
)

/**
 * Sets the `subject` of an image's manifest (ggcr's `Subject`), making it a referrer of the
 * described manifest.
 *
 * @since 0.1.0
 */
export const subject: {
  (subject: Descriptor.Descriptor): <E>(image: Image.Image<E>) => Image.Image<E>
  <E>(image: Image.Image<E>, subject: Descriptor.Descriptor): Image.Image<E>
} = dual(
  2,
  <E>(image: Image.Image<E>, d: Descriptor.Descriptor): Image.Image<E> =>
    editManifest(image, (m) => ({ ...m, subject: d }))
)

// ---------------------------------------------------------------------------------------------
// time and canonical
// ---------------------------------------------------------------------------------------------

/**
 * How reading an image changed by {@link time} or {@link canonical} may fail beyond the
 * image's own errors.
 *
 * @since 0.1.0
 */
export type TimeError = InvalidTimestamp | LayerRewriteError | Compression.CompressionError

const withoutAuthor = <A extends { readonly author?: string | undefined }>(value: A): Omit<A, "author"> => {
  const { author: _author, ...rest } = value
  return rest
}

/**
 * Sets every timestamp of an image to `date` (ggcr's `Time`): each layer's tar is rewritten
 * while it streams so that every entry's modification time is `date` (whole seconds), then
 * gzipped again and listed under the gzip layer type of the manifest's family; the config's
 * `created` and every history entry's `created` become `date`, and authors (which hinder
 * reproducibility) are removed. Diff ids and digests follow the new bytes, so the same image
 * and date always give the same digest. Tar headers hold dates from 1970 to 2038-01-19, and
 * {@link zeroTime}.
 *
 * @since 0.1.0
 */
export const time: {
  (date: Date): <E>(image: Image.Image<E>) => Image.Image<E | TimeError>
  <E>(image: Image.Image<E>, date: Date): Image.Image<E | TimeError>
} = dual(
  2,
  <E>(image: Image.Image<E>, date: Date): Image.Image<E | TimeError> =>
    editImage<E | TimeError>(
      image,
      Effect.gen(function* () {
        const created = yield* formatTime(date)
        const mtime = yield* tarTime(date)
        const manifest = yield* image.manifest
        const original = yield* image.configFile
        const layerType = MediaType.layerFor(manifest.mediaType ?? (yield* image.mediaType), "gzip")
        const layers = (yield* image.layers).map((layer, index) =>
          ImageLayer.fromUncompressed(
            retime(
              layer.uncompressed,
              mtime,
              (cause) => new LayerRewriteError({ reason: "CorruptTar", layer: index, cause })
            ),
            { mediaType: layerType }
          )
        )
        const diffIds = yield* diffIdsOf(layers)
        const descriptors = yield* Effect.forEach(layers, (l) => l.descriptor, { concurrency })
        const history: Array<ConfigFile.History> = (original.history ?? []).map((h) => ({
          ...withoutAuthor(h),
          created
        }))
        const listed = history.filter((h) => h.empty_layer !== true).length
        for (let i = listed; i < layers.length; i++) history.push({ created })
        const configFile: ConfigFile.ConfigFile = {
          ...withoutAuthor(original),
          created,
          ...(original.history !== undefined || history.length > 0 ? { history } : {}),
          rootfs: { ...original.rootfs, diff_ids: diffIds }
        }
        return { manifest: { ...manifest, layers: descriptors }, configFile, layers }
      })
    )
)

/**
 * An image with everything that varies between builds of the same content removed (ggcr's
 * `Canonical`): {@link time} at {@link zeroTime} (tar entries at the Unix epoch, config and
 * history at `0001-01-01T00:00:00Z`), and a config reduced to platform, created, history,
 * rootfs and the run configuration without its `Hostname`; `container`, `container_config`,
 * `docker_version`, `author` and unknown fields go, and so do the manifest's annotations.
 *
 * @since 0.1.0
 */
export const canonical = <E>(image: Image.Image<E>): Image.Image<E | TimeError> => {
  const timed = time(image, zeroTime)
  return editImage(
    timed,
    Effect.gen(function* () {
      const cf = yield* timed.configFile
      const { annotations: _annotations, ...manifest } = yield* timed.manifest
      const runConfig = cf.config === undefined ? undefined : (({ Hostname: _hostname, ...rest }) => rest)(cf.config)
      const configFile: ConfigFile.ConfigFile = {
        architecture: cf.architecture,
        os: cf.os,
        ...(cf["os.version"] !== undefined ? { "os.version": cf["os.version"] } : {}),
        ...(cf["os.features"] !== undefined ? { "os.features": cf["os.features"] } : {}),
        ...(cf.variant !== undefined ? { variant: cf.variant } : {}),
        ...(cf.created !== undefined ? { created: cf.created } : {}),
        ...(cf.history !== undefined ? { history: cf.history } : {}),
        rootfs: cf.rootfs,
        ...(runConfig !== undefined ? { config: runConfig } : {})
      }
      return { manifest, configFile, layers: yield* timed.layers }
    })
  )
}

// ---------------------------------------------------------------------------------------------
// rebase
// ---------------------------------------------------------------------------------------------

/**
 * The addenda for an image's layers and history from history entry `fromHistory` or layer
 * index `fromLayer` on (ggcr's `createAddendums`). History entries and layers are walked
 * together, a layer consumed by each entry that is not `empty_layer`; layers the history does
 * not list are appended with default history.
 */
const addendaFrom = <E>(
  fromHistory: number,
  fromLayer: number,
  history: ReadonlyArray<ConfigFile.History>,
  layers: ReadonlyArray<ImageLayer.ImageLayer<E>>,
  whose: string
): Either.Either<Array<Addendum<E>>, RebaseError> => {
  const adds: Array<Addendum<E>> = []
  let consumed = 0
  for (const [index, entry] of history.entries()) {
    let layer: ImageLayer.ImageLayer<E> | undefined
    if (entry.empty_layer !== true) {
      layer = layers[consumed]
      if (layer === undefined) {
        return Either.left(
          new RebaseError({
            reason: "MalformedHistory",
            detail: `the ${whose} config's history lists at least ${consumed + 1} layer(s), but it has ${layers.length}`
          })
        )
      }
      consumed++
    }
    if (index >= fromHistory || consumed > fromLayer) {
      adds.push(layer !== undefined ? { layer, history: entry } : { history: { ...entry, empty_layer: true } })
    }
  }
  for (let i = Math.max(consumed, fromLayer); i < layers.length; i++) {
    const layer = layers[i]
    if (layer !== undefined) adds.push({ layer })
  }
  return Either.right(adds)
}

/**
 * Moves an image from one base to another (ggcr's `Rebase`). The image's first layers must be
 * exactly `oldBase`'s, by digest, else it fails with {@link RebaseError}. The result has
 * `newBase`'s layers and history followed by the image's own layers and history above the
 * old base; its config keeps the image's run configuration and `created`, takes os,
 * architecture, variant and os version from `newBase`, and drops the rest, as ggcr does.
 * The manifest keeps the image's media types and drops its annotations and subject.
 *
 * @since 0.1.0
 */
export const rebase: {
  <E2, E3>(
    oldBase: Image.Image<E2>,
    newBase: Image.Image<E3>
  ): <E>(image: Image.Image<E>) => Image.Image<E | E2 | E3 | RebaseError>
  <E, E2, E3>(
    image: Image.Image<E>,
    oldBase: Image.Image<E2>,
    newBase: Image.Image<E3>
  ): Image.Image<E | E2 | E3 | RebaseError>
} = dual(
  3,
  <E, E2, E3>(
    image: Image.Image<E>,
    oldBase: Image.Image<E2>,
    newBase: Image.Image<E3>
  ): Image.Image<E | E2 | E3 | RebaseError> =>
    editImage<E | E2 | E3 | RebaseError>(
      image,
      Effect.gen(function* () {
        const ownLayers = yield* image.layers
        const oldLayers = yield* oldBase.layers
        if (oldLayers.length > ownLayers.length) {
          return yield* new RebaseError({
            reason: "TooFewLayers",
            detail: `the image has ${ownLayers.length} layer(s), the old base ${oldLayers.length}`
          })
        }
        for (const [index, oldLayer] of oldLayers.entries()) {
          const expected = yield* oldLayer.digest
          const ownLayer = ownLayers[index]
          const actual = ownLayer === undefined ? undefined : yield* ownLayer.digest
          if (expected !== actual) {
            return yield* new RebaseError({
              reason: "LayerMismatch",
              detail: `layer ${index} is ${actual}, the old base has ${expected}`,
              layer: index
            })
          }
        }
        const [oldConfig, ownConfig, newConfig] = yield* Effect.all([
          oldBase.configFile,
          image.configFile,
          newBase.configFile
        ])
        const manifest = yield* image.manifest
        const manifestType = manifest.mediaType ?? (yield* image.mediaType)
        const below = yield* addendaFrom(0, 0, newConfig.history ?? [], yield* newBase.layers, "new base")
        const above = yield* addendaFrom(
          oldConfig.history?.length ?? 0,
          oldLayers.length,
          ownConfig.history ?? [],
          ownLayers,
          "image"
        )
        const added = yield* stack<E | E2 | E3>([...below, ...above], manifestType)
        const diffIds = yield* diffIdsOf(added.layers)
        const configFile: ConfigFile.ConfigFile = {
          architecture: newConfig.architecture,
          os: newConfig.os,
          ...(newConfig["os.version"] !== undefined ? { "os.version": newConfig["os.version"] } : {}),
          ...(newConfig["os.features"] !== undefined ? { "os.features": newConfig["os.features"] } : {}),
          ...(newConfig.variant !== undefined ? { variant: newConfig.variant } : {}),
          ...(ownConfig.created !== undefined ? { created: ownConfig.created } : {}),
          ...(added.history.length > 0 ? { history: added.history } : {}),
          rootfs: { type: "layers", diff_ids: diffIds },
          ...(ownConfig.config !== undefined ? { config: ownConfig.config } : {})
        }
        const rebased = Manifest.make(manifest.config, added.descriptors, { mediaType: manifestType })
        return { manifest: rebased, configFile, layers: added.layers }
      })
    )
)

// ---------------------------------------------------------------------------------------------
// indexes
// ---------------------------------------------------------------------------------------------

/**
 * An image or index to add to an index, with descriptor fields that override the child's own
 * (ggcr's `IndexAddendum`). Annotations and urls override only when not empty.
 *
 * @since 0.1.0
 */
export interface IndexAddendum<E = never> {
  readonly add: Image.Image<E> | ImageIndex.ImageIndex<E>
  readonly mediaType?: MediaType.MediaType | undefined
  readonly platform?: Platform.Platform | undefined
  readonly annotations?: Descriptor.Annotations | undefined
  readonly urls?: ReadonlyArray<string> | undefined
  readonly artifactType?: string | undefined
  readonly data?: string | undefined
}

/** The descriptor and child value an addendum adds to an index. */
const childOf = <E>(addendum: IndexAddendum<E>): Effect.Effect<ImageIndex.Child<E>, E> =>
  Effect.gen(function* () {
    const item = addendum.add
    const own = yield* item.descriptor
    const overrides: Partial<Descriptor.Descriptor> = {
      ...(addendum.mediaType !== undefined ? { mediaType: addendum.mediaType } : {}),
      ...(addendum.platform !== undefined ? { platform: addendum.platform } : {}),
      ...(addendum.urls !== undefined && addendum.urls.length > 0 ? { urls: addendum.urls } : {}),
      ...(addendum.annotations !== undefined && Object.keys(addendum.annotations).length > 0
        ? { annotations: addendum.annotations }
        : {}),
      ...(addendum.data !== undefined ? { data: addendum.data } : {}),
      ...(addendum.artifactType !== undefined ? { artifactType: addendum.artifactType } : {})
    }
    if (!Image.isImage(item)) return { _tag: "Index", descriptor: { ...own, ...overrides }, index: item }
    const manifest = yield* item.manifest
    const imageConfig = MediaType.isConfig(manifest.config.mediaType)
    // An index needs the platform of an image to pick it; the config has it (as crane does).
    const platform =
      own.platform === undefined && addendum.platform === undefined && imageConfig
        ? ConfigFile.platform(yield* item.configFile)
        : undefined
    // An artifact is known by its artifact type, or else by its config's media type.
    const artifactType =
      own.artifactType !== undefined
        ? undefined
        : (manifest.artifactType ?? (imageConfig ? undefined : manifest.config.mediaType))
    const descriptor: Descriptor.Descriptor = {
      ...own,
      ...(platform !== undefined ? { platform } : {}),
      ...(artifactType !== undefined ? { artifactType } : {}),
      ...overrides
    }
    return { _tag: "Image", descriptor, image: item }
  })

const editIndexManifest = <E>(
  index: ImageIndex.ImageIndex<E>,
  f: (manifest: IndexManifest.IndexManifest) => IndexManifest.IndexManifest
): ImageIndex.ImageIndex<E> =>
  editIndex(
    index,
    Effect.map(index.indexManifest, (manifest) => ({ manifest: f(manifest), added: new Map() }))
  )

/**
 * Adds images and indexes to an index (ggcr's `AppendManifests`). Each is listed by its own
 * descriptor with the addendum's overrides; an image without a platform gets the one its
 * config names, and an artifact its artifact type. The added children are reachable through
 * `child`, `image` and `imageIndex`.
 *
 * @since 0.1.0
 */
export const appendManifests: {
  <E2>(addenda: Iterable<IndexAddendum<E2>>): <E>(index: ImageIndex.ImageIndex<E>) => ImageIndex.ImageIndex<E | E2>
  <E, E2>(index: ImageIndex.ImageIndex<E>, addenda: Iterable<IndexAddendum<E2>>): ImageIndex.ImageIndex<E | E2>
} = dual(
  2,
  <E, E2>(index: ImageIndex.ImageIndex<E>, addenda: Iterable<IndexAddendum<E2>>): ImageIndex.ImageIndex<E | E2> => {
    const adds = Array.from(addenda)
    if (adds.length === 0) return index
    return editIndex<E | E2>(
      index,
      Effect.gen(function* () {
        const manifest = yield* index.indexManifest
        const children = yield* Effect.forEach(adds, (add) => childOf<E | E2>(add), { concurrency })
        const added = new Map(children.map((c) => [c.descriptor.digest, c] as const))
        const manifests = [...manifest.manifests, ...children.map((c) => c.descriptor)]
        return { manifest: { ...manifest, manifests }, added }
      })
    )
  }
)

/**
 * Removes the children an index lists whose descriptor satisfies the predicate (ggcr's
 * `RemoveManifests`). Removed children are no longer reachable through the result.
 *
 * @since 0.1.0
 */
export const removeManifests: {
  (predicate: (descriptor: Descriptor.Descriptor) => boolean): <E>(
    index: ImageIndex.ImageIndex<E>
  ) => ImageIndex.ImageIndex<E>
  <E>(
    index: ImageIndex.ImageIndex<E>,
    predicate: (descriptor: Descriptor.Descriptor) => boolean
  ): ImageIndex.ImageIndex<E>
} = dual(
  2,
  <E>(
    index: ImageIndex.ImageIndex<E>,
    predicate: (descriptor: Descriptor.Descriptor) => boolean
  ): ImageIndex.ImageIndex<E> =>
    editIndexManifest(index, (m) => ({ ...m, manifests: m.manifests.filter((d) => !predicate(d)) }))
)

/**
 * Adds annotations to an index (ggcr's `Annotations` on an index): the given keys are set,
 * other existing keys stay.
 *
 * @since 0.1.0
 */
export const indexAnnotations: {
  (annotations: Descriptor.Annotations): <E>(index: ImageIndex.ImageIndex<E>) => ImageIndex.ImageIndex<E>
  <E>(index: ImageIndex.ImageIndex<E>, annotations: Descriptor.Annotations): ImageIndex.ImageIndex<E>
} = dual(
  2,
  <E>(index: ImageIndex.ImageIndex<E>, added: Descriptor.Annotations): ImageIndex.ImageIndex<E> =>
    editIndexManifest(index, (m) => {
      const merged = mergeAnnotations(m.annotations, added)
      return merged === undefined ? m : { ...m, annotations: merged }
    })
)

/**
 * Sets the media type of an index (ggcr's `IndexMediaType`). Nothing else changes.
 *
 * @since 0.1.0
 */
export const indexMediaType: {
  (mediaType: MediaType.MediaType): <E>(index: ImageIndex.ImageIndex<E>) => ImageIndex.ImageIndex<E>
  <E>(index: ImageIndex.ImageIndex<E>, mediaType: MediaType.MediaType): ImageIndex.ImageIndex<E>
} = dual(
  2,
  <E>(index: ImageIndex.ImageIndex<E>, mt: MediaType.MediaType): ImageIndex.ImageIndex<E> =>
    editIndexManifest(index, (m) => ({ ...m, mediaType: mt }))
)

/**
 * Sets the `subject` of an index (ggcr's `Subject` on an index).
 *
 * @since 0.1.0
 */
export const indexSubject: {
  (subject: Descriptor.Descriptor): <E>(index: ImageIndex.ImageIndex<E>) => ImageIndex.ImageIndex<E>
  <E>(index: ImageIndex.ImageIndex<E>, subject: Descriptor.Descriptor): ImageIndex.ImageIndex<E>
} = dual(
  2,
  <E>(index: ImageIndex.ImageIndex<E>, d: Descriptor.Descriptor): ImageIndex.ImageIndex<E> =>
    editIndexManifest(index, (m) => ({ ...m, subject: d }))
)
