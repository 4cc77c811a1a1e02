import { describe, expect, it } from "@effect/vitest"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import * as Reference from "../../src/domain/Reference.js"
import * as RegistryTransportNode from "../../src/layers/RegistryTransportNode.js"
import * as Keychain from "../../src/services/Keychain.js"
import * as RegistryTransport from "../../src/services/RegistryTransport.js"

/** A registry stand-in on 127.0.0.1 that answers everything 200 and remembers each request. */
const recordingRegistry = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly seen: Array<{ url: string; headers: IncomingHttpHeaders }>; readonly close: () => void }>(
    (resume) => {
      const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = []
      const server = createServer((req, res) => {
        seen.push({ url: req.url ?? "", headers: req.headers })
        res.writeHead(200, { "content-type": "application/json" })
        res.end("{}")
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ port: (server.address() as AddressInfo).port, seen, close: () => server.close() }))
      )
    }
  ),
  (registry) => Effect.sync(() => registry.close())
)

describe("RegistryTransportNode", () => {
  it.scoped("sends registry requests without tracing headers, over one kept-alive connection", () =>
    Effect.gen(function* () {
      const registry = yield* recordingRegistry
      const repository = Either.getOrThrow(Reference.parseRepository(`127.0.0.1:${registry.port}/demo`))
      for (let i = 0; i < 3; i++) {
        const response = yield* RegistryTransport.execute(
          HttpClientRequest.get("/v2/demo/manifests/latest"),
          RegistryTransport.pull(repository)
        )
        yield* response.text
      }
      const requests = registry.seen.filter((r) => r.url.startsWith("/v2/demo/"))
      expect(requests).toHaveLength(3)
      for (const { headers } of requests) {
        expect(headers["traceparent"]).toBeUndefined()
        expect(headers["b3"]).toBeUndefined()
        expect(headers["user-agent"]).toMatch(/^effect-containerregistry\//)
      }
    }).pipe(Effect.provide(RegistryTransportNode.layer().pipe(Layer.provide(Keychain.layerAnonymous))))
  )
})
