import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { pipe } from "effect/Function"
import * as Schema from "effect/Schema"
import * as Digest from "../../src/domain/Digest.js"
import type { InvalidReference } from "../../src/domain/Errors.js"
import * as Reference from "../../src/domain/Reference.js"

const DIGEST = "sha256:deadb33fdeadb33fdeadb33fdeadb33fdeadb33fdeadb33fdeadb33fdeadb33f"
const strict = { strict: true } as const

const ok = (input: string, options?: Reference.Options) => Either.getOrThrow(Reference.parse(input, options))

const reasonOf = <A>(result: Either.Either<A, InvalidReference>) =>
  Either.match(result, { onLeft: (e) => e.reason, onRight: () => "ok" as const })

const detailOf = <A>(result: Either.Either<A, InvalidReference>) =>
  Either.match(result, { onLeft: (e) => e.message, onRight: () => "" })

const registry = (input: string, options?: Reference.Options) =>
  Either.getOrThrow(Reference.parseRegistry(input, options))

describe("Reference.parse defaults", () => {
  it("reads a bare name as Docker Hub's library image at latest", () => {
    const ref = ok("ubuntu")
    expect(ref).toEqual({
      _tag: "Tag",
      repository: {
        _tag: "Repository",
        registry: { _tag: "Registry", host: "index.docker.io", insecure: false },
        path: "library/ubuntu"
      },
      tag: "latest"
    })
    expect(Reference.name(ref)).toBe("index.docker.io/library/ubuntu:latest")
  })

  it("keeps a written tag", () => {
    expect(Reference.name(ok("ubuntu:22.04"))).toBe("index.docker.io/library/ubuntu:22.04")
  })

  it("treats docker.io, index.docker.io and no registry as the same Docker Hub", () => {
    const expected = ok("ubuntu")
    expect(ok("docker.io/library/ubuntu")).toEqual(expected)
    expect(ok("index.docker.io/ubuntu")).toEqual(expected)
    expect(ok("docker.io/ubuntu:latest")).toEqual(expected)
    expect(ok("library/ubuntu")).toEqual(expected)
  })

  it("does not add library/ to Docker Hub names that have a namespace", () => {
    expect(Reference.name(ok("bitnami/redis:7"))).toBe("index.docker.io/bitnami/redis:7")
    expect(Reference.name(ok("namespace/pathcomponent/image"))).toBe(
      "index.docker.io/namespace/pathcomponent/image:latest"
    )
  })

  it("honours a default registry and tag, and adds no library/ outside Docker Hub", () => {
    const options = { defaultRegistry: "registry.upbound.io", defaultTag: "stable" }
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["crossplane/provider-gcp", "registry.upbound.io/crossplane/provider-gcp:stable"],
      ["crossplane/provider-gcp:v0.14.0", "registry.upbound.io/crossplane/provider-gcp:v0.14.0"],
      ["ubuntu", "registry.upbound.io/ubuntu:stable"],
      ["gcr.io/crossplane/provider-gcp:latest", "gcr.io/crossplane/provider-gcp:latest"],
      ["localhost/testimage:mytag", "localhost/testimage:mytag"]
    ]
    for (const [input, expected] of cases) expect(Reference.name(ok(input, options))).toBe(expected)
  })

  it("normalises a default registry of docker.io to index.docker.io", () => {
    expect(Reference.name(ok("ubuntu", { defaultRegistry: "docker.io" }))).toBe(
      "index.docker.io/library/ubuntu:latest"
    )
  })

  it("refuses a default tag that is not a valid tag", () => {
    expect(reasonOf(Reference.parse("ubuntu", { defaultTag: "-bad" }))).toBe("InvalidTag")
  })

  it("refuses a default registry that is not a valid host", () => {
    expect(reasonOf(Reference.parse("ubuntu", { defaultRegistry: "white space" }))).toBe("InvalidRegistry")
  })
})

