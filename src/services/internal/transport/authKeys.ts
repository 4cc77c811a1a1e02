/**
 * How a registry or repository is looked up in a map of credentials keyed the way docker's
 * `config.json` keys them: `gcr.io`, `localhost:5000`, `https://index.docker.io/v1/`,
 * `http://test.io/v2/`, and (as podman allows) `registry.io/namespace` for a part of a
 * registry.
 *
 * @since 0.1.0
 * @internal
 */
import * as Reference from "../../../domain/Reference.js"

/**
 * The key docker uses for Docker Hub, kept for historical reasons.
 *
 * @since 0.1.0
 */
export const dockerHubKey = "https://index.docker.io/v1/"

/**
 * Host names that all mean Docker Hub in credential keys.
 *
 * @since 0.1.0
 */
export const dockerHubHosts: ReadonlyArray<string> = ["index.docker.io", "docker.io", "registry-1.docker.io"]

/**
 * What credentials are looked up for: a registry, or a repository in one.
 *
 * @since 0.1.0
 */
export type Target = Reference.Registry | Reference.Repository

/**
 * The registry of a target.
 *
 * @since 0.1.0
 */
export const registryOf = (target: Target): Reference.Registry =>
  target._tag === "Registry" ? target : target.registry

/**
 * A target written out: `host` or `host/path`.
 *
 * @since 0.1.0
 */
export const targetName = (target: Target): string =>
  target._tag === "Registry" ? Reference.registryHost(target) : Reference.repositoryName(target)

const stripScheme = (key: string): string => key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")

// A key names a whole registry when its path part is empty or a legacy API path.
const registryPart = (key: string): string | undefined => {
  const rest = stripScheme(key)
  const slash = rest.indexOf("/")
  if (slash < 0) return rest.toLowerCase()
  const path = rest.slice(slash).replace(/\/+$/, "")
  return path === "" || path === "/v1" || path === "/v2" ? rest.slice(0, slash).toLowerCase() : undefined
}

// `host/namespace[/...]` keys, scheme and trailing slashes removed.
const repositoryPart = (key: string): string | undefined => {
  const rest = stripScheme(key).replace(/\/+$/, "")
  return rest.includes("/") && registryPart(key) === undefined ? rest : undefined
}

/**
 * The registry hosts a key may be written with for a registry: Docker Hub's aliases, or the
 * registry's own `host[:port]`.
 *
 * @since 0.1.0
 */
export const hostsOf = (registry: Reference.Registry): ReadonlyArray<string> =>
  Reference.isDockerHub(registry) ? dockerHubHosts : [Reference.registryHost(registry).toLowerCase()]

/**
 * The key a registry is known by to credential helpers: `https://index.docker.io/v1/` for
 * Docker Hub, else `host[:port]`.
 *
 * @since 0.1.0
 */
export const serverKey = (registry: Reference.Registry): string =>
  Reference.isDockerHub(registry) ? dockerHubKey : Reference.registryHost(registry)

/**
 * Finds the entry for a target, most specific first: for a repository, a `host/path` key and
 * then each enclosing namespace; then the registry, by the exact key docker would write
 * (`https://index.docker.io/v1/` for Docker Hub, `host[:port]` otherwise) and then by any
 * key naming the same host (with a scheme, with `/v1/` or `/v2/`, or a Docker Hub alias).
 *
 * @since 0.1.0
 */
export const lookup = <A>(
  entries: Iterable<readonly [string, A]>,
  target: Target
): { readonly key: string; readonly value: A } | undefined => {
  const list = Array.from(entries)
  const registry = registryOf(target)
  const hosts = hostsOf(registry)
  if (target._tag === "Repository") {
    const segments = target.path.split("/")
    for (let n = segments.length; n >= 1; n--) {
      const prefix = segments.slice(0, n).join("/")
      for (const host of hosts) {
        const wanted = `${host}/${prefix}`
        const found = list.find(([key]) => repositoryPart(key)?.toLowerCase() === wanted)
        if (found !== undefined) return { key: found[0], value: found[1] }
      }
    }
  }
  const exact = list.find(([key]) => key === serverKey(registry))
  if (exact !== undefined) return { key: exact[0], value: exact[1] }
  for (const host of hosts) {
    const found = list.find(([key]) => registryPart(key) === host)
    if (found !== undefined) return { key: found[0], value: found[1] }
  }
  return undefined
}
