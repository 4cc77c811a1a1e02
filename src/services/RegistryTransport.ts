/**
 * Sending requests to a container registry, as ggcr's `remote/transport`: every request is
 * made for an {@link Access} (a registry, a repository, token scopes), and the transport does
 * the rest out of sight: it pings `/v2/` once per registry, answers Basic and Bearer
 * challenges with credentials from the {@link Keychain.Keychain} (token exchange by GET, or
 * by OAuth2 POST with an identity token), caches tokens per scope set until shortly before
 * they expire, re-authenticates once on a 401, follows redirects without carrying
 * credentials to other hosts, refuses URLs that downgrade to http or jump to private
 * addresses, retries connection failures and 408/429/5xx with backoff and `Retry-After`, and
 * gives up on a registry that stops answering (a response timeout and a body idle timeout).
 *
 * Requests are ordinary `HttpClientRequest`s whose URL may be relative to the registry
 * (`/v2/library/ubuntu/manifests/latest`):
 * ```ts
 * const response = yield* RegistryTransport.execute(
 *   HttpClientRequest.get(`/v2/${repo.path}/manifests/latest`),
 *   RegistryTransport.pull(repo)
 * )
 * const bytes = yield* RegistryTransport.readManifest(response)
 * ```
 * A status other than 2xx (or the `expected` ones) fails with a {@link RegistryError}
 * carrying the registry's error codes. The transport needs only the abstract `HttpClient`;
 * `layers/RegistryTransportNode` provides it with Node's keep-alive agent.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Schedule from "effect/Schedule"
import type * as Stream from "effect/Stream"
import * as Reference from "../domain/Reference.js"
import { version } from "../version.js"
import type * as Keychain from "./Keychain.js"
import { RegistryError } from "./RegistryError.js"
import * as Body from "./internal/transport/body.js"
import * as Client from "./internal/transport/client.js"
import * as Retry from "./internal/transport/retry.js"
import * as Url from "./internal/transport/url.js"

/**
 * What a request needs from a registry: the registry it goes to (relative URLs are resolved
 * against it), the repository whose credentials apply, and the token scopes
 * (`repository:library/ubuntu:pull`). Build one with {@link pull}, {@link push},
 * {@link catalog} or {@link forRegistry}.
 *
 * @since 0.1.0
 */
export interface Access extends Client.Access {}

/**
 * Per-request options.
 *
 * @since 0.1.0
 */
export interface RequestOptions {
  /** Statuses that count as success; any 2xx when absent. Others fail with a RegistryError. */
  readonly expected?: ReadonlyArray<number> | undefined
  /**
   * Whether the request may be sent again (retries, re-authentication, 307/308 redirects).
   * By default: when its body is empty or bytes in memory, not when it is a stream. Set it
   * for a body stream that can be run again from the start (a file, a stored blob).
   */
  readonly retryable?: boolean | undefined
}

/**
 * A registry transport.
 *
 * @since 0.1.0
 */
