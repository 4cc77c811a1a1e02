/**
 * A {@link ManifestStore.ManifestStore} on a local directory, through the platform
 * `FileSystem`.
 *
 * Layout under the root, per repository (`<name>` may have several path components):
 * ```
 * repositories/<name>/_manifests/revisions/<alg>/<hex>          media type, "\n", manifest bytes
 * repositories/<name>/_manifests/tags/<tag>/current             digest the tag points at
 * repositories/<name>/_manifests/referrers/<alg>/<hex>/<alg>-<hex>
 *                                   descriptor (JSON) of a manifest referring to the subject
 * repositories/<name>/_manifests/subjects/<alg>/<hex>/<alg>-<hex>
 *                                   the subjects a manifest refers to, to forget it on delete
 * repositories/<name>/_layers/<alg>/<hex>                       link: the repository may serve the blob
 * tmp/<millis>-<uuid>                                           writes in progress
 * ```
 * Paths are built only from validated repository names (whose components never start with
 * `_` and are never `.` or `..`), tags and digests. Every file is written to `tmp` and renamed
 * into place. Changes to one repository are serialised within the process. Manifest bytes
 * are checked against their digest when read back.
 *
 * @since 0.1.0
 */
import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Descriptor from "../domain/Descriptor.js"
import * as Digest from "../domain/Digest.js"
import * as ManifestStore from "../services/ManifestStore.js"
import * as Common from "./internal/storageCommon.js"
import * as Fs from "./internal/storageFs.js"
import * as KeyedLock from "./internal/storageLock.js"

const algorithms: ReadonlyArray<Digest.Algorithm> = ["sha256", "sha512"]
const DescriptorJson = Schema.parseJson(Descriptor.Descriptor)
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * A manifest store keeping its files under `root` (created when missing).
 *
 * @since 0.1.0
 */
