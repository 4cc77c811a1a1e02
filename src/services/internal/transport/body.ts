/**
 * Reading registry responses: bodies under a size cap, bodies thrown away so the connection
 * can be reused, the {@link RegistryError} for an unexpected status (decoded error body,
 * `Retry-After`, rate limit), and the mapping of the HTTP client's own errors.
 *
 * @since 0.1.0
 * @internal
 */
import type * as HttpBody from "@effect/platform/HttpBody"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as RegistryError from "../../RegistryError.js"

/**
 * The largest error body read: 64 KiB, as ggcr.
 *
 * @since 0.1.0
 */
export const maxErrorBytes = 64 * 1024

/**
 * The full URL a request goes to (its URL with its query parameters), as a string; the bare
 * URL when it cannot be parsed.
 *
 * @since 0.1.0
 */
export const requestUrl = (request: HttpClientRequest.HttpClientRequest): string =>
  Either.match(UrlParams.makeUrl(request.url, request.urlParams, Option.none()), {
    onLeft: () => request.url,
    onRight: (url) => url.toString()
  })

/**
 * True for bodies that can be sent again: none, or bytes in memory.
 *
 * @since 0.1.0
 */
export const isReplayableBody = (body: HttpBody.HttpBody): boolean =>
  body._tag === "Empty" || body._tag === "Uint8Array"

const errnoOf = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null) return undefined
  if ("code" in cause && typeof cause.code === "string") return cause.code
  return "cause" in cause ? errnoOf(cause.cause) : undefined
}

const describeCause = (cause: unknown): string => {
  if (cause instanceof Error) {
    const inner = "cause" in cause && cause.cause instanceof Error ? `: ${cause.cause.message}` : ""
    return `${cause.message}${inner}`
  }
  return String(cause)
}

/**
 * A {@link RegistryError.RegistryError} for a failure of the HTTP client itself: no
 * connection, a reset, an invalid URL, or a request body stream that failed (whose error is
 * kept as `cause`).
 *
 * @since 0.1.0
 */
export const fromClientError = (error: HttpClientError.HttpClientError): RegistryError.RegistryError => {
  const method = error.request.method
  const url = requestUrl(error.request)
  if (error._tag === "RequestError") {
    if (error.reason === "InvalidUrl") {
      return new RegistryError.RegistryError({ reason: "Protocol", method, url, detail: "invalid URL" })
    }
    if (error.reason === "Encode") {
      return new RegistryError.RegistryError({
        reason: "Transport",
        method,
        url,
        detail: `the request body failed: ${describeCause(error.cause)}`,
        cause: error.cause
      })
    }
  }
  const errno = errnoOf(error.cause)
  return new RegistryError.RegistryError({
    reason: "Transport",
    method,
    url,
    detail: describeCause(error.cause ?? error.reason),
    errno,
    ...(error.cause instanceof Error ? { cause: error.cause } : {})
  })
}

const responseFailure = (response: HttpClientResponse.HttpClientResponse) => (cause: unknown) =>
  new RegistryError.RegistryError({
    reason: "Transport",
    method: response.request.method,
    url: requestUrl(response.request),
    detail: `reading the response body failed: ${describeCause(
      typeof cause === "object" && cause !== null && "cause" in cause ? cause.cause : cause
    )}`,
    errno: errnoOf(cause)
  })

/**
 * A response body as a stream, failing with a `Transport` error when the connection breaks.
 *
 * @since 0.1.0
 */
export const stream = (response: HttpClientResponse.HttpClientResponse): Stream.Stream<Uint8Array, RegistryError.RegistryError> =>
  Stream.mapError(response.stream, responseFailure(response))

/**
 * Reads a whole response body, failing with `TooLarge` as soon as it is known to be over
 * `maxBytes` (from `Content-Length`, or while reading), without reading further.
 *
 * @since 0.1.0
 */
export const readCapped = (
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number,
  what = "response body"
): Effect.Effect<Uint8Array, RegistryError.RegistryError> => {
  const tooLarge = (size: string) =>
    new RegistryError.RegistryError({
      reason: "TooLarge",
      method: response.request.method,
      url: requestUrl(response.request),
      status: response.status,
      detail: `the ${what} is ${size}, over the limit of ${maxBytes} bytes`
    })
  const declared = Number(response.headers["content-length"] ?? Number.NaN)
  return Effect.suspend(() => {
    let total = 0
    return stream(response).pipe(
      Stream.mapEffect((chunk) => {
        total += chunk.byteLength
        if (Number.isFinite(declared) && declared > maxBytes) return Effect.fail(tooLarge(`${declared} bytes`))
        return total > maxBytes ? Effect.fail(tooLarge(`at least ${total} bytes`)) : Effect.succeed(chunk)
      }),
      Stream.runCollect,
      Effect.map((chunks) => {
        const out = new Uint8Array(total)
        let offset = 0
        for (const chunk of Chunk.toReadonlyArray(chunks)) {
          out.set(chunk, offset)
          offset += chunk.byteLength
        }
        return out
      })
    )
  })
}

/**
 * Reads and drops a body we do not need (a redirect, an answer we are about to retry) so
 * its connection can be reused; a long body is cut off instead. Never fails.
 *
 * @since 0.1.0
 */
export const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  Effect.ignore(readCapped(response, maxErrorBytes))

/**
 * Parses `Retry-After`: whole seconds, or an HTTP date relative to `nowMillis`. Returns
 * milliseconds (never negative), or `undefined` when absent or unreadable.
 *
 * @since 0.1.0
 */
export const parseRetryAfter = (value: string | undefined, nowMillis: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMillis)
}

const snippet = (bytes: Uint8Array): string | undefined => {
  const text = new TextDecoder().decode(bytes).replace(/\s+/g, " ").trim()
  if (text === "") return undefined
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}

/**
 * The error for a response whose status was not expected: its error body (at most 64 KiB)
 * decoded into diagnostics, its `Retry-After` and rate-limit headers. `Auth` errors (from a
 * token server, whose bodies may echo what was sent) never quote an undecodable body.
 *
 * @since 0.1.0
 */
export const statusError = (
  response: HttpClientResponse.HttpClientResponse,
  reason: "Status" | "Auth" = "Status",
  detail?: string
): Effect.Effect<RegistryError.RegistryError> =>
  Effect.gen(function*() {
    const body = response.request.method === "HEAD"
      ? new Uint8Array(0)
      : yield* readCapped(response, maxErrorBytes, "error body").pipe(
        Effect.orElseSucceed(() => new Uint8Array(0))
      )
    const errors = RegistryError.decodeErrors(body)
    const now = yield* Clock.currentTimeMillis
    const text = detail ?? (errors.length === 0 && reason === "Status" ? snippet(body) : undefined)
    return new RegistryError.RegistryError({
      reason,
      method: response.request.method,
      url: requestUrl(response.request),
      status: response.status,
      errors,
      detail: text,
      retryAfterMillis: parseRetryAfter(response.headers["retry-after"], now),
      rateLimit: RegistryError.parseRateLimit(response.headers)
    })
  })
