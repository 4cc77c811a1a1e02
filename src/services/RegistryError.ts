/**
 * The failure of a request to a registry: what was asked (method and URL, with credentials
 * and signed query values removed), what came back (HTTP status and the OCI error codes of
 * the `{"errors":[{code,message,detail}]}` body), and the rate-limit and `Retry-After` facts a
 * caller needs to wait. No message ever contains a password or token.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Url from "./internal/transport/url.js"

/**
 * The error codes of the OCI distribution spec (and Docker's `UNAVAILABLE`, `UNKNOWN`).
 *
 * @since 0.1.0
 */
export type KnownErrorCode =
  | "BLOB_UNKNOWN"
  | "BLOB_UPLOAD_INVALID"
  | "BLOB_UPLOAD_UNKNOWN"
  | "DIGEST_INVALID"
  | "MANIFEST_BLOB_UNKNOWN"
  | "MANIFEST_INVALID"
  | "MANIFEST_UNKNOWN"
  | "MANIFEST_UNVERIFIED"
  | "NAME_INVALID"
  | "NAME_UNKNOWN"
  | "SIZE_INVALID"
  | "TAG_INVALID"
  | "UNAUTHORIZED"
  | "DENIED"
  | "UNSUPPORTED"
  | "TOOMANYREQUESTS"
  | "UNAVAILABLE"
  | "UNKNOWN"

/**
 * An error code: one of {@link KnownErrorCode} or whatever else a registry sends.
 *
 * @since 0.1.0
 */
export type ErrorCode = KnownErrorCode | (string & {})

/**
 * One entry of a registry's error body.
 *
 * @since 0.1.0
 */
export interface Diagnostic {
  readonly code: ErrorCode
  readonly message: string
  readonly detail?: unknown
}

/**
 * Docker Hub's pull rate limit, from the `RateLimit-Limit` and `RateLimit-Remaining` headers
 * (`100;w=21600`): requests allowed and left in a window of `windowSeconds`.
 *
 * @since 0.1.0
 */
export interface RateLimit {
  readonly limit?: number | undefined
  readonly remaining?: number | undefined
  readonly windowSeconds?: number | undefined
}

/**
 * What went wrong:
 * - `Status`: the registry answered with a status the request did not expect;
 * - `Transport`: no answer (connection refused or reset, DNS, TLS, a body cut short);
 * - `Auth`: the token exchange or the challenge could not be completed;
 * - `Redirect`: too many redirects, or one that cannot be followed;
 * - `TooLarge`: a body over its size cap (token responses, manifests, error bodies);
 * - `UnsafeUrl`: a URL from the registry that is refused (scheme downgrade, jump to a
 *   private or link-local address, not http(s));
 * - `Protocol`: an answer that breaks the protocol (a missing `Location`, a bad `Link`).
 *
 * @since 0.1.0
 */
export type RegistryErrorReason = "Status" | "Transport" | "Auth" | "Redirect" | "TooLarge" | "UnsafeUrl" | "Protocol"

/**
 * The fields a {@link RegistryError} is made from.
 *
 * @since 0.1.0
 */
export interface RegistryErrorArgs {
  readonly reason: RegistryErrorReason
  readonly method: string
  /** The request URL; redacted when the error is made. */
  readonly url: string
  readonly status?: number | undefined
  /** The decoded `errors` of the response body; empty or absent when there was none. */
  readonly errors?: ReadonlyArray<Diagnostic> | undefined
  /** A short explanation for the reasons other than `Status`, or a snippet of a non-JSON body. */
  readonly detail?: string | undefined
  /** How long the registry asked us to wait (`Retry-After`), in milliseconds. */
  readonly retryAfterMillis?: number | undefined
  readonly rateLimit?: RateLimit | undefined
  /** The system error code of a transport failure (`ECONNRESET`, `ECONNREFUSED`, ...). */
  readonly errno?: string | undefined
  readonly cause?: unknown
}

/**
 * A failed registry request. `url` is always stored redacted (no user info; query values other
 * than `scope`, `service`, `mount`, `from`, `digest`, `n`, `last` read `REDACTED`). Match
 * on `reason`, `status` and `code` (the first error code) to recover:
 * `Effect.catchIf(RegistryError.hasCode("MANIFEST_UNKNOWN"), ...)`.
 *
 * @since 0.1.0
 */
export class RegistryError extends Data.TaggedError("RegistryError")<RegistryErrorArgs> {
  constructor(args: RegistryErrorArgs) {
    super({
      ...args,
      url: Url.redact(args.url),
      ...(args.detail === undefined ? {} : { detail: Url.redactText(args.detail) })
    })
  }

  /** The first error code of the response body, if any. */
  get code(): ErrorCode | undefined {
    return this.errors?.[0]?.code
  }

  override get message(): string {
    return `${this.method} ${this.url}: ${describe(this)}`
  }
}

/**
 * True for a {@link RegistryError}.
 *
 * @since 0.1.0
 */
export const isRegistryError = (u: unknown): u is RegistryError => u instanceof RegistryError

/**
 * A predicate on errors: a {@link RegistryError} carrying the given error code in its body.
 *
 * @since 0.1.0
 */
export const hasCode = (code: ErrorCode) => (u: unknown): u is RegistryError =>
  isRegistryError(u) && (u.errors ?? []).some((d) => d.code === code)

/**
 * A predicate on errors: a {@link RegistryError} for a response with the given status.
 *
 * @since 0.1.0
 */
export const hasStatus = (status: number) => (u: unknown): u is RegistryError =>
  isRegistryError(u) && u.status === status

