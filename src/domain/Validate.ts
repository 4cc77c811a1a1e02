/**
 * Checks that an image, index or layer keeps its promises, as ggcr's `validate` package: the
 * bytes of every blob hash to what their descriptors say, diff ids match the uncompressed
 * tars, the raw documents agree with the parsed values and the accessors, and an index agrees
 * with its children. Every problem found is reported, not just the first, as a
 * {@link Finding}; a failure to read something is a finding too.
 *
 * Layers are streamed, never collected, and at most `concurrency` of them are read at once
 * across the whole validation (an index's children included).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as Compression from "./Compression.js"
import * as ConfigFile from "./ConfigFile.js"
import type * as Descriptor from "./Descriptor.js"
import * as Digest from "./Digest.js"
import { DigestMismatch, SizeMismatch } from "./Errors.js"
import type * as Image from "./Image.js"
import type * as ImageIndex from "./ImageIndex.js"
import type * as ImageLayer from "./ImageLayer.js"
import * as IndexManifest from "./IndexManifest.js"
import * as Tar from "./internal/tar.js"
import * as Manifest from "./Manifest.js"
import * as MediaType from "./MediaType.js"
import * as Platform from "./Platform.js"

/**
 * One broken promise. `expected` is what the authority says (the manifest for a layer or the
 * config, the index for a child, the raw bytes for a parsed value or an accessor); `actual` is
 * what was found.
 *
 * @since 0.1.0
 */
export interface Finding {
  /** What was checked: `layer 2 compressed digest`, `config size`, `index child 0 media type`... */
  readonly what: string
  readonly expected: string
  readonly actual: string
  /** The error, when the finding is that something could not be read. */
  readonly cause?: unknown
}

const MAX_LISTED = 20

/**
 * An image, index or layer that breaks its promises, with everything found wrong.
 *
 * @since 0.1.0
 */
export class ValidationError extends Data.TaggedError("ValidationError")<{
  /** What was validated: `image sha256:...`, `index sha256:...`, `layer sha256:...`. */
  readonly subject: string
  readonly findings: ReadonlyArray<Finding>
}> {
  override get message(): string {
    const listed = this.findings
      .slice(0, MAX_LISTED)
      .map((f) => `\n  ${f.what}: expected ${f.expected}, got ${f.actual}`)
    const more = this.findings.length > MAX_LISTED ? [`\n  and ${this.findings.length - MAX_LISTED} more`] : []
    const count = `${this.findings.length} finding${this.findings.length === 1 ? "" : "s"}`
    return `${this.subject} is not valid (${count}):${[...listed, ...more].join("")}`
  }
}

/**
 * Options for validation.
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * Read no layer bytes: check only what manifests, configs and accessors say (ggcr's
   * `validate.Fast`). Off by default.
   */
  readonly fast?: boolean | undefined
  /** How many blobs are read at once over the whole validation; 4 by default. */
  readonly concurrency?: number | undefined
}

/**
 * The default number of blobs read at once.
 *
 * @since 0.1.0
 */
export const defaultConcurrency = 4

interface Context {
  readonly fast: boolean
  readonly concurrency: number
  /** Held while a blob streams, so reads are bounded across nested images. */
  readonly permits: Effect.Semaphore
}

const contextOf = (options: Options): Effect.Effect<Context> => {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? defaultConcurrency))
  return Effect.map(Effect.makeSemaphore(concurrency), (permits) => ({
    fast: options.fast === true,
    concurrency,
    permits
  }))
}

// ---------------------------------------------------------------------------------------------
// findings
// ---------------------------------------------------------------------------------------------

type Findings = ReadonlyArray<Finding>

const finding = (what: string, expected: string | number, actual: string | number, cause?: unknown): Finding => ({
  what,
  expected: String(expected),
  actual: String(actual),
  ...(cause !== undefined ? { cause } : {})
})

const same = (what: string, expected: string | number, actual: string | number): Findings =>
  expected === actual ? [] : [finding(what, expected, actual)]

const describeError = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : `${JSON.stringify(error)}`

