/**
 * Reading from a registry, as ggcr's remote `fetcher`: manifests by `GET` (checked against
 * the digest they were asked by and against `Docker-Content-Digest`) and by `HEAD`, and blobs
 * as streams that pick up where they broke off with a `Range` request.
 *
 * @since 0.1.0
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Descriptor from "../../../domain/Descriptor.js"
import * as Digest from "../../../domain/Digest.js"
import { DigestMismatch } from "../../../domain/Errors.js"
import * as IndexManifest from "../../../domain/IndexManifest.js"
import * as Manifest from "../../../domain/Manifest.js"
import * as MediaType from "../../../domain/MediaType.js"
import * as Reference from "../../../domain/Reference.js"
import * as Progress from "../../Progress.js"
import { RegistryError } from "../../RegistryError.js"
import * as RegistryTransport from "../../RegistryTransport.js"

/**
 * What every remote operation works with: the transport and the progress it reports to,
 * both taken from the context when the operation starts (so the lazy accessors of a pulled
 * image need no context of their own).
 *
 * @since 0.1.0
 */
export interface Context {
  readonly transport: RegistryTransport.RegistryTransport
  readonly progress: Progress.Progress
}

/**
 * Every manifest media type, in the order ggcr's `Accept` header lists them.
 *
 * @since 0.1.0
 */
export const allManifestTypes: ReadonlyArray<MediaType.MediaType> = [
  MediaType.DOCKER_MANIFEST_SCHEMA1,
  MediaType.DOCKER_MANIFEST_SCHEMA1_SIGNED,
  MediaType.DOCKER_MANIFEST,
  MediaType.OCI_MANIFEST,
  MediaType.DOCKER_MANIFEST_LIST,
  MediaType.OCI_INDEX
]

/**
 * How many requests a blob download makes at most: the first and the ones resuming it after
 * the connection broke.
 *
 * @since 0.1.0
 */
export const maxBlobAttempts = 5

/**
 * The path of a repository endpoint: `/v2/<repo>/<kind>/<identifier>`.
 *
 * @since 0.1.0
 */
export const path = (repository: Reference.Repository, kind: "manifests" | "blobs" | "referrers", id: string): string =>
  `/v2/${repository.path}/${kind}/${id}`

/**
 * The media type of a response (`Content-Type` without its parameters), if any.
 *
 * @since 0.1.0
 */
export const contentType = (response: HttpClientResponse.HttpClientResponse): string | undefined => {
  const value = response.headers["content-type"]?.split(";")[0]?.trim()
  return value === undefined || value === "" ? undefined : value
}

/**
 * Reads and drops a small body so the connection can be reused. Never fails.
 *
 * @since 0.1.0
 */
export const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  response.request.method === "HEAD"
    ? Effect.void
    : Effect.ignore(RegistryTransport.readBytes(response, RegistryTransport.maxErrorBytes))

/**
 * A manifest as fetched: its exact bytes, the media type it was served with, and its
 * descriptor (digest and size of the bytes).
 *
 * @since 0.1.0
 */
export interface Fetched {
  readonly ref: Reference.Reference
  readonly descriptor: Descriptor.Descriptor
  readonly bytes: Uint8Array
  readonly mediaType: MediaType.MediaType
}

const headerDigest = (response: HttpClientResponse.HttpClientResponse): Digest.Digest | undefined => {
  const value = response.headers["docker-content-digest"]
  return value === undefined ? undefined : Either.getOrUndefined(Digest.parse(value.trim()))
}

// What a manifest says about itself for its descriptor: the artifact type of an artifact (its
// own, or its config's media type when that is not an image config) and its annotations.
const describe = (
  bytes: Uint8Array,
  mediaType: MediaType.MediaType
): Omit<Partial<Descriptor.Descriptor>, "mediaType" | "digest" | "size"> => {
  if (MediaType.isImage(mediaType)) {
    const decoded = Manifest.decode(bytes, { mediaType })
    if (Either.isLeft(decoded)) return {}
    const m = decoded.right.value
    const artifactType = m.artifactType ?? (MediaType.isConfig(m.config.mediaType) ? undefined : m.config.mediaType)
    return {
      ...(artifactType !== undefined ? { artifactType } : {}),
      ...(m.annotations !== undefined ? { annotations: m.annotations } : {})
    }
  }
  if (MediaType.isIndex(mediaType)) {
    const decoded = IndexManifest.decode(bytes, { mediaType })
    if (Either.isLeft(decoded)) return {}
    const m = decoded.right.value
    return {
      ...(m.artifactType !== undefined ? { artifactType: m.artifactType } : {}),
      ...(m.annotations !== undefined ? { annotations: m.annotations } : {})
    }
  }
  return {}
}

