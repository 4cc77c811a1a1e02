/**
 * A {@link ManifestStore.ManifestStore} in memory, for tests and short-lived registries, with
 * the same semantics as the filesystem store. Every change is one atomic update of a `Ref`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type { Descriptor } from "../domain/Descriptor.js"
import type * as Digest from "../domain/Digest.js"
import * as ManifestStore from "../services/ManifestStore.js"
import * as Common from "./internal/storageCommon.js"

interface Repository {
  readonly manifests: HashMap.HashMap<Digest.Digest, ManifestStore.StoredManifest>
  readonly tags: HashMap.HashMap<string, Digest.Digest>
  readonly blobs: HashSet.HashSet<Digest.Digest>
  /** subject digest -> referrer digest -> referrer descriptor */
  readonly referrers: HashMap.HashMap<Digest.Digest, HashMap.HashMap<Digest.Digest, Descriptor>>
}

const emptyRepository: Repository = {
  manifests: HashMap.empty(),
  tags: HashMap.empty(),
  blobs: HashSet.empty(),
  referrers: HashMap.empty()
}

/**
 * A new, empty in-memory manifest store.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<ManifestStore.ManifestStore> = Effect.gen(function*() {
  const state = yield* Ref.make(HashMap.empty<string, Repository>())

  const repositoryOf = (name: string) => Effect.map(Ref.get(state), HashMap.get(name))

  // Applies `f` to a repository (created when missing) and stores the result.
  const modify = <A>(name: string, f: (repository: Repository) => readonly [A, Repository]) =>
    Ref.modify(state, (map) => {
      const [result, next] = f(Option.getOrElse(HashMap.get(map, name), () => emptyRepository))
      return [result, HashMap.set(map, name, next)] as const
    })

  // Applies `f` to an existing repository; a missing one stays missing.
  const modifyExisting = <A>(name: string, missing: A, f: (repository: Repository) => readonly [A, Repository]) =>
    Ref.modify(state, (map) =>
      Option.match(HashMap.get(map, name), {
        onNone: () => [missing, map] as const,
        onSome: (repository) => {
          const [result, next] = f(repository)
          return [result, HashMap.set(map, name, next)] as const
        }
      }))

  const putManifest: ManifestStore.ManifestStore["putManifest"] = (name, input, tag) =>
    Effect.gen(function*() {
      const repository = yield* Common.repositoryName(name)
      const manifest = yield* Common.manifest(repository, input)
      const tagged = tag === undefined ? undefined : yield* Common.tagName(repository, tag)
      yield* modify(repository, (repo) => [undefined, {
        ...repo,
        manifests: HashMap.set(repo.manifests, manifest.digest, manifest),
        tags: tagged === undefined ? repo.tags : HashMap.set(repo.tags, tagged, manifest.digest)
      }])
    })

  const getManifest: ManifestStore.ManifestStore["getManifest"] = (name, input) =>
    Effect.gen(function*() {
      const repository = yield* Common.repositoryName(name)
      const reference = yield* Common.reference(repository, input)
      const repo = yield* repositoryOf(repository)
      return Option.flatMap(repo, (r) => {
        const digest = reference._tag === "Digest" ? Option.some(reference.digest) : HashMap.get(r.tags, reference.tag)
        return Option.map(
          Option.flatMap(digest, (d) => HashMap.get(r.manifests, d)),
          (m): ManifestStore.StoredManifest => ({ ...m, bytes: m.bytes.slice() })
        )
      })
    })

  const deleteManifest: ManifestStore.ManifestStore["deleteManifest"] = (name, input) =>
    Effect.gen(function*() {
      const repository = yield* Common.repositoryName(name)
      const digest = yield* Common.manifestDigest(repository, input)
      return yield* modifyExisting(repository, false, (repo) => [HashMap.has(repo.manifests, digest), {
        ...repo,
        manifests: HashMap.remove(repo.manifests, digest),
        tags: HashMap.filter(repo.tags, (target) => target !== digest),
        referrers: HashMap.map(repo.referrers, HashMap.remove(digest))
      }])
    })

  const deleteTag: ManifestStore.ManifestStore["deleteTag"] = (name, input) =>
    Effect.gen(function*() {
      const repository = yield* Common.repositoryName(name)
      const tag = yield* Common.tagName(repository, input)
      return yield* modifyExisting(repository, false, (repo) => [HashMap.has(repo.tags, tag), {
        ...repo,
        tags: HashMap.remove(repo.tags, tag)
      }])
    })

  const listTags: ManifestStore.ManifestStore["listTags"] = (name, options) =>
    Effect.gen(function*() {
      const repository = yield* Common.repositoryName(name)
      const repo = yield* repositoryOf(repository)
      return Option.map(repo, (r) => Common.page(Array.from(HashMap.keys(r.tags)).sort(Common.compareStrings), options))
    })

  const sortedKeys = (name: string, keys: (repository: Repository) => Iterable<Digest.Digest>) =>
    Stream.unwrap(
      Effect.gen(function*() {
        const repository = yield* Common.repositoryName(name)
        const repo = yield* repositoryOf(repository)
        const digests = Option.match(repo, { onNone: () => [], onSome: (r) => Array.from(keys(r)) })
        return Stream.fromIterable(digests.sort(Common.compareStrings))
      })
    )

  const listManifests: ManifestStore.ManifestStore["listManifests"] = (name) =>
    sortedKeys(name, (r) => HashMap.keys(r.manifests))

  const listRepositories: ManifestStore.ManifestStore["listRepositories"] = (options) =>
    Effect.map(Ref.get(state), (map) => Common.page(Array.from(HashMap.keys(map)).sort(Common.compareStrings), options))

  const linkBlob: ManifestStore.ManifestStore["linkBlob"] = (name, input) =>
    Effect.gen(function*() {
      const repository = yield* Common.repositoryName(name)
      const digest = yield* Common.manifestDigest(repository, input)
      yield* modify(repository, (repo) => [undefined, { ...repo, blobs: HashSet.add(repo.blobs, digest) }])
    })

  const hasBlobLink: ManifestStore.ManifestStore["hasBlobLink"] = (name, input) =>
    Effect.gen(function*() {
      const repository = yield* Common.repositoryName(name)
      const digest = yield* Common.manifestDigest(repository, input)
      const repo = yield* repositoryOf(repository)
      return Option.exists(repo, (r) => HashSet.has(r.blobs, digest))
    })

  const unlinkBlob: ManifestStore.ManifestStore["unlinkBlob"] = (name, input) =>
    Effect.gen(function*() {
      const repository = yield* Common.repositoryName(name)
      const digest = yield* Common.manifestDigest(repository, input)
      return yield* modifyExisting(repository, false, (repo) => [HashSet.has(repo.blobs, digest), {
        ...repo,
        blobs: HashSet.remove(repo.blobs, digest)
      }])
    })

  const listBlobLinks: ManifestStore.ManifestStore["listBlobLinks"] = (name) => sortedKeys(name, (r) => r.blobs)

  const putReferrer: ManifestStore.ManifestStore["putReferrer"] = (name, subjectInput, descriptor) =>
    Effect.gen(function*() {
      const repository = yield* Common.repositoryName(name)
      const subject = yield* Common.manifestDigest(repository, subjectInput)
      const referrer = yield* Common.referrer(repository, descriptor)
      yield* modify(repository, (repo) => [undefined, {
        ...repo,
        referrers: HashMap.set(
          repo.referrers,
          subject,
          HashMap.set(
            Option.getOrElse(HashMap.get(repo.referrers, subject), () => HashMap.empty()),
            referrer.digest,
            referrer
          )
        )
      }])
    })

  const listReferrers: ManifestStore.ManifestStore["listReferrers"] = (name, subjectInput) =>
    Effect.gen(function*() {
      const repository = yield* Common.repositoryName(name)
      const subject = yield* Common.manifestDigest(repository, subjectInput)
      const repo = yield* repositoryOf(repository)
      const entries = Option.match(Option.flatMap(repo, (r) => HashMap.get(r.referrers, subject)), {
        onNone: () => [],
        onSome: (map) => Array.from(map)
      })
      return entries.sort(([a], [b]) => Common.compareStrings(a, b)).map(([, descriptor]) => descriptor)
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
 * A layer with a new, empty in-memory manifest store.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<ManifestStore.ManifestStore> = Layer.effect(ManifestStore.ManifestStore, make)