describe("Reference.parse registries", () => {
  it("takes the first component as the registry when it has a dot", () => {
    const ref = ok("gcr.io/project-id/image:v2")
    expect(ref.repository.registry.host).toBe("gcr.io")
    expect(ref.repository.path).toBe("project-id/image")
  })

  it("takes the first component as the registry when it has a port", () => {
    const ref = ok("localhost:5000/x")
    expect(ref.repository.registry.host).toBe("localhost:5000")
    expect(ref.repository.path).toBe("x")
    expect(Reference.identifier(ref)).toBe("latest")
  })

  it("takes localhost as a registry", () => {
    expect(ok("localhost/testimage:mytag").repository.registry.host).toBe("localhost")
  })

  it("reads a lone localhost as a Docker Hub image, not a registry", () => {
    expect(Reference.name(ok("localhost"))).toBe("index.docker.io/library/localhost:latest")
  })

  it("reads a first component without dot, colon or localhost as part of the path", () => {
    const ref = ok("myregistry/x")
    expect(ref.repository.registry.host).toBe("index.docker.io")
    expect(ref.repository.path).toBe("myregistry/x")
  })

  it("reads bracketed IPv6 registries with and without a port", () => {
    expect(ok("[::1]:5000/x").repository.registry.host).toBe("[::1]:5000")
    expect(ok("[::1]/x:tag").repository.registry.host).toBe("[::1]")
    expect(ok("[2001:db8::1]:5000/x").repository.registry.host).toBe("[2001:db8::1]:5000")
    expect(ok("[::ffff:192.0.2.1]/x").repository.registry.host).toBe("[::ffff:192.0.2.1]")
  })

  it("reads IPv4 registries with a port", () => {
    expect(ok("10.2.3.4:5000/x:1").repository.registry.host).toBe("10.2.3.4:5000")
  })

  it("does not mistake a registry port for a tag", () => {
    const ref = ok("www.example.test:12345/repo/path")
    expect(ref).toMatchObject({ _tag: "Tag", tag: "latest", repository: { path: "repo/path" } })
    expect(ref.repository.registry.host).toBe("www.example.test:12345")
  })

  it("marks the registry insecure when asked", () => {
    expect(ok("example.com/repo", { insecure: true }).repository.registry.insecure).toBe(true)
    expect(ok("example.com/repo").repository.registry.insecure).toBe(false)
  })
})

describe("Reference.parseRegistry", () => {
  it("accepts host names, ports and localhost as written", () => {
    const hosts = ["gcr.io", "gcr.io:9001", "index.docker.io", "us.gcr.io", "example.text", "localhost", "localhost:90"]
    for (const host of hosts) {
      expect(registry(host, strict).host).toBe(host)
    }
  })

  it("accepts IPv4 and bracketed IPv6 hosts", () => {
    for (const host of ["127.0.0.1", "10.0.0.1:5000", "[::1]", "[::1]:5000", "[fe80::1:2]:443", "[1:2:3:4:5:6:7:8]"]) {
      expect(registry(host).host).toBe(host)
    }
  })

  it("rewrites docker.io to index.docker.io", () => {
    expect(registry("docker.io").host).toBe("index.docker.io")
  })

  it("reads the empty string as the default registry", () => {
    expect(registry("").host).toBe("index.docker.io")
    expect(registry("", { defaultRegistry: "gcr.io" }).host).toBe("gcr.io")
  })

  it("refuses the empty string under strict validation", () => {
    expect(reasonOf(Reference.parseRegistry("", strict))).toBe("DefaultsRefused")
  })

  it("refuses hosts with spaces or characters URLs cannot carry", () => {
    for (const host of ["white space", "gcr?com", "my_registry.com", "-gcr.io", "gcr-.io", "gcr..io", "gcr.io."]) {
      expect(reasonOf(Reference.parseRegistry(host))).toBe("InvalidRegistry")
    }
  })

  it("refuses bad ports", () => {
    for (const host of ["gcr.io:", "gcr.io:0", "gcr.io:65536", "gcr.io:123456", "gcr.io:http", ":5000"]) {
      expect(reasonOf(Reference.parseRegistry(host))).toBe("InvalidRegistry")
    }
  })

  it("refuses IPv6 addresses without brackets", () => {
    const result = Reference.parseRegistry("::1")
    expect(reasonOf(result)).toBe("InvalidRegistry")
    expect(detailOf(result)).toContain("brackets")
  })

  it("refuses malformed bracketed IPv6 addresses", () => {
    for (const host of ["[::1", "[::1]5000", "[1:2:3:4:5:6:7:8:9]", "[1::2::3]", "[gggg::1]", "[12345::1]", "[]"]) {
      expect(reasonOf(Reference.parseRegistry(host))).toBe("InvalidRegistry")
    }
  })

  it("marks an insecure registry", () => {
    expect(registry("gcr.io", { insecure: true }).insecure).toBe(true)
  })
})

