import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Transport from "../../src/crane/Transport.js"

describe("crane Transport", () => {
  it("keeps the protocol's query parameters and hides the others and any user info", () => {
    expect(Transport.redactUrl("https://user:pw@r.example/v2/x/blobs/uploads/1?_state=secret&digest=sha256:ab")).toBe(
      "https://r.example/v2/x/blobs/uploads/1?_state=REDACTED&digest=sha256%3Aab"
    )
  })

  it.effect("logs each request and its status at debug level, never its headers", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const fake = HttpClient.make((request) =>
        Effect.succeed(HttpClientResponse.fromWeb(request, new Response("{}", { status: 200 })))
      )
      const client = Transport.logging(fake)
      yield* client.get("http://r.example/v2/?X-Amz-Signature=abc", { headers: { authorization: "Bearer secret" } }).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => lines.push(String(message))))),
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )
      expect(lines).toHaveLength(2)
      expect(lines[0]).toBe("--> GET http://r.example/v2/?X-Amz-Signature=REDACTED")
      expect(lines[1]).toMatch(/^<-- 200 GET http:\/\/r\.example\/v2\/\?X-Amz-Signature=REDACTED \(\d+ ms\)$/)
      expect(lines.join("\n")).not.toContain("secret")
    }))
})
