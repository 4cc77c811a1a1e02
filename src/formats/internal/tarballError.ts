/**
 * The typed failure of reading and writing `docker save` tarballs; `Tarball` re-exports it.
 *
 * @internal
 */
import * as Data from "effect/Data"

/**
 * Why reading or writing a tarball failed:
 * - `NoManifest`: the tarball has no `manifest.json`;
 * - `NullManifest`: `manifest.json` is `null`;
 * - `InvalidManifest`: `manifest.json` is not JSON, has the wrong shape, is too large, or
 *   disagrees with the image config (layer and diff id counts);
 * - `ImageNotFound`: no image carries the tag asked for, or the tarball holds no image;
 * - `AmbiguousImage`: the tarball holds several images and no tag was given;
 * - `EntryNotFound`: `manifest.json` names a file the tarball does not hold;
 * - `LinkCycle`: following links inside the tarball came back to where it started;
 * - `UnsafePath`: a path is absolute or escapes the archive with `../`;
 * - `Truncated`: the tar ends in the middle of a header or an entry;
 * - `Corrupt`: a tar header is not valid;
 * - `NoImages`: there was nothing to write;
 * - `Io`: the file underneath could not be read or written, `cause` says how.
 *
 * @since 0.1.0
 */
export type TarballErrorReason =
  | "NoManifest"
  | "NullManifest"
  | "InvalidManifest"
  | "ImageNotFound"
  | "AmbiguousImage"
  | "EntryNotFound"
  | "LinkCycle"
  | "UnsafePath"
  | "Truncated"
  | "Corrupt"
  | "NoImages"
  | "Io"

/**
 * Reading or writing a `docker save` tarball failed. `path` is the entry inside the tarball
 * (or the file on disk for `Io`) the failure is about, when there is one.
 *
 * @since 0.1.0
 */
export class TarballError extends Data.TaggedError("TarballError")<{
  readonly reason: TarballErrorReason
  readonly path?: string | undefined
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const at = this.path !== undefined ? ` ${JSON.stringify(this.path)}` : ""
    const detail = this.detail !== undefined ? `: ${this.detail}` : ""
    switch (this.reason) {
      case "NoManifest":
        return `tarball has no manifest.json${detail}`
      case "NullManifest":
        return `tarball's manifest.json is null${detail}`
      case "InvalidManifest":
        return `invalid manifest.json in tarball${detail}`
      case "ImageNotFound":
        return `image not found in tarball${detail}`
      case "AmbiguousImage":
        return `tarball holds several images; ask for one by tag${detail}`
      case "EntryNotFound":
        return `file${at} not found in tarball${detail}`
      case "LinkCycle":
        return `link cycle in tarball at${at}${detail}`
      case "UnsafePath":
        return `unsafe path${at} in tarball${detail}`
      case "Truncated":
        return `tarball is truncated${detail}`
      case "Corrupt":
        return `tarball is corrupt${detail}`
      case "NoImages":
        return `no images to write to the tarball${detail}`
      case "Io": {
        const cause = this.cause instanceof Error ? `: ${this.cause.message}` : detail
        return `tarball I/O failed for${at}${cause}`
      }
    }
  }
}