describe("Reference.parseRepository", () => {
  it("accepts full names under strict validation and gives them back unchanged", () => {
    for (const input of [
      "gcr.io/g-convoy/hello-world",
      "gcr.io/google.com/project-id/hello-world",
      "us.gcr.io/project-id/sub-repo",
      "example.text/foo/bar",
      "mirror.gcr.io/ubuntu",
      "index.docker.io/library/ubuntu",
      "example.com/a",
      "example.com/a/b"
    ]) {
      const repository = Either.getOrThrow(Reference.parseRepository(input, strict))
      expect(Reference.repositoryName(repository)).toBe(input)
    }
  })

  it("accepts short names when defaults are allowed", () => {
    for (const input of ["namespace/pathcomponent/image", "library/ubuntu", "ubuntu", "a", "0"]) {
      expect(reasonOf(Reference.parseRepository(input))).toBe("ok")
    }
  })

  it("refuses short names under strict validation", () => {
    for (const input of ["namespace/pathcomponent/image", "library/ubuntu", "ubuntu"]) {
      expect(reasonOf(Reference.parseRepository(input, strict))).toBe("DefaultsRefused")
    }
  })

  it("refuses a Docker Hub name without library/ under strict validation", () => {
    const result = Reference.parseRepository("index.docker.io/foo", strict)
    expect(reasonOf(result)).toBe("DefaultsRefused")
    expect(detailOf(result)).toContain("library/foo")
  })

  it("splits registry and path", () => {
    const repository = Either.getOrThrow(Reference.parseRepository("gcr.io/project-id/image"))
    expect(repository.registry.host).toBe("gcr.io")
    expect(repository.path).toBe("project-id/image")
  })

  it("refuses the empty string", () => {
    expect(reasonOf(Reference.parseRepository(""))).toBe("Empty")
    expect(reasonOf(Reference.parseRepository("  "))).toBe("Empty")
  })

  it("refuses a repository carrying a tag or digest", () => {
    const result = Reference.parseRepository("ubuntu:22.04")
    expect(reasonOf(result)).toBe("InvalidRepository")
    expect(detailOf(result)).toContain("no tag or digest")
    expect(reasonOf(Reference.parseRepository(`ubuntu@${DIGEST}`))).toBe("InvalidRepository")
  })

  it("refuses a registry with no path", () => {
    expect(reasonOf(Reference.parseRepository("gcr.io/"))).toBe("InvalidRepository")
  })
})

