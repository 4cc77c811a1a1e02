import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Platform from "../../src/domain/Platform.js"

interface Extra {
  readonly variant?: string
  readonly osVersion?: string
  readonly osFeatures?: ReadonlyArray<string>
  readonly features?: ReadonlyArray<string>
}
const plat = (os: string, architecture: string, extra: Extra = {}): Platform.Platform =>
  Platform.make({ os, architecture, ...extra })

const reasonOf = (input: string) =>
  Either.match(Platform.parse(input), { onLeft: (e) => e.reason, onRight: () => "ok" as const })

describe("Platform.parse", () => {
  it.each([
    ["linux/amd64", plat("linux", "amd64")],
    ["linux/arm64/v8", plat("linux", "arm64", { variant: "v8" })],
    ["windows/amd64:10.0.17763.1234", plat("windows", "amd64", { osVersion: "10.0.17763.1234" })],
    ["linux/arm/v7:5.4", plat("linux", "arm", { variant: "v7", osVersion: "5.4" })]
  ])("reads %s", (input, expected) => {
    expect(Either.getOrThrow(Platform.parse(input))).toEqual(expected)
  })

  it("refuses more than three parts, as ggcr does", () => {
    expect(reasonOf("linux/amd64/v7/s9")).toBe("Malformed")
  })

  it("refuses an empty string with its own reason", () => {
    expect(reasonOf("")).toBe("Empty")
    expect(reasonOf("   ")).toBe("Empty")
  })

  it.each<[string, Platform.Platform]>([
    ["linux", { os: "linux", architecture: "" }],
    ["windows:10.0.17763.1234", { os: "windows", architecture: "", "os.version": "10.0.17763.1234" }],
    ["linux/", { os: "linux", architecture: "" }],
    ["linux/amd64:", plat("linux", "amd64")],
    ["  linux/arm64/v8\n", plat("linux", "arm64", { variant: "v8" })],
    ["linux/am d64", plat("linux", "am d64")]
  ])("reads %j as ggcr's ParsePlatform does", (input, expected) => {
    expect(Either.getOrThrow(Platform.parse(input))).toEqual(expected)
  })

  it("reads an os alone as a spec that any architecture of that os satisfies", () => {
    const linux = Either.getOrThrow(Platform.parse("linux"))
    expect(Platform.satisfies(plat("linux", "amd64"), linux)).toBe(true)
    expect(Platform.satisfies(plat("linux", "arm", { variant: "v7" }), linux)).toBe(true)
    expect(Platform.satisfies(plat("windows", "amd64"), linux)).toBe(false)
    // Choosing an image out of an index (ggcr's remote matchesPlatform) wants the architecture too.
    expect(Platform.matches(plat("linux", "amd64"), linux)).toBe(false)
    expect(Platform.format(linux)).toBe("linux")
  })

  it("refuses what ggcr would read into a platform that cannot be written back", () => {
    expect(reasonOf("/amd64")).toBe("Malformed")
    expect(reasonOf(":10.0")).toBe("Malformed")
    expect(reasonOf("linux//v7")).toBe("Malformed")
    expect(reasonOf("windows/amd64:10.0:1")).toBe("Malformed")
  })
})

describe("Platform.format", () => {
  it.each<[Platform.Platform, string]>([
    [{ os: "", architecture: "" }, ""],
    [{ os: "linux", architecture: "" }, "linux"],
    [plat("linux", "amd64"), "linux/amd64"],
    [plat("linux", "amd64", { variant: "v7" }), "linux/amd64/v7"],
    [plat("linux", "amd64", { osVersion: "1.2.3.4" }), "linux/amd64:1.2.3.4"],
    [
      plat("linux", "amd64", { osVersion: "1.2.3.4", osFeatures: ["a", "b"], features: ["c", "d"] }),
      "linux/amd64:1.2.3.4"
    ]
  ])("writes %o as %s, as ggcr's Platform.String", (platform, expected) => {
    expect(Platform.format(platform)).toBe(expected)
  })

  it.each([
    { os: "linux", architecture: "" },
    { os: "windows", architecture: "", "os.version": "10.0" },
    plat("linux", "amd64"),
    plat("linux", "amd64", { variant: "v7" }),
    plat("linux", "amd64", { osVersion: "1.2.3.4" }),
    plat("linux", "arm", { variant: "v6", osVersion: "9" })
  ])("reads back what it writes: %o", (platform) => {
    expect(Either.getOrThrow(Platform.parse(Platform.format(platform)))).toEqual(platform)
  })
})

