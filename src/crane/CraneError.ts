/**
 * The failures of crane functions that are neither a bad name, a failed request nor bad
 * bytes: what was asked cannot be done with what was found (an image where an index is
 * needed, a layout holding several images, a tag that must not be overwritten).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * Why a crane function refused:
 * - `Clobber`: the destination tag exists and overwriting was refused (`--no-clobber`);
 * - `NotAnIndex` / `NotAnImage`: the reference names the other kind of manifest;
 * - `Unsupported`: something crane does not do (mutating an index, pushing a schema 1 image);
 * - `Ambiguous`: a layout or tarball holds several images and none was chosen;
 * - `MissingBase`: rebasing without knowing the old or new base;
 * - `InvalidArgument`: options that contradict each other.
 *
 * @since 0.1.0
 */
export type CraneErrorReason =
  | "Clobber"
  | "NotAnIndex"
  | "NotAnImage"
  | "Unsupported"
  | "Ambiguous"
  | "MissingBase"
  | "InvalidArgument"

/**
 * A crane function refused what it was asked.
 *
 * @since 0.1.0
 */
export class CraneError extends Data.TaggedError("CraneError")<{
  readonly reason: CraneErrorReason
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}