describe("OCI distribution name grammar", () => {
  const valid = (path: string) => reasonOf(Reference.parseRepository(`example.com/${path}`))

  it("accepts single-character and numeric components", () => {
    for (const path of ["a", "0", "a/b", "1/2/3", "abc123"]) expect(valid(path)).toBe("ok")
  })

  it("accepts '.', '_', '__', '-' and runs of '-' between alphanumerics", () => {
    for (const path of ["a.b", "a_b", "a__b", "a-b", "a--b", "a---b", "a.b-c_d__e", "foo/bar.baz/q-x"]) {
      expect(valid(path)).toBe("ok")
    }
  })

  it("refuses separators at the start or end of a component", () => {
    for (const path of ["-a", "a-", ".a", "a.", "_a", "a_", "a/-b", "a/b_"]) {
      expect(valid(path)).toBe("InvalidRepository")
    }
  })

  it("refuses three underscores, doubled dots and mixed separators", () => {
    for (const path of ["a___b", "a..b", "a.-b", "a_-b", "a-_b", "a._b"]) {
      expect(valid(path)).toBe("InvalidRepository")
    }
  })

  it("refuses empty path components", () => {
    for (const path of ["a//b", "a/", "/a"]) expect(valid(path)).toBe("InvalidRepository")
    expect(reasonOf(Reference.parse("/ubuntu"))).toBe("InvalidRepository")
  })

  it("refuses upper-case letters in the path and says so", () => {
    const result = Reference.parse("gcr.io/Project/image")
    expect(reasonOf(result)).toBe("InvalidRepository")
    expect(detailOf(result)).toContain("lower-case")
    expect(reasonOf(Reference.parse("Ubuntu"))).toBe("InvalidRepository")
  })

  it("refuses characters outside the grammar and names them", () => {
    expect(reasonOf(Reference.parseRepository("b@char/image"))).toBe("InvalidRepository")
    for (const input of ["white space", "gcr.io/a+b", "gcr.io/ä"]) {
      expect(reasonOf(Reference.parse(input))).toBe("InvalidRepository")
    }
    expect(detailOf(Reference.parse("gcr.io/a+b"))).toContain('"+"')
  })

  it("accepts a path of 255 characters and refuses 256", () => {
    expect(valid("a".repeat(255))).toBe("ok")
    expect(valid(`${"a".repeat(100)}/${"b".repeat(154)}`)).toBe("ok")
    const result = Reference.parseRepository(`example.com/${"a".repeat(256)}`)
    expect(reasonOf(result)).toBe("TooLong")
    expect(detailOf(result)).toContain("255")
  })

  it("counts the implicit library/ against the path limit", () => {
    expect(reasonOf(Reference.parseRepository("a".repeat(247)))).toBe("ok")
    expect(reasonOf(Reference.parseRepository("a".repeat(248)))).toBe("TooLong")
  })
})

describe("tags", () => {
  it("accepts letters of both cases, digits, '_', '.' and '-'", () => {
    for (const input of [
      "gcr.io/g-convoy/hello-world:latest",
      "gcr.io/project-id/with-nums:v2",
      "us.gcr.io/project-id/image:with.period.in.tag",
      "gcr.io/project-id/image:w1th-alpha_num3ric.PLUScaps",
      "domain.with.port:9001/image:latest",
      "gcr.io/p/i:_leading-underscore"
    ]) {
      expect(Reference.name(ok(input, strict))).toBe(input)
    }
  })

  it("refuses an empty tag after the colon", () => {
    const result = Reference.parse("library/ubuntu:")
    expect(reasonOf(result)).toBe("InvalidTag")
    expect(detailOf(result)).toContain("empty tag")
  })

  it("refuses characters outside the tag grammar", () => {
    const inputs = ["gcr.io/project-id/bad_chars:c@n'tuse", "gcr.io/project-id/wrong-length:white space", "x:a+b"]
    for (const input of inputs) {
      expect(reasonOf(Reference.parse(input))).not.toBe("ok")
    }
    expect(reasonOf(Reference.parse("x:a+b"))).toBe("InvalidTag")
    expect(reasonOf(Reference.parse("gcr.io/p/i:white space"))).toBe("InvalidTag")
  })

  it("refuses a tag starting with '.' or '-'", () => {
    expect(reasonOf(Reference.parse("x:.hidden"))).toBe("InvalidTag")
    expect(reasonOf(Reference.parse("x:-dash"))).toBe("InvalidTag")
  })

  it("accepts a tag of 128 characters and refuses 129", () => {
    expect(reasonOf(Reference.parse(`x:${"t".repeat(128)}`))).toBe("ok")
    const result = Reference.parse(`x:${"t".repeat(129)}`)
    expect(reasonOf(result)).toBe("TooLong")
    expect(detailOf(result)).toContain("128")
  })

  it("splits the tag at the last colon, so extra colons land in the path", () => {
    expect(reasonOf(Reference.parse("a:b:c"))).toBe("InvalidRepository")
  })
})

