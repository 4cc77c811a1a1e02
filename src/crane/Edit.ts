/**
 * The edits `crane mutate` makes to an image's config and manifest: labels, environment,
 * entrypoint and command, user, working directory, exposed ports, platform, annotations. Pure:
 * an image goes in, an image comes out; nothing is read until the result is.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as ConfigFile from "../domain/ConfigFile.js"
import type * as Image from "../domain/Image.js"
import * as Mutate from "../domain/Mutate.js"
import type * as Platform from "../domain/Platform.js"

/**
 * An edit that cannot be made: a `key=value` without `=`, a label or annotation with an empty
 * value, an environment entry in the config without `=`.
 *
 * @since 0.1.0
 */
export class EditError extends Data.TaggedError("EditError")<{
  readonly detail: string
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * What to change; everything left out stays as it is.
 *
 * @since 0.1.0
 */
export interface Edits {
  /** Labels to set (`config.Labels`); other labels stay. */
  readonly labels?: ReadonlyArray<readonly [string, string]> | undefined
  /** Manifest annotations to set; other annotations stay. */
  readonly annotations?: ReadonlyArray<readonly [string, string]> | undefined
  /** Environment variables to set, in order; an existing one is replaced where it stands. */
  readonly env?: ReadonlyArray<readonly [string, string]> | undefined
  /** A new entrypoint; clears `Cmd` unless {@link cmd} is given too (as Docker does). */
  readonly entrypoint?: ReadonlyArray<string> | undefined
  readonly cmd?: ReadonlyArray<string> | undefined
  readonly user?: string | undefined
  readonly workdir?: string | undefined
  /** The exposed ports (`80/tcp`), replacing the existing set. */
  readonly exposedPorts?: ReadonlyArray<string> | undefined
  /** The platform the config names (os, architecture, variant, os.version). */
  readonly platform?: Platform.Platform | undefined
}

/**
 * Splits `key=value` (at the first `=`), failing without one, as crane's flags do.
 *
 * @since 0.1.0
 */
export const parseKeyValue = (text: string): Either.Either<readonly [string, string], EditError> => {
  const eq = text.indexOf("=")
  return eq < 0
    ? Either.left(new EditError({ detail: `${text} must be formatted as key=value` }))
    : Either.right([text.slice(0, eq), text.slice(eq + 1)] as const)
}

const nonEmptyValues = (
  what: string,
  pairs: ReadonlyArray<readonly [string, string]>
): Either.Either<Record<string, string>, EditError> => {
  const out: Record<string, string> = {}
  for (const [key, value] of pairs) {
    if (value === "") return Either.left(new EditError({ detail: `parsing ${what} ${JSON.stringify(key)}, value is empty` }))
    out[key] = value
  }
  return Either.right(out)
}

const setEnv = (
  current: ReadonlyArray<string>,
  updates: ReadonlyArray<readonly [string, string]>,
  windows: boolean
): Either.Either<ReadonlyArray<string>, EditError> => {
  const wanted = new Map(updates.map(([k, v]) => [k, v]))
  const out: Array<string> = []
  for (const old of current) {
    const eq = old.indexOf("=")
    if (eq < 0) return Either.left(new EditError({ detail: `invalid key value pair in config: ${old}` }))
    const key = old.slice(0, eq)
    const value = wanted.get(key)
    if (value !== undefined) {
      out.push(`${key}=${value}`)
      wanted.delete(key)
    } else {
      out.push(old)
    }
  }
  for (const [key, value] of updates) {
    if (!wanted.has(key)) continue
    wanted.delete(key)
    out.push(`${windows ? key.toUpperCase() : key}=${value}`)
  }
  return Either.right(out)
}

/**
 * The config file with the edits applied (crane mutate's rules).
 *
 * @since 0.1.0
 */
export const editConfigFile = (
  config: ConfigFile.ConfigFile,
  edits: Edits
): Either.Either<ConfigFile.ConfigFile, EditError> =>
  Either.gen(function* () {
    let run: ConfigFile.Config = config.config ?? {}
    if (edits.labels !== undefined && edits.labels.length > 0) {
      run = { ...run, Labels: { ...run.Labels, ...(yield* nonEmptyValues("label", edits.labels)) } }
    }
    if (edits.env !== undefined && edits.env.length > 0) {
      run = { ...run, Env: yield* setEnv(run.Env ?? [], edits.env, config.os === "windows") }
    }
    if (edits.entrypoint !== undefined && edits.entrypoint.length > 0) {
      const { Cmd: _cmd, ...rest } = run
      run = { ...rest, Entrypoint: edits.entrypoint }
    }
    if (edits.cmd !== undefined && edits.cmd.length > 0) run = { ...run, Cmd: edits.cmd }
    if (edits.user !== undefined && edits.user !== "") run = { ...run, User: edits.user }
    if (edits.workdir !== undefined && edits.workdir !== "") run = { ...run, WorkingDir: edits.workdir }
    if (edits.exposedPorts !== undefined && edits.exposedPorts.length > 0) {
      run = { ...run, ExposedPorts: Object.fromEntries(edits.exposedPorts.map((p) => [p, {}])) }
    }
    let edited: ConfigFile.ConfigFile = run === config.config || (config.config === undefined && Object.keys(run).length === 0)
      ? config
      : { ...config, config: run }
    const p = edits.platform
    if (p !== undefined) {
      const { "os.version": _osVersion, variant: _variant, ...rest } = edited
      edited = {
        ...rest,
        os: p.os,
        architecture: p.architecture,
        ...(p.variant !== undefined ? { variant: p.variant } : {}),
        ...(p["os.version"] !== undefined ? { "os.version": p["os.version"] } : {})
      }
    }
    return edited
  })

/**
 * True when the edits change nothing in the config (only annotations, or nothing at all).
 *
 * @since 0.1.0
 */
export const touchesConfig = (edits: Edits): boolean =>
  (edits.labels?.length ?? 0) > 0 ||
  (edits.env?.length ?? 0) > 0 ||
  (edits.entrypoint?.length ?? 0) > 0 ||
  (edits.cmd?.length ?? 0) > 0 ||
  (edits.user ?? "") !== "" ||
  (edits.workdir ?? "") !== "" ||
  (edits.exposedPorts?.length ?? 0) > 0 ||
  edits.platform !== undefined

/**
 * The image with the edits applied: its config file replaced by the edited one (serialised
 * once) and the annotations added to its manifest. Fails with {@link EditError} before
 * anything is read when an annotation or label has an empty value.
 *
 * @since 0.1.0
 */
export const edit = <E>(
  image: Image.Image<E>,
  edits: Edits
): Effect.Effect<Image.Image<E>, E | EditError> =>
  Effect.gen(function* () {
    const annotations = yield* nonEmptyValues("annotation", edits.annotations ?? [])
    yield* nonEmptyValues("label", edits.labels ?? [])
    let result = image
    if (touchesConfig(edits)) {
      const edited = yield* editConfigFile(yield* image.configFile, edits)
      result = Mutate.configFile(image, edited)
    }
    return Object.keys(annotations).length > 0 ? Mutate.annotations(result, annotations) : result
  })
