/**
 * Image config files (ggcr's `v1.ConfigFile`): platform, history, the diff ids of the root
 * filesystem and the container's run configuration. Fields Docker may omit are optional, lists
 * Docker writes as `null` accept `null`, and unknown fields survive on the value. Decoding
 * keeps the exact bytes next to the value.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Digest from "./Digest.js"
import type { InvalidDocument } from "./Errors.js"
import * as Json from "./internal/json.js"
import * as MediaType from "./MediaType.js"
import * as Platform from "./Platform.js"
import * as RawDocument from "./RawDocument.js"

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

const Strings = Schema.Array(Schema.String)
const NullableStrings = Schema.NullOr(Strings)
const StringMap = Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String }))
/** A Go `map[string]struct{}`: a set of keys whose values are empty objects. */
const KeySet = Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Struct({}) }))
const Int = Schema.Number.pipe(Schema.int())

/**
 * Schema of the `Healthcheck` of a container config. Durations are integer nanoseconds.
 *
 * @since 0.1.0
 */
export const HealthConfig = Schema.Struct({
  Test: optional(NullableStrings),
  Interval: optional(Int),
  Timeout: optional(Int),
  StartPeriod: optional(Int),
  StartInterval: optional(Int),
  Retries: optional(Int)
}).annotations({ identifier: "HealthConfig" })

/**
 * A healthcheck configuration.
 *
 * @since 0.1.0
 */
export interface HealthConfig extends Schema.Schema.Type<typeof HealthConfig> {}

/**
 * Schema of the run configuration of a container (`config` and `container_config`).
 *
 * @since 0.1.0
 */
export const Config = Schema.Struct({
  Hostname: optional(Schema.String),
  Domainname: optional(Schema.String),
  User: optional(Schema.String),
  AttachStdin: optional(Schema.Boolean),
  AttachStdout: optional(Schema.Boolean),
  AttachStderr: optional(Schema.Boolean),
  ExposedPorts: optional(KeySet),
  Tty: optional(Schema.Boolean),
  OpenStdin: optional(Schema.Boolean),
  StdinOnce: optional(Schema.Boolean),
  Env: optional(NullableStrings),
  Cmd: optional(NullableStrings),
  Healthcheck: optional(Schema.NullOr(HealthConfig)),
  ArgsEscaped: optional(Schema.Boolean),
  Image: optional(Schema.String),
  Volumes: optional(KeySet),
  WorkingDir: optional(Schema.String),
  Entrypoint: optional(NullableStrings),
  NetworkDisabled: optional(Schema.Boolean),
  MacAddress: optional(Schema.String),
  OnBuild: optional(NullableStrings),
  Labels: optional(StringMap),
  StopSignal: optional(Schema.String),
  Shell: optional(NullableStrings)
}).annotations({ identifier: "Config" })

/**
 * A container run configuration.
 *
 * @since 0.1.0
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * Schema of one `history` entry.
 *
 * @since 0.1.0
 */
export const History = Schema.Struct({
  created: optional(Schema.String),
  created_by: optional(Schema.String),
  author: optional(Schema.String),
  comment: optional(Schema.String),
  empty_layer: optional(Schema.Boolean)
}).annotations({ identifier: "History" })

/**
 * A history entry.
 *
 * @since 0.1.0
 */
export interface History extends Schema.Schema.Type<typeof History> {}

/**
 * Schema of the `rootfs` object. Docker leaves out `diff_ids` when an image has no layers;
 * ggcr writes `null` (its empty image).
 *
 * @since 0.1.0
 */
export const RootFS = Schema.Struct({
  type: Schema.String,
  diff_ids: optional(Schema.NullOr(Schema.Array(Digest.Digest)))
}).annotations({ identifier: "RootFS" })

/**
 * The root filesystem of an image: the diff ids of its layers, bottom first.
 *
 * @since 0.1.0
 */
export interface RootFS extends Schema.Schema.Type<typeof RootFS> {}

/**
 * Schema of an image config file. `created` is kept as the RFC 3339 string it was written as.
 *
 * @since 0.1.0
 */
