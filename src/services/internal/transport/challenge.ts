/**
 * `WWW-Authenticate` challenges (RFC 7235): `Bearer realm="https://auth.io/token",
 * service="registry.io",scope="repository:x:pull"`, several challenges in one header (HTTP
 * clients join repeated headers with `, `), quoted strings with commas and escapes.
 *
 * @since 0.1.0
 * @internal
 */

/**
 * One challenge: its scheme in lower case (`bearer`, `basic`) and its parameters, whose
 * names are lower case.
 *
 * @since 0.1.0
 */
export interface Challenge {
  readonly scheme: string
  readonly params: Readonly<Record<string, string>>
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/

/**
 * Parses a `WWW-Authenticate` header value into its challenges, in order. Malformed parts
 * are skipped rather than failing the whole header.
 *
 * @since 0.1.0
 */
export const parse = (header: string): ReadonlyArray<Challenge> => {
  const s = header
  const n = s.length
  let i = 0
  const skip = (chars: RegExp) => {
    while (i < n && chars.test(s[i] ?? "")) i++
  }
  const token = (): string => {
    const start = i
    while (i < n && TCHAR.test(s[i] ?? "")) i++
    return s.slice(start, i)
  }
  // Values: a quoted string, or (leniently) anything up to a comma or white space, since
  // some servers leave realm URLs unquoted.
  const value = (): string => {
    if (s[i] !== "\"") {
      const start = i
      while (i < n && s[i] !== "," && !/\s/.test(s[i] ?? "")) i++
      return s.slice(start, i)
    }
    i++
    let out = ""
    while (i < n) {
      const c = s[i] ?? ""
      if (c === "\\" && i + 1 < n) {
        out += s[i + 1]
        i += 2
      } else if (c === "\"") {
        i++
        return out
      } else {
        out += c
        i++
      }
    }
    return out
  }
  const challenges: Array<Challenge> = []
  while (i < n) {
    skip(/[\s,]/)
    const scheme = token()
    if (scheme === "") {
      if (i < n) i++
      continue
    }
    const params: Record<string, string> = {}
    skip(/[ \t]/)
    while (i < n) {
      const save = i
      skip(/[\s,]/)
      const key = token()
      skip(/[ \t]/)
      if (key === "" || s[i] !== "=") {
        // the scheme of the next challenge (or a token68 credential, skipped below)
        i = save
        break
      }
      i++
      skip(/[ \t]/)
      params[key.toLowerCase()] = value()
      skip(/[ \t]/)
      if (s[i] !== ",") break
    }
    challenges.push({ scheme: scheme.toLowerCase(), params })
    // a token68 after the scheme (`Negotiate abc==`): skip it
    if (i < n && s[i] !== ",") {
      while (i < n && s[i] !== ",") i++
    }
  }
  return challenges
}

/**
 * The challenge to answer among several: the first Bearer or Basic one (as ggcr picks), else
 * the first of any scheme.
 *
 * @since 0.1.0
 */
export const pick = (challenges: ReadonlyArray<Challenge>): Challenge | undefined =>
  challenges.find((c) => c.scheme === "bearer" || c.scheme === "basic") ?? challenges[0]
