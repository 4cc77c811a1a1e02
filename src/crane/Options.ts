/**
 * The options every crane function takes (ggcr's `crane.Option`s): the platform to pick from an
 * index, whether registries may be reached over plain HTTP, and how many jobs run at once. Also
 * the parsing of the names crane functions are given, with those options applied.
 *
 * Credentials, the user agent and TLS settings belong to the transport, provided once for a
 * program by `crane/Transport`.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import type { InvalidPlatform, InvalidReference } from "../domain/Errors.js"
import * as Platform from "../domain/Platform.js"
import * as Reference from "../domain/Reference.js"
import type * as Remote from "../services/Remote.js"

/**
 * Options of the crane functions; each has a default.
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * The platform to pick when a reference names an index. Without it, functions that need an
   * image pick `linux/amd64` and functions that can handle an index (copy, pull to a layout)
   * keep the whole index, as crane does.
   */
  readonly platform?: Platform.Platform | undefined
  /** Reach every registry over plain HTTP (loopback registries always are). */
  readonly insecure?: boolean | undefined
  /** How many blobs or tags are transferred at once; {@link defaultJobs} by default. */
  readonly jobs?: number | undefined
}

/**
 * How many transfers run at once unless told otherwise (ggcr's default of 4).
 *
 * @since 0.1.0
 */
export const defaultJobs = 4

/**
 * The number of jobs the options ask for, at least 1.
 *
 * @since 0.1.0
 */
export const jobs = (options: Options): number =>
  options.jobs !== undefined && Number.isFinite(options.jobs) && options.jobs >= 1
    ? Math.floor(options.jobs)
    : defaultJobs

/**
 * A reference as crane functions accept it: a string to parse, or a parsed reference.
 *
 * @since 0.1.0
 */
export type ReferenceInput = string | Reference.Reference

/**
 * A repository as crane functions accept it.
 *
 * @since 0.1.0
 */
export type RepositoryInput = string | Reference.Repository

/**
 * A registry as crane functions accept it.
 *
 * @since 0.1.0
 */
export type RegistryInput = string | Reference.Registry

const nameOptions = (options: Options): Reference.Options => ({ insecure: options.insecure === true })

const markInsecure = <A extends { readonly registry: Reference.Registry }>(value: A, options: Options): A =>
  options.insecure === true && !value.registry.insecure
    ? { ...value, registry: { ...value.registry, insecure: true } }
    : value

/**
 * Parses a reference (or takes a parsed one), marking its registry insecure when the options
 * say so.
 *
 * @since 0.1.0
 */
export const reference = (input: ReferenceInput, options: Options = {}): Either.Either<Reference.Reference, InvalidReference> =>
  typeof input === "string"
    ? Reference.parse(input, nameOptions(options))
    : Either.right({ ...input, repository: markInsecure(input.repository, options) })

/**
 * Parses a repository name (or takes a parsed one), marking its registry insecure when the
 * options say so.
 *
 * @since 0.1.0
 */
export const repository = (
  input: RepositoryInput,
  options: Options = {}
): Either.Either<Reference.Repository, InvalidReference> =>
  typeof input === "string"
    ? Reference.parseRepository(input, nameOptions(options))
    : Either.right(markInsecure(input, options))

/**
 * Parses a registry host (or takes a parsed one), marking it insecure when the options say so.
 *
 * @since 0.1.0
 */
export const registry = (input: RegistryInput, options: Options = {}): Either.Either<Reference.Registry, InvalidReference> =>
  typeof input === "string"
    ? Reference.parseRegistry(input, nameOptions(options))
    : Either.right(options.insecure === true ? { ...input, insecure: true } : input)

/**
 * The options of `Remote` operations these crane options amount to.
 *
 * @since 0.1.0
 */
export const remote = (options: Options): Remote.Options => ({
  ...(options.platform !== undefined ? { platform: options.platform } : {}),
  concurrency: jobs(options)
})

/**
 * Parses a platform (`linux/arm64/v8`, `windows/amd64:10.0.17763.1234`).
 *
 * @since 0.1.0
 */
export const platform = (input: string): Either.Either<Platform.Platform, InvalidPlatform> => Platform.parse(input)

/**
 * A platform as written on a command line (`linux/arm64/v8`).
 *
 * @since 0.1.0
 */
export const formatPlatform = (p: Platform.Platform): string => Platform.format(p)

/**
 * A reference in full (`registry/repo:tag`, `registry/repo@sha256:...`), as crane prints it.
 *
 * @since 0.1.0
 */
export const formatReference = (ref: Reference.Reference): string => Reference.format(ref)

/**
 * A repository in full (`registry/repo`).
 *
 * @since 0.1.0
 */
export const formatRepository = (repo: Reference.Repository): string => Reference.repositoryName(repo)