export const ConfigFile = Schema.Struct({
  architecture: Schema.String,
  os: Schema.String,
  "os.version": optional(Schema.String),
  "os.features": optional(Strings),
  variant: optional(Schema.String),
  created: optional(Schema.String),
  author: optional(Schema.String),
  container: optional(Schema.String),
  docker_version: optional(Schema.String),
  history: optional(Schema.Array(History)),
  rootfs: RootFS,
  config: optional(Config),
  container_config: optional(Config)
}).annotations({ identifier: "ConfigFile" })

/**
 * An image config file value.
 *
 * @since 0.1.0
 */
export interface ConfigFile extends Schema.Schema.Type<typeof ConfigFile> {}

/**
 * A config file's exact bytes with its value, digest and media type.
 *
 * @since 0.1.0
 */
export interface Raw extends RawDocument.RawDocument<ConfigFile> {}

/**
 * Options for {@link decode}.
 *
 * @since 0.1.0
 */
export interface DecodeOptions {
  /** The largest config accepted, in bytes. Defaults to 100 MiB. */
  readonly maxSize?: number | undefined
  /** The media type the config was described with. Defaults to the OCI config type. */
  readonly mediaType?: MediaType.MediaType | undefined
}

/**
 * Decodes the bytes of an image config. Fails with {@link InvalidDocument}: `TooLarge`,
 * `NotJson` or `Schema`. Returns an `Either`, which is also an `Effect`.
 *
 * @since 0.1.0
 */
export const decode = (bytes: Uint8Array, options: DecodeOptions = {}): Either.Either<Raw, InvalidDocument> =>
  Either.gen(function* () {
    const json = yield* Json.parse(bytes, "config", options.maxSize)
    const value = yield* Json.decodeValue(ConfigFile, json, "config")
    return RawDocument.make(bytes, value, options.mediaType ?? MediaType.OCI_CONFIG)
  })

const healthShape = Json.struct(["Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"])

const configShape = Json.struct([
  "AttachStderr",
  "AttachStdin",
  "AttachStdout",
  "Cmd",
  ["Healthcheck", healthShape],
  "Domainname",
  "Entrypoint",
  "Env",
  "Hostname",
  "Image",
  ["Labels", Json.map()],
  "OnBuild",
  "OpenStdin",
  "StdinOnce",
  "Tty",
  "User",
  ["Volumes", Json.map()],
  "WorkingDir",
  ["ExposedPorts", Json.map()],
  "ArgsEscaped",
  "NetworkDisabled",
  "MacAddress",
  "StopSignal",
  "Shell"
])

const shape = Json.struct([
  "architecture",
  "author",
  "container",
  "created",
  "docker_version",
  ["history", Json.array(Json.struct(["author", "created", "created_by", "comment", "empty_layer"]))],
  "os",
  ["rootfs", Json.struct(["type", "diff_ids"])],
  ["config", configShape],
  ["container_config", configShape],
  "os.version",
  "variant",
  "os.features"
])

/**
 * Encodes a config we generate as compact JSON with ggcr's field order and Go's escaping.
 * Fields unknown to the Schema are written after the known ones. Never use this to recompute
 * the digest of a config that was read.
 *
 * @since 0.1.0
 */
export const encode = (config: ConfigFile): Uint8Array => Json.encode(config, shape)

/**
 * Encodes a config once and pairs the bytes with it.
 *
 * @since 0.1.0
 */
export const toRaw = (config: ConfigFile, mediaType: MediaType.MediaType = MediaType.OCI_CONFIG): Raw =>
  RawDocument.make(encode(config), config, mediaType)

/**
 * The platform a config describes: os, architecture, variant, os.version and os.features.
 *
 * @since 0.1.0
 */
export const platform = (config: ConfigFile): Platform.Platform =>
  Platform.make({
    os: config.os,
    architecture: config.architecture,
    variant: config.variant,
    osVersion: config["os.version"],
    osFeatures: config["os.features"]
  })

/**
 * The diff ids of the image's layers, bottom first (empty when the config lists none).
 *
 * @since 0.1.0
 */
export const diffIds = (config: ConfigFile): ReadonlyArray<Digest.Digest> => config.rootfs.diff_ids ?? []
