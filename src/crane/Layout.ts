/**
 * Housekeeping of a local OCI image layout (`crane layout gc`), as ggcr's `crane layout gc`:
 * the blobs nothing listed in `index.json` refers to, removed.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Effect from "effect/Effect"
import type * as Digest from "../domain/Digest.js"
import * as OciLayout from "../formats/Layout.js"

/**
 * Options of {@link gc}.
 *
 * @since 0.1.0
 */
export interface GcOptions {
  /** Only report the unreferenced blobs; leave them in place. */
  readonly dryRun?: boolean | undefined
}

/**
 * Removes the blobs of the layout in `path` that no image or index reachable from its
 * `index.json` refers to (ggcr's `Path.GarbageCollect` then `RemoveBlob` on each), and gives
 * their digests, sorted. Fails with `NotALayout` when `path` is not a layout.
 *
 * @since 0.1.0
 */
export const gc = (
  path: string,
  options: GcOptions = {}
): Effect.Effect<ReadonlyArray<Digest.Digest>, OciLayout.IndexError, FileSystem.FileSystem | Path.Path> =>
  OciLayout.garbageCollect(path, { delete: options.dryRun !== true })