export const make = (
  root: string
): Effect.Effect<ManifestStore.ManifestStore, ManifestStore.ManifestStoreError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const base = path.resolve(root)
    const repositoriesDir = path.join(base, "repositories")
    const tmpDir = path.join(base, "tmp")
    yield* Effect.forEach([repositoriesDir, tmpDir], (dir) => fs.makeDirectory(dir, { recursive: true }), {
      discard: true
    }).pipe(Effect.mapError(io(`cannot create the store directories under ${base}`)))
    const locks = yield* KeyedLock.make

    const repoDir = (name: string) => path.join(repositoriesDir, ...name.split("/"))
    const manifestsDir = (name: string) => path.join(repoDir(name), "_manifests")
    const layersDir = (name: string) => path.join(repoDir(name), "_layers")
    const digestPath = (dir: string, digest: Digest.Digest) => path.join(dir, Digest.algorithm(digest), Digest.hex(digest))
    const revisionPath = (name: string, digest: Digest.Digest) =>
      digestPath(path.join(manifestsDir(name), "revisions"), digest)
    const tagsDir = (name: string) => path.join(manifestsDir(name), "tags")
    const tagDir = (name: string, tag: string) => path.join(tagsDir(name), tag)
    const tagPath = (name: string, tag: string) => path.join(tagDir(name, tag), "current")
    const referrersDir = (name: string, subject: Digest.Digest) =>
      digestPath(path.join(manifestsDir(name), "referrers"), subject)
    const subjectsDir = (name: string, referrer: Digest.Digest) =>
      digestPath(path.join(manifestsDir(name), "subjects"), referrer)
    const linkPath = (name: string, digest: Digest.Digest) => digestPath(layersDir(name), digest)

    const write = (target: string, bytes: Uint8Array) => Fs.writeFileAtomic(fs, path, tmpDir, target, bytes)
    const withRepositoryLock = (name: string) => locks.withLock(name)

    const readRevision = (repository: string, digest: Digest.Digest) =>
      Effect.gen(function*() {
        const found = yield* Fs.readFileOption(fs, revisionPath(repository, digest))
        if (Option.isNone(found)) return Option.none()
        const file = found.value
        const newline = file.indexOf(0x0a)
        const mediaType = newline < 0 ? "" : decoder.decode(file.subarray(0, newline))
        const bytes = file.slice(newline + 1)
        if (newline <= 0 || Digest.fromBytes(bytes, Digest.algorithm(digest)) !== digest) {
          return yield* corrupt(repository, `stored manifest ${digest} does not match its digest`)
        }
        const manifest: ManifestStore.StoredManifest = { bytes, mediaType, digest }
        return Option.some(manifest)
      }).pipe(mapIo(repository, `cannot read manifest ${digest}`))

    const readTag = (repository: string, tag: string) =>
      Effect.gen(function*() {
        const found = yield* Fs.readFileOption(fs, tagPath(repository, tag))
        if (Option.isNone(found)) return Option.none()
        const text = decoder.decode(found.value).trim()
        return yield* Either.match(Digest.parse(text), {
          onLeft: () => corrupt(repository, `tag ${tag} holds no digest`),
          onRight: (digest) => Effect.succeed(Option.some(digest))
        })
      }).pipe(mapIo(repository, `cannot read tag ${tag}`))

    const putManifest: ManifestStore.ManifestStore["putManifest"] = (name, input, tag) =>
      Effect.gen(function*() {
        const repository = yield* Common.repositoryName(name)
        const manifest = yield* Common.manifest(repository, input)
        const tagged = tag === undefined ? undefined : yield* Common.tagName(repository, tag)
        const header = encoder.encode(`${manifest.mediaType}\n`)
        const file = new Uint8Array(header.byteLength + manifest.bytes.byteLength)
        file.set(header, 0)
        file.set(manifest.bytes, header.byteLength)
        yield* withRepositoryLock(repository)(
          Effect.gen(function*() {
            yield* write(revisionPath(repository, manifest.digest), file)
            if (tagged !== undefined) yield* write(tagPath(repository, tagged), encoder.encode(manifest.digest))
          }).pipe(mapIo(repository, `cannot store manifest ${manifest.digest}`))
        )
      })

    const getManifest: ManifestStore.ManifestStore["getManifest"] = (name, input) =>
      Effect.gen(function*() {
        const repository = yield* Common.repositoryName(name)
        const reference = yield* Common.reference(repository, input)
        const digest = reference._tag === "Digest"
          ? Option.some(reference.digest)
          : yield* readTag(repository, reference.tag)
        if (Option.isNone(digest)) return Option.none()
        return yield* readRevision(repository, digest.value)
      })

    const deleteManifest: ManifestStore.ManifestStore["deleteManifest"] = (name, input) =>
      Effect.gen(function*() {
        const repository = yield* Common.repositoryName(name)
        const digest = yield* Common.manifestDigest(repository, input)
        return yield* withRepositoryLock(repository)(
          Effect.gen(function*() {
            const existed = yield* Fs.removeExisting(fs, revisionPath(repository, digest))
            for (const tag of yield* Fs.readDirectorySorted(fs, tagsDir(repository))) {
              const target = yield* Fs.readFileOption(fs, tagPath(repository, tag))
              if (Option.isSome(target) && decoder.decode(target.value).trim() === digest) {
                yield* Fs.removeExisting(fs, tagDir(repository, tag))
              }
            }
            const subjects = subjectsDir(repository, digest)
            for (const entry of yield* Fs.readDirectorySorted(fs, subjects)) {
              const subject = fromEntryName(entry)
              if (Option.isSome(subject)) {
                yield* Fs.removeExisting(fs, path.join(referrersDir(repository, subject.value), entryName(digest)))
              }
            }
            yield* Fs.removeExisting(fs, subjects)
            return existed
          }).pipe(mapIo(repository, `cannot delete manifest ${digest}`))
        )
      })

    const deleteTag: ManifestStore.ManifestStore["deleteTag"] = (name, input) =>
      Effect.gen(function*() {
        const repository = yield* Common.repositoryName(name)
        const tag = yield* Common.tagName(repository, input)
        return yield* withRepositoryLock(repository)(
          Fs.removeExisting(fs, tagDir(repository, tag)).pipe(mapIo(repository, `cannot delete tag ${tag}`))
        )
      })

    const isRepository = (repository: string) =>
      Effect.zipWith(
        Fs.exists(fs, manifestsDir(repository)),
        Fs.exists(fs, layersDir(repository)),
        (a, b) => a || b
      )

    const listTags: ManifestStore.ManifestStore["listTags"] = (name, options) =>
      Effect.gen(function*() {
        const repository = yield* Common.repositoryName(name)
        return yield* Effect.gen(function*() {
          if (!(yield* isRepository(repository))) return Option.none()
          const tags = (yield* Fs.readDirectorySorted(fs, tagsDir(repository))).filter(ManifestStore.isTag)
          return Option.some(Common.page(tags, options))
        }).pipe(mapIo(repository, "cannot list tags"))
      })

    // Digests stored as <dir>/<alg>/<hex>, sorted.
    const digestsUnder = (repository: string, dir: string): Stream.Stream<Digest.Digest, ManifestStore.ManifestStoreError> =>
      Stream.fromIterable(algorithms).pipe(
        Stream.mapEffect((alg) =>
          Effect.map(Fs.readDirectorySorted(fs, path.join(dir, alg)), (names) =>
            names.flatMap((name) => Either.match(Digest.make(alg, name), { onLeft: () => [], onRight: (d) => [d] }))
          ).pipe(mapIo(repository, `cannot list ${dir}`))
        ),
        Stream.flattenIterables
      )

    const listManifests: ManifestStore.ManifestStore["listManifests"] = (name) =>
      Stream.unwrap(
        Effect.map(
          Common.repositoryName(name),
          (repository) => digestsUnder(repository, path.join(manifestsDir(repository), "revisions"))
        )
      )

    // Walks the repositories directory: a directory holding `_manifests` or `_layers` is a
    // repository; directories starting with `_` are never part of a name.
    const allRepositories: Effect.Effect<Array<string>, PlatformError> = Effect.gen(function*() {
      const found: Array<string> = []
      const walk = (dir: string, prefix: string): Effect.Effect<void, PlatformError> =>
        Effect.gen(function*() {
          for (const entry of yield* Fs.readDirectorySorted(fs, dir)) {
            if (entry.startsWith("_")) continue
            const name = prefix === "" ? entry : `${prefix}/${entry}`
            if (!ManifestStore.isRepositoryName(name)) continue
            const child = path.join(dir, entry)
            const info = yield* Fs.statOption(fs, child)
            if (Option.isNone(info) || info.value.type !== "Directory") continue
            if (yield* isRepository(name)) found.push(name)
            yield* walk(child, name)
          }
        })
      yield* walk(repositoriesDir, "")
      return found.sort(Common.compareStrings)
    })

    const listRepositories: ManifestStore.ManifestStore["listRepositories"] = (options) =>
      allRepositories.pipe(
        Effect.map((names) => Common.page(names, options)),
        Effect.mapError(io("cannot list repositories"))
      )

    const linkBlob: ManifestStore.ManifestStore["linkBlob"] = (name, input) =>
      Effect.gen(function*() {
        const repository = yield* Common.repositoryName(name)
        const digest = yield* Common.manifestDigest(repository, input)
        yield* write(linkPath(repository, digest), encoder.encode(digest)).pipe(
          mapIo(repository, `cannot link blob ${digest}`)
        )
      })

    const hasBlobLink: ManifestStore.ManifestStore["hasBlobLink"] = (name, input) =>
      Effect.gen(function*() {
        const repository = yield* Common.repositoryName(name)
        const digest = yield* Common.manifestDigest(repository, input)
        return yield* Fs.exists(fs, linkPath(repository, digest)).pipe(mapIo(repository, `cannot check blob ${digest}`))
      })

    const unlinkBlob: ManifestStore.ManifestStore["unlinkBlob"] = (name, input) =>
      Effect.gen(function*() {
        const repository = yield* Common.repositoryName(name)
        const digest = yield* Common.manifestDigest(repository, input)
        return yield* Fs.removeExisting(fs, linkPath(repository, digest)).pipe(
          mapIo(repository, `cannot unlink blob ${digest}`)
        )
      })

    const listBlobLinks: ManifestStore.ManifestStore["listBlobLinks"] = (name) =>
      Stream.unwrap(Effect.map(Common.repositoryName(name), (repository) => digestsUnder(repository, layersDir(repository))))

    const putReferrer: ManifestStore.ManifestStore["putReferrer"] = (name, subjectInput, descriptor) =>
      Effect.gen(function*() {
        const repository = yield* Common.repositoryName(name)
        const subject = yield* Common.manifestDigest(repository, subjectInput)
        const valid = yield* Common.referrer(repository, descriptor)
        const referrer = valid.digest
        const json = yield* Schema.encode(DescriptorJson)(valid).pipe(
          Effect.mapError((e) =>
            new ManifestStore.ManifestStoreError({
              reason: "InvalidDescriptor",
              detail: `cannot encode the referrer descriptor: ${e.message}`,
              repository
            })
          )
        )
        yield* withRepositoryLock(repository)(
          Effect.gen(function*() {
            // The back-pointer first: a crash in between leaves a harmless dangling pointer.
            yield* write(path.join(subjectsDir(repository, referrer), entryName(subject)), new Uint8Array(0))
            yield* write(path.join(referrersDir(repository, subject), entryName(referrer)), encoder.encode(json))
          }).pipe(mapIo(repository, `cannot record referrer ${referrer} of ${subject}`))
        )
      })

    const listReferrers: ManifestStore.ManifestStore["listReferrers"] = (name, subjectInput) =>
      Effect.gen(function*() {
        const repository = yield* Common.repositoryName(name)
        const subject = yield* Common.manifestDigest(repository, subjectInput)
        const dir = referrersDir(repository, subject)
        const out: Array<Descriptor.Descriptor> = []
        for (const entry of yield* Fs.readDirectorySorted(fs, dir).pipe(mapIo(repository, "cannot list referrers"))) {
          if (Option.isNone(fromEntryName(entry))) continue
          const bytes = yield* Fs.readFileOption(fs, path.join(dir, entry)).pipe(
            mapIo(repository, `cannot read referrer ${entry}`)
          )
          if (Option.isNone(bytes)) continue
          const descriptor = yield* Schema.decode(DescriptorJson)(decoder.decode(bytes.value)).pipe(
            Effect.mapError((e) => corruptError(repository, `referrer ${entry} of ${subject}: ${e.message}`))
          )
          out.push(descriptor)
        }
        return out
      })

    return ManifestStore.make({
      putManifest,
      getManifest,
      deleteManifest,
      deleteTag,
      listTags,
      listManifests,
      listRepositories,
      linkBlob,
      hasBlobLink,
      unlinkBlob,
      listBlobLinks,
      putReferrer,
      listReferrers
    })
  })

