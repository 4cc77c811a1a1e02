/**
 * Image indexes: the OCI image index and Docker's manifest list, which share one shape (ggcr's
 * `v1.IndexManifest`). Decoding keeps the exact bytes next to the value, with their digest and
 * media type; unknown fields survive on the value. Children are chosen by platform with ggcr's
 * rules, or by digest.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Descriptor from "./Descriptor.js"
import type * as Digest from "./Digest.js"
import type { InvalidDocument } from "./Errors.js"
import * as Json from "./internal/json.js"
import * as MediaType from "./MediaType.js"
import * as Platform from "./Platform.js"
import * as RawDocument from "./RawDocument.js"

/**
 * Schema of an image index. `mediaType` is optional: OCI indexes written before image-spec
 * 1.0.2 (and OCI layouts' `index.json`) omit it.
 *
 * @since 0.1.0
 */
export const IndexManifest = Schema.Struct({
  schemaVersion: Schema.Literal(2),
  mediaType: Schema.optionalWith(MediaType.MediaType, { exact: true }),
  artifactType: Schema.optionalWith(MediaType.MediaType, { exact: true }),
  manifests: Schema.Array(Descriptor.Descriptor),
  subject: Schema.optionalWith(Descriptor.Descriptor, { exact: true }),
  annotations: Schema.optionalWith(Descriptor.Annotations, { exact: true })
}).annotations({ identifier: "IndexManifest" })

/**
 * An image index value.
 *
 * @since 0.1.0
 */
export interface IndexManifest extends Schema.Schema.Type<typeof IndexManifest> {}

/**
 * An index's exact bytes with its value, digest and media type.
 *
 * @since 0.1.0
 */
export interface Raw extends RawDocument.RawDocument<IndexManifest> {}

/**
 * Options for {@link decode}.
 *
 * @since 0.1.0
 */
export interface DecodeOptions {
  /** The largest index accepted, in bytes. Defaults to 100 MiB, as ggcr. */
  readonly maxSize?: number | undefined
  /**
   * The media type the bytes were served or described with. Used only when the document has
   * no `mediaType` field, to tell a Docker manifest list from an OCI index.
   */
  readonly mediaType?: MediaType.MediaType | undefined
}

/**
 * Decodes the bytes of an image index. Fails with {@link InvalidDocument}: `TooLarge`,
 * `NotJson`, `UnsupportedMediaType` (an image manifest, a Docker schema 1 manifest, an unknown
 * `mediaType`), `UnsupportedSchemaVersion`, or `Schema` (a field of the wrong shape, or the
 * fields of another kind of document). Returns an `Either`, which is also an `Effect`.
 *
 * @since 0.1.0
 */
export const decode = (bytes: Uint8Array, options: DecodeOptions = {}): Either.Either<Raw, InvalidDocument> =>
  Either.gen(function* () {
    const json = yield* Json.parse(bytes, "index", options.maxSize)
    const mediaType = yield* Json.classify(json, "index", options.mediaType)
    const value = yield* Json.decodeValue(IndexManifest, json, "index")
    return RawDocument.make(bytes, value, mediaType)
  })

const shape: Json.Shape = Json.struct([
  "schemaVersion",
  "mediaType",
  ["manifests", Json.array(Json.descriptorShape)],
  ["annotations", Json.map()],
  ["subject", Json.descriptorShape],
  "artifactType"
])

/**
 * Encodes an index we generate as compact JSON with ggcr's field order and Go's escaping, so
 * it has the bytes ggcr would write for it. Fields unknown to the Schema are written after the
 * known ones. Never use this to recompute the digest of an index that was read.
 *
 * @since 0.1.0
 */
export const encode = (index: IndexManifest): Uint8Array => Json.encode(index, shape)

/**
 * Encodes an index once and pairs the bytes with it.
 *
 * @since 0.1.0
 */
export const toRaw = (index: IndexManifest): Raw =>
  RawDocument.make(encode(index), index, Json.resolveMediaType(index) ?? MediaType.OCI_INDEX)

/**
 * Options for {@link make}.
 *
 * @since 0.1.0
 */
export interface MakeOptions {
  /** Defaults to the OCI index type. */
  readonly mediaType?: MediaType.MediaType | undefined
  readonly artifactType?: string | undefined
  readonly subject?: Descriptor.Descriptor | undefined
  readonly annotations?: Descriptor.Annotations | undefined
}

/**
 * Builds an index from its children.
 *
 * @since 0.1.0
 */
export const make = (manifests: ReadonlyArray<Descriptor.Descriptor>, options: MakeOptions = {}): IndexManifest => ({
  schemaVersion: 2,
  mediaType: options.mediaType ?? MediaType.OCI_INDEX,
  ...(options.artifactType !== undefined ? { artifactType: options.artifactType } : {}),
  manifests,
  ...(options.subject !== undefined ? { subject: options.subject } : {}),
  ...(options.annotations !== undefined ? { annotations: options.annotations } : {})
})

/**
 * The descriptors of an index's children, in order.
 *
 * @since 0.1.0
 */
export const children = (index: IndexManifest): ReadonlyArray<Descriptor.Descriptor> => index.manifests

/**
 * The platform of a child as ggcr reads it: its `platform`, or linux/amd64 when it has none.
 *
 * @since 0.1.0
 */
export const platformOf = (child: Descriptor.Descriptor): Platform.Platform =>
  child.platform ?? Platform.defaultPlatform

/**
 * The first child whose platform {@link Platform.matches} the one asked for, as ggcr's remote
 * `childByPlatform`: a child without a platform counts as linux/amd64.
 *
 * @since 0.1.0
 */
export const findByPlatform: {
  (platform: Platform.Platform): (index: IndexManifest) => Option.Option<Descriptor.Descriptor>
  (index: IndexManifest, platform: Platform.Platform): Option.Option<Descriptor.Descriptor>
} = dual(
  2,
  (index: IndexManifest, platform: Platform.Platform): Option.Option<Descriptor.Descriptor> =>
    Option.fromNullable(index.manifests.find((child) => Platform.matches(platformOf(child), platform)))
)

/**
 * The first child with the given digest.
 *
 * @since 0.1.0
 */
export const findByDigest: {
  (digest: Digest.Digest): (index: IndexManifest) => Option.Option<Descriptor.Descriptor>
  (index: IndexManifest, digest: Digest.Digest): Option.Option<Descriptor.Descriptor>
} = dual(
  2,
  (index: IndexManifest, digest: Digest.Digest): Option.Option<Descriptor.Descriptor> =>
    Option.fromNullable(index.manifests.find((child) => child.digest === digest))
)
