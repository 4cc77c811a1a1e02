/**
 * `Remote` against our own registry: in this process with no socket, and on a real port.
 * The same behaviours run against the CNCF distribution registry in
 * test/interop/remote-docker-registry.test.ts.
 */
import { describe, layer } from "@effect/vitest"
import { remoteSuite } from "./suite.js"
import { oursInProcess, oursOverHttp } from "./support.js"

describe("Remote", () => {
  layer(oursInProcess(), { excludeTestServices: true })("against our registry in-process", (it) => remoteSuite(it))
  layer(oursOverHttp(), { excludeTestServices: true })("against our registry over HTTP", (it) => remoteSuite(it))
})
