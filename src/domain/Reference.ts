/**
 * Image references (`registry/repository:tag`, `registry/repository@digest`), as ggcr's
 * `pkg/name`: parsing with Docker's defaults (Docker Hub, `library/`, `latest`) or strictly,
 * the OCI distribution name grammar, the URL scheme a registry is reached with, and the
 * string forms and token scopes the rest of the library needs.
 *
 * Registries, repositories and references are plain readonly objects with a `_tag`; the
 * parsers return an `Either`, which is also an `Effect`, failing with {@link InvalidReference}.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Digest from "./Digest.js"
import { InvalidReference, type InvalidReferenceReason } from "./Errors.js"

/**
 * A registry host: `index.docker.io`, `gcr.io`, `localhost:5000`, `[::1]:5000`.
 *
 * @since 0.1.0
 */
export interface Registry {
  readonly _tag: "Registry"
  /** `host[:port]` as written in a reference; IPv6 addresses are in brackets. */
  readonly host: string
  /** Speak plain HTTP to this registry even when it is not a loopback host. */
  readonly insecure: boolean
}

/**
 * A repository in a registry: `index.docker.io` + `library/ubuntu`.
 *
 * @since 0.1.0
 */
export interface Repository {
  readonly _tag: "Repository"
  readonly registry: Registry
  /** The repository path, as it appears in `/v2/<path>/...` URLs. */
  readonly path: string
}

/**
 * A reference to whatever a tag points at: `gcr.io/project/image:v1`.
 *
 * @since 0.1.0
 */
export interface Tag {
  readonly _tag: "Tag"
  readonly repository: Repository
  readonly tag: string
}

/**
 * A reference to content by digest: `gcr.io/project/image@sha256:...`. When the input was
 * `name:tag@digest` the tag is kept for information; the digest alone decides what is fetched.
 *
 * @since 0.1.0
 */
export interface DigestRef {
  readonly _tag: "Digest"
  readonly repository: Repository
  readonly digest: Digest.Digest
  readonly tag?: string
}

/**
 * A tag or digest reference.
 *
 * @since 0.1.0
 */
export type Reference = Tag | DigestRef

/**
 * How a string is read (ggcr's `name.Option`s).
 *
 * @since 0.1.0
 */
export interface Options {
  /** Refuse defaults: the registry, the `library/` namespace and the tag must all be written. */
  readonly strict?: boolean | undefined
  /** Mark the registry insecure, so it is reached over plain HTTP. */
  readonly insecure?: boolean | undefined
  /** The registry of names without one; `index.docker.io` unless told. */
  readonly defaultRegistry?: string | undefined
  /** The tag of names without tag or digest; `latest` unless told. */
  readonly defaultTag?: string | undefined
}

/**
 * Docker Hub's registry host, the default registry.
 *
 * @since 0.1.0
 */
export const defaultRegistry = "index.docker.io"

/**
 * The tag used when a reference names none.
 *
 * @since 0.1.0
 */
export const defaultTag = "latest"

/**
 * The longest repository path accepted.
 *
 * @since 0.1.0
 */
export const maxPathLength = 255

/**
 * The longest tag accepted.
 *
 * @since 0.1.0
 */
export const maxTagLength = 128

/**
 * The token scope for listing a registry's catalog.
 *
 * @since 0.1.0
 */
export const catalogScope = "registry:catalog:*"

/**
 * An action a registry token may grant on a repository.
 *
 * @since 0.1.0
 */
export type Action = "pull" | "push" | "delete" | "*"

const DOCKER_HUB_ALIAS = "docker.io"
const LIBRARY = "library/"

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/
const PATH_CHARACTER = /[^a-z0-9._-]/
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/
const TAG_CHARACTER = /[^A-Za-z0-9._-]/
const HOSTNAME =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/
const PORT = /^[0-9]{1,5}$/
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/
const IPV4 = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$/

const invalid = (input: string, reason: InvalidReferenceReason, detail: string) =>
  Either.left(new InvalidReference({ input, reason, detail }))

const ipv4Octets = (s: string): ReadonlyArray<number> | undefined => {
  const m = IPV4.exec(s)
  if (m === null) return undefined
  const octets = m.slice(1).map(Number)
  return octets.every((n) => n <= 255) ? octets : undefined
}