/** A finding for something that could not be read. */
const fromError = (what: string, error: unknown): Finding => {
  if (error instanceof DigestMismatch) return finding(what, error.expected, error.actual, error)
  if (error instanceof SizeMismatch) return finding(what, `${error.expected} bytes`, `${error.actual} bytes`, error)
  return finding(what, "no error", describeError(error), error)
}

/** Image, index, schema 1 or the media type itself: what kind of document a type names. */
const kindOf = (mt: MediaType.MediaType): string =>
  MediaType.isIndex(mt) ? "an index" : MediaType.isImage(mt) ? "an image" : MediaType.isSchema1(mt) ? "schema 1" : mt

/**
 * Media types of the same kind of document agree: an OCI descriptor may list a Docker manifest
 * and the other way round (ggcr accepts this, as its layouts report the descriptor's type).
 */
const sameKind = (what: string, expected: MediaType.MediaType, actual: MediaType.MediaType): Findings =>
  kindOf(expected) === kindOf(actual) ? [] : [finding(what, expected, actual)]

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i])

const prefixed = (prefix: string, findings: Findings): Findings =>
  findings.map((f) => ({ ...f, what: `${prefix}: ${f.what}` }))

/** Collects the findings of one check. */
interface Report {
  readonly findings: Array<Finding>
  readonly note: (findings: Findings) => void
  /** Runs an accessor; a failure is noted under `what`, and gives `undefined`. */
  readonly get: <A, E>(what: string, effect: Effect.Effect<A, E>) => Effect.Effect<A | undefined>
}

const makeReport = (): Report => {
  const findings: Array<Finding> = []
  return {
    findings,
    note: (more) => {
      findings.push(...more)
    },
    get: <A, E>(what: string, effect: Effect.Effect<A, E>) =>
      Effect.match(effect, {
        onFailure: (error): A | undefined => {
          findings.push(fromError(what, error))
          return undefined
        },
        onSuccess: (a): A | undefined => a
      })
  }
}

// ---------------------------------------------------------------------------------------------
// layers
// ---------------------------------------------------------------------------------------------

/** What one pass over a layer's stored bytes found. */
interface Measured {
  readonly compressed: Digest.Measured
  /** The digest and size of the decompressed tar, when the blob is a layer. */
  readonly uncompressed: Digest.Measured | undefined
  /** Paths the tar holds more than once. */
  readonly duplicates: ReadonlyArray<string>
}

/**
 * Streams a layer's stored bytes once: hashing them, decompressing and hashing the tar, and
 * reading the tar's headers (ggcr's `computeLayer`).
 */
const measure = <E>(layer: ImageLayer.ImageLayer<E>, isTar: boolean): Effect.Effect<Measured, unknown> =>
  Effect.suspend(() => {
    let compressed: Digest.Measured | undefined
    let uncompressed: Digest.Measured | undefined
    const duplicates: Array<string> = []
    const stored = Digest.tapMeasured(layer.compressed, (m) =>
      Effect.sync(() => {
        compressed = m
      })
    )
    const run: Effect.Effect<void, unknown> = isTar
      ? Effect.suspend(() => {
          const names = new Set<string>()
          const tar = Digest.tapMeasured(Compression.decompressAuto(stored), (m) =>
            Effect.sync(() => {
              uncompressed = m
            })
          )
          return Stream.runForEach(Tar.read(tar), (entry) =>
            Effect.sync(() => {
              if (names.has(entry.header.name)) duplicates.push(entry.header.name)
              names.add(entry.header.name)
            })
          )
        })
      : Stream.runDrain(stored)
    return Effect.flatMap(run, () =>
      compressed === undefined
        ? Effect.dieMessage("the layer stream ended without being measured")
        : Effect.succeed({ compressed, uncompressed, duplicates })
    )
  })

