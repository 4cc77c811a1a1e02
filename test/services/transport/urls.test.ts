import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Reference from "../../../src/domain/Reference.js"
import * as Url from "../../../src/services/internal/transport/url.js"
import * as RegistryTransport from "../../../src/services/RegistryTransport.js"

const resolved = (base: string, reference: string) =>
  Either.map(RegistryTransport.resolveUrl(base, reference), (u) => u.href)

const refusal = (base: string, reference: string) =>
  Either.match(RegistryTransport.resolveUrl(base, reference), {
    onLeft: (e) => e.reason,
    onRight: (u) => `accepted ${u.href}`
  })

describe("RegistryTransport.resolveUrl", () => {
  it("resolves a relative Location against the request URL", () => {
    expect(resolved("https://r.io/v2/x/blobs/uploads/", "/v2/x/blobs/uploads/u1?_state=s")).toEqual(
      Either.right("https://r.io/v2/x/blobs/uploads/u1?_state=s")
    )
    expect(resolved("https://r.io/v2/x/blobs/uploads/", "u2")).toEqual(Either.right("https://r.io/v2/x/blobs/uploads/u2"))
  })

  it("accepts an absolute URL on another public host", () => {
    expect(resolved("https://r.io/v2/x/blobs/sha256:00", "https://storage.example.com/b?sig=1")).toEqual(
      Either.right("https://storage.example.com/b?sig=1")
    )
  })

  it("refuses a downgrade from https to http on another host", () => {
    expect(refusal("https://r.io/v2/", "http://storage.example.com/b")).toBe("UnsafeUrl")
  })

  it("upgrades a plain-http URL on the registry's own host and port to https", () => {
    expect(resolved("https://r.io/v2/x/blobs/uploads/", "http://r.io/v2/x/blobs/uploads/u1")).toEqual(
      Either.right("https://r.io/v2/x/blobs/uploads/u1")
    )
  })

  it("refuses schemes other than http and https", () => {
    expect(refusal("https://r.io/v2/", "file:///etc/passwd")).toBe("UnsafeUrl")
    expect(refusal("https://r.io/v2/", "ftp://r.io/x")).toBe("UnsafeUrl")
  })

  it("refuses a jump from a public host to a private or loopback address", () => {
    expect(refusal("https://r.io/v2/", "https://10.0.0.5/token")).toBe("UnsafeUrl")
    expect(refusal("https://r.io/v2/", "https://192.168.1.1/token")).toBe("UnsafeUrl")
    expect(refusal("https://r.io/v2/", "https://127.0.0.1/token")).toBe("UnsafeUrl")
    expect(refusal("https://r.io/v2/", "https://[::1]/token")).toBe("UnsafeUrl")
    expect(refusal("https://r.io/v2/", "https://[fd00::1]/token")).toBe("UnsafeUrl")
    expect(refusal("https://r.io/v2/", "https://localhost/token")).toBe("UnsafeUrl")
  })

  it("refuses link-local and metadata addresses from anywhere, in any spelling", () => {
    expect(refusal("http://127.0.0.1:5000/v2/", "http://169.254.169.254/latest")).toBe("UnsafeUrl")
    expect(refusal("http://10.0.0.1:5000/v2/", "http://0xa9.0xfe.0xa9.0xfe/latest")).toBe("UnsafeUrl")
    expect(refusal("https://r.io/v2/", "https://[fe80::1]/x")).toBe("UnsafeUrl")
    expect(refusal("https://r.io/v2/", "https://[::ffff:169.254.169.254]/x")).toBe("UnsafeUrl")
    expect(refusal("http://127.0.0.1:5000/v2/", "http://0.0.0.0:5000/x")).toBe("UnsafeUrl")
  })

  it("lets a loopback registry use loopback and private addresses", () => {
    expect(refusal("http://127.0.0.1:5000/v2/", "http://localhost:5001/token")).toBe(
      "accepted http://localhost:5001/token"
    )
    expect(refusal("http://localhost:5000/v2/", "http://10.1.2.3/b")).toBe("accepted http://10.1.2.3/b")
  })

  it("lets a private registry use private addresses but not loopback", () => {
    expect(refusal("http://10.0.0.1:5000/v2/", "http://10.0.0.2/b")).toBe("accepted http://10.0.0.2/b")
    expect(refusal("http://10.0.0.1:5000/v2/", "http://127.0.0.1/b")).toBe("UnsafeUrl")
  })

  it("drops user and password from a resolved URL", () => {
    expect(resolved("https://r.io/v2/", "https://u:p@storage.example.com/b")).toEqual(
      Either.right("https://storage.example.com/b")
    )
  })

  it("names the refused URL without its signed query values", () => {
    const error = Either.getLeft(RegistryTransport.resolveUrl("https://r.io/v2/", "http://s.example.com/b?sig=SECRET"))
    expect(error._tag).toBe("Some")
    if (error._tag === "Some") {
      expect(error.value.message).toContain("sig=REDACTED")
      expect(error.value.message).not.toContain("SECRET")
    }
  })
})

describe("URL redaction", () => {
  it("keeps protocol parameters and hides all others", () => {
    expect(Url.redact("https://u:pw@r.io/token?scope=repository%3Ax%3Apull&service=r.io&X-Amz-Signature=abc")).toBe(
      "https://r.io/token?scope=repository%3Ax%3Apull&service=r.io&X-Amz-Signature=REDACTED"
    )
  })

  it("redacts URLs inside a piece of text", () => {
    expect(Url.redactText("redirect to https://s.io/b?token=abc refused")).toBe(
      "redirect to https://s.io/b?token=REDACTED refused"
    )
  })
})

describe("RegistryTransport.parseLink", () => {
  it("reads a next link", () => {
    expect(RegistryTransport.parseLink("</v2/_catalog?last=b&n=2>; rel=\"next\"")).toEqual([
      { url: "/v2/_catalog?last=b&n=2", params: { rel: "next" } }
    ])
  })

  it("reads several links and unquoted parameters", () => {
    const links = RegistryTransport.parseLink("<https://r.io/a?x=1,2>; rel=prev, </b>; rel=\"next\"; title=\"B, c\"")
    expect(links).toEqual([
      { url: "https://r.io/a?x=1,2", params: { rel: "prev" } },
      { url: "/b", params: { rel: "next", title: "B, c" } }
    ])
  })

  it("gives nothing for a header without links", () => {
    expect(RegistryTransport.parseLink("nonsense")).toEqual([])
  })
})

describe("RegistryTransport access", () => {
  const repo = Either.getOrThrow(Reference.parseRepository("r.io/team/app"))

  it("asks for pull on a repository", () => {
    expect(RegistryTransport.pull(repo)).toEqual({ registry: repo.registry, repository: repo, scopes: ["repository:team/app:pull"] })
  })

  it("asks for pull,push plus pull on mount sources in the same registry", () => {
    const source = Either.getOrThrow(Reference.parseRepository("r.io/other/src"))
    const elsewhere = Either.getOrThrow(Reference.parseRepository("gcr.io/x/y"))
    expect(RegistryTransport.push(repo, { mountFrom: [source, elsewhere, repo] }).scopes).toEqual([
      "repository:team/app:pull,push",
      "repository:other/src:pull"
    ])
  })

  it("asks for the catalog scope on a registry", () => {
    expect(RegistryTransport.catalog(repo.registry).scopes).toEqual(["registry:catalog:*"])
  })
})