const isIPv6 = (s: string): boolean => {
  const halves = s.split("::")
  if (halves.length > 2) return false
  const groups = (part: string | undefined) => (part === undefined || part === "" ? [] : part.split(":"))
  const head = groups(halves[0])
  const tail = groups(halves[1])
  const all = [...head, ...tail]
  let count = 0
  for (let i = 0; i < all.length; i++) {
    const group = all[i] ?? ""
    if (HEX_GROUP.test(group)) count += 1
    else if (i === all.length - 1 && ipv4Octets(group) !== undefined) count += 2
    else return false
  }
  return halves.length === 2 ? count <= 7 : count === 8
}

const hostProblem = (host: string): string | undefined => {
  let rest: string
  if (host.startsWith("[")) {
    const close = host.indexOf("]")
    if (close < 0) return "an IPv6 address needs its closing ']'"
    const address = host.slice(1, close)
    if (!isIPv6(address)) return `${JSON.stringify(address)} is not a valid IPv6 address`
    rest = host.slice(close + 1)
    if (rest !== "" && !rest.startsWith(":")) return "only ':port' may follow a bracketed IPv6 address"
  } else {
    const colon = host.indexOf(":")
    if (colon >= 0 && host.indexOf(":", colon + 1) >= 0) {
      return "an IPv6 address must be written in brackets, as in [::1]:5000"
    }
    const name = colon >= 0 ? host.slice(0, colon) : host
    if (name === "") return "missing host name before the port"
    if (!HOSTNAME.test(name)) {
      return `${JSON.stringify(name)} is not a valid host name ` +
        "(dot-separated labels of letters, digits and '-', neither starting nor ending with '-')"
    }
    rest = colon >= 0 ? host.slice(colon) : ""
  }
  if (rest === "") return undefined
  const port = rest.slice(1)
  const n = Number(port)
  return PORT.test(port) && n >= 1 && n <= 65535
    ? undefined
    : `port ${JSON.stringify(port)} is not a number from 1 to 65535`
}

const pathProblem = (path: string): string | undefined => {
  if (path === "") return "missing repository name"
  for (const component of path.split("/")) {
    if (component === "") return "empty path component (a '/' at the start or end, or two in a row)"
    if (PATH_COMPONENT.test(component)) continue
    if (/[A-Z]/.test(component)) return "repository names must be lower-case"
    const bad = PATH_CHARACTER.exec(component)
    if (bad !== null) {
      const hint = bad[0] === ":" || bad[0] === "@" ? " (a repository name carries no tag or digest)" : ""
      return `character ${JSON.stringify(bad[0])} is not allowed in a repository name${hint}`
    }
    return `path component ${JSON.stringify(component)} must start and end with a letter or digit, ` +
      "with only '.', '_', '__' or dashes between"
  }
  return undefined
}

const checkTag = (input: string, tag: string): Either.Either<string, InvalidReference> => {
  if (tag === "") return invalid(input, "InvalidTag", "empty tag after ':'")
  if (tag.length > maxTagLength) {
    return invalid(input, "TooLong", `tag is ${tag.length} characters, the limit is ${maxTagLength}`)
  }
  if (TAG.test(tag)) return Either.right(tag)
  const bad = TAG_CHARACTER.exec(tag)
  return invalid(
    input,
    "InvalidTag",
    bad !== null
      ? `character ${JSON.stringify(bad[0])} is not allowed in a tag`
      : "a tag must start with a letter, a digit or '_'"
  )
}

const checkDigest = (input: string, digest: string): Either.Either<Digest.Digest, InvalidReference> => {
  if (digest === "") return invalid(input, "InvalidDigest", "missing digest after '@'")
  if (digest.includes("@")) return invalid(input, "InvalidDigest", "a reference may contain only one '@'")
  return Either.mapLeft(
    Digest.parse(digest),
    (e) => new InvalidReference({ input, reason: "InvalidDigest", detail: e.detail })
  )
}

const registryFrom = (
  input: string,
  written: string,
  options: Options
): Either.Either<Registry, InvalidReference> => {
  if (written === "" && options.strict === true) {
    return invalid(input, "DefaultsRefused", "strict validation needs the registry to be written")
  }
  const host = written === "" ? (options.defaultRegistry ?? defaultRegistry) : written
  const problem = hostProblem(host)
  if (problem !== undefined) return invalid(input, "InvalidRegistry", problem)
  return Either.right({
    _tag: "Registry",
    host: host === DOCKER_HUB_ALIAS ? defaultRegistry : host,
    insecure: options.insecure === true
  })
}

