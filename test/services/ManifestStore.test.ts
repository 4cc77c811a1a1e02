import { describe, expect, it } from "@effect/vitest"
import * as ManifestStore from "../../src/services/ManifestStore.js"

describe("ManifestStore.isRepositoryName", () => {
  it("accepts the distribution spec's names", () => {
    for (const name of ["a", "library/alpine", "a.b_c__d---e/f0", "x/y/z", "a".repeat(255)]) {
      expect(ManifestStore.isRepositoryName(name)).toBe(true)
    }
  })

  it("refuses anything that could act as a path trick", () => {
    for (const name of ["", ".", "..", "a/..", "../a", "a//b", "/a", "a/", "_a", "a/_layers", "a___b", "A", "a b", "a\\b"]) {
      expect(ManifestStore.isRepositoryName(name)).toBe(false)
    }
    expect(ManifestStore.isRepositoryName("a".repeat(256))).toBe(false)
  })
})

describe("ManifestStore.isTag", () => {
  it("accepts the distribution spec's tags and refuses the rest", () => {
    for (const tag of ["latest", "v1.2.3", "_private", "sha256-abc.sig", "A".repeat(128)]) {
      expect(ManifestStore.isTag(tag)).toBe(true)
    }
    for (const tag of ["", ".", "..", ".x", "-x", "a/b", "a:b", "A".repeat(129)]) {
      expect(ManifestStore.isTag(tag)).toBe(false)
    }
  })
})

describe("ManifestStoreError", () => {
  it("names the repository in its message", () => {
    const e = new ManifestStore.ManifestStoreError({ reason: "Corrupt", detail: "bad file", repository: "a/b" })
    expect(e.message).toBe("manifest store: Corrupt in repository \"a/b\": bad file")
  })
})
