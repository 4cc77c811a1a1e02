import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as RegistryError from "../../../src/services/RegistryError.js"
import * as RegistryTransport from "../../../src/services/RegistryTransport.js"

const status = (code: number, fields: Partial<RegistryError.RegistryErrorArgs> = {}) =>
  new RegistryError.RegistryError({
    reason: "Status",
    method: "GET",
    url: "https://r.io/v2/x/manifests/y",
    status: code,
    ...fields
  })

describe("RegistryError", () => {
  it("reads as method, URL, status and the registry's code and message", () => {
    const error = status(404, { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] })
    expect(error.message).toBe("GET https://r.io/v2/x/manifests/y: 404 MANIFEST_UNKNOWN: manifest unknown")
    expect(error.code).toBe("MANIFEST_UNKNOWN")
  })

  it("joins several registry errors", () => {
    const error = status(400, {
      errors: [
        { code: "DIGEST_INVALID", message: "provided digest did not match" },
        { code: "SIZE_INVALID", message: "provided length did not match" }
      ]
    })
    expect(error.message).toBe(
      "GET https://r.io/v2/x/manifests/y: 400 DIGEST_INVALID: provided digest did not match; " +
        "SIZE_INVALID: provided length did not match"
    )
  })

  it("falls back to the status text when there is no error body", () => {
    expect(status(503).message).toBe("GET https://r.io/v2/x/manifests/y: 503 Service Unavailable")
  })

  it("stores the URL without credentials or signed query values", () => {
    const error = status(403, { url: "https://user:pw@s.io/b?X-Amz-Signature=abc&digest=sha256:00" })
    expect(error.url).toBe("https://s.io/b?X-Amz-Signature=REDACTED&digest=sha256%3A00")
    expect(error.message).not.toContain("pw")
    expect(error.message).not.toContain("abc")
  })

  it("tells the wait and the rate limit", () => {
    const error = status(429, { retryAfterMillis: 30_000, rateLimit: { limit: 100, remaining: 0, windowSeconds: 21600 } })
    expect(error.message).toBe(
      "GET https://r.io/v2/x/manifests/y: 429 Too Many Requests; retry after 30s; rate limit 0 of 100 left per 21600s"
    )
  })

  it("matches by code and status", () => {
    const error = status(404, { errors: [{ code: "BLOB_UNKNOWN", message: "blob unknown" }] })
    expect(RegistryError.hasCode("BLOB_UNKNOWN")(error)).toBe(true)
    expect(RegistryError.hasCode("MANIFEST_UNKNOWN")(error)).toBe(false)
    expect(RegistryError.hasStatus(404)(error)).toBe(true)
    expect(RegistryError.hasStatus(404)(new Error("x"))).toBe(false)
  })

  it("describes reasons other than Status in words", () => {
    const error = new RegistryError.RegistryError({
      reason: "Transport",
      method: "HEAD",
      url: "http://localhost:5000/v2/",
      detail: "connect ECONNREFUSED 127.0.0.1:5000",
      errno: "ECONNREFUSED"
    })
    expect(error.message).toBe("HEAD http://localhost:5000/v2/: transport error: connect ECONNREFUSED 127.0.0.1:5000")
  })
})

describe("RegistryError.decodeErrors", () => {
  it("decodes the distribution spec's error body", () => {
    expect(
      RegistryError.decodeErrors(
        "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"repository name not known to registry\",\"detail\":{\"name\":\"x\"}}]}"
      )
    ).toEqual([{ code: "NAME_UNKNOWN", message: "repository name not known to registry", detail: { name: "x" } }])
  })

  it("decodes OAuth2 and Docker Hub token server errors", () => {
    expect(RegistryError.decodeErrors("{\"error\":\"invalid_grant\",\"error_description\":\"expired\"}")).toEqual([
      { code: "invalid_grant", message: "expired" }
    ])
    expect(RegistryError.decodeErrors("{\"details\":\"incorrect username or password\"}")).toEqual([
      { code: "UNKNOWN", message: "incorrect username or password" }
    ])
  })

  it("gives nothing for bodies that are not error JSON", () => {
    expect(RegistryError.decodeErrors("<html>502 Bad Gateway</html>")).toEqual([])
    expect(RegistryError.decodeErrors("{\"errors\":[{\"message\":\"no code\"}]}")).toEqual([])
    expect(RegistryError.decodeErrors(new Uint8Array(0))).toEqual([])
  })
})

describe("RegistryError.parseRateLimit", () => {
  it("reads Docker Hub's headers with their window", () => {
    expect(RegistryError.parseRateLimit({ "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600" })).toEqual(
      { limit: 100, remaining: 76, windowSeconds: 21600 }
    )
  })

  it("gives nothing without the headers", () => {
    expect(RegistryError.parseRateLimit({})).toBeUndefined()
  })
})

describe("RegistryTransport.isRetryable", () => {
  it("retries connection failures but not DNS or certificate errors", () => {
    const transport = (errno: string) =>
      new RegistryError.RegistryError({ reason: "Transport", method: "GET", url: "https://r.io/v2/", errno })
    expect(RegistryTransport.isRetryable(transport("ECONNRESET"))).toBe(true)
    expect(RegistryTransport.isRetryable(transport("ECONNREFUSED"))).toBe(true)
    expect(RegistryTransport.isRetryable(transport("ENOTFOUND"))).toBe(false)
    expect(RegistryTransport.isRetryable(transport("CERT_HAS_EXPIRED"))).toBe(false)
  })

  it("retries 408, 429, 499, 5xx and 522 but no other 4xx", () => {
    for (const code of [408, 429, 499, 500, 502, 503, 504, 522]) {
      expect(RegistryTransport.isRetryable(status(code))).toBe(true)
    }
    for (const code of [400, 401, 403, 404, 405, 409, 416, 501]) {
      expect(RegistryTransport.isRetryable(status(code))).toBe(false)
    }
  })

  it("gives up on a Retry-After longer than the cap", () => {
    expect(RegistryTransport.isRetryable(status(503, { retryAfterMillis: 30_000 }))).toBe(true)
    expect(RegistryTransport.isRetryable(status(503, { retryAfterMillis: 3_600_000 }))).toBe(false)
    expect(
      RegistryTransport.isRetryable(status(503, { retryAfterMillis: 3_600_000 }), {
        ...RegistryTransport.defaultRetry,
        maxRetryAfter: Duration.hours(2)
      })
    ).toBe(true)
  })

  it("never retries refused URLs or oversized bodies", () => {
    for (const reason of ["UnsafeUrl", "TooLarge", "Redirect", "Protocol"] as const) {
      expect(RegistryTransport.isRetryable(new RegistryError.RegistryError({ reason, method: "GET", url: "https://r.io/" })))
        .toBe(false)
    }
  })
})
