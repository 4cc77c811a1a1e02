/**
 * Tagging and deleting in place (`crane tag`, `crane delete`), as ggcr's `crane.Tag` and
 * `crane.Delete`: a tag is added by putting the very manifest bytes under it, so nothing but
 * the manifest moves and the digest stays.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { DigestMismatch, InvalidReference } from "../domain/Errors.js"
import * as Reference from "../domain/Reference.js"
import type { RegistryError } from "../services/RegistryError.js"
import type * as RegistryTransport from "../services/RegistryTransport.js"
import * as Remote from "../services/Remote.js"
import * as Options from "./Options.js"

/**
 * Adds a tag, in the same repository, to what a reference names (ggcr's `crane.Tag`). Gives
 * the new tag reference.
 *
 * @since 0.1.0
 */
export const tag = (
  ref: Options.ReferenceInput,
  newTag: string,
  options: Options.Options = {}
): Effect.Effect<Reference.Tag, InvalidReference | RegistryError | DigestMismatch | Remote.WriteError, RegistryTransport.RegistryTransport> =>
  Effect.gen(function* () {
    const r = yield* Options.reference(ref, options)
    const fetched = yield* Remote.get(r, Options.remote(options))
    const target = yield* Reference.withTag(r.repository, newTag)
    yield* Remote.tag<never>(target, fetched, Options.remote(options))
    return target
  })

/**
 * Deletes what a reference names from its registry (ggcr's `crane.Delete`).
 *
 * @since 0.1.0
 */
export const remove = (
  ref: Options.ReferenceInput,
  options: Options.Options = {}
): Effect.Effect<void, InvalidReference | RegistryError, RegistryTransport.RegistryTransport> =>
  Effect.flatMap(Options.reference(ref, options), (r) => Remote.remove(r, Options.remote(options)))