describe("digest references", () => {
  it("parses name@digest into a digest reference", () => {
    const ref = ok(`gcr.io/project-id/image@${DIGEST}`, strict)
    expect(ref).toMatchObject({ _tag: "Digest", digest: DIGEST, repository: { path: "project-id/image" } })
    expect(Reference.identifier(ref)).toBe(DIGEST)
    expect(Reference.name(ref)).toBe(`gcr.io/project-id/image@${DIGEST}`)
  })

  it("reproduces strict digest names", () => {
    for (const input of [
      `gcr.io/g-convoy/hello-world@${DIGEST}`,
      `gcr.io/google.com/project-id/hello-world@${DIGEST}`,
      `us.gcr.io/project-id/sub-repo@${DIGEST}`,
      `example.text/foo/bar@${DIGEST}`
    ]) {
      expect(Reference.name(ok(input, strict))).toBe(input)
    }
  })

  it("needs no tag under strict validation", () => {
    expect(reasonOf(Reference.parse(`gcr.io/p/i@${DIGEST}`, strict))).toBe("ok")
  })

  it("still needs the registry under strict validation", () => {
    expect(reasonOf(Reference.parse(`library/ubuntu@${DIGEST}`, strict))).toBe("DefaultsRefused")
  })

  it("applies Docker Hub defaults to short digest names", () => {
    expect(Reference.name(ok(`ubuntu@${DIGEST}`))).toBe(`index.docker.io/library/ubuntu@${DIGEST}`)
    expect(Reference.name(ok(`namespace/pathcomponent/image@${DIGEST}`))).toBe(
      `index.docker.io/namespace/pathcomponent/image@${DIGEST}`
    )
  })

  it("keeps the tag of name:tag@digest but leaves it out of the name", () => {
    const ref = ok(`example.text/foo/bar:v1.0.0@${DIGEST}`, strict)
    expect(ref).toMatchObject({ _tag: "Digest", tag: "v1.0.0", digest: DIGEST })
    expect(Reference.identifier(ref)).toBe(DIGEST)
    expect(Reference.name(ref)).toBe(`example.text/foo/bar@${DIGEST}`)
    expect(Reference.format(ref)).toBe(`example.text/foo/bar:v1.0.0@${DIGEST}`)
  })

  it("reads name:tag@digest with a registry port", () => {
    const ref = ok(`example.text:8443/foo/bar:latest@${DIGEST}`, strict)
    expect(ref.repository.registry.host).toBe("example.text:8443")
    expect(ref).toMatchObject({ _tag: "Digest", tag: "latest" })
  })

  it("accepts sha512 digests", () => {
    const sha512 = Digest.fromBytes("x", "sha512")
    expect(ok(`gcr.io/p/i@${sha512}`)).toMatchObject({ _tag: "Digest", digest: sha512 })
  })

  it("refuses bad digests with reason InvalidDigest", () => {
    for (const input of [
      "gcr.io/project-id/unknown-alg@unknown:abc123",
      "gcr.io/project-id/wrong-length@sha256:d34db33fd34db33f",
      "gcr.io/project-id/missing-digest@",
      `repo@sha256:${":".repeat(64)}`,
      `repo@sha256:${"sh".repeat(32)}`,
      `repo@sha256:${"A".repeat(64)}`,
      `repo@${DIGEST}@${DIGEST}`
    ]) {
      expect(reasonOf(Reference.parse(input))).toBe("InvalidDigest")
    }
  })

  it("passes on what is wrong with the digest", () => {
    expect(detailOf(Reference.parse("gcr.io/p/i@sha256:abc"))).toContain("64 hex characters")
    expect(detailOf(Reference.parse("gcr.io/p/i@"))).toContain("missing digest")
    expect(detailOf(Reference.parse(`repo@${DIGEST}@${DIGEST}`))).toContain("only one '@'")
  })

  it("refuses an empty tag before the digest", () => {
    expect(reasonOf(Reference.parse(`library/nginx:@${DIGEST}`))).toBe("InvalidTag")
  })

  it("refuses a digest with no name", () => {
    expect(reasonOf(Reference.parse(`@${DIGEST}`))).toBe("InvalidRepository")
  })
})

