/**
 * Debian's docker-registry (the CNCF distribution registry 2.8) with htpasswd Basic auth, for
 * tests of credentials against a real peer. The htpasswd file holds a bcrypt hash made once
 * (cost 4, so each check is quick) of {@link password} for {@link username}, so no tool is
 * needed to make one.
 */
import { join } from "node:path"
import { freePort, hasDockerRegistry, type Running, startDockerRegistry } from "../registry/peers.js"

export { freePort, hasDockerRegistry }

/** The one user of the registry. */
export const username = "alice"

/** Its password. */
export const password = "hunter2-pw"

// bcrypt of `password`, as `htpasswd -Bbn -C 4 alice hunter2-pw` writes it.
const htpasswd = `${username}:$2b$04$RdruKz6.E1coEA3gOFc9bOlH59XnmpayWBUbPoEOeVea92DEx.AWO\n`

/**
 * Starts `docker-registry serve` with filesystem storage in a temporary directory and
 * `auth: htpasswd` on a free loopback port; resolves once `GET /v2/` asks for Basic auth.
 */
export const startAuthRegistry = (): Promise<Running & { readonly host: string }> =>
  startDockerRegistry({
    files: { htpasswd },
    config: (dir) => ["auth:", "  htpasswd:", "    realm: test", `    path: ${join(dir, "htpasswd")}`],
    ready: (response) =>
      response.status === 401 && response.headers.get("www-authenticate")?.startsWith("Basic") === true
  })
