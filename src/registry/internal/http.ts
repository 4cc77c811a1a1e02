/**
 * HTTP details the registry handlers share: request bodies as streams (with exact-length and
 * size-limited readers), the `Range` and `Content-Range` headers, `Link` pagination and the
 * query parameters of listings.
 *
 * @internal
 */
import * as HttpServerError from "@effect/platform/HttpServerError"
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as ReadableBody from "../../services/internal/readableBody.js"
import * as OciError from "../OciError.js"

/** A request header, by its lower-case name. @internal */
export const header = (request: HttpServerRequest.HttpServerRequest, name: string): string | undefined =>
  request.headers[name]

/**
 * The `Content-Length` of a request: `None` when absent, an error when it is not a
 * non-negative integer.
 *
 * @internal
 */
export const contentLength = (
  request: HttpServerRequest.HttpServerRequest
): Either.Either<Option.Option<number>, OciError.OciError> => {
  const value = header(request, "content-length")
  if (value === undefined) return Either.right(Option.none())
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN
  return Number.isSafeInteger(n)
    ? Either.right(Option.some(n))
    : Either.left(OciError.make("SIZE_INVALID", `invalid Content-Length ${JSON.stringify(value)}`))
}

const isWebRequest = (source: unknown): source is Request =>
  typeof Request === "function" && source instanceof Request

/**
 * True when a request carries a body: a web `Request` (behind `HttpApp.toWebHandler`) says so
 * itself; on a socket, HTTP/1.1 framing says so by a non-zero `Content-Length` or by a
 * `Transfer-Encoding`.
 *
 * @internal
 */
export const hasBody = (request: HttpServerRequest.HttpServerRequest): boolean => {
  if (isWebRequest(request.source)) return request.source.body !== null
  const length = header(request, "content-length")
  return header(request, "transfer-encoding") !== undefined || (length !== undefined && length.trim() !== "0")
}

/**
 * A request's body as a stream, empty when it has none; read from Node's `IncomingMessage`
 * directly when the request has one (see `services/internal/readableBody.ts`).
 *
 * @internal
 */
export const body = (
  request: HttpServerRequest.HttpServerRequest
): Stream.Stream<Uint8Array, HttpServerError.RequestError> => {
  if (!hasBody(request)) return Stream.empty
  const source = ReadableBody.sourceOf(request)
  if (source === undefined) return request.stream
  const failure = (cause: unknown) => new HttpServerError.RequestError({ request, reason: "Decode", cause })
  return ReadableBody.stream(source, failure, { owner: request })
}

/**
 * A body that was longer or shorter than promised; `actual` is what had arrived when that
 * became known.
 *
 * @internal
 */
export class LengthMismatch extends Data.TaggedError("LengthMismatch")<{
  readonly expected: number
  readonly actual: number
}> {
  override get message(): string {
    return `expected ${this.expected} bytes, got ${this.actual > this.expected ? "more" : this.actual}`
  }
}

/**
 * Passes the first `length` bytes of a stream through and fails with {@link LengthMismatch}
 * at its end when it held more or fewer. The surplus is read and dropped rather than left
 * unread: a Node request body abandoned midway takes its connection down before the error
 * response can be written.
 *
 * @internal
 */
export const exactly = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>,
  length: number
): Stream.Stream<Uint8Array, E | LengthMismatch, R> =>
  Stream.suspend(() => {
    let seen = 0
    return stream.pipe(
      Stream.mapChunks((chunk) => {
        const kept: Array<Uint8Array> = []
        for (const bytes of chunk) {
          if (seen + bytes.byteLength <= length) kept.push(bytes)
          else if (seen < length) kept.push(bytes.subarray(0, length - seen))
          seen += bytes.byteLength
        }
        return Chunk.unsafeFromArray(kept)
      }),
      Stream.concat(
        Stream.execute(
          Effect.suspend(() => (seen === length ? Effect.void : Effect.fail(new LengthMismatch({ expected: length, actual: seen }))))
        )
      )
    )
  })

/** A body longer than a limit. @internal */
export class TooLarge extends Data.TaggedError("TooLarge")<{ readonly limit: number }> {
  override get message(): string {
    return `more than ${this.limit} bytes`
  }
}

/** How much of an oversized body is read and dropped before the connection is given up. @internal */
export const drainLimit = 64 * 1024 * 1024