const looksLikeRegistry = (component: string): boolean =>
  component === "localhost" || component.includes(".") || component.includes(":")

const repositoryFrom = (
  input: string,
  name: string,
  options: Options
): Either.Either<Repository, InvalidReference> =>
  Either.gen(function* () {
    if (name === "") return yield* invalid(input, "InvalidRepository", "missing repository name")
    const slash = name.indexOf("/")
    const first = slash < 0 ? "" : name.slice(0, slash)
    const explicit = slash >= 0 && looksLikeRegistry(first)
    const registry = yield* registryFrom(input, explicit ? first : "", options)
    const written = explicit ? name.slice(slash + 1) : name
    const problem = pathProblem(written)
    if (problem !== undefined) return yield* invalid(input, "InvalidRepository", problem)
    let path = written
    if (registry.host === defaultRegistry && !written.includes("/")) {
      if (options.strict === true) {
        return yield* invalid(
          input,
          "DefaultsRefused",
          `strict validation needs the full Docker Hub path (${LIBRARY}${written})`
        )
      }
      path = `${LIBRARY}${written}`
    }
    if (path.length > maxPathLength) {
      return yield* invalid(
        input,
        "TooLong",
        `repository path is ${path.length} characters, the limit is ${maxPathLength}`
      )
    }
    return { _tag: "Repository", registry, path } satisfies Repository
  })

const isEmpty = (input: string): boolean => input.trim() === ""

/**
 * Parses a registry host (`gcr.io`, `localhost:5000`, `[::1]:5000`). The empty string is the
 * default registry unless `strict`; `docker.io` becomes `index.docker.io`.
 *
 * @since 0.1.0
 */
export const parseRegistry = (input: string, options: Options = {}): Either.Either<Registry, InvalidReference> =>
  registryFrom(input, input, options)

/**
 * Parses a repository name (`ubuntu`, `gcr.io/project/image`, `localhost:5000/x`). The first
 * path component is the registry when it contains `.` or `:` or is `localhost`; otherwise the
 * registry is the default one, and single-name Docker Hub repositories get `library/`.
 *
 * @since 0.1.0
 */
export const parseRepository = (
  input: string,
  options: Options = {}
): Either.Either<Repository, InvalidReference> =>
  isEmpty(input)
    ? invalid(input, "Empty", "a repository needs a name")
    : repositoryFrom(input, input, options)

/**
 * Parses a tag or digest reference: `ubuntu` (read as `index.docker.io/library/ubuntu:latest`),
 * `ubuntu:22.04`, `gcr.io/p/i@sha256:<hex>`, `localhost:5000/x`, `[::1]:5000/x:tag`. A
 * `name:tag@digest` is a digest reference that keeps its tag.
 *
 * @since 0.1.0
 */
export const parse = (input: string, options: Options = {}): Either.Either<Reference, InvalidReference> =>
  Either.gen(function* () {
    if (isEmpty(input)) return yield* invalid(input, "Empty", "a reference needs at least a repository name")
    const at = input.indexOf("@")
    const named = at < 0 ? input : input.slice(0, at)
    const digest = at < 0 ? undefined : yield* checkDigest(input, input.slice(at + 1))
    const colon = named.lastIndexOf(":")
    const tagged = colon > named.lastIndexOf("/")
    const repository = yield* repositoryFrom(input, tagged ? named.slice(0, colon) : named, options)
    const tag = tagged ? yield* checkTag(input, named.slice(colon + 1)) : undefined
    if (digest !== undefined) {
      const ref: DigestRef =
        tag === undefined ? { _tag: "Digest", repository, digest } : { _tag: "Digest", repository, digest, tag }
      return ref
    }
    if (tag !== undefined) return { _tag: "Tag", repository, tag } satisfies Tag
    if (options.strict === true) {
      return yield* invalid(input, "DefaultsRefused", "strict validation needs a tag or digest to be written")
    }
    const fallback = yield* checkTag(input, options.defaultTag ?? defaultTag)
    return { _tag: "Tag", repository, tag: fallback } satisfies Tag
  })

/**
 * Parses a tag reference, refusing digest references.
 *
 * @since 0.1.0
 */
export const parseTag = (input: string, options: Options = {}): Either.Either<Tag, InvalidReference> =>
  Either.flatMap(parse(input, options), (ref) =>
    ref._tag === "Tag"
      ? Either.right(ref)
      : invalid(input, "InvalidTag", "expected a tag reference, but this one names a digest")
  )

