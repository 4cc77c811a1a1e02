import { describe, expect, it } from "@effect/vitest"
import * as OciError from "../../src/registry/OciError.js"

describe("OciError", () => {
  it("takes the code's usual status unless told otherwise", () => {
    expect(OciError.make("BLOB_UNKNOWN", "x").status).toBe(404)
    expect(OciError.make("DIGEST_INVALID", "x").status).toBe(400)
    expect(OciError.make("UNSUPPORTED", "x").status).toBe(405)
    expect(OciError.make("MANIFEST_INVALID", "too big", { status: 413 }).status).toBe(413)
  })

  it("reads as its code, status and detail", () => {
    expect(OciError.make("NAME_UNKNOWN", "repository \"a\" is unknown").message).toBe(
      "NAME_UNKNOWN (404): repository \"a\" is unknown"
    )
  })

  it("becomes the spec's error body with the code's description as message", () => {
    expect(OciError.toJson(OciError.make("BLOB_UPLOAD_UNKNOWN", "no upload \"x\""))).toEqual({
      errors: [{ code: "BLOB_UPLOAD_UNKNOWN", message: "blob upload unknown to registry", detail: "no upload \"x\"" }]
    })
  })

  it("becomes a JSON response with its status and headers", () => {
    const response = OciError.toResponse(OciError.make("UNSUPPORTED", "no", { headers: { allow: "GET" } }))
    expect(response.status).toBe(405)
    expect(response.headers["content-type"]).toBe("application/json")
    expect(response.headers.allow).toBe("GET")
  })
})
