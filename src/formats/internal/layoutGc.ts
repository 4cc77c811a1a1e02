/**
 * Garbage collection of an OCI layout, as ggcr's `gc.go`: the blobs reachable from
 * `index.json` (manifests, configs, layers, nested indexes) are kept, every other file under
 * `blobs/<algorithm>/` named by a digest is unreachable.
 *
 * Unlike ggcr, a child of a media type that is neither an image nor an index (ggcr fails on
 * those) is kept, and when its bytes are a manifest or an index, what they reference is kept
 * too: a layout that lists an image under `application/vnd.oci.descriptor.v1+json` loses
 * nothing. A manifest the layout refers to but does not hold fails with `BlobNotFound`, since
 * what it references cannot be known.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Descriptor from "../../domain/Descriptor.js"
import * as Digest from "../../domain/Digest.js"
import type { InvalidDocument, SizeMismatch } from "../../domain/Errors.js"
import * as IndexManifest from "../../domain/IndexManifest.js"
import * as Manifest from "../../domain/Manifest.js"
import * as MediaType from "../../domain/MediaType.js"
import { io, type LayoutError } from "./layoutError.js"
import * as Files from "./layoutFiles.js"

/** Children of unknown media types larger than this are not looked into. */
const sniffLimit = 4 * 1024 * 1024

type GcError = LayoutError | InvalidDocument | SizeMismatch

/**
 * The digests of every blob reachable from an index's children.
 *
 * @internal
 */
export const reachable = (
  ctx: Files.Ctx,
  index: IndexManifest.IndexManifest
): Effect.Effect<ReadonlySet<string>, GcError> =>
  Effect.suspend(() => {
    const keep = new Set<string>()

    const image = (manifest: Manifest.Manifest) =>
      Effect.sync(() => {
        keep.add(manifest.config.digest)
        for (const layer of manifest.layers) keep.add(layer.digest)
      })

    const children = (idx: IndexManifest.IndexManifest): Effect.Effect<void, GcError> =>
      Effect.forEach(idx.manifests, visit, { discard: true })

    const visit = (d: Descriptor.Descriptor): Effect.Effect<void, GcError> =>
      Effect.suspend(() => {
        if (keep.has(d.digest)) return Effect.void
        keep.add(d.digest)
        if (MediaType.isImage(d.mediaType)) {
          return Effect.flatMap(Files.readDocument(ctx, d.digest, d.size), (bytes) =>
            Effect.flatMap(Manifest.decode(bytes, { mediaType: d.mediaType }), (raw) => image(raw.value))
          )
        }
        if (MediaType.isIndex(d.mediaType)) {
          return Effect.flatMap(Files.readDocument(ctx, d.digest, d.size), (bytes) =>
            Effect.flatMap(IndexManifest.decode(bytes, { mediaType: d.mediaType }), (raw) => children(raw.value))
          )
        }
        if (d.size > sniffLimit) return Effect.void
        return Effect.flatMap(Files.readDocument(ctx, d.digest, d.size), (bytes) => {
          const sniffed = Manifest.sniff(bytes)
          if (Option.isNone(sniffed)) return Effect.void
          if (MediaType.isImage(sniffed.value)) {
            const raw = Manifest.decode(bytes)
            return Either.isRight(raw) ? image(raw.right.value) : Effect.void
          }
          if (MediaType.isIndex(sniffed.value)) {
            const raw = IndexManifest.decode(bytes)
            return Either.isRight(raw) ? children(raw.right.value) : Effect.void
          }
          return Effect.void
        })
      })

    return Effect.as(children(index), keep)
  })

/**
 * Every blob under `blobs/` named by a digest and not in `keep`, sorted. Other files
 * (temporary files of writes in progress, strangers) are left out.
 *
 * @internal
 */
export const unreachable = (
  ctx: Files.Ctx,
  keep: ReadonlySet<string>
): Effect.Effect<ReadonlyArray<Digest.Digest>, LayoutError> =>
  Effect.gen(function* () {
    const found: Array<Digest.Digest> = []
    for (const alg of Object.keys(Digest.algorithms) as ReadonlyArray<Digest.Algorithm>) {
      const dir = Files.inLayout(ctx, Files.blobsDir, alg)
      const names = yield* ctx.fs.readDirectory(dir).pipe(
        Effect.catchIf(Files.isNotFound, () => Effect.succeed<Array<string>>([])),
        Effect.mapError(io(dir, "cannot list the blobs"))
      )
      for (const name of names) {
        const digest = Digest.make(alg, name)
        if (Either.isRight(digest) && !keep.has(digest.right)) found.push(digest.right)
      }
    }
    return found.sort()
  })
