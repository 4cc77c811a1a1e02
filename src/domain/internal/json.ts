/**
 * The machinery shared by the JSON documents of the domain (manifests, indexes, configs):
 * reading bytes under a size limit into a Schema value that keeps unknown fields, guessing a
 * manifest's media type from its shape, and the canonical encoding of documents we generate.
 *
 * @since 0.1.0
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import { type DocumentKind, InvalidDocument, type InvalidDocumentReason } from "../Errors.js"
import * as MediaType from "../MediaType.js"

/**
 * One mebibyte.
 *
 * @since 0.1.0
 */
export const MiB = 1024 * 1024

/**
 * The largest document read when no limit is given: 100 MiB, ggcr's manifest limit, used for
 * configs too.
 *
 * @since 0.1.0
 */
export const defaultMaxSize = 100 * MiB

const fail = (kind: DocumentKind, reason: InvalidDocumentReason, detail: string) =>
  Either.left(new InvalidDocument({ kind, reason, detail }))

/**
 * True for a JSON object (not an array, not null).
 *
 * @since 0.1.0
 */
export const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true })

/**
 * Checks the size of some bytes against a limit and parses them as JSON. Invalid UTF-8 is
 * replaced (as Go's encoding/json does); a byte order mark is refused (as Go does).
 *
 * @since 0.1.0
 */
export const parse = (
  bytes: Uint8Array,
  kind: DocumentKind,
  maxSize: number = defaultMaxSize
): Either.Either<unknown, InvalidDocument> => {
  if (bytes.byteLength > maxSize) {
    return fail(kind, "TooLarge", `${bytes.byteLength} bytes is more than the limit of ${maxSize} bytes`)
  }
  return Either.try({
    try: (): unknown => JSON.parse(utf8.decode(bytes)),
    catch: (e) =>
      new InvalidDocument({ kind, reason: "NotJson", detail: e instanceof Error ? e.message : String(e) })
  })
}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0 ? "(root)" : path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")

const MAX_ISSUES = 5

/**
 * Decodes a parsed JSON value with a Schema, keeping the fields the Schema does not name.
 * Failures list each problem with its path: `.layers[0].digest: invalid digest ...`.
 *
 * @since 0.1.0
 */
export const decodeValue = <A, I>(
  schema: Schema.Schema<A, I>,
  json: unknown,
  kind: DocumentKind
): Either.Either<A, InvalidDocument> =>
  ParseResult.decodeUnknownEither(schema, { onExcessProperty: "preserve", errors: "all" })(json).pipe(
    Either.mapLeft((issue) => {
      const issues = ParseResult.ArrayFormatter.formatIssueSync(issue)
      const shown = issues.slice(0, MAX_ISSUES).map((i) => `${formatPath(i.path)}: ${i.message}`)
      const more = issues.length > MAX_ISSUES ? [`and ${issues.length - MAX_ISSUES} more`] : []
      return new InvalidDocument({ kind, reason: "Schema", detail: [...shown, ...more].join("; ") })
    })
  )

/**
 * The media type a manifest-like document has by its shape alone, as containers/image's
 * `GuessMIMEType`: schema 1 by its version (signed when it has `signatures`), a Docker image
 * by its Docker config type, an index by its `manifests`, anything else of version 2 an OCI
 * image manifest. `undefined` when the document is none of these.
 *
 * @since 0.1.0
 */
export const guessMediaType = (json: unknown): MediaType.MediaType | undefined => {
  if (!isRecord(json)) return undefined
  switch (json.schemaVersion) {
    case 1:
      return json.signatures !== undefined
        ? MediaType.DOCKER_MANIFEST_SCHEMA1_SIGNED
        : MediaType.DOCKER_MANIFEST_SCHEMA1
    case 2: {
      const config = json.config
      if (isRecord(config) && config.mediaType === MediaType.DOCKER_CONFIG) return MediaType.DOCKER_MANIFEST
      if (config === undefined && Array.isArray(json.manifests)) return MediaType.OCI_INDEX
      return MediaType.OCI_MANIFEST
    }
    default:
      return undefined
  }
}

const kindOf = (mt: MediaType.MediaType): "index" | "image" | "schema1" | undefined =>
  MediaType.isIndex(mt) ? "index" : MediaType.isImage(mt) ? "image" : MediaType.isSchema1(mt) ? "schema1" : undefined

/**
 * The media type of a manifest-like document: its own `mediaType` field when it has one; else
 * the `hint` (a Content-Type or descriptor media type) when it names the same kind of manifest
 * the shape suggests, which tells Docker from OCI; else the shape alone.
 *
 * @since 0.1.0
 */
export const resolveMediaType = (
  json: unknown,
  hint?: MediaType.MediaType
): MediaType.MediaType | undefined => {
  if (isRecord(json) && typeof json.mediaType === "string" && json.mediaType !== "") return json.mediaType
  const guessed = guessMediaType(json)
  if (guessed !== undefined && hint !== undefined && kindOf(hint) === kindOf(guessed)) return hint
  return guessed
}

const describeVersion = (version: unknown): string =>
  version === undefined ? "no schemaVersion" : `schemaVersion ${JSON.stringify(version)}`

/**
 * Checks that a parsed document is the kind of manifest asked for and returns its media type
 * (see {@link resolveMediaType}). Refuses Docker schema 1 and the other kind with
 * `UnsupportedMediaType`, any version but 2 with `UnsupportedSchemaVersion`, and a document
 * carrying the fields of another kind (`manifests` in an image, `config` or `layers` in an
 * index) as ambiguous, as containers/image does since CVE-2021-41190.
 *
 * @since 0.1.0
 */
