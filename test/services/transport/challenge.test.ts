import { describe, expect, it } from "@effect/vitest"
import * as Challenge from "../../../src/services/internal/transport/challenge.js"

describe("WWW-Authenticate challenges", () => {
  it("reads a Bearer challenge with realm, service and scope", () => {
    expect(
      Challenge.parse(
        "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/ubuntu:pull\""
      )
    ).toEqual([{
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/ubuntu:pull"
      }
    }])
  })

  it("keeps commas inside quoted values", () => {
    const [c] = Challenge.parse("Bearer realm=\"https://a.io/token\", scope=\"repository:x:pull,push\", service=\"a.io\"")
    expect(c?.params["scope"]).toBe("repository:x:pull,push")
    expect(c?.params["service"]).toBe("a.io")
  })

  it("reads several challenges joined into one header", () => {
    const challenges = Challenge.parse("Basic realm=\"Registry\", Bearer realm=\"https://a.io/token\",service=\"a.io\"")
    expect(challenges.map((c) => c.scheme)).toEqual(["basic", "bearer"])
    expect(challenges[0]?.params).toEqual({ realm: "Registry" })
    expect(challenges[1]?.params).toEqual({ realm: "https://a.io/token", service: "a.io" })
  })

  it("unescapes backslashes in quoted strings", () => {
    const [c] = Challenge.parse("Basic realm=\"say \\\"hi\\\"\"")
    expect(c?.params["realm"]).toBe("say \"hi\"")
  })

  it("lower-cases the scheme and parameter names but not values", () => {
    expect(Challenge.parse("BEARER Realm=\"https://A.io/Token\"")).toEqual([
      { scheme: "bearer", params: { realm: "https://A.io/Token" } }
    ])
  })

  it("accepts unquoted values, URLs included", () => {
    expect(Challenge.parse("Bearer realm=https://a.io/token,service=a.io")[0]?.params).toEqual({
      realm: "https://a.io/token",
      service: "a.io"
    })
  })

  it("reads a scheme with no parameters", () => {
    expect(Challenge.parse("Basic")).toEqual([{ scheme: "basic", params: {} }])
  })

  it("skips a token68 credential and reads the challenge after it", () => {
    const challenges = Challenge.parse("Negotiate abc123==, Basic realm=\"r\"")
    expect(challenges.map((c) => c.scheme)).toEqual(["negotiate", "basic"])
    expect(challenges[1]?.params["realm"]).toBe("r")
  })

  it("picks the first Bearer or Basic challenge among others", () => {
    const picked = Challenge.pick(Challenge.parse("Negotiate, Bearer realm=\"https://a.io/t\", Basic realm=\"b\""))
    expect(picked?.scheme).toBe("bearer")
  })

  it("gives nothing for an empty header", () => {
    expect(Challenge.parse("")).toEqual([])
    expect(Challenge.pick([])).toBeUndefined()
  })
})
