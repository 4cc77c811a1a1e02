/**
 * Platforms (`os[/architecture[/variant]][:os.version]`) as in the OCI image index, with
 * parsing, formatting and the matching rules ggcr uses to pick an index child.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { InvalidPlatform } from "./Errors.js"

/**
 * Schema of the `platform` object of an index entry (and of the platform fields of a
 * config file).
 *
 * @since 0.1.0
 */
export const Platform = Schema.Struct({
  architecture: Schema.String,
  os: Schema.String,
  "os.version": Schema.optionalWith(Schema.String, { exact: true }),
  "os.features": Schema.optionalWith(Schema.Array(Schema.String), { exact: true }),
  variant: Schema.optionalWith(Schema.String, { exact: true }),
  features: Schema.optionalWith(Schema.Array(Schema.String), { exact: true })
}).annotations({ identifier: "Platform" })

/**
 * A platform value.
 *
 * @since 0.1.0
 */
export interface Platform extends Schema.Schema.Type<typeof Platform> {}

/**
 * Builds a platform, leaving out the optional parts that are empty.
 *
 * @since 0.1.0
 */
export const make = (fields: {
  readonly os: string
  readonly architecture: string
  readonly variant?: string | undefined
  readonly osVersion?: string | undefined
  readonly osFeatures?: ReadonlyArray<string> | undefined
  readonly features?: ReadonlyArray<string> | undefined
}): Platform => ({
  architecture: fields.architecture,
  os: fields.os,
  ...(fields.osVersion ? { "os.version": fields.osVersion } : {}),
  ...(fields.osFeatures && fields.osFeatures.length > 0 ? { "os.features": fields.osFeatures } : {}),
  ...(fields.variant ? { variant: fields.variant } : {}),
  ...(fields.features && fields.features.length > 0 ? { features: fields.features } : {})
})

/** The platform ggcr and crane pick from an index when none is asked for. */
export const defaultPlatform: Platform = make({ os: "linux", architecture: "amd64" })

/**
 * Parses a platform as ggcr's `v1.ParsePlatform` does: `os`, `os/arch`, `os/arch/variant`,
 * each optionally followed by `:os.version` (`linux`, `linux/arm64/v8`,
 * `windows/amd64:10.0.17763.1234`), after trimming surrounding whitespace. Parts left out
 * are empty, and an empty part in a spec matches anything in {@link satisfies}.
 *
 * Refused, with a typed error: empty input (`Empty`), more than three `/`-separated parts
 * (as ggcr), and what ggcr would read into a platform that {@link format} cannot write
 * back (`Malformed`): no os (`/amd64`, `:10.0`), a variant without an architecture
 * (`linux//v7`) and more than one `:` (ggcr silently drops the os.version then).
 *
 * @since 0.1.0
 */
export const parse = (input: string): Either.Either<Platform, InvalidPlatform> => {
  const fail = (reason: InvalidPlatform["reason"], detail: string) =>
    Either.left(new InvalidPlatform({ input, reason, detail }))
  const text = input.trim()
  if (text === "") return fail("Empty", "a platform needs at least an os")
  const [path = "", osVersion, ...extra] = text.split(":")
  if (extra.length > 0) return fail("Malformed", "more than one ':' (expected os[/architecture[/variant]][:os.version])")
  const parts = path.split("/")
  if (parts.length > 3) return fail("Malformed", "too many slashes (expected os[/architecture[/variant]][:os.version])")
  const [os = "", architecture = "", variant = ""] = parts
  if (os === "") return fail("Malformed", "no os before the first '/' or ':'")
  if (variant !== "" && architecture === "") return fail("Malformed", "a variant needs an architecture")
  return Either.right(make({ os, architecture, variant, osVersion }))
}

/**
 * Formats a platform as `os/arch[/variant][:os.version]`, the form {@link parse} reads. As
 * ggcr's `Platform.String`, empty parts are left out and a platform without an os is `""`.
 *
 * @since 0.1.0
 */
export const format = (p: Platform): string =>
  p.os === ""
    ? ""
    : `${p.os}${p.architecture ? `/${p.architecture}` : ""}${p.variant ? `/${p.variant}` : ""}${
      p["os.version"] ? `:${p["os.version"]}` : ""
    }`

const isSubset = (have: ReadonlyArray<string> | undefined, want: ReadonlyArray<string> | undefined): boolean =>
  (want ?? []).every((w) => (have ?? []).includes(w))

const satisfied = (want: string | undefined, have: string | undefined): boolean =>
  want === undefined || want === "" || want === have

/**
 * True when `platform` satisfies the `spec`: every field the spec sets is equal in the
 * platform, and the spec's features are a subset of the platform's (ggcr's
 * `Platform.Satisfies`). An empty field in the spec matches anything.
 *
 * @since 0.1.0
 */
export const satisfies = (platform: Platform, spec: Platform): boolean =>
  satisfied(spec.os, platform.os) &&
  satisfied(spec.architecture, platform.architecture) &&
  satisfied(spec.variant, platform.variant) &&
  satisfied(spec["os.version"], platform["os.version"]) &&
  isSubset(platform.features, spec.features) &&
  isSubset(platform["os.features"], spec["os.features"])

/**
 * The rule used to choose an image from an index (ggcr's remote `matchesPlatform`): os and
 * architecture must be equal; variant and os.version must be equal when `required` sets them;
 * `required`'s features must be a subset of `given`'s.
 *
 * @since 0.1.0
 */
export const matches = (given: Platform, required: Platform): boolean =>
  given.os === required.os &&
  given.architecture === required.architecture &&
  satisfied(required.variant, given.variant) &&
  satisfied(required["os.version"], given["os.version"]) &&
  isSubset(given.features, required.features) &&
  isSubset(given["os.features"], required["os.features"])

const sameFeatures = (a: ReadonlyArray<string> | undefined, b: ReadonlyArray<string> | undefined): boolean => {
  const x = [...(a ?? [])].sort()
  const y = [...(b ?? [])].sort()
  return x.length === y.length && x.every((feature, i) => feature === y[i])
}

/**
 * Semantic equality of two platforms, as ggcr's `Platform.Equals`: feature lists are compared
 * ignoring their order, and a missing field equals an empty one.
 *
 * @since 0.1.0
 */
export const equals = (a: Platform, b: Platform): boolean =>
  a.os === b.os &&
  a.architecture === b.architecture &&
  (a.variant ?? "") === (b.variant ?? "") &&
  (a["os.version"] ?? "") === (b["os.version"] ?? "") &&
  sameFeatures(a.features, b.features) &&
  sameFeatures(a["os.features"], b["os.features"])