describe("strict validation", () => {
  it("accepts references that write every part", () => {
    expect(reasonOf(Reference.parse("index.docker.io/library/ubuntu:22.04", strict))).toBe("ok")
  })

  it("refuses a missing registry", () => {
    const result = Reference.parse("library/ubuntu:22.04", strict)
    expect(reasonOf(result)).toBe("DefaultsRefused")
    expect(detailOf(result)).toContain("registry")
  })

  it("refuses a missing tag", () => {
    const result = Reference.parse("gcr.io/project-id/implicit-latest", strict)
    expect(reasonOf(result)).toBe("DefaultsRefused")
    expect(detailOf(result)).toContain("tag")
  })

  it("refuses an implicit library/ namespace", () => {
    expect(reasonOf(Reference.parse("docker.io/ubuntu:22.04", strict))).toBe("DefaultsRefused")
  })
})

describe("Reference.parse errors", () => {
  it("refuses the empty string and blanks as Empty", () => {
    expect(reasonOf(Reference.parse(""))).toBe("Empty")
    expect(reasonOf(Reference.parse(" \t"))).toBe("Empty")
  })

  it("names the input in the message", () => {
    expect(detailOf(Reference.parse("Bad/Name"))).toContain('invalid reference "Bad/Name"')
  })

  it.effect("is an Effect that fails with a catchable InvalidReference", () =>
    Effect.gen(function* () {
      const ref = yield* Reference.parse("ubuntu")
      expect(ref._tag).toBe("Tag")
      const error = yield* Effect.flip(Reference.parse("UPPER"))
      expect(error._tag).toBe("InvalidReference")
      const recovered = yield* Reference.parse("").pipe(
        Effect.catchTag("InvalidReference", (e) => Effect.succeed(e.reason))
      )
      expect(recovered).toBe("Empty")
    })
  )
})

describe("parseTag and parseDigest", () => {
  it("parseTag returns tag references", () => {
    expect(Either.getOrThrow(Reference.parseTag("gcr.io/p/i:v1")).tag).toBe("v1")
  })

  it("parseTag refuses digest references", () => {
    expect(reasonOf(Reference.parseTag(`gcr.io/p/i@${DIGEST}`))).toBe("InvalidTag")
    expect(reasonOf(Reference.parseTag(`gcr.io/p/i:v1@${DIGEST}`))).toBe("InvalidTag")
  })

  it("parseDigest returns digest references", () => {
    expect(Either.getOrThrow(Reference.parseDigest(`gcr.io/p/i@${DIGEST}`)).digest).toBe(DIGEST)
  })

  it("parseDigest refuses tag references, with or without a written tag", () => {
    expect(reasonOf(Reference.parseDigest("gcr.io/p/i:v1"))).toBe("InvalidDigest")
    expect(reasonOf(Reference.parseDigest("gcr.io/p/i"))).toBe("InvalidDigest")
  })

  it("both pass on the parse error of a bad reference", () => {
    expect(reasonOf(Reference.parseTag("UPPER:1"))).toBe("InvalidRepository")
    expect(reasonOf(Reference.parseDigest("gcr.io/p/i@sha256:1"))).toBe("InvalidDigest")
  })

  it("the guards tell the kinds apart", () => {
    expect(Reference.isTag(ok("x"))).toBe(true)
    expect(Reference.isDigest(ok(`x@${DIGEST}`))).toBe(true)
    expect(Reference.isDigest(ok("x"))).toBe(false)
  })
})

