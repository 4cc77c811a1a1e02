/**
 * The typed failure of writing legacy (`docker save` v1.2) tarballs; `LegacyTarball`
 * re-exports it.
 *
 * @internal
 */
import * as Data from "effect/Data"

/**
 * Why writing a legacy tarball failed:
 * - `NoImages`: there was nothing to write;
 * - `HistoryMismatch`: the config's history (without its empty layers) does not have one
 *   entry per layer, so the v1 layer metadata cannot be made;
 * - `Corrupt`: the tar writer refused an entry;
 * - `Io`: the file (or a spool file) underneath could not be written, `cause` says how.
 *
 * @since 0.1.0
 */
export type LegacyTarballErrorReason = "NoImages" | "HistoryMismatch" | "Corrupt" | "Io"

/**
 * Writing a legacy tarball failed. `path` is the file the failure is about, when there is one.
 *
 * @since 0.1.0
 */
export class LegacyTarballError extends Data.TaggedError("LegacyTarballError")<{
  readonly reason: LegacyTarballErrorReason
  readonly path?: string | undefined
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const detail = this.detail !== undefined ? `: ${this.detail}` : ""
    switch (this.reason) {
      case "NoImages":
        return `no images to write to the legacy tarball${detail}`
      case "HistoryMismatch":
        return `cannot write a legacy tarball${detail}`
      case "Corrupt":
        return `legacy tarball could not be written${detail}`
      case "Io": {
        const at = this.path !== undefined ? ` ${JSON.stringify(this.path)}` : ""
        const cause = this.cause instanceof Error ? `: ${this.cause.message}` : detail
        return `legacy tarball I/O failed for${at}${cause}`
      }
    }
  }
}
