import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Route from "../../../src/registry/internal/route.js"

const digest = "sha256:" + "a".repeat(64)

describe("route", () => {
  it("reads the base and the catalog", () => {
    expect(Route.parse("/v2")).toEqual(Option.some({ _tag: "Base" }))
    expect(Route.parse("/v2/")).toEqual(Option.some({ _tag: "Base" }))
    expect(Route.parse("/v2/_catalog")).toEqual(Option.some({ _tag: "Catalog" }))
  })

  it("reads each repository endpoint from the end of the path", () => {
    expect(Route.parse(`/v2/a/b/blobs/${digest}`)).toEqual(Option.some({ _tag: "Blob", name: "a/b", digest }))
    expect(Route.parse("/v2/a/blobs/uploads/")).toEqual(Option.some({ _tag: "Uploads", name: "a" }))
    expect(Route.parse("/v2/a/blobs/uploads")).toEqual(Option.some({ _tag: "Uploads", name: "a" }))
    expect(Route.parse("/v2/a/blobs/uploads/some-id")).toEqual(Option.some({ _tag: "Upload", name: "a", id: "some-id" }))
    expect(Route.parse("/v2/a/manifests/latest")).toEqual(Option.some({ _tag: "Manifest", name: "a", reference: "latest" }))
    expect(Route.parse("/v2/a/tags/list")).toEqual(Option.some({ _tag: "Tags", name: "a" }))
    expect(Route.parse(`/v2/a/referrers/${digest}`)).toEqual(Option.some({ _tag: "Referrers", name: "a", digest }))
  })

  it("keeps name components that spell endpoint words", () => {
    expect(Route.parse("/v2/blobs/uploads/manifests/v1")).toEqual(
      Option.some({ _tag: "Manifest", name: "blobs/uploads", reference: "v1" })
    )
    expect(Route.parse("/v2/tags/list/tags/list")).toEqual(Option.some({ _tag: "Tags", name: "tags/list" }))
  })

  it("percent-decodes each segment after splitting, so an encoded slash cannot add a component", () => {
    expect(Route.parse("/v2/a%2F..%2Fb/tags/list")).toEqual(Option.some({ _tag: "Tags", name: "a/../b" }))
    expect(Route.parse(`/v2/a/blobs/sha256%3A${"a".repeat(64)}`)).toEqual(Option.some({ _tag: "Blob", name: "a", digest }))
  })

  it("names no endpoint for other paths, paths without a name, and broken escapes", () => {
    expect(Route.parse("/v1/a/tags/list")).toEqual(Option.none())
    expect(Route.parse("/v2/tags/list")).toEqual(Option.none())
    expect(Route.parse("/v2/a/other/thing")).toEqual(Option.none())
    expect(Route.parse("/v2/a%zz/tags/list")).toEqual(Option.none())
  })

  it("splits a request URL into its path and query", () => {
    expect(Route.pathOf("/v2/a/tags/list?n=1")).toBe("/v2/a/tags/list")
    expect(Route.pathOf("http://host:5000/v2/?x")).toBe("/v2/")
    expect(Route.searchParamsOf("/v2/x?mount=a&from=b").get("from")).toBe("b")
  })
})
