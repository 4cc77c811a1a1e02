/**
 * The typed failures of the pure domain: parsing digests, references and JSON documents, and
 * checking bytes against what a descriptor promised. Each class is one kind of failure; a
 * `reason` field tells its sub-cases apart and a `message` getter reads well to a human.
 * Callers recover with `Effect.catchTag("InvalidDigest", ...)` and so on.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/** Why a digest string was refused. */
export type InvalidDigestReason =
  | "Malformed"
  | "UnknownAlgorithm"
  | "BadLength"
  | "BadHex"

/**
 * A string that is not a valid `algorithm:hex` digest.
 *
 * @since 0.1.0
 */
export class InvalidDigest extends Data.TaggedError("InvalidDigest")<{
  readonly input: string
  readonly reason: InvalidDigestReason
  readonly detail: string
}> {
  override get message(): string {
    return `invalid digest ${JSON.stringify(truncate(this.input))}: ${this.detail}`
  }
}

/** Why a reference string was refused. */
export type InvalidReferenceReason =
  | "Empty"
  | "InvalidRegistry"
  | "InvalidRepository"
  | "InvalidTag"
  | "InvalidDigest"
  | "DefaultsRefused"
  | "TooLong"

/**
 * A string that is not a valid image reference (`registry/repo:tag@digest`).
 *
 * @since 0.1.0
 */
export class InvalidReference extends Data.TaggedError("InvalidReference")<{
  readonly input: string
  readonly reason: InvalidReferenceReason
  readonly detail: string
}> {
  override get message(): string {
    return `invalid reference ${JSON.stringify(truncate(this.input))}: ${this.detail}`
  }
}

/** Why a platform string or value was refused. */
export type InvalidPlatformReason = "Malformed" | "Empty"

/**
 * A string that is not a platform of the form `os[/arch[/variant]][:osversion]`.
 *
 * @since 0.1.0
 */
export class InvalidPlatform extends Data.TaggedError("InvalidPlatform")<{
  readonly input: string
  readonly reason: InvalidPlatformReason
  readonly detail: string
}> {
  override get message(): string {
    return `invalid platform ${JSON.stringify(truncate(this.input))}: ${this.detail}`
  }
}

/** The kind of JSON document a {@link InvalidDocument} error is about. */
export type DocumentKind = "manifest" | "index" | "config" | "descriptor" | "document"

/** Why a JSON document (manifest, index, config) was refused. */
export type InvalidDocumentReason =
  | "TooLarge"
  | "NotJson"
  | "Schema"
  | "UnsupportedMediaType"
  | "UnsupportedSchemaVersion"

/**
 * A manifest, index or config whose bytes could not be accepted.
 *
 * @since 0.1.0
 */
export class InvalidDocument extends Data.TaggedError("InvalidDocument")<{
  readonly kind: DocumentKind
  readonly reason: InvalidDocumentReason
  readonly detail: string
}> {
  override get message(): string {
    return `invalid ${this.kind} (${this.reason}): ${this.detail}`
  }
}

/**
 * Bytes whose digest is not the one they were asked by or described with.
 *
 * @since 0.1.0
 */
export class DigestMismatch extends Data.TaggedError("DigestMismatch")<{
  /** What was being read: `blob`, `manifest`, `layer sha256:...`, a file path... */
  readonly subject: string
  readonly expected: string
  readonly actual: string
}> {
  override get message(): string {
    return `digest mismatch for ${this.subject}: expected ${this.expected}, got ${this.actual}`
  }
}

/**
 * Bytes whose length is not the size they were described with.
 *
 * @since 0.1.0
 */
export class SizeMismatch extends Data.TaggedError("SizeMismatch")<{
  readonly subject: string
  readonly expected: number
  readonly actual: number
}> {
  override get message(): string {
    return `size mismatch for ${this.subject}: expected ${this.expected} bytes, got ${this.actual}`
  }
}

const truncate = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}…` : s)

/**
 * An image or index was asked for a blob, layer or child it does not reference.
 *
 * @since 0.1.0
 */
export class BlobNotFound extends Data.TaggedError("BlobNotFound")<{
  /** What was searched: `layer`, `diff id`, `blob`, `child manifest`. */
  readonly kind: string
  readonly digest: string
}> {
  override get message(): string {
    return `${this.kind} ${this.digest} not found`
  }
}
