/**
 * The failures of remote operations that are not failed requests: a registry answered, but
 * with something other than what was asked for.
 *
 * @since 0.1.0
 * @internal
 */
import * as Data from "effect/Data"
import * as Platform from "../../../domain/Platform.js"

/**
 * What went wrong:
 * - `NoMatchingPlatform`: an image was asked for, an index was found, and none of its children
 *   is for the platform asked for (`available` lists theirs);
 * - `UnexpectedMediaType`: an image was asked for and an index is not what came back, or the
 *   other way round, or something that is neither (a Docker schema 1 manifest, an artifact);
 * - `InvalidFallbackIndex`: the referrers fallback tag holds something other than an OCI
 *   index, so it cannot be updated or read.
 *
 * @since 0.1.0
 */
export type RemoteErrorReason = "NoMatchingPlatform" | "UnexpectedMediaType" | "InvalidFallbackIndex"

/**
 * A registry answered, but not with what was asked for.
 *
 * @since 0.1.0
 */
export class RemoteError extends Data.TaggedError("RemoteError")<{
  readonly reason: RemoteErrorReason
  /** The reference asked for, in full (`host/repo:tag` or `host/repo@digest`). */
  readonly reference: string
  /** The media type that came back. */
  readonly mediaType?: string | undefined
  /** The platform asked for (`NoMatchingPlatform`). */
  readonly platform?: Platform.Platform | undefined
  /** The platforms the index offers (`NoMatchingPlatform`). */
  readonly available?: ReadonlyArray<Platform.Platform> | undefined
  readonly detail?: string | undefined
}> {
  override get message(): string {
    switch (this.reason) {
      case "NoMatchingPlatform": {
        const wanted = this.platform === undefined ? "the platform asked for" : Platform.format(this.platform)
        const offered = (this.available ?? []).map(Platform.format)
        return `no image for ${wanted} in index ${this.reference} (it has ${
          offered.length === 0 ? "no children" : offered.join(", ")
        })`
      }
      case "UnexpectedMediaType":
        return `${this.reference} is ${this.mediaType ?? "of no known media type"}${
          this.detail === undefined ? "" : `: ${this.detail}`
        }`
      case "InvalidFallbackIndex":
        return `the referrers fallback tag ${this.reference} is not an OCI image index${
          this.detail === undefined ? "" : `: ${this.detail}`
        }`
    }
  }
}
