/**
 * The listing endpoints: a repository's tags and the catalog of repositories (paged with
 * `n` and `last`, a `Link` header pointing at the next page), and the referrers of a
 * manifest as an OCI image index (filtered by `artifactType`).
 *
 * @internal
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as IndexManifest from "../../domain/IndexManifest.js"
import * as MediaType from "../../domain/MediaType.js"
import * as ManifestStore from "../../services/ManifestStore.js"
import type * as OciError from "../OciError.js"
import * as Common from "./common.js"
import * as Http from "./http.js"
import * as Route from "./route.js"

type Handler<R = ManifestStore.ManifestStore | HttpServerRequest.HttpServerRequest> = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  OciError.OciError,
  R
>

const json = (value: unknown, headers: Record<string, string>) => {
  const body = new TextEncoder().encode(JSON.stringify(value))
  return HttpServerResponse.uint8Array(body, {
    status: 200,
    contentType: "application/json",
    headers: { ...headers, "content-length": String(body.byteLength) }
  })
}

// The `Link` header of a page, when a next one exists.
const linkHeader = (path: string, items: ReadonlyArray<string>, more: boolean, n: number | undefined) => {
  const last = items[items.length - 1]
  return more && n !== undefined && n > 0 && last !== undefined ? { link: Http.nextLink(path, last, n) } : {}
}

/** `GET /v2/<name>/tags/list?n=&last=`. @internal */
export const tags = (name: string): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const repository = yield* Common.repositoryName(name)
    const paging = yield* Http.paging(Route.searchParamsOf(request.url))
    const store = yield* ManifestStore.ManifestStore
    const page = yield* store.listTags(repository, paging).pipe(Effect.mapError(Common.fromManifestStoreError))
    if (Option.isNone(page)) return yield* Common.nameUnknown(repository)
    const { items, more } = page.value
    return json(
      { name: repository, tags: items },
      linkHeader(Route.repositoryPath(repository, "tags", "list"), items, more, paging.n)
    )
  })

/** `GET /v2/_catalog?n=&last=`. @internal */
export const catalog: Handler = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const paging = yield* Http.paging(Route.searchParamsOf(request.url))
  const store = yield* ManifestStore.ManifestStore
  const { items, more } = yield* store.listRepositories(paging).pipe(Effect.mapError(Common.fromManifestStoreError))
  return json({ repositories: items }, linkHeader("/v2/_catalog", items, more, paging.n))
})

/**
 * `GET /v2/<name>/referrers/<digest>?artifactType=`: the manifests whose `subject` is the
 * digest, as an OCI index; an empty index when there are none (or no such repository).
 *
 * @internal
 */
export const referrers = (name: string, input: string): Handler =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const repository = yield* Common.repositoryName(name)
    const subject = yield* Common.digest(input)
    const artifactType = Route.searchParamsOf(request.url).get("artifactType")
    const store = yield* ManifestStore.ManifestStore
    const all = yield* store.listReferrers(repository, subject).pipe(Effect.mapError(Common.fromManifestStoreError))
    const filtered = artifactType === null || artifactType === ""
      ? all
      : all.filter((descriptor) => descriptor.artifactType === artifactType)
    const body = IndexManifest.encode(IndexManifest.make(filtered, { mediaType: MediaType.OCI_INDEX }))
    return HttpServerResponse.uint8Array(body, {
      status: 200,
      contentType: MediaType.OCI_INDEX,
      headers: {
        "content-length": String(body.byteLength),
        ...(filtered !== all ? { "oci-filters-applied": "artifactType" } : {})
      }
    })
  })
