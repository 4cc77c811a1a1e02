/**
 * The v1 layer metadata of legacy tarballs, as ggcr's `pkg/legacy/tarball` makes it: each
 * layer's id (chained through its parent, the top one also over the image config's bytes),
 * and its `json` file, a v1-compatible config encoded as Go's encoding/json would encode
 * ggcr's `legacy.LayerConfigFile`.
 *
 * @internal
 */
import * as Either from "effect/Either"
import type * as ConfigFile from "../../domain/ConfigFile.js"
import * as Digest from "../../domain/Digest.js"
import * as Json from "../../domain/internal/json.js"
import { LegacyTarballError } from "./legacyError.js"

/**
 * The v1 id of a layer (ggcr's `v1LayerID`): the sha256 hex of `"<digest hex> <parent id>"`,
 * followed for the top layer by `" "` and the image config's exact bytes. The bottom layer's
 * parent id is empty, so its string ends in a space.
 *
 * @internal
 */
export const layerId = (digest: Digest.Digest, parent: string, rawConfig?: Uint8Array): string => {
  const h = Digest.hasher("sha256")
  h.update(new TextEncoder().encode(`${Digest.hex(digest)} ${parent}`))
  if (rawConfig !== undefined && rawConfig.byteLength > 0) {
    h.update(new TextEncoder().encode(" "))
    h.update(rawConfig)
  }
  return Digest.hex(h.digest())
}

/** Go's zero `time.Time`, as encoding/json writes it. */
const zeroTime = "0001-01-01T00:00:00Z"

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/

/**
 * A timestamp as Go writes it back after reading it (RFC 3339 with nanoseconds, trailing
 * zeros of the fraction dropped, a zero offset written `Z`); Go's zero time when absent.
 * Strings Go would not parse are kept as they are.
 *
 * @internal
 */
export const goTime = (created: string | undefined): string => {
  if (created === undefined) return zeroTime
  const match = RFC3339.exec(created)
  if (match === null) return created
  const [, base = "", fraction = "", zone = "Z"] = match
  const nanos = fraction.slice(0, 9).replace(/0+$/, "")
  const offset = zone === "+00:00" || zone === "-00:00" ? "Z" : zone
  return `${base}${nanos === "" ? "" : `.${nanos}`}${offset}`
}

/** ggcr's `v1.Config` fields, in its order; every one is `omitempty`. */
const configFields = [
  "AttachStderr",
  "AttachStdin",
  "AttachStdout",
  "Cmd",
  "Healthcheck",
  "Domainname",
  "Entrypoint",
  "Env",
  "Hostname",
  "Image",
  "Labels",
  "OnBuild",
  "OpenStdin",
  "StdinOnce",
  "Tty",
  "User",
  "Volumes",
  "WorkingDir",
  "ExposedPorts",
  "ArgsEscaped",
  "NetworkDisabled",
  "MacAddress",
  "StopSignal",
  "Shell"
] as const

/** ggcr's `v1.HealthConfig` fields, in its order; every one is `omitempty`. */
const healthFields = ["Test", "Interval", "Timeout", "StartPeriod", "Retries"] as const

const healthShape = Json.struct(healthFields)

const configShape = Json.struct(
  configFields.map((f) =>
    f === "Healthcheck"
      ? ([f, healthShape] as const)
      : f === "Labels" || f === "Volumes" || f === "ExposedPorts"
        ? ([f, Json.map()] as const)
        : f
  )
)

const layerShape = Json.struct([
  "architecture",
  "author",
  "container",
  "created",
  "docker_version",
  "history",
  "os",
  ["rootfs", Json.struct(["type", "diff_ids"])],
  ["config", configShape],
  "os.version",
  "variant",
  "os.features",
  ["container_config", configShape],
  "id",
  "parent",
  "throwaway",
  "comment"
])

/** What Go's `omitempty` leaves out: zero values, and empty lists and maps. */
const isEmpty = (value: unknown): boolean =>
  value === undefined ||
  value === null ||
  value === false ||
  value === "" ||
  value === 0 ||
  (Array.isArray(value) && value.length === 0) ||
  (Json.isRecord(value) && Object.keys(value).length === 0)

const pick = (value: Readonly<Record<string, unknown>>, fields: ReadonlyArray<string>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const field of fields) {
    const v = value[field]
    if (!isEmpty(v)) out[field] = v
  }
  return out
}

/** A run configuration as ggcr re-encodes it: known fields only, empty ones left out. */
const goConfig = (config: ConfigFile.Config | undefined): Record<string, unknown> => {
  if (config === undefined) return {}
  const out = pick(config, configFields.filter((f) => f !== "Healthcheck"))
  const health = config.Healthcheck
  if (health !== undefined && health !== null) out["Healthcheck"] = pick(health, healthFields)
  return out
}

const omitEmpty = <A>(value: A): A | undefined => (isEmpty(value) ? undefined : value)

/**
 * A layer of a legacy tarball: its v1 id, its parent's id (empty for the bottom layer) and
 * the bytes of its `json` file.
 *
 * @internal
 */
export interface V1Layer {
  readonly id: string
  readonly parent: string
  readonly json: Uint8Array
}

const layerJson = (
  id: string,
  parent: string,
  history: ConfigFile.History,
  top: { readonly config: ConfigFile.ConfigFile } | undefined
): Uint8Array => {
  const config = top?.config
  return Json.encode(
    {
      architecture: config?.architecture ?? "",
      author: omitEmpty(history.author),
      container: omitEmpty(config?.container),
      created: goTime(config !== undefined ? config.created : history.created),
      docker_version: omitEmpty(config?.docker_version),
      os: config?.os ?? "",
      rootfs: { type: "", diff_ids: null },
      config: goConfig(config?.config),
      container_config: { Cmd: [history.created_by ?? ""] },
      id,
      parent: omitEmpty(parent),
      throwaway: omitEmpty(history.empty_layer),
      comment: omitEmpty(history.comment)
    },
    layerShape
  )
}

/**
 * The v1 layers of an image, bottom first, from its layers' (compressed) digests, its config
 * and the config's exact bytes, as ggcr's `MultiWrite`: the history without its empty layers
 * must have one entry per layer (or none at all, then blank entries are used), otherwise
 * `HistoryMismatch`.
 *
 * @internal
 */
export const chain = (
  digests: ReadonlyArray<Digest.Digest>,
  config: ConfigFile.ConfigFile,
  rawConfig: Uint8Array
): Either.Either<ReadonlyArray<V1Layer>, LegacyTarballError> => {
  const filled = (config.history ?? []).filter((h) => h.empty_layer !== true)
  const history: ReadonlyArray<ConfigFile.History> =
    filled.length === 0 && digests.length > 0 ? digests.map(() => ({})) : filled
  if (history.length !== digests.length) {
    return Either.left(
      new LegacyTarballError({
        reason: "HistoryMismatch",
        detail: `the image config has ${history.length} history entries for non-empty layers but the image has ${digests.length} layer(s)`
      })
    )
  }
  const layers: Array<V1Layer> = []
  let parent = ""
  digests.forEach((digest, i) => {
    const isTop = i === digests.length - 1
    const id = layerId(digest, parent, isTop ? rawConfig : undefined)
    layers.push({ id, parent, json: layerJson(id, parent, history[i] ?? {}, isTop ? { config } : undefined) })
    parent = id
  })
  return Either.right(layers)
}