const statusText: Readonly<Record<number, string>> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Payload Too Large",
  416: "Range Not Satisfiable",
  429: "Too Many Requests",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  522: "Connection Timed Out"
}

const reasonText: Readonly<Record<RegistryErrorReason, string>> = {
  Status: "unexpected status",
  Transport: "transport error",
  Auth: "authentication failed",
  Redirect: "redirect not followed",
  TooLarge: "response too large",
  UnsafeUrl: "unsafe URL refused",
  Protocol: "protocol error"
}

const clip = (s: string, max = 200): string => (s.length > max ? `${s.slice(0, max)}…` : s)

const formatDiagnostic = (d: Diagnostic): string => {
  const head = d.message === "" ? d.code : `${d.code}: ${d.message}`
  if (d.detail === undefined || d.detail === null) return head
  const detail = typeof d.detail === "string" ? d.detail : JSON.stringify(d.detail) ?? ""
  return detail === "" ? head : `${head}; ${clip(Url.redactText(detail))}`
}

const formatSeconds = (millis: number): string =>
  millis % 1000 === 0 ? `${millis / 1000}s` : `${(millis / 1000).toFixed(1)}s`

const describe = (e: RegistryError): string => {
  const parts: Array<string> = []
  if (e.reason !== "Status") parts.push(reasonText[e.reason])
  const errors = e.errors ?? []
  if (e.status !== undefined && (e.reason === "Status" || e.reason === "Auth")) {
    const codes = errors.length > 0 ? errors.map(formatDiagnostic).join("; ") : statusText[e.status] ?? "status"
    parts.push(`${e.status} ${codes}`)
  }
  if (e.detail !== undefined && e.detail !== "") parts.push(clip(e.detail, 300))
  let text = parts.join(": ")
  if (e.retryAfterMillis !== undefined) text += `; retry after ${formatSeconds(e.retryAfterMillis)}`
  const rl = e.rateLimit
  if (rl !== undefined && (rl.limit !== undefined || rl.remaining !== undefined)) {
    const window = rl.windowSeconds === undefined ? "" : ` per ${rl.windowSeconds}s`
    text += `; rate limit ${rl.remaining ?? "?"} of ${rl.limit ?? "?"} left${window}`
  }
  return text
}

const DiagnosticSchema = Schema.Struct({
  code: Schema.String,
  message: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.Unknown)
})

const ErrorBody = Schema.Union(
  Schema.Struct({ errors: Schema.Array(Schema.Unknown) }),
  // OAuth2 token servers: {"error":"invalid_grant","error_description":"..."}
  Schema.Struct({ error: Schema.String, error_description: Schema.optional(Schema.String) }),
  // Docker Hub's token server: {"details":"incorrect username or password"}
  Schema.Struct({ details: Schema.String })
)

const decodeDiagnostic = Schema.decodeUnknownEither(DiagnosticSchema)
const decodeBody = Schema.decodeUnknownEither(ErrorBody)

/**
 * Decodes a registry error body (`{"errors":[{"code":...,"message":...,"detail":...}]}`, or the
 * OAuth2 and Docker Hub token-server shapes). Entries without a string `code` are skipped;
 * anything that is not such a body gives no diagnostics.
 *
 * @since 0.1.0
 */
export const decodeErrors = (body: Uint8Array | string): ReadonlyArray<Diagnostic> => {
  const text = typeof body === "string" ? body : new TextDecoder().decode(body)
  const json = Either.try(() => JSON.parse(text) as unknown)
  if (Either.isLeft(json)) return []
  const decoded = decodeBody(json.right)
  if (Either.isLeft(decoded)) return []
  const value = decoded.right
  if ("errors" in value) {
    const out: Array<Diagnostic> = []
    for (const entry of value.errors) {
      const d = decodeDiagnostic(entry)
      if (Either.isRight(d)) {
        out.push(
          d.right.detail === undefined
            ? { code: d.right.code, message: d.right.message ?? "" }
            : { code: d.right.code, message: d.right.message ?? "", detail: d.right.detail }
        )
      }
    }
    return out
  }
  if ("error" in value) return [{ code: value.error, message: value.error_description ?? "" }]
  return [{ code: "UNKNOWN", message: value.details }]
}

const windowed = (s: string): { readonly value: number; readonly window?: number } | undefined => {
  const m = /^\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?/.exec(s)
  if (m === null || m[1] === undefined) return undefined
  return m[2] === undefined ? { value: Number(m[1]) } : { value: Number(m[1]), window: Number(m[2]) }
}

/**
 * Reads Docker Hub's `RateLimit-Limit` / `RateLimit-Remaining` headers (`100;w=21600`);
 * `undefined` when neither is present.
 *
 * @since 0.1.0
 */
export const parseRateLimit = (
  headers: Readonly<Record<string, string | undefined>>
): RateLimit | undefined => {
  const limitHeader = headers["ratelimit-limit"]
  const remainingHeader = headers["ratelimit-remaining"]
  const limit = limitHeader === undefined ? undefined : windowed(limitHeader)
  const remaining = remainingHeader === undefined ? undefined : windowed(remainingHeader)
  if (limit === undefined && remaining === undefined) return undefined
  const windowSeconds = limit?.window ?? remaining?.window
  return {
    ...(limit === undefined ? {} : { limit: limit.value }),
    ...(remaining === undefined ? {} : { remaining: remaining.value }),
    ...(windowSeconds === undefined ? {} : { windowSeconds })
  }
}
