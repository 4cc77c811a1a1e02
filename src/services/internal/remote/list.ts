/**
 * Listings, as ggcr's `remote.List`, `remote.Catalog` and `remote.Referrers`: tags and
 * repositories page by page, following `Link` headers (only ever to the registry itself), and
 * the referrers of a manifest from the referrers API or, where a registry has none, from the
 * `sha256-<hex>` fallback tag.
 *
 * @since 0.1.0
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Descriptor from "../../../domain/Descriptor.js"
import type { DigestMismatch, InvalidDocument } from "../../../domain/Errors.js"
import * as IndexManifest from "../../../domain/IndexManifest.js"
import * as MediaType from "../../../domain/MediaType.js"
import * as Reference from "../../../domain/Reference.js"
import { RegistryError } from "../../RegistryError.js"
import * as RegistryTransport from "../../RegistryTransport.js"
import * as Fetch from "./fetch.js"
import { fallbackTag } from "./push.js"

/**
 * The page size asked for when the caller names none: 1000, as ggcr (ECR refuses more).
 *
 * @since 0.1.0
 */
export const defaultPageSize = 1000

/**
 * One page of a listing: its items and the URL of the next page, if there is one.
 *
 * @since 0.1.0
 */
export interface Page {
  readonly items: ReadonlyArray<string>
  readonly next: Option.Option<URL>
}

/**
 * Where a listing starts: a page size and the last item already seen.
 *
 * @since 0.1.0
 */
export interface Paging {
  readonly n?: number | undefined
  readonly last?: string | undefined
}

const TagsBody = Schema.Struct({
  name: Schema.optional(Schema.String),
  tags: Schema.optional(Schema.NullOr(Schema.Array(Schema.String)))
})
const CatalogBody = Schema.Struct({
  repositories: Schema.optional(Schema.NullOr(Schema.Array(Schema.String)))
})
const decodeTags = Schema.decodeUnknownEither(Schema.parseJson(TagsBody))
const decodeCatalog = Schema.decodeUnknownEither(Schema.parseJson(CatalogBody))

const protocolError = (response: HttpClientResponse.HttpClientResponse, detail: string) =>
  new RegistryError({
    reason: "Protocol",
    method: response.request.method,
    url: response.request.url,
    status: response.status,
    detail
  })

// The next page, which must be on the registry that answered (ggcr's SSRF check).
const nextOf = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<Option.Option<URL>, RegistryError> =>
  Effect.flatMap(RegistryTransport.nextPage(response), (next): Effect.Effect<Option.Option<URL>, RegistryError> => {
    if (Option.isNone(next)) return Effect.succeed(next)
    const here = new URL(response.request.url)
    return next.value.host === here.host
      ? Effect.succeed(next)
      : Effect.fail(
        new RegistryError({
          reason: "UnsafeUrl",
          method: response.request.method,
          url: response.request.url,
          status: response.status,
          detail: `the next page ${next.value.origin} is on another host`
        })
      )
  })

const firstUrl = (path: string, paging: Paging): string => {
  const params = new URLSearchParams()
  if (paging.n !== undefined) params.set("n", String(paging.n))
  if (paging.last !== undefined) params.set("last", paging.last)
  const query = params.toString()
  return query === "" ? path : `${path}?${query}`
}

const page = (
  context: Fetch.Context,
  url: string,
  access: RegistryTransport.Access,
  items: (response: HttpClientResponse.HttpClientResponse, text: string) => Either.Either<ReadonlyArray<string>, RegistryError>
): Effect.Effect<Page, RegistryError> =>
  Effect.gen(function*() {
    const response = yield* context.transport.execute(
      HttpClientRequest.get(url).pipe(HttpClientRequest.setHeader("accept", "application/json")),
      access
    )
    const bytes = yield* RegistryTransport.readManifest(response)
    const listed = yield* items(response, new TextDecoder().decode(bytes))
    return { items: listed, next: yield* nextOf(response) }
  })

const tagItems = (response: HttpClientResponse.HttpClientResponse, text: string) =>
  Either.match(decodeTags(text), {
    onLeft: () => Either.left(protocolError(response, "the answer is not a tags list")),
    onRight: (body) => Either.right(body.tags ?? [])
  })

const catalogItems = (response: HttpClientResponse.HttpClientResponse, text: string) =>
  Either.match(decodeCatalog(text), {
    onLeft: () => Either.left(protocolError(response, "the answer is not a repository catalog")),
    onRight: (body) => Either.right(body.repositories ?? [])
  })

/**
 * One page of a repository's tags.
 *
 * @since 0.1.0
 */