/** The findings of reading a layer's bytes, against what the authority says. */
const checkBytes = <E>(
  name: string,
  layer: ImageLayer.ImageLayer<E>,
  expected: {
    readonly digest: string
    readonly size: number
    readonly diffId: string | undefined
    readonly isTar: boolean
  },
  ctx: Context
): Effect.Effect<Findings> => {
  const stored = Effect.gen(function* () {
    const r = makeReport()
    const m = yield* r.get(`${name} content`, measure(layer, expected.isTar))
    if (m === undefined) return r.findings
    r.note(same(`${name} compressed digest`, expected.digest, m.compressed.digest))
    r.note(same(`${name} compressed size`, expected.size, m.compressed.size))
    if (m.uncompressed !== undefined && expected.diffId !== undefined) {
      r.note(same(`${name} uncompressed digest`, expected.diffId, m.uncompressed.digest))
    }
    r.note(
      m.duplicates.map((path) => finding(`${name} tar`, "each path once", `${JSON.stringify(path)} more than once`))
    )
    return r.findings
  })
  const uncompressed = Effect.gen(function* () {
    const r = makeReport()
    if (!expected.isTar || expected.diffId === undefined) return r.findings
    const m = yield* r.get(`${name} uncompressed stream`, Digest.ofStream(layer.uncompressed))
    if (m !== undefined) r.note(same(`${name} uncompressed stream digest`, expected.diffId, m.digest))
    return r.findings
  })
  return Effect.map(
    Effect.all([ctx.permits.withPermits(1)(stored), ctx.permits.withPermits(1)(uncompressed)], {
      concurrency: "unbounded"
    }),
    ([a, b]) => [...a, ...b]
  )
}

/** The findings about layer `i` of an image, listed in the manifest by `d`. */
const checkImageLayer = <E>(
  image: Image.Image<E>,
  i: number,
  d: Descriptor.Descriptor,
  layer: ImageLayer.ImageLayer<E> | undefined,
  diffIds: ReadonlyArray<Digest.Digest> | undefined,
  ctx: Context
): Effect.Effect<Findings> =>
  Effect.gen(function* () {
    const r = makeReport()
    const name = `layer ${i}`
    if (layer === undefined) return r.findings
    const isTar = MediaType.isLayer(d.mediaType)
    const diffId = diffIds?.[i]
    const digest = yield* r.get(`${name} digest`, layer.digest)
    if (digest !== undefined) r.note(same(`${name} digest`, d.digest, digest))
    const size = yield* r.get(`${name} size`, layer.size)
    if (size !== undefined) r.note(same(`${name} size`, d.size, size))
    const mediaType = yield* r.get(`${name} media type`, layer.mediaType)
    if (mediaType !== undefined) r.note(same(`${name} media type`, d.mediaType, mediaType))
    if (isTar && diffIds !== undefined) {
      const own = yield* r.get(`${name} diff id`, layer.diffId)
      if (own !== undefined) r.note(same(`${name} diff id`, diffId ?? "a diff id in the config", own))
    }
    const byDigest = yield* r.get(`${name} by digest`, Effect.flatMap(image.layerByDigest(d.digest), (l) => l.digest))
    if (byDigest !== undefined) r.note(same(`${name} by digest`, d.digest, byDigest))
    if (isTar && diffId !== undefined) {
      const byDiffId = yield* r.get(`${name} by diff id`, Effect.flatMap(image.layerByDiffId(diffId), (l) => l.diffId))
      if (byDiffId !== undefined) r.note(same(`${name} by diff id`, diffId, byDiffId))
    }
    if (!ctx.fast) {
      r.note(yield* checkBytes(name, layer, { digest: d.digest, size: d.size, diffId, isTar }, ctx))
    }
    return r.findings
  })

// ---------------------------------------------------------------------------------------------
// images
// ---------------------------------------------------------------------------------------------