export const classify = (
  json: unknown,
  kind: "manifest" | "index",
  hint?: MediaType.MediaType
): Either.Either<MediaType.MediaType, InvalidDocument> => {
  const wanted = kind === "manifest" ? MediaType.isImage : MediaType.isIndex
  const name = kind === "manifest" ? "an image manifest" : "an image index"
  if (!isRecord(json)) return fail(kind, "Schema", "expected a JSON object")
  const mediaType = resolveMediaType(json, hint)
  if (mediaType !== undefined && MediaType.isSchema1(mediaType)) {
    return fail(kind, "UnsupportedMediaType", `${mediaType} (Docker schema 1) is recognised but not supported`)
  }
  if (json.schemaVersion !== 2) {
    return fail(kind, "UnsupportedSchemaVersion", `${describeVersion(json.schemaVersion)}, expected 2`)
  }
  if (mediaType === undefined || !wanted(mediaType)) {
    const actually =
      mediaType === undefined
        ? "no media type"
        : MediaType.isIndex(mediaType)
          ? `${mediaType}, an image index`
          : MediaType.isImage(mediaType)
            ? `${mediaType}, an image manifest`
            : `${mediaType}, an unknown media type`
    return fail(kind, "UnsupportedMediaType", `expected ${name}, got ${actually}`)
  }
  const forbidden = kind === "manifest" ? ["manifests", "fsLayers"] : ["config", "layers", "fsLayers"]
  const unexpected = forbidden.filter((field) => json[field] !== undefined)
  if (unexpected.length > 0) {
    return fail(kind, "Schema", `ambiguous document: ${name} must not have ${unexpected.join(", ")}`)
  }
  return Either.right(mediaType)
}

/**
 * How to lay out a value when encoding it: a leaf is written as it is; a struct writes its
 * known fields in the given order, then any other fields in the order they have; an array
 * lays out each item; a map writes its keys sorted (as Go does) and lays out each value.
 *
 * @since 0.1.0
 */
export type Shape =
  | { readonly _tag: "Leaf" }
  | { readonly _tag: "Struct"; readonly fields: ReadonlyArray<readonly [string, Shape]> }
  | { readonly _tag: "Array"; readonly item: Shape }
  | { readonly _tag: "Map"; readonly value: Shape }

/**
 * A value written as it is.
 *
 * @since 0.1.0
 */
export const leaf: Shape = { _tag: "Leaf" }

/**
 * An object with known fields in this order; unknown fields follow.
 *
 * @since 0.1.0
 */
export const struct = (fields: ReadonlyArray<string | readonly [string, Shape]>): Shape => ({
  _tag: "Struct",
  fields: fields.map((f) => (typeof f === "string" ? ([f, leaf] as const) : f))
})

/**
 * An array of items of one shape.
 *
 * @since 0.1.0
 */
export const array = (item: Shape): Shape => ({ _tag: "Array", item })

/**
 * A map with sorted keys and values of one shape.
 *
 * @since 0.1.0
 */
export const map = (value: Shape = leaf): Shape => ({ _tag: "Map", value })

/** Orders strings by code point, which is the byte order of their UTF-8 encodings. */
const compareCodePoints = (a: string, b: string): number => {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0)
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0)
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return d
  }
  return x.length - y.length
}

const layout = (value: unknown, shape: Shape): unknown => {
  switch (shape._tag) {
    case "Leaf":
      return value
    case "Array":
      return Array.isArray(value) ? value.map((item: unknown) => layout(item, shape.item)) : value
    case "Map": {
      if (!isRecord(value)) return value
      const out: Record<string, unknown> = {}
      for (const key of Object.keys(value).sort(compareCodePoints)) out[key] = layout(value[key], shape.value)
      return out
    }
    case "Struct": {
      if (!isRecord(value)) return value
      const out: Record<string, unknown> = {}
      const known = new Set<string>()
      for (const [key, fieldShape] of shape.fields) {
        known.add(key)
        if (value[key] !== undefined) out[key] = layout(value[key], fieldShape)
      }
      for (const key of Object.keys(value)) {
        if (!known.has(key) && value[key] !== undefined) out[key] = value[key]
      }
      return out
    }
  }
}

const GO_ESCAPES: Readonly<Record<string, string>> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029"
}

const utf8Encoder = new TextEncoder()

/**
 * Encodes a value as compact JSON laid out by `shape`, escaping `<`, `>`, `&`, U+2028 and
 * U+2029 as Go's encoding/json does, so a document built like ggcr builds it has ggcr's bytes.
 * These characters only occur inside JSON strings, so escaping them keeps the same value.
 *
 * @since 0.1.0
 */
export const encode = (value: unknown, shape: Shape): Uint8Array =>
  utf8Encoder.encode(JSON.stringify(layout(value, shape)).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c] ?? c))

/**
 * The layout of a platform object, in ggcr's field order.
 *
 * @since 0.1.0
 */
export const platformShape: Shape = struct(["architecture", "os", "os.version", "os.features", "variant", "features"])

/**
 * The layout of a content descriptor, in ggcr's field order.
 *
 * @since 0.1.0
 */
export const descriptorShape: Shape = struct([
  "mediaType",
  "size",
  "digest",
  "data",
  "urls",
  ["annotations", map()],
  ["platform", platformShape],
  "artifactType"
])
