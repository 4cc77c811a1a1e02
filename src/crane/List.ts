/**
 * What a registry holds (`crane ls`, `crane catalog`), as ggcr's `crane.ListTags` and
 * `crane.Catalog`: every tag of a repository and every repository of a registry, following
 * the registry's pagination to the end.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { InvalidReference } from "../domain/Errors.js"
import type { RegistryError } from "../services/RegistryError.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import * as Remote from "../services/Remote.js"
import * as Options from "./Options.js"

/**
 * Options of {@link listTags}.
 *
 * @since 0.1.0
 */
export interface ListOptions extends Options.Options {
  /** Leave out the `sha256-<hex>` tags of the referrers fallback and signature tools. */
  readonly omitDigestTags?: boolean | undefined
}

/**
 * True for a tag made from a digest (`sha256-<hex>`, `sha256-<hex>.sig`): referrers fallback
 * tags, cosign signatures and attestations.
 *
 * @since 0.1.0
 */
export const isDigestTag = (tag: string): boolean => tag.startsWith("sha256-")

/**
 * Every tag of a repository (ggcr's `crane.ListTags`).
 *
 * @since 0.1.0
 */
export const listTags = (
  repository: Options.RepositoryInput,
  options: ListOptions = {}
): Effect.Effect<ReadonlyArray<string>, InvalidReference | RegistryError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const repo = yield* Options.repository(repository, options)
    const tags = yield* Remote.list(repo, Options.remote(options))
    return options.omitDigestTags === true ? tags.filter((t) => !isDigestTag(t)) : tags
  })

/**
 * Every repository of a registry (ggcr's `crane.Catalog`).
 *
 * @since 0.1.0
 */
export const catalog = (
  registry: Options.RegistryInput,
  options: Options.Options = {}
): Effect.Effect<ReadonlyArray<string>, InvalidReference | RegistryError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(Options.registry(registry, options), (r) => Remote.catalog(r, Options.remote(options)))