export interface RegistryTransport {
  /**
   * Sends a request for an access, authenticating, following redirects and retrying as
   * needed, and returns the response once its status is expected. Its body is not read: use
   * {@link readBytes}, {@link readManifest} or {@link stream}.
   */
  readonly execute: (
    request: HttpClientRequest.HttpClientRequest,
    access: Access,
    options?: RequestOptions
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, RegistryError>
}

/**
 * The service tag of a {@link RegistryTransport}.
 *
 * @since 0.1.0
 */
export const RegistryTransport: Context.Tag<RegistryTransport, RegistryTransport> = Context.GenericTag<
  RegistryTransport
>("effect-containerregistry/RegistryTransport")

/**
 * How requests are retried: tries in all, backoff, the longest `Retry-After` honoured, and
 * the statuses retried.
 *
 * @since 0.1.0
 */
export interface RetrySettings extends Retry.RetrySettings {}

/**
 * ggcr's retry defaults: 3 tries, about 1 s then 3 s apart (jittered), `Retry-After` up to
 * 60 s, statuses 408, 429, 499, 500, 502, 503, 504, 522.
 *
 * @since 0.1.0
 */
export const defaultRetry: RetrySettings = Retry.defaults

/**
 * How many redirects a request follows before failing.
 *
 * @since 0.1.0
 */
export const defaultMaxRedirects = 10

/**
 * How long a request waits for its response's status and headers once its body has been sent,
 * unless told otherwise: 60 seconds.
 *
 * @since 0.1.0
 */
export const defaultResponseTimeout: Duration.Duration = Duration.seconds(60)

/**
 * How long reading a response body waits for its next bytes, unless told otherwise: 60 seconds.
 *
 * @since 0.1.0
 */
export const defaultIdleTimeout: Duration.Duration = Duration.seconds(60)

/**
 * The largest token server answer read (64 KiB).
 *
 * @since 0.1.0
 */
export const maxTokenBytes: number = Client.maxTokenBytes

/**
 * The largest manifest read (100 MiB, as ggcr).
 *
 * @since 0.1.0
 */
export const maxManifestBytes = 100 * 1024 * 1024

/**
 * The largest error body read (64 KiB).
 *
 * @since 0.1.0
 */
export const maxErrorBytes: number = Body.maxErrorBytes

/**
 * The transport's options; every one has a default.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Appended to the `User-Agent` (`effect-containerregistry/0.1.0 <userAgent>`). */
  readonly userAgent?: string | undefined
  /** Retry settings, merged over {@link defaultRetry}; `false` for a single try. */
  readonly retry?: Partial<RetrySettings> | false | undefined
  /** Redirects followed per request; 10 by default. */
  readonly maxRedirects?: number | undefined
  /**
   * Exchange a user name and password for a token with the OAuth2 password grant (POST
   * `grant_type=password`) instead of a GET with Basic auth. Off by default, as in ggcr.
   */
  readonly oauthPassword?: boolean | undefined
  /** How long credentials from the keychain are reused; 5 minutes by default. */
  readonly credentialLifetime?: Duration.DurationInput | undefined
  /**
   * The longest wait for a response's status and headers, counted from when the request body
   * has been sent; {@link defaultResponseTimeout} by default, `Duration.infinity` for none. A
   * request that times out is aborted and fails with a `Transport` error (`ETIMEDOUT`), which
   * is retried like a lost connection when the request can be sent again.
   */
  readonly responseTimeout?: Duration.DurationInput | undefined
  /**
   * The longest wait for the next bytes of a response body; {@link defaultIdleTimeout} by
   * default, `Duration.infinity` for none. Reading a body that stalls fails with a
   * `Transport` error (`ETIMEDOUT`); a blob download resumes from the byte it reached.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
}

/**
 * The `User-Agent` sent: `effect-containerregistry/<version>`, then the caller's suffix.
 *
 * @since 0.1.0
 */
export const userAgent = (suffix?: string): string =>
  suffix === undefined || suffix.trim() === ""
    ? `effect-containerregistry/${version}`
    : `effect-containerregistry/${version} ${suffix.trim()}`

/**
 * Builds a transport over the `HttpClient` and `Keychain` in the context. Pings, tokens and
 * credentials are cached for the transport's life, so build one per program.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<RegistryTransport, never, HttpClient.HttpClient | Keychain.Keychain> =>
  Effect.map(
    Client.make({
      userAgent: userAgent(options.userAgent),
      maxRedirects: options.maxRedirects ?? defaultMaxRedirects,
      retry: options.retry === false
        ? { ...Retry.defaults, attempts: 1 }
        : { ...Retry.defaults, ...options.retry },
      oauthPassword: options.oauthPassword === true,
      credentialLifetimeMillis: Duration.toMillis(options.credentialLifetime ?? Duration.minutes(5)),
      responseTimeoutMillis: Duration.toMillis(options.responseTimeout ?? defaultResponseTimeout),
      idleTimeoutMillis: Duration.toMillis(options.idleTimeout ?? defaultIdleTimeout)
    }),
    (transport) => RegistryTransport.of(transport)
  )

/**
 * Provides a transport over the `HttpClient` and `Keychain` in the context.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<RegistryTransport, never, HttpClient.HttpClient | Keychain.Keychain> =>
  Layer.effect(RegistryTransport, make(options))

const isRequest = (u: unknown): u is HttpClientRequest.HttpClientRequest =>
  Predicate.hasProperty(u, HttpClientRequest.TypeId)

/**
 * Sends a request with the transport in the context (see {@link RegistryTransport}):
 * `execute(request, access)` or `request.pipe(execute(access))`.
 *
 * @since 0.1.0
 */
export const execute: {
  (
    access: Access,
    options?: RequestOptions
  ): (
    request: HttpClientRequest.HttpClientRequest
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, RegistryError, RegistryTransport>
  (
    request: HttpClientRequest.HttpClientRequest,
    access: Access,
    options?: RequestOptions
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, RegistryError, RegistryTransport>
} = dual(
  (args) => isRequest(args[0]),
  (request: HttpClientRequest.HttpClientRequest, access: Access, options?: RequestOptions) =>
    Effect.flatMap(RegistryTransport, (transport) => transport.execute(request, access, options))
)

/**
 * Access to a repository for the given actions, plus any extra scopes.
 *
 * @since 0.1.0
 */
export const access = (
  repository: Reference.Repository,
  actions: Reference.Action | readonly [Reference.Action, ...Array<Reference.Action>],
  extraScopes: ReadonlyArray<string> = []
): Access => ({
  registry: repository.registry,
  repository,
  scopes: [Reference.scope(repository, actions), ...extraScopes.filter((s) => s !== Reference.scope(repository, actions))]
})

/**
 * Access to read a repository (`repository:NAME:pull`).
 *
 * @since 0.1.0
 */
export const pull = (repository: Reference.Repository): Access => access(repository, "pull")

/**
 * Access to write a repository (`repository:NAME:pull,push`), plus `pull` on each repository
 * blobs may be mounted from (those in the same registry).
 *
 * @since 0.1.0
 */
export const push = (
  repository: Reference.Repository,
  options: { readonly mountFrom?: ReadonlyArray<Reference.Repository> | undefined } = {}
): Access =>
  access(
    repository,
    ["pull", "push"],
    (options.mountFrom ?? [])
      .filter((source) =>
        Reference.registryHost(source.registry) === Reference.registryHost(repository.registry) &&
        source.path !== repository.path
      )
      .map((source) => Reference.scope(source, "pull"))
  )

/**
 * Access to list a registry's repositories (`registry:catalog:*`).
 *
 * @since 0.1.0
 */
export const catalog = (registry: Reference.Registry): Access => ({ registry, scopes: [Reference.catalogScope] })

/**
 * Access to a registry with no scopes (`/v2/` itself).
 *
 * @since 0.1.0
 */
export const forRegistry = (registry: Reference.Registry): Access => ({ registry, scopes: [] })

/**
 * True when a request can be sent more than once: its body is empty or bytes in memory.
 * Requests with a streamed body are sent once: no retry, no re-authentication, no 307.
 *
 * @since 0.1.0
 */
export const isReplayable = (request: HttpClientRequest.HttpClientRequest): boolean =>
  Body.isReplayableBody(request.body)

/**
 * True for a failure the transport retries under `settings`: a connection failure, or a
 * retried status whose `Retry-After` (if any) is within `maxRetryAfter`.
 *
 * @since 0.1.0
 */
export const isRetryable = (error: RegistryError, settings: RetrySettings = defaultRetry): boolean =>
  Retry.isRetryable(error, settings)

/**
 * The retry `Schedule` the transport applies (once, around each replayable request).
 *
 * @since 0.1.0
 */
export const retryPolicy = (settings: RetrySettings = defaultRetry): Schedule.Schedule<unknown, RegistryError> =>
  Retry.policy(settings)

/**
 * A response body as a stream of bytes, failing with a `Transport` error if the connection
 * breaks. Nothing is buffered.
 *
 * @since 0.1.0
 */
export const stream = (response: HttpClientResponse.HttpClientResponse): Stream.Stream<Uint8Array, RegistryError> =>
  Body.stream(response)

/**
 * Reads a whole response body, failing with `TooLarge` once it is known to exceed
 * `maxBytes` (from `Content-Length` or while reading) without reading on.
 *
 * @since 0.1.0
 */
export const readBytes: {
  (maxBytes: number): (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<Uint8Array, RegistryError>
  (response: HttpClientResponse.HttpClientResponse, maxBytes: number): Effect.Effect<Uint8Array, RegistryError>
} = dual(2, (response: HttpClientResponse.HttpClientResponse, maxBytes: number) => Body.readCapped(response, maxBytes))

/**
 * Reads a manifest or index body, at most {@link maxManifestBytes}.
 *
 * @since 0.1.0
 */
export const readManifest = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<Uint8Array, RegistryError> =>
  Body.readCapped(response, maxManifestBytes, "manifest")

/**
 * The error for a response whose status the caller did not expect: the decoded error body,
 * `Retry-After` and rate limit. Reads (at most 64 KiB of) the body.
 *
 * @since 0.1.0
 */
export const unexpectedStatus = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<never, RegistryError> =>
  Effect.flip(Body.statusError(response))

/**
 * Resolves a URL a registry handed us (`Location`, `Link`, a token realm) against the URL it
 * came with, and checks it: http or https only, no https→http downgrade (a plain-http URL on
 * the same host and port is upgraded instead), no jump to a link-local address, nor to a
 * loopback or private address from a host that is not one. Fails with `UnsafeUrl`.
 *
 * @since 0.1.0
 */
export const resolveUrl = (base: string | URL, reference: string): Either.Either<URL, RegistryError> => {
  let from: URL
  try {
    from = new URL(base)
  } catch {
    return Either.left(
      new RegistryError({ reason: "Protocol", method: "GET", url: String(base), detail: "invalid base URL" })
    )
  }
  return Either.mapLeft(
    Url.resolve(from, reference),
    (why) =>
      new RegistryError({
        reason: "UnsafeUrl",
        method: "GET",
        url: from.href,
        detail: `${Url.redact(reference)} refused: ${why}`
      })
  )
}

/**
 * A response's `Location` (an upload session, a created blob), resolved against the
 * request's URL and checked as {@link resolveUrl} does. Fails with `Protocol` when missing.
 *
 * @since 0.1.0
 */
export const location = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<URL, RegistryError> => {
  const header = response.headers["location"]
  const url = Body.requestUrl(response.request)
  if (header === undefined || header === "") {
    return Effect.fail(
      new RegistryError({
        reason: "Protocol",
        method: response.request.method,
        url,
        status: response.status,
        detail: "the response has no Location header"
      })
    )
  }
  return Either.mapLeft(resolveUrl(url, header), (e) =>
    new RegistryError({
      reason: e.reason,
      method: response.request.method,
      url,
      status: response.status,
      detail: e.detail
    }))
}

/**
 * One entry of a `Link` header: its target as written and its parameters (names in lower
 * case, `rel` among them).
 *
 * @since 0.1.0
 */
export interface Link {
  readonly url: string
  readonly params: Readonly<Record<string, string>>
}

const LINK = /<([^>]*)>((?:\s*;\s*[^;,"\s=]+(?:\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^;,\s]*))?)*)/g
const LINK_PARAM = /;\s*([^;,"\s=]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*))?/g

/**
 * Parses a `Link` header (RFC 8288): `</v2/_catalog?last=b&n=2>; rel="next"`, several links
 * separated by commas.
 *
 * @since 0.1.0
 */
export const parseLink = (header: string): ReadonlyArray<Link> => {
  const links: Array<Link> = []
  for (const match of header.matchAll(LINK)) {
    const params: Record<string, string> = {}
    for (const param of (match[2] ?? "").matchAll(LINK_PARAM)) {
      const raw = param[2] ?? ""
      params[(param[1] ?? "").toLowerCase()] = raw.startsWith("\"")
        ? raw.slice(1, -1).replace(/\\(.)/g, "$1")
        : raw
    }
    links.push({ url: match[1] ?? "", params })
  }
  return links
}

/**
 * The next page of a paginated listing (tags, catalog, referrers): the `Link` entry whose
 * `rel` includes `next`, resolved and checked against the request's URL. `None` on the last
 * page.
 *
 * @since 0.1.0
 */
export const nextPage = (
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<Option.Option<URL>, RegistryError> => {
  const header = response.headers["link"]
  if (header === undefined) return Effect.succeed(Option.none())
  const next = parseLink(header).find((link) => (link.params["rel"] ?? "").split(/\s+/).includes("next"))
  if (next === undefined) return Effect.succeed(Option.none())
  const url = Body.requestUrl(response.request)
  return Either.match(resolveUrl(url, next.url), {
    onLeft: (e) =>
      Effect.fail(
        new RegistryError({
          reason: e.reason,
          method: response.request.method,
          url,
          status: response.status,
          detail: `Link ${e.detail ?? ""}`
        })
      ),
    onRight: (u) => Effect.succeed(Option.some(u))
  })
}
