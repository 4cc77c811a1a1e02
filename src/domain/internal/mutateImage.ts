/**
 * The image and index values `Mutate` returns: a base value plus an edit computed once, on
 * first use. The edit says what the new manifest and (when it changed) config value are; the
 * value here serialises each once and then treats the bytes as the truth. A manifest or config
 * whose value did not change keeps the base's exact bytes, so a no-op keeps every digest.
 *
 * An edit that needs what a stream layer knows only once it has been read (its digest, diff id
 * or size) fails with `NotComputed` until then; `layers` then come from the caller's
 * `layers` effect, as ggcr's mutated image lists its layers without computing its manifest, so
 * that a sink can read (and upload) them first and ask for the manifest afterwards.
 *
 * @since 0.1.0
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as ConfigFile from "../ConfigFile.js"
import * as Descriptor from "../Descriptor.js"
import type * as Digest from "../Digest.js"
import { BlobNotFound } from "../Errors.js"
import * as Image from "../Image.js"
import * as ImageIndex from "../ImageIndex.js"
import type * as ImageLayer from "../ImageLayer.js"
import * as IndexManifest from "../IndexManifest.js"
import * as Manifest from "../Manifest.js"
import type * as MediaType from "../MediaType.js"
import * as Partial from "../Partial.js"
import * as RawDocument from "../RawDocument.js"
import { memoize, memoizeBy } from "./memo.js"
import { pipeMethod } from "./pipeable.js"

/** True when two byte arrays hold the same bytes. */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * What an edit of an image yields. `manifest.config` still describes the base's config: when
 * `configFile` is given and differs from the base's, its digest and size are replaced here.
 */
export interface ImageEdit<E> {
  readonly manifest: Manifest.Manifest
  /** The new config value; leave it out to keep the base's config bytes untouched. */
  readonly configFile?: ConfigFile.ConfigFile | undefined
  /** The layers, in manifest order. */
  readonly layers: ReadonlyArray<ImageLayer.ImageLayer<E>>
}

interface ImageState<E> {
  readonly raw: RawDocument.RawDocument<Manifest.Manifest>
  /** The new config, when the edit changed it. */
  readonly config: { readonly bytes: Uint8Array; readonly value: ConfigFile.ConfigFile } | undefined
  readonly layers: ReadonlyArray<ImageLayer.ImageLayer<E>>
  readonly changed: boolean
}

const base64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")

// A stream layer's digest, diff id or size asked for before its bytes were read.
const isNotComputed = (u: unknown): boolean => Predicate.isTagged(u, "NotComputed")

/**
 * An image that is `base` changed by `edit`. Nothing runs until an accessor is read; the edit
 * runs at most once (successfully). `layers`, when given, lists the image's layers while the
 * edit cannot run yet because a stream layer has not been read (it fails with `NotComputed`):
 * the layers in manifest order, without the manifest.
 */
