/**
 * Writing images and indexes into an OCI layout's `blobs/`, as ggcr's `WriteImage` and
 * `WriteIndex`: an image's layers concurrently, then its config, then its manifest; an index's
 * children (recursively) before its own manifest. One writer serves one operation: it bounds
 * how many blobs are written at once across everything it writes, and writes a blob shared by
 * several images once.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Digest from "../../domain/Digest.js"
import type { BlobNotFound } from "../../domain/Errors.js"
import type * as Image from "../../domain/Image.js"
import type * as ImageIndex from "../../domain/ImageIndex.js"
import type * as ImageLayer from "../../domain/ImageLayer.js"
import { memoize } from "../../domain/internal/memo.js"
import type { LayoutError } from "./layoutError.js"
import * as Files from "./layoutFiles.js"

/** How many blobs are written at once unless told otherwise. @internal */
export const defaultConcurrency = 4

/** Writes images and indexes into one layout. @internal */
export interface Writer<E> {
  readonly image: (image: Image.Image<E>) => Effect.Effect<void, E | LayoutError>
  /** Writes the children of an index and then its own manifest as a blob. */
  readonly index: (index: ImageIndex.ImageIndex<E>) => Effect.Effect<void, E | BlobNotFound | LayoutError>
  /** Writes the children of an index only (for `index.json`, which is not a blob). */
  readonly children: (index: ImageIndex.ImageIndex<E>) => Effect.Effect<void, E | BlobNotFound | LayoutError>
}

/** A writer into the layout of `ctx`, with at most `concurrency` blob writes at once. @internal */
export const make = <E>(ctx: Files.Ctx, concurrency: number = defaultConcurrency): Writer<E> => {
  const limit = Math.max(1, Math.floor(concurrency))
  const permits = Effect.unsafeMakeSemaphore(limit)
  const started = new Map<Digest.Digest, Effect.Effect<void, E | LayoutError>>()

  const blob = (digest: Digest.Digest, bytes: Stream.Stream<Uint8Array, E>, size: number) =>
    Effect.suspend(() => {
      let run = started.get(digest)
      if (run === undefined) {
        run = memoize(permits.withPermits(1)(Effect.asVoid(Files.writeBlob(ctx, digest, bytes, size))))
        started.set(digest, run)
      }
      return run
    })

  const small = (digest: Digest.Digest, bytes: Uint8Array) => blob(digest, Stream.succeed(bytes), bytes.byteLength)

  const layer = (l: ImageLayer.ImageLayer<E>) =>
    Effect.flatMap(Effect.all([l.digest, l.size]), ([digest, size]) => blob(digest, l.compressed, size))

  const image = (img: Image.Image<E>): Effect.Effect<void, E | LayoutError> =>
    Effect.gen(function* () {
      yield* Effect.forEach(yield* img.layers, layer, { concurrency: limit, discard: true })
      const [configName, config] = yield* Effect.all([img.configName, img.rawConfigFile])
      yield* small(configName, config)
      const [digest, manifest] = yield* Effect.all([img.digest, img.rawManifest])
      yield* small(digest, manifest)
    })

  const children = (idx: ImageIndex.ImageIndex<E>): Effect.Effect<void, E | BlobNotFound | LayoutError> =>
    Effect.gen(function* () {
      const manifest = yield* idx.indexManifest
      yield* Effect.forEach(
        manifest.manifests,
        (descriptor) =>
          Effect.flatMap(idx.child(descriptor.digest), (child): Effect.Effect<void, E | BlobNotFound | LayoutError> => {
            switch (child._tag) {
              case "Image":
                return image(child.image)
              case "Index":
                return index(child.index)
              case "Other":
                return small(descriptor.digest, child.bytes)
            }
          }),
        { concurrency: limit, discard: true }
      )
    })

  const index = (idx: ImageIndex.ImageIndex<E>): Effect.Effect<void, E | BlobNotFound | LayoutError> =>
    Effect.gen(function* () {
      yield* children(idx)
      const [digest, manifest] = yield* Effect.all([idx.digest, idx.rawManifest])
      yield* small(digest, manifest)
    })

  return { image, index, children }
}