// The media type of fetched manifest bytes: a manifest type from `Content-Type`, or else the
// one the document declares or its shape suggests (static registries serve `text/plain`).
const mediaTypeOf = (served: string | undefined, bytes: Uint8Array): MediaType.MediaType => {
  if (served !== undefined && MediaType.isManifest(served)) return served
  return Option.getOrElse(Manifest.sniff(bytes), () => served ?? "application/octet-stream")
}

/**
 * `GET`s a manifest with the given `Accept` types. The bytes are checked against the digest
 * when the reference is a digest, and against `Docker-Content-Digest` when the registry sends
 * one (except for signed schema 1 manifests, whose digest is the header's, as in ggcr).
 *
 * @since 0.1.0
 */
export const getManifest = (
  context: Context,
  ref: Reference.Reference,
  accept: ReadonlyArray<MediaType.MediaType> = allManifestTypes
): Effect.Effect<Fetched, RegistryError | DigestMismatch> =>
  Effect.gen(function*() {
    const repository = ref.repository
    const response = yield* context.transport.execute(
      HttpClientRequest.get(path(repository, "manifests", Reference.identifier(ref))).pipe(
        HttpClientRequest.setHeader("accept", accept.join(","))
      ),
      RegistryTransport.pull(repository)
    )
    const bytes = yield* RegistryTransport.readManifest(response)
    const mediaType = mediaTypeOf(contentType(response), bytes)
    const announced = headerDigest(response)
    const subject = `manifest ${Reference.name(ref)}`
    let digest: Digest.Digest
    if (announced !== undefined && mediaType === MediaType.DOCKER_MANIFEST_SCHEMA1_SIGNED) {
      digest = announced
    } else {
      digest = Digest.fromBytes(bytes, ref._tag === "Digest" ? Digest.algorithm(ref.digest) : "sha256")
      if (announced !== undefined) {
        const actual = Digest.algorithm(announced) === Digest.algorithm(digest)
          ? digest
          : Digest.fromBytes(bytes, Digest.algorithm(announced))
        if (actual !== announced) {
          return yield* new DigestMismatch({ subject: `${subject} (Docker-Content-Digest)`, expected: announced, actual })
        }
      }
    }
    if (ref._tag === "Digest" && digest !== ref.digest) {
      return yield* new DigestMismatch({ subject, expected: ref.digest, actual: digest })
    }
    return {
      ref,
      bytes,
      mediaType,
      descriptor: Descriptor.make(mediaType, digest, bytes.byteLength, describe(bytes, mediaType))
    }
  })

/**
 * `HEAD`s a manifest: its descriptor from `Content-Type`, `Content-Length` and
 * `Docker-Content-Digest`, or `None` when one of them is missing. Statuses other than 200 fail
 * (or are `None` when listed in `absent`).
 *
 * @since 0.1.0
 */
export const headManifest = (
  context: Context,
  ref: Reference.Reference,
  options: { readonly absent?: ReadonlyArray<number> | undefined; readonly access?: RegistryTransport.Access } = {}
): Effect.Effect<Option.Option<Descriptor.Descriptor>, RegistryError | DigestMismatch> =>
  Effect.gen(function*() {
    const absent = options.absent ?? []
    const response = yield* context.transport.execute(
      HttpClientRequest.head(path(ref.repository, "manifests", Reference.identifier(ref))).pipe(
        HttpClientRequest.setHeader("accept", allManifestTypes.join(","))
      ),
      options.access ?? RegistryTransport.pull(ref.repository),
      { expected: [200, ...absent] }
    )
    if (response.status !== 200) return Option.none()
    const mediaType = contentType(response)
    const size = Number(response.headers["content-length"] ?? Number.NaN)
    const digest = headerDigest(response)
    if (mediaType === undefined || !Number.isSafeInteger(size) || size < 0 || digest === undefined) {
      return Option.none()
    }
    if (ref._tag === "Digest" && digest !== ref.digest) {
      return yield* new DigestMismatch({ subject: `manifest ${Reference.name(ref)}`, expected: ref.digest, actual: digest })
    }
    return Option.some(Descriptor.make(mediaType, digest, size))
  })

/**
 * The descriptor of a manifest by `HEAD`, falling back to a `GET` when the `HEAD` fails with
 * a status (some registries do not answer it, and only a `GET` carries the error body) or
 * lacks one of the headers a descriptor is made from.
 *
 * @since 0.1.0
 */