describe("Reference.scheme", () => {
  const schemeOf = (host: string) => Reference.scheme(registry(host))

  it("uses http for localhost with or without a port", () => {
    expect(schemeOf("localhost")).toBe("http")
    expect(schemeOf("localhost:8080")).toBe("http")
  })

  it("uses http for *.localhost hosts", () => {
    expect(schemeOf("foo.svc.localhost:1234")).toBe("http")
    expect(schemeOf("registry.localhost")).toBe("http")
  })

  it("uses http for any 127.x.x.x address", () => {
    expect(schemeOf("127.0.0.1")).toBe("http")
    expect(schemeOf("127.0.0.1:1234")).toBe("http")
    expect(schemeOf("127.1.2.3:5000")).toBe("http")
  })

  it("uses http for the IPv6 loopback", () => {
    expect(schemeOf("[::1]")).toBe("http")
    expect(schemeOf("[::1]:5000")).toBe("http")
  })

  it("uses https for names that only look like loopback", () => {
    expect(schemeOf("127.0.0.1.evil.com")).toBe("https")
    expect(schemeOf("my127.0.0.1registry.io")).toBe("https")
    expect(schemeOf("localhost.evil.com")).toBe("https")
    expect(schemeOf("notlocalhost:5000")).toBe("https")
  })

  it("uses https for .local hosts, as ggcr does", () => {
    expect(schemeOf("foo.svc.local:1234")).toBe("https")
    expect(schemeOf("registry.local")).toBe("https")
  })

  it("uses https for public and private registries", () => {
    expect(schemeOf("gcr.io")).toBe("https")
    expect(schemeOf("index.docker.io")).toBe("https")
    expect(schemeOf("[2001:db8::1]:5000")).toBe("https")
    expect(schemeOf("10.2.3.4:5000")).toBe("https")
    expect(schemeOf("192.168.3.4")).toBe("https")
  })

  it("uses http for any registry marked insecure", () => {
    expect(Reference.scheme(registry("gcr.io", { insecure: true }))).toBe("http")
    expect(Reference.scheme(ok("example.com/repo:foo", { insecure: true }).repository.registry)).toBe("http")
  })
})

describe("Reference.scope", () => {
  const repository = Either.getOrThrow(Reference.parseRepository("ubuntu"))

  it("names the repository path and one action", () => {
    expect(Reference.scope(repository, "pull")).toBe("repository:library/ubuntu:pull")
  })

  it("joins several actions with commas", () => {
    expect(Reference.scope(repository, ["pull", "push"])).toBe("repository:library/ubuntu:pull,push")
  })

  it("takes a reference as well as a repository, and pipes", () => {
    expect(Reference.scope(ok(`gcr.io/project-id/image@${DIGEST}`), "pull")).toBe("repository:project-id/image:pull")
    const piped = pipe(ok("gcr.io/project-id/image:latest"), Reference.scope(["push"]))
    expect(piped).toBe("repository:project-id/image:push")
  })

  it("has a scope for the registry catalog", () => {
    expect(Reference.catalogScope).toBe("registry:catalog:*")
  })
})

describe("names and accessors", () => {
  it("context is the repository and identifier the tag or digest", () => {
    const ref = ok("gcr.io/project-id/image:latest")
    expect(Reference.repositoryName(Reference.context(ref))).toBe("gcr.io/project-id/image")
    expect(Reference.identifier(ref)).toBe("latest")
  })

  it("format and name agree on tag references", () => {
    const ref = ok("ubuntu")
    expect(Reference.format(ref)).toBe("index.docker.io/library/ubuntu:latest")
    expect(Reference.format(ref)).toBe(Reference.name(ref))
  })

  it("format reads back to the same reference", () => {
    for (const input of ["ubuntu", "localhost:5000/x:1", "[::1]:5000/a/b", `gcr.io/p/i:v@${DIGEST}`, `q@${DIGEST}`]) {
      const ref = ok(input)
      expect(ok(Reference.format(ref))).toEqual(ref)
    }
  })

  it("shortName drops Docker Hub's registry and library/", () => {
    expect(Reference.shortName(ok("ubuntu"))).toBe("ubuntu:latest")
    expect(Reference.shortName(ok("docker.io/bitnami/redis:7"))).toBe("bitnami/redis:7")
    expect(Reference.shortName(ok("library/a/b"))).toBe("library/a/b:latest")
    expect(Reference.shortName(ok(`ubuntu:22.04@${DIGEST}`))).toBe(`ubuntu:22.04@${DIGEST}`)
  })

  it("shortName keeps other registries in full", () => {
    expect(Reference.shortName(ok(`gcr.io/p/i@${DIGEST}`))).toBe(`gcr.io/p/i@${DIGEST}`)
    expect(Reference.shortName(ok("localhost:5000/library/x:1"))).toBe("localhost:5000/library/x:1")
  })

  it("isDockerHub and registryHost know Docker Hub by either name", () => {
    const hub: Reference.Registry = { _tag: "Registry", host: "docker.io", insecure: false }
    expect(Reference.isDockerHub(hub)).toBe(true)
    expect(Reference.registryHost(hub)).toBe("index.docker.io")
    expect(Reference.isDockerHub(registry("index.docker.io"))).toBe(true)
    expect(Reference.isDockerHub(registry("gcr.io"))).toBe(false)
    expect(Reference.registryHost(registry("localhost:5000"))).toBe("localhost:5000")
  })
})

