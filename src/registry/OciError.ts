/**
 * The failures the registry server answers with: an error code of the OCI distribution spec,
 * the HTTP status it goes with, and a human detail. Every handler fails with an
 * {@link OciError}; the app turns it into the spec's error body
 * `{"errors":[{"code","message","detail"}]}` with {@link toResponse}.
 *
 * @since 0.1.0
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Data from "effect/Data"

/**
 * The error codes of the distribution spec, plus `UNKNOWN` for server-side failures (which
 * the spec leaves to the registry).
 *
 * @since 0.1.0
 */
export type ErrorCode =
  | "BLOB_UNKNOWN"
  | "BLOB_UPLOAD_INVALID"
  | "BLOB_UPLOAD_UNKNOWN"
  | "DIGEST_INVALID"
  | "MANIFEST_BLOB_UNKNOWN"
  | "MANIFEST_INVALID"
  | "MANIFEST_UNKNOWN"
  | "NAME_INVALID"
  | "NAME_UNKNOWN"
  | "SIZE_INVALID"
  | "UNAUTHORIZED"
  | "DENIED"
  | "UNSUPPORTED"
  | "TOOMANYREQUESTS"
  | "UNKNOWN"

/**
 * What each code means (the spec's descriptions) and the status it has unless a failure
 * says otherwise.
 *
 * @since 0.1.0
 */
export const codes: { readonly [C in ErrorCode]: { readonly description: string; readonly status: number } } = {
  BLOB_UNKNOWN: { description: "blob unknown to registry", status: 404 },
  BLOB_UPLOAD_INVALID: { description: "blob upload invalid", status: 400 },
  BLOB_UPLOAD_UNKNOWN: { description: "blob upload unknown to registry", status: 404 },
  DIGEST_INVALID: { description: "provided digest did not match uploaded content", status: 400 },
  MANIFEST_BLOB_UNKNOWN: { description: "manifest references a manifest or blob unknown to registry", status: 400 },
  MANIFEST_INVALID: { description: "manifest invalid", status: 400 },
  MANIFEST_UNKNOWN: { description: "manifest unknown to registry", status: 404 },
  NAME_INVALID: { description: "invalid repository name", status: 400 },
  NAME_UNKNOWN: { description: "repository name not known to registry", status: 404 },
  SIZE_INVALID: { description: "provided length did not match content length", status: 400 },
  UNAUTHORIZED: { description: "authentication required", status: 401 },
  DENIED: { description: "requested access to the resource is denied", status: 403 },
  UNSUPPORTED: { description: "the operation is unsupported", status: 405 },
  TOOMANYREQUESTS: { description: "too many requests", status: 429 },
  UNKNOWN: { description: "unknown error", status: 500 }
}

/**
 * A request the registry refuses or could not serve. `code` is the spec's error code,
 * `status` the HTTP status, `detail` says what exactly went wrong; `headers` go on the
 * response too (`Range` and `Location` on a 416 of an upload, `Allow` on a 405).
 *
 * @since 0.1.0
 */
export class OciError extends Data.TaggedError("OciError")<{
  readonly code: ErrorCode
  readonly status: number
  readonly detail: string
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.code} (${this.status}): ${this.detail}`
  }
}

/**
 * An {@link OciError} with the code's usual status unless one is given.
 *
 * @since 0.1.0
 */
export const make = (
  code: ErrorCode,
  detail: string,
  options: {
    readonly status?: number | undefined
    readonly headers?: Readonly<Record<string, string>> | undefined
    readonly cause?: unknown
  } = {}
): OciError =>
  new OciError({
    code,
    status: options.status ?? codes[code].status,
    detail,
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
    ...(options.cause !== undefined ? { cause: options.cause } : {})
  })

/**
 * The JSON body of an error response, as the spec has it.
 *
 * @since 0.1.0
 */
export const toJson = (error: OciError): {
  readonly errors: ReadonlyArray<{ readonly code: string; readonly message: string; readonly detail: string }>
} => ({
  errors: [{ code: error.code, message: codes[error.code].description, detail: error.detail }]
})

/**
 * The HTTP response for an error: its status, its headers and the JSON error body.
 *
 * @since 0.1.0
 */
export const toResponse = (error: OciError): HttpServerResponse.HttpServerResponse => {
  const body = new TextEncoder().encode(JSON.stringify(toJson(error)))
  return HttpServerResponse.uint8Array(body, {
    status: error.status,
    contentType: "application/json",
    headers: { ...error.headers, "content-length": String(body.byteLength) }
  })
}