/**
 * Parses a digest reference (`name@algorithm:hex`, or `name:tag@algorithm:hex`), refusing
 * tag references.
 *
 * @since 0.1.0
 */
export const parseDigest = (input: string, options: Options = {}): Either.Either<DigestRef, InvalidReference> =>
  Either.flatMap(parse(input, options), (ref) =>
    ref._tag === "Digest"
      ? Either.right(ref)
      : invalid(input, "InvalidDigest", "expected a digest reference (name@algorithm:hex), but there is no '@'")
  )

/**
 * True for a tag reference.
 *
 * @since 0.1.0
 */
export const isTag = (ref: Reference): ref is Tag => ref._tag === "Tag"

/**
 * True for a digest reference.
 *
 * @since 0.1.0
 */
export const isDigest = (ref: Reference): ref is DigestRef => ref._tag === "Digest"

/**
 * True for a value shaped like a {@link Registry}.
 *
 * @since 0.1.0
 */
export const isRegistry = (u: unknown): u is Registry =>
  Predicate.hasProperty(u, "_tag") &&
  u._tag === "Registry" &&
  Predicate.hasProperty(u, "host") &&
  Predicate.isString(u.host) &&
  Predicate.hasProperty(u, "insecure") &&
  Predicate.isBoolean(u.insecure)

/**
 * True for a value shaped like a {@link Repository}.
 *
 * @since 0.1.0
 */
export const isRepository = (u: unknown): u is Repository =>
  Predicate.hasProperty(u, "_tag") &&
  u._tag === "Repository" &&
  Predicate.hasProperty(u, "registry") &&
  isRegistry(u.registry) &&
  Predicate.hasProperty(u, "path") &&
  Predicate.isString(u.path)

/**
 * True for a value shaped like a {@link Reference}.
 *
 * @since 0.1.0
 */
export const isReference = (u: unknown): u is Reference => {
  if (!Predicate.hasProperty(u, "_tag") || !Predicate.hasProperty(u, "repository") || !isRepository(u.repository)) {
    return false
  }
  if (u._tag === "Tag") return Predicate.hasProperty(u, "tag") && Predicate.isString(u.tag)
  if (u._tag !== "Digest" || !Predicate.hasProperty(u, "digest") || !Digest.isDigest(u.digest)) return false
  return !Predicate.hasProperty(u, "tag") || Predicate.isString(u.tag)
}

/**
 * True when the registry is Docker Hub.
 *
 * @since 0.1.0
 */
export const isDockerHub = (registry: Registry): boolean =>
  registry.host === defaultRegistry || registry.host === DOCKER_HUB_ALIAS

/**
 * The `host[:port]` to put in URLs; Docker Hub is always `index.docker.io`.
 *
 * @since 0.1.0
 */
export const registryHost = (registry: Registry): string =>
  registry.host === DOCKER_HUB_ALIAS ? defaultRegistry : registry.host

const hostnameOf = (host: string): string => {
  if (host.startsWith("[")) {
    const close = host.indexOf("]")
    return host.slice(1, close < 0 ? undefined : close)
  }
  const colon = host.indexOf(":")
  return colon >= 0 && host.indexOf(":", colon + 1) < 0 ? host.slice(0, colon) : host
}

const isLoopback = (host: string): boolean => {
  const name = hostnameOf(host).toLowerCase()
  return name === "localhost" || name.endsWith(".localhost") || name === "::1" || ipv4Octets(name)?.[0] === 127
}

/**
 * The URL scheme for a registry: `http` when it is marked insecure or is a loopback host
 * (`localhost`, `*.localhost`, `127.x.x.x`, `[::1]`, with or without a port), else `https`.
 *
 * @since 0.1.0
 */
export const scheme = (registry: Registry): "http" | "https" =>
  registry.insecure || isLoopback(registry.host) ? "http" : "https"

/**
 * The repository a reference is in (ggcr's `Context`).
 *
 * @since 0.1.0
 */
export const context = (ref: Reference): Repository => ref.repository

/**
 * The tag or digest of a reference, as it goes into a `/manifests/<identifier>` URL.
 *
 * @since 0.1.0
 */
export const identifier = (ref: Reference): string => (ref._tag === "Tag" ? ref.tag : ref.digest)