const checkImage = <E>(image: Image.Image<E>, ctx: Context): Effect.Effect<Findings> =>
  Effect.gen(function* () {
    const r = makeReport()

    // the manifest: its bytes, the value parsed from them, and the accessors over them
    const mediaType = yield* r.get("manifest media type", image.mediaType)
    const raw = yield* r.get("raw manifest", image.rawManifest)
    const manifest = yield* r.get("manifest", image.manifest)
    let parsed: Manifest.Raw | undefined
    if (raw !== undefined) {
      const decoded = Manifest.decode(raw, { mediaType })
      if (Either.isLeft(decoded)) {
        r.note([finding("manifest", "a valid image manifest", decoded.left.message, decoded.left)])
      } else {
        parsed = decoded.right
      }
      const digest = yield* r.get("manifest digest", image.digest)
      if (digest !== undefined) r.note(same("manifest digest", Digest.fromBytes(raw), digest))
      const size = yield* r.get("manifest size", image.size)
      if (size !== undefined) r.note(same("manifest size", raw.byteLength, size))
      const descriptor = yield* r.get("descriptor", image.descriptor)
      if (descriptor !== undefined) {
        r.note(same("descriptor digest", Digest.fromBytes(raw), descriptor.digest))
        r.note(same("descriptor size", raw.byteLength, descriptor.size))
        if (parsed !== undefined) r.note(sameKind("descriptor media type", parsed.mediaType, descriptor.mediaType))
      }
    }
    if (parsed !== undefined && mediaType !== undefined) {
      r.note(same("manifest media type", parsed.mediaType, mediaType))
    }
    if (
      parsed !== undefined &&
      manifest !== undefined &&
      !sameBytes(Manifest.encode(parsed.value), Manifest.encode(manifest))
    ) {
      r.note([finding("manifest content", "the value of the raw manifest", "a different value")])
    }
    const truth = parsed?.value ?? manifest

    // the config
    const rawConfig = yield* r.get("raw config", image.rawConfigFile)
    const isImageConfig = truth === undefined || MediaType.isConfig(truth.config.mediaType)
    let config: ConfigFile.ConfigFile | undefined
    if (rawConfig !== undefined) {
      const measured = Digest.fromBytes(rawConfig)
      if (truth !== undefined) {
        r.note(same("config digest", truth.config.digest, measured))
        r.note(same("config size", truth.config.size, rawConfig.byteLength))
      }
      const name = yield* r.get("config name", image.configName)
      if (name !== undefined) r.note(same("config name", measured, name))
      if (isImageConfig) {
        const decoded = ConfigFile.decode(rawConfig)
        if (Either.isLeft(decoded)) {
          r.note([finding("config", "a valid config file", decoded.left.message, decoded.left)])
        } else {
          config = decoded.right.value
          const accessor = yield* r.get("config file", image.configFile)
          if (accessor !== undefined && !sameBytes(ConfigFile.encode(config), ConfigFile.encode(accessor))) {
            r.note([finding("config content", "the value of the raw config", "a different value")])
          }
        }
      }
    }
    if (config !== undefined) r.note(same("config rootfs type", "layers", config.rootfs.type))
    const diffIds = config !== undefined ? ConfigFile.diffIds(config) : undefined

    // the layers
    const layers = yield* r.get("layers", image.layers)
    if (truth !== undefined) {
      if (layers !== undefined) r.note(same("layer count", truth.layers.length, layers.length))
      if (diffIds !== undefined) r.note(same("layer count vs diff_ids", truth.layers.length, diffIds.length))
      const history = config?.history ?? []
      if (history.length > 0) {
        const nonEmpty = history.filter((h) => h.empty_layer !== true).length
        r.note(same("history non-empty entries vs layers", truth.layers.length, nonEmpty))
      }
      const perLayer = yield* Effect.forEach(
        truth.layers,
        (d, i) => checkImageLayer(image, i, d, layers?.[i], diffIds, ctx),
        { concurrency: "unbounded" }
      )
      r.note(perLayer.flat())
    }
    return r.findings
  })

// ---------------------------------------------------------------------------------------------
// indexes
// ---------------------------------------------------------------------------------------------

/** Whether a child agrees with the descriptor the index lists it by. */
const checkDescribed = (
  r: Report,
  name: string,
  d: Descriptor.Descriptor,
  child: {
    readonly mediaType: Effect.Effect<MediaType.MediaType, unknown>
    readonly digest: Effect.Effect<Digest.Digest, unknown>
    readonly size: Effect.Effect<number, unknown>
  }
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const mediaType = yield* r.get(`${name} media type`, child.mediaType)
    if (mediaType !== undefined) r.note(sameKind(`${name} media type`, d.mediaType, mediaType))
    const digest = yield* r.get(`${name} digest`, child.digest)
    if (digest !== undefined) r.note(same(`${name} digest`, d.digest, digest))
    const size = yield* r.get(`${name} size`, child.size)
    if (size !== undefined) r.note(same(`${name} size`, d.size, size))
  })