/**
 * Reads a whole stream into one array, failing with {@link TooLarge} when it holds more than
 * `limit` bytes. The rest of an oversized body is read and dropped (up to {@link drainLimit}
 * more bytes) so that the refusal can still be answered on the connection.
 *
 * @internal
 */
export const readAtMost = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>,
  limit: number
): Effect.Effect<Uint8Array, E | TooLarge, R> =>
  Effect.suspend(() => {
    const parts: Array<Uint8Array> = []
    let size = 0
    return Stream.runForEachChunk(stream, (chunk) =>
      Effect.suspend(() => {
        for (const bytes of chunk) {
          size += bytes.byteLength
          if (size > limit + drainLimit) return Effect.fail(new TooLarge({ limit }))
          if (size <= limit) parts.push(bytes)
        }
        return Effect.void
      })).pipe(
        Effect.flatMap(() => {
          if (size > limit) return Effect.fail(new TooLarge({ limit }))
          const out = new Uint8Array(size)
          let at = 0
          for (const part of parts) {
            out.set(part, at)
            at += part.byteLength
          }
          return Effect.succeed(out)
        })
      )
  })

/** A blob range a `Range` header asks for, already resolved against the blob's size. @internal */
export type RangeRequest =
  | { readonly _tag: "Whole" }
  | { readonly _tag: "Part"; readonly start: number; readonly end: number }
  | { readonly _tag: "Unsatisfiable" }

/**
 * Reads a `Range` header (RFC 9110 §14) against a blob's size. A single `bytes=a-b`,
 * `bytes=a-` or `bytes=-n` is honoured; headers that cannot be read, other units and
 * multiple ranges are ignored (the whole blob is served), as the RFC allows.
 *
 * @internal
 */
export const resolveRange = (value: string | undefined, size: number): RangeRequest => {
  if (value === undefined) return { _tag: "Whole" }
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value)
  if (match === null) return { _tag: "Whole" }
  const [, first = "", last = ""] = match
  if (first === "" && last === "") return { _tag: "Whole" }
  if (first === "") {
    const suffix = Number(last)
    if (!Number.isSafeInteger(suffix)) return { _tag: "Whole" }
    if (suffix === 0 || size === 0) return { _tag: "Unsatisfiable" }
    return { _tag: "Part", start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  const end = last === "" ? Number.MAX_SAFE_INTEGER : Number(last)
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return { _tag: "Whole" }
  if (start >= size) return { _tag: "Unsatisfiable" }
  return { _tag: "Part", start, end: Math.min(end, size - 1) }
}

/**
 * Reads the `Content-Range` of an upload chunk: `a-b` as the spec writes it, also accepted
 * with a `bytes ` or `bytes=` prefix and a `/total` suffix. `None` for anything else.
 *
 * @internal
 */
export const parseContentRange = (value: string): Option.Option<{ readonly start: number; readonly end: number }> => {
  const match = /^\s*(?:bytes[ =]\s*)?(\d+)-(\d+)(?:\/(?:\d+|\*))?\s*$/i.exec(value)
  if (match === null) return Option.none()
  const start = Number(match[1])
  const end = Number(match[2])
  return Number.isSafeInteger(start) && Number.isSafeInteger(end) && end >= start
    ? Option.some({ start, end })
    : Option.none()
}

/** The `Range` header value of an upload holding `size` bytes: `0-<last byte>`. @internal */
export const uploadRange = (size: number): string => `0-${Math.max(0, size - 1)}`

/** The `n` and `last` parameters of a listing. @internal */
export interface Paging {
  readonly n: number | undefined
  readonly last: string | undefined
}

/** Reads `n` (a non-negative integer) and `last` from a query. @internal */
export const paging = (params: URLSearchParams): Either.Either<Paging, OciError.OciError> => {
  const n = params.get("n")
  const last = params.get("last") ?? undefined
  if (n === null || n === "") return Either.right({ n: undefined, last: last === "" ? undefined : last })
  const parsed = /^\d+$/.test(n) ? Number(n) : Number.NaN
  if (!Number.isSafeInteger(parsed)) {
    return Either.left(
      OciError.make("UNSUPPORTED", `invalid pagination parameter n=${JSON.stringify(n)}`, { status: 400 })
    )
  }
  return Either.right({ n: parsed, last: last === "" ? undefined : last })
}

/** The RFC 5988 `Link` header pointing at the next page of a listing. @internal */
export const nextLink = (path: string, last: string, n: number): string =>
  `<${path}?last=${encodeURIComponent(last)}&n=${n}>; rel="next"`