export const head = (
  context: Context,
  ref: Reference.Reference
): Effect.Effect<Descriptor.Descriptor, RegistryError | DigestMismatch> =>
  headManifest(context, ref).pipe(
    Effect.catchIf(
      (e): e is RegistryError => e._tag === "RegistryError" && e.reason === "Status",
      () => Effect.succeed(Option.none<Descriptor.Descriptor>())
    ),
    Effect.flatMap(Option.match({
      onNone: () => Effect.map(getManifest(context, ref), (fetched) => fetched.descriptor),
      onSome: Effect.succeed
    }))
  )

// `Content-Range: bytes <start>-<end>/<size>`: the start, when readable.
const rangeStart = (response: HttpClientResponse.HttpClientResponse): number | undefined => {
  const match = /^\s*bytes\s+(\d+)-\d+\/(?:\d+|\*)\s*$/i.exec(response.headers["content-range"] ?? "")
  return match?.[1] === undefined ? undefined : Number(match[1])
}

// Drops the first `count` bytes of a stream.
const skip = <E>(stream: Stream.Stream<Uint8Array, E>, count: number): Stream.Stream<Uint8Array, E> =>
  count === 0 ? stream : Stream.suspend(() => {
    let left = count
    return Stream.mapChunks(stream, (chunk) => {
      if (left === 0) return chunk
      const out: Array<Uint8Array> = []
      for (const part of chunk) {
        if (left >= part.byteLength) {
          left -= part.byteLength
        } else {
          out.push(part.subarray(left))
          left = 0
        }
      }
      return Chunk.unsafeFromArray(out)
    })
  })

/**
 * The stored bytes of a blob, streamed from `/v2/<repo>/blobs/<digest>` (or decoded from the
 * descriptor's embedded `data`). Not verified here: the image model checks every blob against
 * its descriptor as it streams. When the connection breaks mid-way, the download goes on
 * with a `Range: bytes=N-` request from the byte it reached (a registry that ignores the range
 * and sends the whole blob again has its first N bytes skipped), at most
 * {@link maxBlobAttempts} requests in all. Progress is reported as a `Download`.
 *
 * @since 0.1.0
 */
export const blob = (
  context: Context,
  repository: Reference.Repository,
  descriptor: Descriptor.Descriptor
): Stream.Stream<Uint8Array, RegistryError> => {
  const transfer = { id: descriptor.digest, total: descriptor.size, direction: "Download" } as const
  if (descriptor.data !== undefined) {
    const bytes = Either.getOrElse(Encoding.decodeBase64(descriptor.data), () => new Uint8Array(0))
    return Progress.track(Stream.succeed(bytes), context.progress, transfer)
  }
  const url = path(repository, "blobs", descriptor.digest)
  const resumable = Stream.suspend(() => {
    let received = 0
    const open = (attempt: number): Stream.Stream<Uint8Array, RegistryError> => {
      const from = received
      // Only a body that broke is resumed; a request that got no answer was already retried.
      let answered = false
      const request = from === 0
        ? HttpClientRequest.get(url)
        : HttpClientRequest.get(url).pipe(HttpClientRequest.setHeader("range", `bytes=${from}-`))
      const body = Stream.unwrap(
        Effect.flatMap(
          context.transport.execute(request, RegistryTransport.pull(repository), {
            expected: from === 0 ? [200] : [200, 206]
          }),
          (response): Effect.Effect<Stream.Stream<Uint8Array, RegistryError>, RegistryError> => {
            answered = true
            if (response.status === 200) return Effect.succeed(skip(RegistryTransport.stream(response), from))
            const start = rangeStart(response)
            if (start === from) return Effect.succeed(RegistryTransport.stream(response))
            return Effect.zipRight(
              discard(response),
              Effect.fail(
                new RegistryError({
                  reason: "Protocol",
                  method: "GET",
                  url: String(response.request.url),
                  status: response.status,
                  detail: `asked for bytes from ${from} and got Content-Range ${
                    JSON.stringify(response.headers["content-range"] ?? "")
                  }`
                })
              )
            )
          }
        )
      )
      return body.pipe(
        Stream.mapChunks((chunk) => {
          for (const part of chunk) received += part.byteLength
          return chunk
        }),
        Stream.catchAll((error) =>
          answered && error.reason === "Transport" && attempt < maxBlobAttempts ? open(attempt + 1) : Stream.fail(error)
        )
      )
    }
    return open(1)
  })
  return Progress.track(resumable, context.progress, transfer)
}
