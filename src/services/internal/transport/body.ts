/**
 * Reading registry responses: bodies under a size cap, bodies thrown away so the connection
 * can be reused, the {@link RegistryError} for an unexpected status (decoded error body,
 * `Retry-After`, rate limit), and the mapping of the HTTP client's own errors.
 *
 * @since 0.1.0
 * @internal
 */
import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as RegistryError from "../../RegistryError.js"
import * as ReadableBody from "../readableBody.js"

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

/**
 * A registry that went silent: no response headers within the response timeout, or no bytes
 * of a body within the idle timeout. It carries `code: "ETIMEDOUT"` as Node's socket errors
 * do, so that it is reported and retried as a connection failure.
 *
 * @since 0.1.0
 */
export class Timeout extends Data.TaggedError("Timeout")<{
  readonly phase: "headers" | "body"
  readonly millis: number
}> {
  /** The system error code transport failures are matched by. */
  readonly code = "ETIMEDOUT"
  override get message(): string {
    const wait = Duration.format(Duration.millis(this.millis))
    return this.phase === "headers" ? `no response within ${wait}` : `no data received for ${wait}`
  }
}

/**
 * The `Transport` error of a request that got no response headers within `millis`.
 *
 * @since 0.1.0
 */
export const headersTimeout = (request: HttpClientRequest.HttpClientRequest, millis: number): RegistryError.RegistryError => {
  const cause = new Timeout({ phase: "headers", millis })
  return new RegistryError.RegistryError({
    reason: "Transport",
    method: request.method,
    url: requestUrl(request),
    detail: cause.message,
    errno: cause.code,
    cause
  })
}

// A response whose body fails once it has sent nothing for `millis` (each read of its
// stream waits at most that long), every other part read from the original.
class IdleTimeoutResponse implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId

  constructor(readonly original: HttpClientResponse.HttpClientResponse, readonly millis: number) {}

  get request() {
    return this.original.request
  }
  get status() {
    return this.original.status
  }
  get headers() {
    return this.original.headers
  }
  get cookies() {
    return this.original.cookies
  }
  get remoteAddress() {
    return this.original.remoteAddress
  }
  get formData() {
    return this.original.formData
  }
  get urlParamsBody() {
    return this.original.urlParamsBody
  }
  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    const failure = (cause: unknown) =>
      new HttpClientError.ResponseError({ request: this.original.request, response: this, reason: "Decode", cause })
    const idle = () => failure(new Timeout({ phase: "body", millis: this.millis }))
    const source = ReadableBody.sourceOf(this.original)
    if (source !== undefined) {
      return ReadableBody.stream(source, failure, { idle: { millis: this.millis, onIdle: idle }, owner: this.original })
    }
    return Number.isFinite(this.millis)
      ? Stream.timeoutFail(this.original.stream, idle, Duration.millis(this.millis))
      : this.original.stream
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.map(Stream.runCollect(this.stream), (chunks) => {
      const parts = Chunk.toReadonlyArray(chunks)
      const out = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0))
      let offset = 0
      for (const part of parts) {
        out.set(part, offset)
        offset += part.byteLength
      }
      return out.buffer
    })
  }
  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.map(this.arrayBuffer, (buffer) => new TextDecoder().decode(buffer))
  }
  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => (text === "" ? null : JSON.parse(text)) as unknown,
        catch: (cause) =>
          new HttpClientError.ResponseError({ request: this.original.request, response: this, reason: "Decode", cause })
      }))
  }
  toJSON(): unknown {
    return this.original.toJSON()
  }
  [Inspectable.NodeInspectSymbol](): unknown {
    return this.original[Inspectable.NodeInspectSymbol]()
  }
}

/**
 * The response with an idle timeout on its body: reading it fails with a `Transport` error
 * (`ETIMEDOUT`) when no bytes come for `millis`. A body with a Node-like source under it is read
 * from that source directly (see `readableBody.ts`); any other response is returned as it is
 * when `millis` is not finite.
 *
 * @since 0.1.0
 */
export const withIdleTimeout = (
  response: HttpClientResponse.HttpClientResponse,
  millis: number
): HttpClientResponse.HttpClientResponse =>
  Number.isFinite(millis) || ReadableBody.sourceOf(response) !== undefined
    ? new IdleTimeoutResponse(response, millis)
    : response

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

// A HEAD answer has no body to name its error; for the statuses the distribution spec gives
// one code only, that code (with the message registries send with it) stands in.
const headDiagnostics: Readonly<Record<number, RegistryError.Diagnostic>> = {
  401: { code: "UNAUTHORIZED", message: "authentication required" },
  403: { code: "DENIED", message: "requested access to the resource is denied" },
  429: { code: "TOOMANYREQUESTS", message: "too many requests" }
}

/**
 * The error for a response whose status was not expected: its error body (at most 64 KiB)
 * decoded into diagnostics (for a bodiless HEAD answer of 401, 403 or 429, the one code the
 * spec gives that status), its `Retry-After` and rate-limit headers. `Auth` errors (from a
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
    const isHead = response.request.method === "HEAD"
    const body = isHead
      ? new Uint8Array(0)
      : yield* readCapped(response, maxErrorBytes, "error body").pipe(
        Effect.orElseSucceed(() => new Uint8Array(0))
      )
    const inferred = isHead ? headDiagnostics[response.status] : undefined
    const errors = inferred === undefined ? RegistryError.decodeErrors(body) : [inferred]
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