export const tagsPage = (
  context: Fetch.Context,
  repository: Reference.Repository,
  paging: Paging | URL
): Effect.Effect<Page, RegistryError> =>
  page(
    context,
    paging instanceof URL ? paging.href : firstUrl(`/v2/${repository.path}/tags/list`, paging),
    RegistryTransport.pull(repository),
    tagItems
  )

/**
 * One page of a registry's catalog of repositories.
 *
 * @since 0.1.0
 */
export const catalogPage = (
  context: Fetch.Context,
  registry: Reference.Registry,
  paging: Paging | URL
): Effect.Effect<Page, RegistryError> =>
  page(
    context,
    paging instanceof URL ? paging.href : firstUrl("/v2/_catalog", paging),
    RegistryTransport.catalog(registry),
    catalogItems
  )

/**
 * Every item of a listing, following the pages to the end. A registry that sends the same
 * page URL twice fails with `Protocol` rather than looping.
 *
 * @since 0.1.0
 */
export const all = (
  first: Effect.Effect<Page, RegistryError>,
  next: (url: URL) => Effect.Effect<Page, RegistryError>
): Effect.Effect<ReadonlyArray<string>, RegistryError> =>
  Effect.gen(function*() {
    const items: Array<string> = []
    const seen = new Set<string>()
    let current = yield* first
    for (;;) {
      items.push(...current.items)
      if (Option.isNone(current.next)) return items
      const url = current.next.value
      if (seen.has(url.href)) {
        return yield* new RegistryError({
          reason: "Protocol",
          method: "GET",
          url: url.href,
          detail: "the registry's Link headers go round in a circle"
        })
      }
      seen.add(url.href)
      current = yield* next(url)
    }
  })

/**
 * The referrers of a manifest: from `/v2/<repo>/referrers/<digest>` when the registry answers
 * it with an OCI index (following its pages), else from the fallback tag (none when it does
 * not exist). Filtered by `artifactType` here unless the registry says it did
 * (`OCI-Filters-Applied`).
 *
 * @since 0.1.0
 */
export const referrers = (
  context: Fetch.Context,
  ref: Reference.DigestRef,
  artifactType: string | undefined
): Effect.Effect<IndexManifest.IndexManifest, RegistryError | InvalidDocument | DigestMismatch> =>
  Effect.gen(function*() {
    const repository = ref.repository
    const access = RegistryTransport.pull(repository)
    const accept = HttpClientRequest.setHeader("accept", MediaType.OCI_INDEX)
    const first = HttpClientRequest.get(Fetch.path(repository, "referrers", ref.digest)).pipe(
      accept,
      artifactType === undefined ? (r) => r : HttpClientRequest.setUrlParam("artifactType", artifactType)
    )
    let response = yield* context.transport.execute(first, access, { expected: [200, 400, 404, 405, 406] })
    let manifests: Array<Descriptor.Descriptor> = []
    let base: IndexManifest.IndexManifest | undefined
    let filtered = false
    if (response.status === 200 && Fetch.contentType(response) === MediaType.OCI_INDEX) {
      const seen = new Set<string>()
      for (;;) {
        const bytes = yield* RegistryTransport.readManifest(response)
        const decoded = yield* IndexManifest.decode(bytes, { mediaType: MediaType.OCI_INDEX })
        base ??= decoded.value
        manifests.push(...decoded.value.manifests)
        filtered = (response.headers["oci-filters-applied"] ?? "").split(",").map((s) => s.trim()).includes(
          "artifactType"
        )
        const next = yield* nextOf(response)
        if (Option.isNone(next) || seen.has(next.value.href)) break
        seen.add(next.value.href)
        response = yield* context.transport.execute(HttpClientRequest.get(next.value.href).pipe(accept), access)
      }
    } else {
      yield* Fetch.discard(response)
      const fetched = yield* Effect.either(Fetch.getManifest(context, fallbackTag(repository, ref.digest), [
        MediaType.OCI_INDEX
      ]))
      if (Either.isLeft(fetched)) {
        const e = fetched.left
        if (e._tag === "RegistryError" && e.status === 404) return IndexManifest.make([], { mediaType: MediaType.OCI_INDEX })
        return yield* Effect.fail(e)
      }
      const decoded = yield* IndexManifest.decode(fetched.right.bytes, { mediaType: MediaType.OCI_INDEX })
      base = decoded.value
      manifests = [...decoded.value.manifests]
    }
    const kept = artifactType === undefined || filtered
      ? manifests
      : manifests.filter((d) => d.artifactType === artifactType)
    return base === undefined
      ? IndexManifest.make(kept, { mediaType: MediaType.OCI_INDEX })
      : { ...base, manifests: kept }
  })

/**
 * The fallback tag of a digest reference.
 *
 * @since 0.1.0
 */
export const fallbackTagOf = (ref: Reference.DigestRef): Reference.Tag => fallbackTag(ref.repository, ref.digest)