describe("Platform.make", () => {
  it("leaves out empty optional parts", () => {
    expect(Platform.make({ os: "linux", architecture: "amd64", variant: "", osFeatures: [], features: [] })).toEqual({
      os: "linux",
      architecture: "amd64"
    })
  })

  it("defaults to linux/amd64, the platform ggcr picks", () => {
    expect(Platform.format(Platform.defaultPlatform)).toBe("linux/amd64")
  })
})

const amd64 = plat("linux", "amd64")
/** linux/amd64 with some extra fields. */
const lx = (extra: Extra): Platform.Platform => plat("linux", "amd64", extra)

describe("Platform.equals (ggcr's Equals)", () => {
  it.each<[string, Platform.Platform, Platform.Platform, boolean]>([
    ["identical os/arch", amd64, amd64, true],
    ["different architecture", amd64, plat("linux", "arm64"), false],
    ["different os", amd64, plat("darwin", "amd64"), false],
    ["os.version on one side only", lx({ osVersion: "5.0" }), amd64, false],
    ["different os.version", lx({ osVersion: "5.0" }), lx({ osVersion: "3.6" }), false],
    ["variant on one side only", lx({ variant: "pios" }), amd64, false],
    ["different variants", lx({ variant: "pios" }), lx({ variant: "ubuntu" }), false],
    ["same variant", lx({ variant: "pios" }), lx({ variant: "pios" }), true],
    ["os.features on one side only", lx({ osFeatures: ["a", "b"] }), amd64, false],
    ["same os.features", lx({ osFeatures: ["a", "b"] }), lx({ osFeatures: ["a", "b"] }), true],
    ["other os.features", lx({ osFeatures: ["a", "b"] }), lx({ osFeatures: ["ac", "bd"] }), false],
    ["os.features in another order", lx({ osFeatures: ["a", "b"] }), lx({ osFeatures: ["b", "a"] }), true],
    ["features on one side only", lx({ features: ["a", "b"] }), amd64, false],
    ["same features", lx({ features: ["a", "b"] }), lx({ features: ["a", "b"] }), true],
    ["other features", lx({ features: ["a", "b"] }), lx({ features: ["ac", "bd"] }), false],
    ["features in another order", lx({ features: ["a", "b"] }), lx({ features: ["b", "a"] }), true]
  ])("%s: %s", (_, a, b, expected) => {
    expect(Platform.equals(a, b)).toBe(expected)
    expect(Platform.equals(b, a)).toBe(expected)
  })

  it("does not reorder the caller's feature lists", () => {
    const features = ["b", "a"]
    Platform.equals(lx({ features }), lx({ features: ["a", "b"] }))
    expect(features).toEqual(["b", "a"])
  })
})

describe("Platform.satisfies (ggcr's Satisfies)", () => {
  it.each<[string, Platform.Platform, Platform.Platform, boolean]>([
    ["identical", amd64, amd64, true],
    ["other architecture", amd64, plat("linux", "arm64"), false],
    ["other os", amd64, plat("darwin", "amd64"), false],
    ["spec without os.version", lx({ osVersion: "5.0" }), amd64, true],
    ["other os.version", lx({ osVersion: "5.0" }), lx({ osVersion: "3.6" }), false],
    ["spec without variant", lx({ variant: "pios" }), amd64, true],
    ["other variant", lx({ variant: "pios" }), lx({ variant: "ubuntu" }), false],
    ["same variant", lx({ variant: "pios" }), lx({ variant: "pios" }), true],
    ["spec wants os.features the platform lacks", amd64, lx({ osFeatures: ["a", "b"] }), false],
    ["spec wants no os.features", lx({ osFeatures: ["a", "b"] }), amd64, true],
    ["same os.features", lx({ osFeatures: ["a", "b"] }), lx({ osFeatures: ["a", "b"] }), true],
    ["other os.features", lx({ osFeatures: ["a", "b"] }), lx({ osFeatures: ["ac", "bd"] }), false],
    ["os.features in another order", lx({ osFeatures: ["a", "b"] }), lx({ osFeatures: ["b", "a"] }), true],
    ["spec wants features the platform lacks", amd64, lx({ features: ["a", "b"] }), false],
    ["spec wants no features", lx({ features: ["a", "b"] }), amd64, true],
    ["same features", lx({ features: ["a", "b"] }), lx({ features: ["a", "b"] }), true],
    ["other features", lx({ features: ["a", "b"] }), lx({ features: ["ac", "bd"] }), false],
    ["features in another order", lx({ features: ["a", "b"] }), lx({ features: ["b", "a"] }), true]
  ])("%s", (_, have, spec, expected) => {
    expect(Platform.satisfies(have, spec)).toBe(expected)
  })

  it("lets an empty os or architecture in the spec match anything", () => {
    expect(Platform.satisfies(amd64, { os: "linux", architecture: "" })).toBe(true)
    expect(Platform.satisfies(amd64, { os: "", architecture: "" })).toBe(true)
  })
})