/**
 * The full name of a repository, `host/path`: `index.docker.io/library/ubuntu`.
 *
 * @since 0.1.0
 */
export const repositoryName = (repository: Repository): string =>
  `${registryHost(repository.registry)}/${repository.path}`

/**
 * The fully qualified name of what a reference fetches (ggcr's `Name`):
 * `index.docker.io/library/ubuntu:latest` or `gcr.io/p/i@sha256:...`. A digest reference's
 * informational tag is left out.
 *
 * @since 0.1.0
 */
export const name = (ref: Reference): string =>
  ref._tag === "Tag"
    ? `${repositoryName(ref.repository)}:${ref.tag}`
    : `${repositoryName(ref.repository)}@${ref.digest}`

/**
 * The fully qualified string form of a reference, which {@link parse} reads back to the same
 * value: like {@link name}, but a digest reference keeps its tag (`host/path:tag@digest`).
 *
 * @since 0.1.0
 */
export const format = (ref: Reference): string =>
  ref._tag === "Digest" && ref.tag !== undefined
    ? `${repositoryName(ref.repository)}:${ref.tag}@${ref.digest}`
    : name(ref)

/**
 * Docker's familiar form: Docker Hub names without the registry and without `library/`
 * (`ubuntu:latest`, `bitnami/redis:7`); other registries in full.
 *
 * @since 0.1.0
 */
export const shortName = (ref: Reference): string => {
  const repository = ref.repository
  const path = repository.path
  const base = !isDockerHub(repository.registry)
    ? repositoryName(repository)
    : path.startsWith(LIBRARY) && !path.includes("/", LIBRARY.length)
      ? path.slice(LIBRARY.length)
      : path
  if (ref._tag === "Tag") return `${base}:${ref.tag}`
  return ref.tag === undefined ? `${base}@${ref.digest}` : `${base}:${ref.tag}@${ref.digest}`
}

/**
 * The token scope for actions on a repository (or on a reference's repository):
 * `repository:library/ubuntu:pull`, `repository:library/ubuntu:pull,push`.
 *
 * @since 0.1.0
 */
export const scope: {
  (actions: Action | Arr.NonEmptyReadonlyArray<Action>): (target: Repository | Reference) => string
  (target: Repository | Reference, actions: Action | Arr.NonEmptyReadonlyArray<Action>): string
} = dual(2, (target: Repository | Reference, actions: Action | Arr.NonEmptyReadonlyArray<Action>): string => {
  const repository = target._tag === "Repository" ? target : target.repository
  const list: ReadonlyArray<Action> = typeof actions === "string" ? [actions] : actions
  return `repository:${repository.path}:${list.join(",")}`
})

/**
 * A tag reference in a repository, checking the tag against the tag grammar.
 *
 * @since 0.1.0
 */
export const withTag: {
  (tag: string): (repository: Repository) => Either.Either<Tag, InvalidReference>
  (repository: Repository, tag: string): Either.Either<Tag, InvalidReference>
} = dual(2, (repository: Repository, tag: string): Either.Either<Tag, InvalidReference> =>
  Either.map(
    checkTag(`${repositoryName(repository)}:${tag}`, tag),
    (checked): Tag => ({ _tag: "Tag", repository, tag: checked })
  ))

/**
 * A digest reference in a repository.
 *
 * @since 0.1.0
 */
export const withDigest: {
  (digest: Digest.Digest): (repository: Repository) => DigestRef
  (repository: Repository, digest: Digest.Digest): DigestRef
} = dual(2, (repository: Repository, digest: Digest.Digest): DigestRef => ({ _tag: "Digest", repository, digest }))

/**
 * A Schema decoding a reference string with the given options, and encoding a reference
 * with {@link format}.
 *
 * @since 0.1.0
 */
export const schema = (options: Options = {}): Schema.Schema<Reference, string> =>
  Schema.transformOrFail(Schema.String, Schema.declare(isReference, { identifier: "Reference" }), {
    strict: true,
    decode: (s, _, ast) => Either.mapLeft(parse(s, options), (e) => new ParseResult.Type(ast, s, e.message)),
    encode: (ref) => ParseResult.succeed(format(ref))
  }).annotations({
    identifier: "ReferenceFromString",
    description: "an image reference, registry/repository:tag or registry/repository@digest"
  })

/**
 * Schema for reference strings in options and config, read with the default options.
 *
 * @since 0.1.0
 */
export const Reference: Schema.Schema<Reference, string> = schema()
