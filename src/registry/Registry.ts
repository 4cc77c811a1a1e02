/**
 * An OCI distribution-spec v1.1 registry as an `HttpApp`: the project's embedded registry,
 * like ggcr's `pkg/registry`. It serves pull, push (monolithic, chunked and streamed uploads,
 * cross-repository mounts), content discovery (tags, catalog, referrers) and content
 * management (deletes), over a {@link BlobStore.BlobStore} and a
 * {@link ManifestStore.ManifestStore}.
 *
 * Run it on a port with {@link layerServer}, or talk to it with no socket at all through the
 * `HttpClient` of {@link layerClient}; store it in memory ({@link layerMemory}) or in a
 * directory ({@link layerFileSystem}). Bodies stream both ways: uploads go from the request
 * into the blob store (hashed as they arrive) and downloads from the store into the
 * response, so a blob never sits in memory whole (with the filesystem store).
 *
 * ```ts
 * // on a port, in memory
 * const server = Registry.layerServer({ port: 5000 }).pipe(Layer.provide(Registry.layerMemory))
 * // no socket: an HttpClient wired straight to the app, stores on disk
 * const client = Registry.layerClient().pipe(
 *   Layer.provide(Registry.layerFileSystem("/var/lib/registry")),
 *   Layer.provide(NodeContext.layer)
 * )
 * ```
 *
 * Blobs live in the blob store once, whatever repository they were pushed to; a repository
 * serves a blob once it is linked there (by an upload or a mount), and deleting a blob
 * through a repository removes that link, not the bytes.
 *
 * @since 0.1.0
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import * as BlobStoreFileSystem from "../layers/BlobStoreFileSystem.js"
import * as BlobStoreMemory from "../layers/BlobStoreMemory.js"
import * as ManifestStoreFileSystem from "../layers/ManifestStoreFileSystem.js"
import * as ManifestStoreMemory from "../layers/ManifestStoreMemory.js"
import type * as BlobStore from "../services/BlobStore.js"
import type * as ManifestStore from "../services/ManifestStore.js"
import * as Blobs from "./internal/blobs.js"
import type * as Common from "./internal/common.js"
import * as Listings from "./internal/listings.js"
import * as Manifests from "./internal/manifests.js"
import * as Route from "./internal/route.js"
import * as OciError from "./OciError.js"

/**
 * The largest manifest accepted unless told otherwise: 4 MiB, as the CNCF distribution
 * registry (the spec asks registries to accept at least that much).
 *
 * @since 0.1.0
 */
export const defaultMaxManifestSize = 4 * 1024 * 1024

/**
 * One answered request, for a request logger.
 *
 * @since 0.1.0
 */
export interface RequestLog {
  readonly method: string
  readonly url: string
  readonly status: number
  /** The error code of a refused request. */
  readonly code?: OciError.ErrorCode | undefined
  /** What went wrong, for a refused request. */
  readonly detail?: string | undefined
  /** Time until the response started (a streamed body may take longer). */
  readonly durationMillis: number
}

/**
 * Options of the registry.
 *
 * @since 0.1.0
 */
export interface Options {
  /**
   * Allow deleting manifests, tags and blobs. When false those requests fail with
   * `UNSUPPORTED` (405). Defaults to true.
   */
  readonly deleteEnabled?: boolean | undefined
  /** The largest manifest accepted, in bytes (larger ones get 413). Defaults to 4 MiB. */
  readonly maxManifestSize?: number | undefined
  /** Called once for every answered request. */
  readonly logger?: ((entry: RequestLog) => Effect.Effect<void>) | undefined
}

/**
 * A request logger writing one line per request to the Effect logger (`Effect.logInfo`, or
 * `Effect.logWarning` for refused requests).
 *
 * @since 0.1.0
 */
export const logRequest = (entry: RequestLog): Effect.Effect<void> => {
  const line = `${entry.method} ${entry.url} ${entry.status}${entry.code !== undefined ? ` ${entry.code}` : ""}` +
    `${entry.detail !== undefined ? ` ${entry.detail}` : ""} (${entry.durationMillis} ms)`
  return entry.status >= 400 ? Effect.logWarning(line) : Effect.logInfo(line)
}

/**
 * The services a registry runs on: where its blobs and its manifests are kept.
 *
 * @since 0.1.0
 */
export type Stores = BlobStore.BlobStore | ManifestStore.ManifestStore

type Handler = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  OciError.OciError,
  Stores | HttpServerRequest.HttpServerRequest
>

const notAllowed = (allow: string): Handler =>
  Effect.fail(OciError.make("UNSUPPORTED", `this endpoint accepts ${allow}`, { headers: { allow } }))