describe("Platform.matches (ggcr's remote matchesPlatform)", () => {
  const full = lx({ osVersion: "10.0.10586", osFeatures: ["win32k"], variant: "armv6l", features: ["sse4"] })
  const arm = (extra: Extra) => plat("linux", "arm", extra)

  it.each<[string, Platform.Platform, Platform.Platform, boolean]>([
    ["identical platforms", full, full, true],
    [
      "another architecture",
      arm({ osVersion: "10.0.10586", osFeatures: ["win64k"], variant: "armv6l", features: ["sse4"] }),
      full,
      false
    ],
    [
      "another os.version",
      plat("linux", "amd64", { osVersion: "10.0.10586", variant: "armv6l" }),
      plat("linux", "amd64", { osVersion: "10.0.10587", variant: "armv6l" }),
      false
    ],
    [
      "os.features the child lacks",
      arm({ osVersion: "10.0.10586", osFeatures: ["win64k"] }),
      arm({ osVersion: "10.0.10586", osFeatures: ["win32k"] }),
      false
    ],
    [
      "another variant",
      plat("linux", "amd64", { variant: "armv6l" }),
      plat("linux", "amd64", { variant: "armv7l" }),
      false
    ],
    ["an os differing only in case", arm({ variant: "armv6l" }), plat("LinuX", "arm", { variant: "armv6l" }), false],
    [
      "os.version and variant not asked for",
      arm({ osVersion: "10.0.10586", osFeatures: ["win64k"], variant: "armv6l", features: ["sse4"] }),
      arm({ osFeatures: ["win64k"], features: ["sse4"] }),
      true
    ],
    ["os.version, variant and features asked of a child without them", amd64, full, false],
    [
      "an empty architecture on both sides",
      { os: "linux", architecture: "", "os.version": "10.0.10586", variant: "armv6l" },
      { os: "linux", architecture: "" },
      true
    ],
    [
      "features a subset of the child's",
      arm({ osVersion: "10.0.10586", osFeatures: ["win64k", "f1", "f2"], features: ["sse4", "f1"] }),
      arm({ osVersion: "10.0.10586", osFeatures: ["win64k"], features: ["sse4"] }),
      true
    ],
    [
      "one feature the child lacks",
      arm({ osVersion: "10.0.10586", osFeatures: ["win64k", "f1", "f2"], features: ["sse4", "f1"] }),
      arm({ osVersion: "10.0.10586", osFeatures: ["win64k"], features: ["sse4", "f2"] }),
      false
    ],
    [
      "no os.features asked for",
      arm({ osVersion: "10.0.10586", osFeatures: ["win64k", "f1", "f2"], variant: "armv6l", features: ["sse4"] }),
      arm({ osVersion: "10.0.10586", variant: "armv6l", features: ["sse4"] }),
      true
    ]
  ])("%s", (_, given, required, expected) => {
    expect(Platform.matches(given, required)).toBe(expected)
  })

  it("does not let an empty os or architecture in the request match anything, unlike satisfies", () => {
    expect(Platform.matches(amd64, { os: "linux", architecture: "" })).toBe(false)
    expect(Platform.satisfies(amd64, { os: "linux", architecture: "" })).toBe(true)
  })
})

describe("Platform schema", () => {
  const decode = Schema.decodeUnknownEither(Platform.Platform)

  it("decodes the platform object of an index entry", () => {
    expect(Either.getOrThrow(decode({ architecture: "amd64", os: "linux", "os.features": ["sse4"] }))).toEqual({
      architecture: "amd64",
      os: "linux",
      "os.features": ["sse4"]
    })
  })

  it("requires os and architecture", () => {
    expect(Either.isLeft(decode({ architecture: "amd64" }))).toBe(true)
    expect(Either.isLeft(decode({ os: "linux" }))).toBe(true)
  })

  it("refuses features that are not a list of strings", () => {
    expect(Either.isLeft(decode({ architecture: "amd64", os: "linux", features: "sse" }))).toBe(true)
  })
})
