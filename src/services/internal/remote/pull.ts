/**
 * Images and indexes read from a registry, as ggcr's `remoteImage` and `remoteIndex`: the
 * manifest is fetched up front, everything else (config, layers, child manifests) when first
 * asked for, through the image model's partial cores, which check every blob and child
 * manifest against its descriptor while it streams.
 *
 * @since 0.1.0
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import type * as Descriptor from "../../../domain/Descriptor.js"
import * as Digest from "../../../domain/Digest.js"
import type { DigestMismatch, SizeMismatch } from "../../../domain/Errors.js"
import type * as Image from "../../../domain/Image.js"
import type * as ImageIndex from "../../../domain/ImageIndex.js"
import * as ImageLayer from "../../../domain/ImageLayer.js"
import * as IndexManifest from "../../../domain/IndexManifest.js"
import * as Manifest from "../../../domain/Manifest.js"
import * as MediaType from "../../../domain/MediaType.js"
import * as Partial from "../../../domain/Partial.js"
import * as Platform from "../../../domain/Platform.js"
import * as Reference from "../../../domain/Reference.js"
import type { RegistryError } from "../../RegistryError.js"
import * as RegistryTransport from "../../RegistryTransport.js"
import { RemoteError } from "./error.js"
import * as Fetch from "./fetch.js"
import * as Mount from "./mount.js"

/**
 * How reading a pulled image or index may fail: a request, or bytes that are not what their
 * descriptor says (the image model's errors).
 *
 * @since 0.1.0
 */
export type PullError = RegistryError | Partial.DerivedError

// The bytes of a child manifest: embedded in its descriptor (and checked here), or fetched
// by digest (and checked by the fetch).
const childManifest = (
  context: Fetch.Context,
  repository: Reference.Repository,
  descriptor: Descriptor.Descriptor
): Effect.Effect<Uint8Array, RegistryError | DigestMismatch | SizeMismatch> => {
  if (descriptor.data !== undefined) {
    const bytes = Either.getOrElse(Encoding.decodeBase64(descriptor.data), () => new Uint8Array(0))
    return Effect.as(
      Digest.verifyBytes(bytes, descriptor.digest, { size: descriptor.size, subject: `embedded manifest ${descriptor.digest}` }),
      bytes
    )
  }
  return Effect.map(
    Fetch.getManifest(context, Reference.withDigest(repository, descriptor.digest), [descriptor.mediaType]),
    (fetched) => fetched.bytes
  )
}

const unexpected = (fetched: Fetch.Fetched, detail: string) =>
  new RemoteError({
    reason: "UnexpectedMediaType",
    reference: Reference.name(fetched.ref),
    mediaType: fetched.mediaType,
    detail
  })

/**
 * The image a fetched manifest is: the image itself, or, for an index, its child for the
 * platform (children without one count as linux/amd64), fetched in turn.
 *
 * @since 0.1.0
 */
export const toImage = (
  context: Fetch.Context,
  fetched: Fetch.Fetched,
  platform: Platform.Platform
): Effect.Effect<Image.Image<PullError>, PullError | RemoteError> =>
  Effect.gen(function*() {
    const repository = fetched.ref.repository
    const mediaType = fetched.mediaType
    if (MediaType.isSchema1(mediaType)) {
      return yield* unexpected(fetched, "Docker schema 1 manifests are not supported")
    }
    if (MediaType.isIndex(mediaType)) {
      const index = yield* IndexManifest.decode(fetched.bytes, { mediaType })
      const child = IndexManifest.findByPlatform(index.value, platform)
      if (Option.isNone(child)) {
        return yield* new RemoteError({
          reason: "NoMatchingPlatform",
          reference: Reference.name(fetched.ref),
          mediaType,
          platform,
          available: index.value.manifests.map(IndexManifest.platformOf)
        })
      }
      const descriptor = child.value
      const bytes = yield* childManifest(context, repository, descriptor)
      const childRef = Reference.withDigest(repository, descriptor.digest)
      return yield* toImage(context, { ref: childRef, bytes, mediaType: descriptor.mediaType, descriptor }, platform)
    }
    if (!MediaType.isImage(mediaType)) {
      // Registries serving odd content types get the benefit of the doubt, as in ggcr: the
      // bytes decide.
      const decoded = Manifest.decode(fetched.bytes)
      if (Either.isLeft(decoded)) return yield* unexpected(fetched, "not an image manifest")
    }
    const image = Partial.fromCompressed<RegistryError>({
      rawManifest: Effect.succeed(fetched.bytes),
      blob: (descriptor) => Fetch.blob(context, repository, descriptor),
      mediaType,
      descriptor: fetched.descriptor
    })
    // Fail now, not at the first accessor, when the manifest does not decode.
    yield* image.manifest
    return Mount.markImage(image, repository)
  })

/**
 * The index a fetched manifest is; an image or anything else is an `UnexpectedMediaType`.
 *
 * @since 0.1.0
 */
export const toIndex = (
  context: Fetch.Context,
  fetched: Fetch.Fetched
): Effect.Effect<ImageIndex.ImageIndex<PullError>, PullError | RemoteError> =>
  Effect.gen(function*() {
    const repository = fetched.ref.repository
    const mediaType = fetched.mediaType
    if (MediaType.isImage(mediaType)) {
      return yield* unexpected(fetched, "an image, not an index (read it as an image instead)")
    }
    if (MediaType.isSchema1(mediaType)) {
      return yield* unexpected(fetched, "Docker schema 1 manifests are not supported")
    }
    const index = Partial.indexFromCore<RegistryError | DigestMismatch | SizeMismatch>({
      rawManifest: Effect.succeed(fetched.bytes),
      manifest: (descriptor) => childManifest(context, repository, descriptor),
      blob: (descriptor) => Fetch.blob(context, repository, descriptor),
      mediaType: MediaType.isIndex(mediaType) ? mediaType : undefined,
      descriptor: fetched.descriptor
    })
    yield* Effect.mapError(index.indexManifest, (e): PullError | RemoteError =>
      e._tag === "InvalidDocument" ? unexpected(fetched, `not an index: ${e.detail}`) : e)
    return Mount.markIndex(index, repository)
  })

/**
 * A single blob by digest, as ggcr's `remote.Layer`: its size from a `HEAD`, its bytes
 * streamed (and checked against the digest) when read.
 *
 * @since 0.1.0
 */
export const layer = (
  context: Fetch.Context,
  ref: Reference.DigestRef
): Effect.Effect<ImageLayer.ImageLayer<PullError>, RegistryError> =>
  Effect.gen(function*() {
    const repository = ref.repository
    const response = yield* context.transport.execute(
      HttpClientRequest.head(Fetch.path(repository, "blobs", ref.digest)),
      RegistryTransport.pull(repository)
    )
    const header = Number(response.headers["content-length"] ?? Number.NaN)
    const size = Number.isSafeInteger(header) && header >= 0 ? header : undefined
    const descriptor = { mediaType: MediaType.DOCKER_LAYER, digest: ref.digest, size: size ?? 0 }
    // Checked as it streams, so that both the stored and the uncompressed bytes are verified.
    const stream = Digest.verifyStream(Fetch.blob(context, repository, descriptor), ref.digest, {
      size,
      subject: `blob ${ref.digest}`
    })
    const verified = ImageLayer.fromCompressed(stream, { digest: ref.digest, ...(size === undefined ? {} : { size }) })
    return Mount.markLayer<PullError>(verified, repository)
  })
