/**
 * Content descriptors: what a manifest says about a blob or child manifest (media type,
 * digest, size, and optional urls, annotations, embedded data, platform, artifact type).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Digest from "./Digest.js"
import * as MediaType from "./MediaType.js"
import { Platform } from "./Platform.js"

/**
 * Schema of a size field: a non-negative safe integer.
 *
 * @since 0.1.0
 */
export const Size = Schema.Number.pipe(
  Schema.int(),
  Schema.nonNegative(),
  Schema.lessThanOrEqualTo(Number.MAX_SAFE_INTEGER),
  Schema.annotations({ identifier: "Size" })
)

/**
 * Schema of an annotations map (string keys and values).
 *
 * @since 0.1.0
 */
export const Annotations = Schema.Record({ key: Schema.String, value: Schema.String }).annotations({
  identifier: "Annotations"
})

/** An annotations map. */
export type Annotations = Schema.Schema.Type<typeof Annotations>

/**
 * Schema of an OCI content descriptor.
 *
 * @since 0.1.0
 */
export const Descriptor = Schema.Struct({
  mediaType: MediaType.MediaType,
  size: Size,
  digest: Digest.Digest,
  data: Schema.optionalWith(Schema.String, { exact: true }),
  urls: Schema.optionalWith(Schema.Array(Schema.String), { exact: true }),
  annotations: Schema.optionalWith(Annotations, { exact: true }),
  platform: Schema.optionalWith(Platform, { exact: true }),
  artifactType: Schema.optionalWith(Schema.String, { exact: true })
}).annotations({ identifier: "Descriptor" })

/**
 * A content descriptor.
 *
 * @since 0.1.0
 */
export interface Descriptor extends Schema.Schema.Type<typeof Descriptor> {}

/**
 * Builds a descriptor from its three required fields and any optional ones.
 *
 * @since 0.1.0
 */
export const make = (
  mediaType: MediaType.MediaType,
  digest: Digest.Digest,
  size: number,
  extra: Omit<Partial<Descriptor>, "mediaType" | "digest" | "size"> = {}
): Descriptor => ({ mediaType, size, digest, ...extra })

/**
 * The descriptor of some bytes: their digest and size under a media type.
 *
 * @since 0.1.0
 */
export const ofBytes = (
  mediaType: MediaType.MediaType,
  bytes: Uint8Array,
  extra: Omit<Partial<Descriptor>, "mediaType" | "digest" | "size"> = {}
): Descriptor => make(mediaType, Digest.fromBytes(bytes), bytes.byteLength, extra)
