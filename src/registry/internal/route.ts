/**
 * Reading a request path under `/v2/` into the endpoint it names. A repository name may hold
 * `/`, so the path is read from its end: `/v2/<name>/blobs/<digest>`,
 * `/v2/<name>/blobs/uploads/[<id>]`, `/v2/<name>/manifests/<reference>`,
 * `/v2/<name>/tags/list`, `/v2/<name>/referrers/<digest>`. Names, digests and references
 * are returned as written (percent-decoded); the handlers validate them.
 *
 * @internal
 */
import * as Option from "effect/Option"

/** @internal */
export type Route =
  | { readonly _tag: "Base" }
  | { readonly _tag: "Catalog" }
  | { readonly _tag: "Blob"; readonly name: string; readonly digest: string }
  | { readonly _tag: "Uploads"; readonly name: string }
  | { readonly _tag: "Upload"; readonly name: string; readonly id: string }
  | { readonly _tag: "Manifest"; readonly name: string; readonly reference: string }
  | { readonly _tag: "Tags"; readonly name: string }
  | { readonly _tag: "Referrers"; readonly name: string; readonly digest: string }

const decode = (segment: string): Option.Option<string> => {
  try {
    return Option.some(decodeURIComponent(segment))
  } catch {
    return Option.none()
  }
}

/** The path of a request URL (`/v2/...?query` or a full URL), without its query. @internal */
export const pathOf = (url: string): string => {
  const query = url.indexOf("?")
  const path = query < 0 ? url : url.slice(0, query)
  if (path.startsWith("/")) return path
  const scheme = path.indexOf("//")
  const slash = path.indexOf("/", scheme < 0 ? 0 : scheme + 2)
  return slash < 0 ? "/" : path.slice(slash)
}

/** The query parameters of a request URL. @internal */
export const searchParamsOf = (url: string): URLSearchParams => {
  const query = url.indexOf("?")
  return new URLSearchParams(query < 0 ? "" : url.slice(query + 1))
}

/**
 * The endpoint a path names, or `None` when it names none of the spec's endpoints.
 *
 * @internal
 */
export const parse = (path: string): Option.Option<Route> => {
  if (path === "/v2" || path === "/v2/") return Option.some({ _tag: "Base" })
  if (!path.startsWith("/v2/")) return Option.none()
  const raw = path.slice("/v2/".length).split("/")
  const segments: Array<string> = []
  for (const segment of raw) {
    const decoded = decode(segment)
    if (Option.isNone(decoded)) return Option.none()
    segments.push(decoded.value)
  }
  if (segments.length === 1 && segments[0] === "_catalog") return Option.some({ _tag: "Catalog" })
  const n = segments.length
  const at = (i: number): string | undefined => segments[n + i]
  const nameBefore = (count: number): Option.Option<string> =>
    n - count >= 1 ? Option.some(segments.slice(0, n - count).join("/")) : Option.none()
  const route = (count: number, make: (name: string) => Route): Option.Option<Route> =>
    Option.map(nameBefore(count), make)

  if (at(-3) === "blobs" && at(-2) === "uploads" && at(-1) === "") {
    return route(3, (name) => ({ _tag: "Uploads", name }))
  }
  if (at(-2) === "blobs" && at(-1) === "uploads") return route(2, (name) => ({ _tag: "Uploads", name }))
  if (at(-3) === "blobs" && at(-2) === "uploads") {
    const id = at(-1) ?? ""
    return route(3, (name) => ({ _tag: "Upload", name, id }))
  }
  if (at(-2) === "blobs") {
    const digest = at(-1) ?? ""
    return route(2, (name) => ({ _tag: "Blob", name, digest }))
  }
  if (at(-2) === "manifests") {
    const reference = at(-1) ?? ""
    return route(2, (name) => ({ _tag: "Manifest", name, reference }))
  }
  if (at(-2) === "tags" && at(-1) === "list") return route(2, (name) => ({ _tag: "Tags", name }))
  if (at(-2) === "referrers") {
    const digest = at(-1) ?? ""
    return route(2, (name) => ({ _tag: "Referrers", name, digest }))
  }
  return Option.none()
}

/** The path of a repository's endpoint, with the name's components kept as they are. @internal */
export const repositoryPath = (name: string, ...rest: ReadonlyArray<string>): string =>
  `/v2/${name}/${rest.join("/")}`