export const editImage = <E>(
  base: Image.Image<E>,
  edit: Effect.Effect<ImageEdit<E>, E>,
  layers?: Effect.Effect<ReadonlyArray<ImageLayer.ImageLayer<E>>, E>
): Image.Image<E> => {
  const state: Effect.Effect<ImageState<E>, E> = memoize(
    Effect.gen(function* () {
      const change = yield* edit
      let manifest = change.manifest
      let config: ImageState<E>["config"]
      if (change.configFile !== undefined) {
        const bytes = ConfigFile.encode(change.configFile)
        // An undecodable base config (an artifact's) counts as different from any new one.
        const before = yield* Effect.either(base.configFile)
        if (before._tag === "Left" || !sameBytes(bytes, ConfigFile.encode(before.right))) {
          config = { bytes, value: change.configFile }
          const described = Descriptor.ofBytes(manifest.config.mediaType, bytes)
          manifest = {
            ...manifest,
            config: {
              ...manifest.config,
              digest: described.digest,
              size: described.size,
              ...(manifest.config.data !== undefined ? { data: base64(bytes) } : {})
            }
          }
        }
      }
      const baseManifest = yield* base.manifest
      const bytes = Manifest.encode(manifest)
      if (sameBytes(bytes, Manifest.encode(baseManifest))) {
        const raw = RawDocument.make(yield* base.rawManifest, baseManifest, yield* base.mediaType)
        return { raw, config, layers: change.layers, changed: false }
      }
      const raw = RawDocument.make(bytes, manifest, manifest.mediaType ?? (yield* base.mediaType))
      return { raw, config, layers: change.layers, changed: true }
    })
  )
  const raw = Effect.map(state, (s) => s.raw)
  const rawConfigFile: Effect.Effect<Uint8Array, E> = Effect.flatMap(state, (s) =>
    s.config !== undefined ? Effect.succeed(s.config.bytes) : base.rawConfigFile
  )
  const configBlob = memoize(
    Effect.flatMap(Effect.zip(rawConfigFile, raw), ([bytes, r]) =>
      Effect.succeed(Partial.staticLayer(bytes, r.value.config.mediaType))
    )
  )
  const findLayer = (pick: (l: ImageLayer.ImageLayer<E>) => Effect.Effect<Digest.Digest, E>, kind: string) =>
    memoizeBy((digest: Digest.Digest) =>
      Effect.flatMap(state, (s) =>
        Effect.findFirst(s.layers, (l) => Effect.map(pick(l), (d) => d === digest)).pipe(
          Effect.flatMap((found) =>
            found._tag === "Some" ? Effect.succeed(found.value) : Effect.fail(new BlobNotFound({ kind, digest }))
          )
        )
      )
    )
  const byDigest = findLayer((l) => l.digest, "layer")
  const byDiffId = findLayer((l) => l.diffId, "diff id")
  return {
    [Image.TypeId]: Image.TypeId, pipe: pipeMethod,
    mediaType: Effect.map(raw, (r) => r.mediaType),
    rawManifest: Effect.map(raw, (r) => r.bytes),
    manifest: Effect.map(raw, (r) => r.value),
    digest: Effect.map(raw, (r) => r.digest),
    size: Effect.map(raw, (r) => r.bytes.byteLength),
    rawConfigFile,
    configFile: Effect.flatMap(state, (s) =>
      s.config !== undefined ? Effect.succeed(s.config.value) : base.configFile
    ),
    configName: Effect.map(raw, (r) => r.value.config.digest),
    layers: layers === undefined
      ? Effect.map(state, (s) => s.layers)
      : Effect.catchIf(Effect.map(state, (s) => s.layers), isNotComputed, () => layers),
    layerByDigest: (digest) =>
      Effect.flatMap(raw, (r) => (r.value.config.digest === digest ? configBlob : byDigest(digest))),
    layerByDiffId: byDiffId,
    descriptor: Effect.flatMap(state, (s) =>
      s.changed ? Effect.succeed(RawDocument.descriptor(s.raw)) : base.descriptor
    )
  }
}

/** What an edit of an index yields: the new index value and the children it adds. */
export interface IndexEdit<E> {
  readonly manifest: IndexManifest.IndexManifest
  /** Children added by the edit, by digest; any other listed child is the base's. */
  readonly added: ReadonlyMap<Digest.Digest, ImageIndex.Child<E>>
}

interface IndexState<E> {
  readonly raw: RawDocument.RawDocument<IndexManifest.IndexManifest>
  readonly added: ReadonlyMap<Digest.Digest, ImageIndex.Child<E>>
  readonly changed: boolean
}

/**
 * An index that is `base` changed by `edit`. A child is reachable when the new index lists
 * it: from the edit's additions first, else from the base.
 */
export const editIndex = <E>(
  base: ImageIndex.ImageIndex<E>,
  edit: Effect.Effect<IndexEdit<E>, E>
): ImageIndex.ImageIndex<E> => {
  const state: Effect.Effect<IndexState<E>, E> = memoize(
    Effect.gen(function* () {
      const change = yield* edit
      const baseManifest = yield* base.indexManifest
      const bytes = IndexManifest.encode(change.manifest)
      if (sameBytes(bytes, IndexManifest.encode(baseManifest))) {
        const raw = RawDocument.make(yield* base.rawManifest, baseManifest, yield* base.mediaType)
        return { raw, added: change.added, changed: false }
      }
      const mediaType: MediaType.MediaType = change.manifest.mediaType ?? (yield* base.mediaType)
      return { raw: RawDocument.make(bytes, change.manifest, mediaType), added: change.added, changed: true }
    })
  )
  const raw = Effect.map(state, (s) => s.raw)
  const child = (digest: Digest.Digest): Effect.Effect<ImageIndex.Child<E>, E | BlobNotFound> =>
    Effect.flatMap(state, (s) => {
      const added = s.added.get(digest)
      if (added !== undefined) return Effect.succeed(added)
      return IndexManifest.findByDigest(s.raw.value, digest)._tag === "Some"
        ? base.child(digest)
        : Effect.fail(new BlobNotFound({ kind: "child manifest", digest }))
    })
  return ImageIndex.make<E>({
    raw,
    child,
    descriptor: Effect.flatMap(state, (s) =>
      s.changed ? Effect.succeed(RawDocument.descriptor(s.raw)) : base.descriptor
    )
  })
}
