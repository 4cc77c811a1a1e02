/**
 * `crane ls` and `crane catalog`: the tags of a repository and the repositories of a registry,
 * one per line.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as CraneOptions from "../../crane/Options.js"
import * as Globals from "../Globals.js"
import * as Output from "../Output.js"

// Loaded when a command runs: starting crane compiles only what the command line needs.
const loadList = Effect.promise(() => import("../../crane/List.js"))

/**
 * `crane ls REPO` (`--full-ref`, `-O/--omit-digest-tags`).
 *
 * @since 0.1.0
 */
export const ls = Command.make(
  "ls",
  {
    repository: Args.text({ name: "REPO" }),
    fullRef: Options.boolean("full-ref").pipe(Options.withDescription("Print the full image reference")),
    omitDigestTags: Options.boolean("omit-digest-tags").pipe(
      Options.withAlias("O"),
      Options.withDescription("Omit digest tags (e.g. ':sha256-...')")
    )
  },
  ({ fullRef, omitDigestTags, repository }) =>
    Effect.gen(function* () {
      const options = yield* Globals.options
      const List = yield* loadList
      const repo = yield* CraneOptions.repository(repository, options)
      const tags = yield* List.listTags(repo, { ...options, omitDigestTags })
      yield* Output.lines(fullRef ? tags.map((t) => `${CraneOptions.formatRepository(repo)}:${t}`) : tags)
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("List the tags in a repo"))

/**
 * `crane catalog REGISTRY` (`--full-ref`).
 *
 * @since 0.1.0
 */
export const catalog = Command.make(
  "catalog",
  {
    registry: Args.text({ name: "REGISTRY" }),
    fullRef: Options.boolean("full-ref").pipe(Options.withDescription("Print the full image reference"))
  },
  ({ fullRef, registry }) =>
    Effect.gen(function* () {
      const List = yield* loadList
      const repositories = yield* List.catalog(registry, yield* Globals.options)
      const base = registry.replace(/\/+$/, "")
      yield* Output.lines(fullRef ? repositories.map((r) => `${base}/${r}`) : repositories)
    })
).pipe(
  Command.provide(Globals.transport),
  Command.withDescription("List the repos in a registry"))
