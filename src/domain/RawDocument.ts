/**
 * A JSON document as it travels: its exact bytes together with the value parsed from them,
 * their digest and their media type. The digest is always over the bytes, never over a
 * re-serialisation of the value ("bytes are truth").
 *
 * @since 0.1.0
 */
import * as Descriptor from "./Descriptor.js"
import * as Digest from "./Digest.js"
import type * as MediaType from "./MediaType.js"

/**
 * Exact bytes and the value they hold.
 *
 * @since 0.1.0
 */
export interface RawDocument<A> {
  /** The document's bytes, exactly as read or written. */
  readonly bytes: Uint8Array
  /** The value decoded from the bytes; unknown fields are kept on it. */
  readonly value: A
  /** The sha256 digest of {@link bytes}. */
  readonly digest: Digest.Digest
  /** The media type of the document. */
  readonly mediaType: MediaType.MediaType
}

/**
 * Pairs bytes with their value and media type, computing the digest. The bytes are copied, so
 * later changes to the caller's buffer cannot make them disagree with the digest.
 *
 * @since 0.1.0
 */
export const make = <A>(bytes: Uint8Array, value: A, mediaType: MediaType.MediaType): RawDocument<A> => {
  const copy = new Uint8Array(bytes)
  return { bytes: copy, value, digest: Digest.fromBytes(copy), mediaType }
}

/**
 * The size of the document in bytes.
 *
 * @since 0.1.0
 */
export const size = <A>(raw: RawDocument<A>): number => raw.bytes.byteLength

/**
 * The descriptor that points at the document: its media type, digest and size, plus any
 * optional fields.
 *
 * @since 0.1.0
 */
export const descriptor = <A>(
  raw: RawDocument<A>,
  extra: Omit<Partial<Descriptor.Descriptor>, "mediaType" | "digest" | "size"> = {}
): Descriptor.Descriptor => Descriptor.make(raw.mediaType, raw.digest, raw.bytes.byteLength, extra)