/** `os/arch[/variant][:os.version]`, with any features after it. */
const describePlatform = (p: Platform.Platform): string => {
  const features = [...(p.features ?? []), ...(p["os.features"] ?? [])]
  return features.length > 0 ? `${Platform.format(p)} (features ${features.join(", ")})` : Platform.format(p)
}

const checkChild = <E>(index: ImageIndex.ImageIndex<E>, d: Descriptor.Descriptor, i: number, ctx: Context) =>
  Effect.gen(function* () {
    const r = makeReport()
    const name = `index child ${i}`
    const scope = `${name} (${d.digest})`
    if (MediaType.isIndex(d.mediaType)) {
      const child = yield* r.get(name, index.imageIndex(d.digest))
      if (child !== undefined) {
        yield* checkDescribed(r, name, d, child)
        r.note(prefixed(scope, yield* checkIndex(child, ctx)))
      }
    } else if (MediaType.isImage(d.mediaType)) {
      const child = yield* r.get(name, index.image(d.digest))
      if (child !== undefined) {
        yield* checkDescribed(r, name, d, child)
        if (d.platform !== undefined) {
          const config = yield* r.get(`${name} config`, child.configFile)
          if (config !== undefined && !Platform.equals(ConfigFile.platform(config), d.platform)) {
            const actual = describePlatform(ConfigFile.platform(config))
            r.note([finding(`${name} platform`, describePlatform(d.platform), actual)])
          }
        }
        r.note(prefixed(scope, yield* checkImage(child, ctx)))
      }
    } else {
      const child = yield* r.get(name, index.child(d.digest))
      if (child !== undefined && child._tag === "Other") {
        r.note(same(`${name} digest`, d.digest, Digest.fromBytes(child.bytes)))
        r.note(same(`${name} size`, d.size, child.bytes.byteLength))
      }
    }
    return r.findings
  })

const checkIndex = <E>(index: ImageIndex.ImageIndex<E>, ctx: Context): Effect.Effect<Findings> =>
  Effect.gen(function* () {
    const r = makeReport()
    const mediaType = yield* r.get("index media type", index.mediaType)
    const raw = yield* r.get("raw index manifest", index.rawManifest)
    const manifest = yield* r.get("index manifest", index.indexManifest)
    let parsed: IndexManifest.Raw | undefined
    if (raw !== undefined) {
      const decoded = IndexManifest.decode(raw, { mediaType })
      if (Either.isLeft(decoded)) {
        r.note([finding("index manifest", "a valid image index", decoded.left.message, decoded.left)])
      } else {
        parsed = decoded.right
      }
      const digest = yield* r.get("index digest", index.digest)
      if (digest !== undefined) r.note(same("index digest", Digest.fromBytes(raw), digest))
      const size = yield* r.get("index size", index.size)
      if (size !== undefined) r.note(same("index size", raw.byteLength, size))
      const descriptor = yield* r.get("descriptor", index.descriptor)
      if (descriptor !== undefined) {
        r.note(same("descriptor digest", Digest.fromBytes(raw), descriptor.digest))
        r.note(same("descriptor size", raw.byteLength, descriptor.size))
        if (parsed !== undefined) r.note(sameKind("descriptor media type", parsed.mediaType, descriptor.mediaType))
      }
    }
    if (parsed !== undefined && mediaType !== undefined) {
      r.note(same("index media type", parsed.mediaType, mediaType))
    }
    if (
      parsed !== undefined &&
      manifest !== undefined &&
      !sameBytes(IndexManifest.encode(parsed.value), IndexManifest.encode(manifest))
    ) {
      r.note([finding("index content", "the value of the raw index manifest", "a different value")])
    }
    const truth = parsed?.value ?? manifest
    if (truth !== undefined) {
      const children = yield* Effect.forEach(truth.manifests, (d, i) => checkChild(index, d, i, ctx), {
        concurrency: ctx.concurrency
      })
      r.note(children.flat())
    }
    return r.findings
  })

