/**
 * `Remote` against the CNCF distribution registry 2.8 (Debian's docker-registry): the same
 * behaviours as against our registry. It has no referrers API, so referrers go through the
 * `sha256-<hex>` fallback tag, and it does not page tags lists.
 */
import { describe, layer } from "@effect/vitest"
import { hasDockerRegistry } from "../registry/peers.js"
import { remoteSuite } from "../services/remote/suite.js"
import { dockerRegistry } from "../services/remote/support.js"

describe.skipIf(!hasDockerRegistry)("Remote against docker-registry", () => {
  layer(dockerRegistry(), { excludeTestServices: true })((it) => remoteSuite(it))
})