/**
 * The {@link make} store as a layer.
 *
 * @since 0.1.0
 */
export const layer = (
  root: string
): Layer.Layer<ManifestStore.ManifestStore, ManifestStore.ManifestStoreError, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(ManifestStore.ManifestStore, make(root))

// A digest as a single file name, `<alg>-<hex>`, and back.
const entryName = (digest: Digest.Digest): string => `${Digest.algorithm(digest)}-${Digest.hex(digest)}`
const fromEntryName = (name: string): Option.Option<Digest.Digest> => Option.getRight(Digest.parse(name.replace("-", ":")))

const io = (detail: string, repository?: string) => (cause: PlatformError): ManifestStore.ManifestStoreError =>
  new ManifestStore.ManifestStoreError({
    reason: "Io",
    detail: `${detail}: ${cause.message}`,
    cause,
    ...(repository === undefined ? {} : { repository })
  })

// Maps the platform failures of an effect to `Io` errors about `repository`.
const mapIo = (repository: string, detail: string) =>
<A>(
  self: Effect.Effect<A, PlatformError | ManifestStore.ManifestStoreError>
): Effect.Effect<A, ManifestStore.ManifestStoreError> =>
  Effect.mapError(self, (e) => (e._tag === "ManifestStoreError" ? e : io(detail, repository)(e)))

const corruptError = (repository: string, detail: string) =>
  new ManifestStore.ManifestStoreError({ reason: "Corrupt", detail, repository })

const corrupt = (repository: string, detail: string) => Effect.fail(corruptError(repository, detail))
