/**
 * URL handling for registry requests: redacting URLs before they reach a message, telling
 * loopback, private and link-local addresses apart, and checking every URL a registry hands
 * us (token realm, redirect, upload `Location`, `Link`) before anything is sent to it.
 *
 * @since 0.1.0
 * @internal
 */
import * as Either from "effect/Either"

/**
 * Query parameters whose values are part of the registry protocol and safe to show; every
 * other value is replaced by `REDACTED` (redirects to blob storage carry signatures).
 *
 * @since 0.1.0
 */
export const visibleParams: ReadonlySet<string> = new Set(["scope", "service", "mount", "from", "digest", "n", "last"])

/**
 * A URL as it may appear in a message: no user or password, and the values of query
 * parameters outside {@link visibleParams} replaced by `REDACTED`. Strings that are not
 * absolute URLs are returned with any query string cut off.
 *
 * @since 0.1.0
 */
export const redact = (input: string | URL): string => {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    const s = String(input)
    const q = s.indexOf("?")
    return q < 0 ? s : `${s.slice(0, q)}?REDACTED`
  }
  url.username = ""
  url.password = ""
  url.hash = ""
  if (url.search !== "") {
    const params = new URLSearchParams()
    for (const [key, value] of url.searchParams) {
      params.append(key, visibleParams.has(key) ? value : "REDACTED")
    }
    url.search = params.toString()
  }
  return url.toString()
}

/**
 * Rewrites every absolute URL inside a piece of text with {@link redact}.
 *
 * @since 0.1.0
 */
export const redactText = (text: string): string =>
  text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (match) => redact(match))

/**
 * Where an address points: the machine itself, a private network, a link-local or
 * otherwise special range (cloud metadata endpoints, `0.0.0.0`, multicast), or anywhere else.
 * Host names are `public` except `localhost` and `*.localhost`.
 *
 * @since 0.1.0
 */
export type HostClass = "loopback" | "private" | "special" | "public"

const ipv4 = (s: string): ReadonlyArray<number> | undefined => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)
  if (m === null) return undefined
  const octets = m.slice(1).map(Number)
  return octets.every((n) => n <= 255) ? octets : undefined
}

const classifyIPv4 = (o: ReadonlyArray<number>): HostClass => {
  const [a = 0, b = 0] = o
  if (a === 127) return "loopback"
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)) {
    return "private"
  }
  if (a === 0 || (a === 169 && b === 254) || a >= 224) return "special"
  return "public"
}

// Expands an IPv6 address (without brackets) to eight 16-bit groups.
const ipv6 = (s: string): ReadonlyArray<number> | undefined => {
  if (!s.includes(":")) return undefined
  const halves = s.split("::")
  if (halves.length > 2) return undefined
  const groups = (part: string | undefined): Array<number> | undefined => {
    if (part === undefined || part === "") return []
    const out: Array<number> = []
    for (const g of part.split(":")) {
      const v4 = ipv4(g)
      if (v4 !== undefined) {
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0))
      } else if (/^[0-9a-f]{1,4}$/i.test(g)) {
        out.push(parseInt(g, 16))
      } else {
        return undefined
      }
    }
    return out
  }
  const head = groups(halves[0])
  const tail = groups(halves[1])
  if (head === undefined || tail === undefined) return undefined
  if (halves.length === 1) return head.length === 8 ? head : undefined
  const fill = 8 - head.length - tail.length
  return fill < 1 ? undefined : [...head, ...Array<number>(fill).fill(0), ...tail]
}

const classifyIPv6 = (g: ReadonlyArray<number>): HostClass => {
  const [g0 = 0, , , , , g5 = 0, g6 = 0, g7 = 0] = g
  const zeroPrefix = g.slice(0, 5).every((x) => x === 0)
  if (zeroPrefix && g5 === 0xffff) return classifyIPv4([g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff])
  if (zeroPrefix && g5 === 0 && g6 === 0 && g7 === 1) return "loopback"
  if (zeroPrefix && g5 === 0 && g6 === 0 && g7 === 0) return "special"
  if ((g0 & 0xfe00) === 0xfc00) return "private"
  if ((g0 & 0xffc0) === 0xfe80 || (g0 & 0xff00) === 0xff00) return "special"
  return "public"
}

/**
 * The class of a URL's host name (`URL.hostname`: IPv6 in brackets, IPv4 normalised).
 *
 * @since 0.1.0
 */
export const classify = (hostname: string): HostClass => {
  const name = hostname.toLowerCase().replace(/\.$/, "")
  if (name === "localhost" || name.endsWith(".localhost")) return "loopback"
  const v4 = ipv4(name)
  if (v4 !== undefined) return classifyIPv4(v4)
  const v6 = name.startsWith("[") && name.endsWith("]") ? ipv6(name.slice(1, -1)) : undefined
  return v6 !== undefined ? classifyIPv6(v6) : "public"
}

const defaultPort = (protocol: string): string => (protocol === "https:" ? "443" : protocol === "http:" ? "80" : "")

/**
 * `host:port` with the scheme's default port written out, lower-case.
 *
 * @since 0.1.0
 */
export const authority = (url: URL): string =>
  `${url.hostname.toLowerCase()}:${url.port === "" ? defaultPort(url.protocol) : url.port}`

/**
 * True when two URLs name the same host and port (the scheme's default port when none is
 * written). Credentials for one never go to the other.
 *
 * @since 0.1.0
 */
export const sameHost = (a: URL, b: URL): boolean => authority(a) === authority(b)

/**
 * Why going from `from` to `to` is refused, or `undefined` when it is allowed: schemes other
 * than http and https, https to http, a jump to a link-local or special address, to a
 * loopback address from anything but loopback, or to a private address from a public host.
 * Staying on the same host and port is always allowed (the scheme rule still holds).
 *
 * @since 0.1.0
 */
export const problem = (from: URL, to: URL): string | undefined => {
  if (to.protocol !== "https:" && to.protocol !== "http:") {
    return `scheme ${JSON.stringify(to.protocol.slice(0, -1))} is not http or https`
  }
  if (from.protocol === "https:" && to.protocol === "http:") return "it downgrades https to plain http"
  if (sameHost(from, to)) return undefined
  const target = classify(to.hostname)
  const source = classify(from.hostname)
  switch (target) {
    case "public":
      return undefined
    case "special":
      return `${to.hostname} is a link-local or special address`
    case "loopback":
      return source === "loopback" ? undefined : `${to.hostname} is a loopback address and ${from.host} is not`
    case "private":
      return source === "loopback" || source === "private"
        ? undefined
        : `${to.hostname} is a private address and ${from.host} is public`
  }
}

/**
 * Resolves a URL reference (absolute, or relative to `base`) and checks it with
 * {@link problem}. User and password parts are dropped. A plain-http URL on the same host and
 * port as an https base is upgraded to https (as ggcr's scheme transport does), since a
 * registry behind a TLS proxy may not know its own scheme.
 *
 * @since 0.1.0
 */
export const resolve = (base: URL, reference: string): Either.Either<URL, string> => {
  let url: URL
  try {
    url = new URL(reference, base)
  } catch {
    return Either.left(`${JSON.stringify(redact(reference))} is not a valid URL`)
  }
  url.username = ""
  url.password = ""
  if (base.protocol === "https:" && url.protocol === "http:" && url.hostname === base.hostname && url.port === base.port) {
    url.protocol = "https:"
  }
  const why = problem(base, url)
  return why === undefined ? Either.right(url) : Either.left(why)
}
