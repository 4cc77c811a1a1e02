/**
 * Reading what a registry holds without copying it (`crane digest`, `crane manifest`,
 * `crane config`, `crane blob`), as ggcr's `crane.Digest`, `crane.Manifest`, `crane.Config`
 * and `crane.PullLayer`: manifests and configs as their exact bytes, blobs as verified streams.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as Descriptor from "../domain/Descriptor.js"
import type * as Digest from "../domain/Digest.js"
import type { DigestMismatch, InvalidReference } from "../domain/Errors.js"
import type * as Image from "../domain/Image.js"
import * as MediaType from "../domain/MediaType.js"
import * as Reference from "../domain/Reference.js"
import * as Tarball from "../formats/Tarball.js"
import type { RegistryError } from "../services/RegistryError.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import * as Remote from "../services/Remote.js"
import * as Options from "./Options.js"

/**
 * How reading a manifest may fail.
 *
 * @since 0.1.0
 */
export type GetError = InvalidReference | RegistryError | DigestMismatch

/**
 * How reading an image may fail.
 *
 * @since 0.1.0
 */
export type ImageError = InvalidReference | Remote.PullError | Remote.RemoteError

/**
 * The descriptor of a manifest by `HEAD` (ggcr's `crane.Head`).
 *
 * @since 0.1.0
 */
export const head = (
  ref: Options.ReferenceInput,
  options: Options.Options = {}
): Effect.Effect<Descriptor.Descriptor, GetError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(Options.reference(ref, options), (r) => Remote.head(r, Options.remote(options)))

/**
 * A manifest of any kind as fetched, with its bytes and media type (ggcr's `crane.Get`).
 *
 * @since 0.1.0
 */
export const get = (
  ref: Options.ReferenceInput,
  options: Options.Options = {}
): Effect.Effect<Remote.Fetched, GetError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(Options.reference(ref, options), (r) => Remote.get(r, Options.remote(options)))

/**
 * The image a reference names, the child for the options' platform when it names an index
 * (linux/amd64 by default); as ggcr's `crane.Pull`.
 *
 * @since 0.1.0
 */
export const image = (
  ref: Options.ReferenceInput,
  options: Options.Options = {}
): Effect.Effect<Image.Image<Remote.PullError>, ImageError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(Options.reference(ref, options), (r) => Remote.image(r, Options.remote(options)))

/**
 * The digest of what a reference names (ggcr's `crane.Digest`): by `HEAD`, falling back to a
 * `GET` when the `HEAD` fails (so that a failure carries the registry's error code). With a
 * platform, the digest of that platform's image when the reference names an index.
 *
 * @since 0.1.0
 */
export const digest = (
  ref: Options.ReferenceInput,
  options: Options.Options = {}
): Effect.Effect<Digest.Digest, ImageError | GetError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const r = yield* Options.reference(ref, options)
    const remote = Options.remote(options)
    if (options.platform !== undefined) {
      const fetched = yield* Remote.get(r, remote)
      if (!MediaType.isIndex(fetched.mediaType)) return fetched.descriptor.digest
      return yield* Effect.flatMap(Remote.toImage(fetched, remote), (i) => i.digest)
    }
    return yield* Remote.head(r, remote).pipe(
      Effect.map((d) => d.digest),
      // A registry that refuses HEAD may still answer GET; a connection that failed will not,
      // and its retries have already run once.
      Effect.catchIf(
        (error) => error._tag === "RegistryError" && error.reason === "Status",
        () => Effect.map(Remote.get(r, remote), (f) => f.descriptor.digest)
      )
    )
  })

/**
 * The digest of an image in a `docker save` tarball (`crane digest --tarball`): the one image
 * it holds, or the one tagged `tag`.
 *
 * @since 0.1.0
 */
export const tarballDigest = (
  path: string,
  tag?: string
): Effect.Effect<Digest.Digest, Tarball.ReadError<Tarball.TarballError> | InvalidReference, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const t = tag === undefined ? undefined : yield* Reference.parseTag(tag)
    const img = yield* Tarball.imageFromFile(path, t === undefined ? {} : { tag: t })
    return yield* img.digest
  })

/**
 * The exact bytes of the manifest a reference names (ggcr's `crane.Manifest`); with a
 * platform, those of that platform's image when it names an index.
 *
 * @since 0.1.0
 */
export const manifest = (
  ref: Options.ReferenceInput,
  options: Options.Options = {}
): Effect.Effect<Uint8Array, ImageError | GetError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const fetched = yield* get(ref, options)
    if (options.platform === undefined || !MediaType.isIndex(fetched.mediaType)) return fetched.bytes
    const img = yield* Remote.toImage(fetched, Options.remote(options))
    return yield* img.rawManifest
  })

/**
 * The exact bytes of the config of the image a reference names (ggcr's `crane.Config`).
 *
 * @since 0.1.0
 */
export const config = (
  ref: Options.ReferenceInput,
  options: Options.Options = {}
): Effect.Effect<Uint8Array, ImageError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(image(ref, options), (i) => i.rawConfigFile)

/**
 * The bytes of a blob (`repo@sha256:...`), streamed and checked against the digest (ggcr's
 * `crane.PullLayer`).
 *
 * @since 0.1.0
 */
export const blob = (
  ref: string | Reference.DigestRef,
  options: Options.Options = {}
): Effect.Effect<Stream.Stream<Uint8Array, Remote.PullError>, InvalidReference | RegistryError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const parsed = typeof ref === "string"
      ? yield* Reference.parseDigest(ref, { insecure: options.insecure === true })
      : ref
    const layer = yield* Remote.layer(parsed, Options.remote(options))
    return layer.compressed
  })