const base: Handler = Effect.succeed(
  HttpServerResponse.uint8Array(new TextEncoder().encode("{}"), {
    status: 200,
    contentType: "application/json",
    headers: { "content-length": "2" }
  })
)

// Sends a request to the handler of the endpoint its path names.
const dispatch = (config: Common.Config): Handler =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request): Handler => {
    const route = Route.parse(Route.pathOf(request.url))
    if (Option.isNone(route)) {
      return Effect.fail(OciError.make("UNSUPPORTED", `no such endpoint: ${request.method} ${Route.pathOf(request.url)}`, {
        status: 404
      }))
    }
    const method = request.method
    const read = method === "GET" || method === "HEAD"
    const r = route.value
    switch (r._tag) {
      case "Base":
        return read ? base : notAllowed("GET, HEAD")
      case "Catalog":
        return read ? Listings.catalog : notAllowed("GET, HEAD")
      case "Blob":
        return read
          ? Blobs.get(r.name, r.digest)
          : method === "DELETE"
          ? Blobs.remove(config, r.name, r.digest)
          : notAllowed("GET, HEAD, DELETE")
      case "Uploads":
        return method === "POST" ? Blobs.startOrMount(r.name) : notAllowed("POST")
      case "Upload":
        switch (method) {
          case "GET":
          case "HEAD":
            return Blobs.status(r.name, r.id)
          case "PATCH":
            return Blobs.patch(r.name, r.id)
          case "PUT":
            return Blobs.finish(r.name, r.id)
          case "DELETE":
            return Blobs.cancel(r.name, r.id)
          default:
            return notAllowed("GET, HEAD, PATCH, PUT, DELETE")
        }
      case "Manifest":
        return read
          ? Manifests.get(r.name, r.reference)
          : method === "PUT"
          ? Manifests.put(config, r.name, r.reference)
          : method === "DELETE"
          ? Manifests.remove(config, r.name, r.reference)
          : notAllowed("GET, HEAD, PUT, DELETE")
      case "Tags":
        return read ? Listings.tags(r.name) : notAllowed("GET, HEAD")
      case "Referrers":
        return read ? Listings.referrers(r.name, r.digest) : notAllowed("GET, HEAD")
    }
  })

/**
 * The registry as an `HttpApp` with the given options. Every failure is answered with the
 * spec's JSON error body; every response carries `Docker-Distribution-API-Version`.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): HttpApp.Default<never, Stores> => {
  const config: Common.Config = {
    deleteEnabled: options.deleteEnabled ?? true,
    maxManifestSize: options.maxManifestSize ?? defaultMaxManifestSize
  }
  const handler = dispatch(config)
  const router = HttpRouter.empty.pipe(
    HttpRouter.all("/v2", handler),
    HttpRouter.all("/v2/*", handler)
  )
  const answered = router.pipe(
    Effect.map((response) => ({ response, error: undefined })),
    Effect.catchTags({
      OciError: (error: OciError.OciError) =>
        Effect.as(error.status >= 500 ? Effect.logError("registry: request failed", error) : Effect.void, {
          response: OciError.toResponse(error),
          error
        }),
      RouteNotFound: (e: HttpServerError.RouteNotFound) => {
        const error = OciError.make("UNSUPPORTED", `no such endpoint: ${e.request.method} ${Route.pathOf(e.request.url)}`, {
          status: 404
        })
        return Effect.succeed({ response: OciError.toResponse(error), error })
      }
    }),
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
      const error = OciError.make("UNKNOWN", "internal error; the registry's log has the details", { cause })
      return Effect.as(Effect.logError("registry: request failed", cause), {
        response: OciError.toResponse(error),
        error
      })
    }),
    Effect.map(({ error, response }) => ({
      error,
      response: HttpServerResponse.setHeader(response, "docker-distribution-api-version", "registry/2.0")
    }))
  )
  const logger = options.logger
  if (logger === undefined) return Effect.map(answered, ({ response }) => response)
  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const start = yield* Clock.currentTimeMillis
    const { error, response } = yield* answered
    const end = yield* Clock.currentTimeMillis
    yield* logger({
      method: request.method,
      url: request.url,
      status: response.status,
      code: error?.code,
      detail: error?.detail,
      durationMillis: end - start
    })
    return response
  })
}

/**
 * The registry with default options: deletes enabled, manifests up to 4 MiB.
 *
 * @since 0.1.0
 */
export const app: HttpApp.Default<never, Stores> = make()

/**
 * Options of {@link layerServer}: where to listen, and the registry's {@link Options}.
 *
 * @since 0.1.0
 */
export interface ServerOptions extends Options {
  /** The port; 0 (the default) picks a free one, found afterwards in {@link url}. */
  readonly port?: number | undefined
  /** The interface to listen on. Defaults to `127.0.0.1`. */
  readonly host?: string | undefined
}

