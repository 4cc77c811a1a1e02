/**
 * Image manifests: the OCI image manifest and Docker's v2 schema 2 manifest, which share one
 * shape (ggcr's `v1.Manifest`). Decoding keeps the exact bytes next to the value, with their
 * digest and media type (a {@link Raw}); unknown fields survive on the value. Also the media
 * type detection that tells what kind of manifest some bytes are.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Descriptor from "./Descriptor.js"
import type { InvalidDocument } from "./Errors.js"
import * as Json from "./internal/json.js"
import * as MediaType from "./MediaType.js"
import * as RawDocument from "./RawDocument.js"

/**
 * Schema of an image manifest. `mediaType` is optional: OCI manifests written before image-spec
 * 1.0.2 omit it.
 *
 * @since 0.1.0
 */
export const Manifest = Schema.Struct({
  schemaVersion: Schema.Literal(2),
  mediaType: Schema.optionalWith(MediaType.MediaType, { exact: true }),
  artifactType: Schema.optionalWith(MediaType.MediaType, { exact: true }),
  config: Descriptor.Descriptor,
  layers: Schema.Array(Descriptor.Descriptor),
  subject: Schema.optionalWith(Descriptor.Descriptor, { exact: true }),
  annotations: Schema.optionalWith(Descriptor.Annotations, { exact: true })
}).annotations({ identifier: "Manifest" })

/**
 * An image manifest value.
 *
 * @since 0.1.0
 */
export interface Manifest extends Schema.Schema.Type<typeof Manifest> {}

/**
 * A manifest's exact bytes with its value, digest and media type.
 *
 * @since 0.1.0
 */
export interface Raw extends RawDocument.RawDocument<Manifest> {}

/**
 * Options for {@link decode}.
 *
 * @since 0.1.0
 */
export interface DecodeOptions {
  /** The largest manifest accepted, in bytes. Defaults to 100 MiB, as ggcr. */
  readonly maxSize?: number | undefined
  /**
   * The media type the bytes were served or described with. Used only when the document has
   * no `mediaType` field, to tell a Docker document from an OCI one of the same kind.
   */
  readonly mediaType?: MediaType.MediaType | undefined
}

/**
 * Decodes the bytes of an image manifest. Fails with {@link InvalidDocument}: `TooLarge`,
 * `NotJson`, `UnsupportedMediaType` (an index, a Docker schema 1 manifest, an unknown
 * `mediaType`), `UnsupportedSchemaVersion`, or `Schema` (a field of the wrong shape, or the
 * fields of another kind of document). Returns an `Either`, which is also an `Effect`.
 *
 * @since 0.1.0
 */
export const decode = (bytes: Uint8Array, options: DecodeOptions = {}): Either.Either<Raw, InvalidDocument> =>
  Either.gen(function* () {
    const json = yield* Json.parse(bytes, "manifest", options.maxSize)
    const mediaType = yield* Json.classify(json, "manifest", options.mediaType)
    const value = yield* Json.decodeValue(Manifest, json, "manifest")
    return RawDocument.make(bytes, value, mediaType)
  })

const shape: Json.Shape = Json.struct([
  "schemaVersion",
  "mediaType",
  ["config", Json.descriptorShape],
  ["layers", Json.array(Json.descriptorShape)],
  ["annotations", Json.map()],
  ["subject", Json.descriptorShape],
  "artifactType"
])

/**
 * Encodes a manifest we generate as compact JSON with ggcr's field order and Go's escaping, so
 * it has the bytes ggcr would write for it. Fields unknown to the Schema are written after the
 * known ones. Never use this to recompute the digest of a manifest that was read: its bytes are
 * the truth.
 *
 * @since 0.1.0
 */
export const encode = (manifest: Manifest): Uint8Array => Json.encode(manifest, shape)

/**
 * Encodes a manifest once and pairs the bytes with it.
 *
 * @since 0.1.0
 */
export const toRaw = (manifest: Manifest): Raw =>
  RawDocument.make(encode(manifest), manifest, Json.resolveMediaType(manifest) ?? MediaType.OCI_MANIFEST)

/**
 * Options for {@link make}.
 *
 * @since 0.1.0
 */
export interface MakeOptions {
  /** Defaults to the Docker manifest type for a Docker config, else the OCI one. */
  readonly mediaType?: MediaType.MediaType | undefined
  readonly artifactType?: string | undefined
  readonly subject?: Descriptor.Descriptor | undefined
  readonly annotations?: Descriptor.Annotations | undefined
}

/**
 * Builds a manifest from its config and layers. The media type follows the config's family
 * unless given.
 *
 * @since 0.1.0
 */
export const make = (
  config: Descriptor.Descriptor,
  layers: ReadonlyArray<Descriptor.Descriptor>,
  options: MakeOptions = {}
): Manifest => ({
  schemaVersion: 2,
  mediaType: options.mediaType ??
    (config.mediaType === MediaType.DOCKER_CONFIG ? MediaType.DOCKER_MANIFEST : MediaType.OCI_MANIFEST),
  ...(options.artifactType !== undefined ? { artifactType: options.artifactType } : {}),
  config,
  layers,
  ...(options.subject !== undefined ? { subject: options.subject } : {}),
  ...(options.annotations !== undefined ? { annotations: options.annotations } : {})
})

/**
 * The media type a parsed JSON document declares or, when it declares none, the one its shape
 * suggests (as containers/image's `GuessMIMEType`): Docker schema 1 (signed or not), Docker
 * schema 2, OCI manifest or OCI index. `None` for anything that is not a manifest.
 *
 * @since 0.1.0
 */
export const detectMediaType = (document: unknown): Option.Option<MediaType.MediaType> =>
  Option.fromNullable(Json.resolveMediaType(document))

/**
 * What kind of manifest some bytes are, by {@link detectMediaType}; `None` when they are not
 * JSON or larger than `maxSize` (100 MiB by default). Useful for registries and tarballs that
 * receive manifests without a trustworthy media type.
 *
 * @since 0.1.0
 */
export const sniff = (
  bytes: Uint8Array,
  options: { readonly maxSize?: number | undefined } = {}
): Option.Option<MediaType.MediaType> =>
  Either.match(Json.parse(bytes, "document", options.maxSize), {
    onLeft: () => Option.none(),
    onRight: detectMediaType
  })