// ---------------------------------------------------------------------------------------------
// entry points
// ---------------------------------------------------------------------------------------------

const subjectOf = (kind: string, digest: Effect.Effect<Digest.Digest, unknown>): Effect.Effect<string> =>
  Effect.match(digest, { onFailure: () => kind, onSuccess: (d) => `${kind} ${d}` })

const failWith = (subject: Effect.Effect<string>, findings: Findings): Effect.Effect<void, ValidationError> =>
  findings.length === 0
    ? Effect.void
    : Effect.flatMap(subject, (s) => Effect.fail(new ValidationError({ subject: s, findings })))

/**
 * Everything wrong with an image (empty when nothing is). Never fails: what cannot be read is
 * a finding.
 *
 * @since 0.1.0
 */
export const imageFindings = <E>(image: Image.Image<E>, options: Options = {}): Effect.Effect<Findings> =>
  Effect.flatMap(contextOf(options), (ctx) => checkImage(image, ctx))

/**
 * Everything wrong with an index and, recursively, its children (empty when nothing is).
 *
 * @since 0.1.0
 */
export const indexFindings = <E>(index: ImageIndex.ImageIndex<E>, options: Options = {}): Effect.Effect<Findings> =>
  Effect.flatMap(contextOf(options), (ctx) => checkIndex(index, ctx))

/**
 * Everything wrong with a layer: its digest, size and diff id against its bytes (ggcr's
 * `validate.Layer`). With `fast`, nothing is read and nothing is found.
 *
 * @since 0.1.0
 */
export const layerFindings = <E>(layer: ImageLayer.ImageLayer<E>, options: Options = {}): Effect.Effect<Findings> =>
  Effect.gen(function* () {
    const ctx = yield* contextOf(options)
    const r = makeReport()
    if (ctx.fast) return r.findings
    const digest = yield* r.get("layer digest", layer.digest)
    const size = yield* r.get("layer size", layer.size)
    const diffId = yield* r.get("layer diff id", layer.diffId)
    const mediaType = yield* r.get("layer media type", layer.mediaType)
    if (digest === undefined || size === undefined || mediaType === undefined) return r.findings
    const isTar = MediaType.isLayer(mediaType)
    r.note(yield* checkBytes("layer", layer, { digest, size, diffId, isTar }, ctx))
    return r.findings
  })

/**
 * Fails with {@link ValidationError} listing everything wrong with an image: layer bytes
 * against the manifest's digests and sizes, diff ids against the uncompressed tars (unless
 * `fast`), the config's bytes against the manifest, the raw manifest against the digest, size
 * and value the image reports, layer and history counts against the config, and lookups by
 * digest and diff id.
 *
 * @since 0.1.0
 */
export const validateImage = <E>(image: Image.Image<E>, options: Options = {}): Effect.Effect<void, ValidationError> =>
  Effect.flatMap(imageFindings(image, options), (findings) => failWith(subjectOf("image", image.digest), findings))

/**
 * Fails with {@link ValidationError} listing everything wrong with an index: its raw manifest
 * against its digest, size and value, and each child against the descriptor listing it
 * (media type, digest, size, platform), each child image or index validated in turn.
 *
 * @since 0.1.0
 */
export const validateIndex = <E>(
  index: ImageIndex.ImageIndex<E>,
  options: Options = {}
): Effect.Effect<void, ValidationError> =>
  Effect.flatMap(indexFindings(index, options), (findings) => failWith(subjectOf("index", index.digest), findings))

/**
 * Fails with {@link ValidationError} when a layer's digest, size or diff id disagree with its
 * bytes.
 *
 * @since 0.1.0
 */
export const validateLayer = <E>(
  layer: ImageLayer.ImageLayer<E>,
  options: Options = {}
): Effect.Effect<void, ValidationError> =>
  Effect.flatMap(layerFindings(layer, options), (findings) => failWith(subjectOf("layer", layer.digest), findings))