/**
 * Serves the registry on a port with Node's HTTP server while the layer is alive. The
 * `HttpServer` it provides knows the bound address ({@link url}).
 *
 * @since 0.1.0
 */
export const layerServer = (
  options: ServerOptions = {}
): Layer.Layer<HttpServer.HttpServer, HttpServerError.ServeError, Stores> =>
  HttpServer.serve(make(options)).pipe(
    Layer.provideMerge(
      NodeHttpServer.layer(
        // Blob uploads may take longer than Node's default five-minute request timeout.
        () => Http.createServer({ requestTimeout: 0 }),
        { port: options.port ?? 0, host: options.host ?? "127.0.0.1" }
      )
    )
  )

/**
 * The base URL of a running server, such as `http://127.0.0.1:41234`.
 *
 * @since 0.1.0
 */
export const url: Effect.Effect<string, never, HttpServer.HttpServer> = HttpServer.addressFormattedWith(
  Effect.succeed
)

/**
 * Fresh, empty stores in memory. Blobs are held whole in memory, so this suits tests and
 * small images.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<Stores> = Layer.merge(BlobStoreMemory.layer, ManifestStoreMemory.layer)

/**
 * Stores in a directory (created when missing): blobs and upload sessions under `blobs/`
 * and `uploads/`, repositories under `repositories/`. A registry started again over the same
 * directory sees everything, including unfinished uploads.
 *
 * @since 0.1.0
 */
export const layerFileSystem = (
  root: string
): Layer.Layer<
  Stores,
  BlobStore.BlobStoreError | ManifestStore.ManifestStoreError,
  FileSystem.FileSystem | Path.Path
> => Layer.merge(BlobStoreFileSystem.layer(root), ManifestStoreFileSystem.layer(root))

/**
 * An `HttpClient` that hands each request straight to a registry app in this process, with
 * no socket: the request becomes a web `Request`, the app answers through
 * `HttpApp.toWebHandler`, and the web `Response` becomes the client's response. Any host in
 * the URL reaches the registry. Bodies stream both ways.
 *
 * @since 0.1.0
 */
export const makeClient = (
  options: Options = {}
): Effect.Effect<HttpClient.HttpClient, never, Stores> =>
  Effect.map(Effect.runtime<Stores>(), (runtime) => {
    const handler = HttpApp.toWebHandlerRuntime(runtime)(make(options))
    return HttpClient.make((request, url, signal) =>
      Effect.flatMap(webBody(request), ({ body, headers }) =>
        Effect.tryPromise({
          try: () => {
            const init: RequestInit & { duplex?: "half" } = {
              method: request.method,
              headers: { ...headers, ...request.headers },
              signal,
              ...(body !== undefined ? { body } : {}),
              ...(body instanceof ReadableStream ? { duplex: "half" } : {})
            }
            return handler(new Request(url, init))
          },
          catch: (cause) => new HttpClientError.RequestError({ request, reason: "Transport", cause })
        })
      ).pipe(Effect.map((response) => HttpClientResponse.fromWeb(request, response)))
    )
  })

// A client request's body as a web body, with the headers that describe it.
const webBody = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<
  { readonly body: RequestInit["body"]; readonly headers: Record<string, string> },
  HttpClientError.RequestError
> => {
  const body = request.body
  const described = (length: number | undefined): Record<string, string> => ({
    ...(body.contentType !== undefined ? { "content-type": body.contentType } : {}),
    ...(length !== undefined ? { "content-length": String(length) } : {})
  })
  switch (body._tag) {
    case "Empty":
      return Effect.succeed({ body: undefined, headers: {} })
    case "Uint8Array":
      return Effect.succeed({ body: body.body, headers: described(body.body.byteLength) })
    case "Raw":
      return Effect.succeed({ body: body.body as RequestInit["body"], headers: described(body.contentLength) })
    case "FormData":
      return Effect.succeed({ body: body.formData, headers: {} })
    case "Stream":
      return Effect.map(
        Stream.toReadableStreamEffect(body.stream),
        (stream) => ({ body: stream, headers: described(body.contentLength) })
      ).pipe(
        Effect.catchAllCause((cause) =>
          Effect.fail(new HttpClientError.RequestError({ request, reason: "Encode", cause }))
        )
      )
  }
}

/**
 * The in-process client ({@link makeClient}) as a layer providing `HttpClient`.
 *
 * @since 0.1.0
 */
export const layerClient = (options: Options = {}): Layer.Layer<HttpClient.HttpClient, never, Stores> =>
  Layer.effect(HttpClient.HttpClient, makeClient(options))