describe("withTag and withDigest", () => {
  const repository = Either.getOrThrow(Reference.parseRepository("example.com/repo", { insecure: true }))

  it("withTag builds a tag reference in the repository", () => {
    const tag = Either.getOrThrow(Reference.withTag(repository, "foo"))
    expect(Reference.name(tag)).toBe("example.com/repo:foo")
    expect(Reference.scheme(tag.repository.registry)).toBe("http")
    expect(Either.getOrThrow(pipe(repository, Reference.withTag("foo")))).toEqual(tag)
  })

  it("withTag refuses a tag outside the grammar", () => {
    expect(reasonOf(Reference.withTag(repository, "no spaces"))).toBe("InvalidTag")
    expect(reasonOf(Reference.withTag(repository, "t".repeat(129)))).toBe("TooLong")
  })

  it("withDigest builds a digest reference in the repository", () => {
    const digest = Digest.fromBytes("x")
    const ref = Reference.withDigest(repository, digest)
    expect(Reference.name(ref)).toBe(`example.com/repo@${digest}`)
    expect(pipe(repository, Reference.withDigest(digest))).toEqual(ref)
  })
})

describe("Reference schema", () => {
  it("decodes reference strings with Docker's defaults", () => {
    const ref = Schema.decodeUnknownSync(Reference.Reference)("ubuntu")
    expect(Reference.name(ref)).toBe("index.docker.io/library/ubuntu:latest")
  })

  it("reports why a string is not a reference", () => {
    const result = Schema.decodeUnknownEither(Reference.Reference)("UPPER/case")
    expect(Either.isLeft(result)).toBe(true)
    expect(Either.match(result, { onLeft: (e) => e.message, onRight: () => "" })).toContain("lower-case")
  })

  it("refuses non-strings", () => {
    expect(Either.isLeft(Schema.decodeUnknownEither(Reference.Reference)(42))).toBe(true)
  })

  it("encodes to the full form, keeping a digest reference's tag", () => {
    const encode = Schema.encodeSync(Reference.Reference)
    expect(encode(ok("ubuntu"))).toBe("index.docker.io/library/ubuntu:latest")
    expect(encode(ok(`x:1@${DIGEST}`))).toBe(`index.docker.io/library/x:1@${DIGEST}`)
  })

  it("decodes with the options it was made with", () => {
    const decode = Schema.decodeUnknownEither(Reference.schema({ strict: true }))
    expect(Either.isLeft(decode("ubuntu"))).toBe(true)
    const insecure = Schema.decodeUnknownSync(Reference.schema({ insecure: true }))("gcr.io/p/i:1")
    expect(insecure.repository.registry.insecure).toBe(true)
  })

  it("works as a field of a config struct", () => {
    const Config = Schema.Struct({ image: Reference.Reference })
    const config = Schema.decodeUnknownSync(Config)({ image: "localhost:5000/app:dev" })
    expect(config.image.repository.registry.host).toBe("localhost:5000")
    expect(Schema.encodeSync(Config)(config)).toEqual({ image: "localhost:5000/app:dev" })
  })

  it("isReference tells references from other values", () => {
    expect(Reference.isReference(ok("x"))).toBe(true)
    expect(Reference.isReference(ok(`x:1@${DIGEST}`))).toBe(true)
    expect(Reference.isReference({ _tag: "Tag", tag: "x" })).toBe(false)
    expect(Reference.isReference("ubuntu")).toBe(false)
    expect(Reference.isRepository(ok("x").repository)).toBe(true)
    expect(Reference.isRegistry(ok("x").repository.registry)).toBe(true)
  })
})
