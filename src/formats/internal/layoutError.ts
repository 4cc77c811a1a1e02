/**
 * The typed failure of OCI image layouts, kept apart from `Layout.ts` so that the internal
 * modules can raise it without importing the public module. `Layout.ts` re-exports it.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import * as Data from "effect/Data"

/**
 * Why an OCI layout operation failed.
 *
 * - `NotALayout`: the directory has no `oci-layout` with `imageLayoutVersion` 1.0.0, or no
 *   `index.json`.
 * - `BlobNotFound`: the layout refers to a blob it does not hold.
 * - `DigestMismatch`: a blob's bytes do not hash to its name (or to the digest it was written as).
 * - `SizeMismatch`: a blob's length is not the size its descriptor gives.
 * - `UnsafePath`: a blob is a symbolic link or not a regular file, or a name is not a digest.
 * - `Io`: the file system failed.
 *
 * @since 0.1.0
 */
export type LayoutErrorReason = "NotALayout" | "BlobNotFound" | "DigestMismatch" | "SizeMismatch" | "UnsafePath" | "Io"

/**
 * A failure reading or writing an OCI image layout. `path` is the file or directory concerned;
 * `digest` the blob, when there is one; for mismatches `actual` is what was found.
 *
 * @since 0.1.0
 */
export class LayoutError extends Data.TaggedError("LayoutError")<{
  readonly reason: LayoutErrorReason
  readonly path: string
  readonly detail: string
  readonly digest?: string | undefined
  readonly actual?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const blob = this.digest !== undefined ? ` (blob ${this.digest})` : ""
    return `OCI layout ${this.reason} at ${this.path}${blob}: ${this.detail}`
  }
}

/** Maps a platform failure to an `Io` layout error about `path`. @internal */
export const io =
  (path: string, detail: string, digest?: string) =>
  (cause: PlatformError): LayoutError =>
    new LayoutError({ reason: "Io", path, detail: `${detail}: ${cause.message}`, digest, cause })
