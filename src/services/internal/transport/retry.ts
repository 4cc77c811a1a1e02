/**
 * The retry policy of registry requests: which failures are worth another try (connection
 * failures and the statuses ggcr retries), and the `Schedule` that spaces the tries
 * (exponential backoff with jitter, at least as long as the registry's `Retry-After`).
 *
 * @since 0.1.0
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"
import type * as RegistryError from "../../RegistryError.js"

/**
 * How requests are retried.
 *
 * @since 0.1.0
 */
export interface RetrySettings {
  /** Tries in all, the first included; 1 turns retries off. */
  readonly attempts: number
  /** The wait before the second try; each later wait is `factor` times longer (with jitter). */
  readonly base: Duration.DurationInput
  readonly factor: number
  /**
   * The longest `Retry-After` honoured; a registry asking for a longer wait is not retried,
   * so the caller sees the error (which carries the wait) at once.
   */
  readonly maxRetryAfter: Duration.DurationInput
  /** Response statuses that are retried. */
  readonly statuses: ReadonlyArray<number>
}

/**
 * ggcr's retried statuses: 408, 429, 499 (nginx), 500, 502, 503, 504, 522 (Cloudflare).
 *
 * @since 0.1.0
 */
export const defaultStatuses: ReadonlyArray<number> = [408, 429, 499, 500, 502, 503, 504, 522]

/**
 * ggcr's defaults: three tries, waiting about 1 s and then 3 s; `Retry-After` up to a minute.
 *
 * @since 0.1.0
 */
export const defaults: RetrySettings = {
  attempts: 3,
  base: Duration.seconds(1),
  factor: 3,
  maxRetryAfter: Duration.minutes(1),
  statuses: defaultStatuses
}

// System errors that will not go away by trying again.
const permanent: ReadonlySet<string> = new Set([
  "ENOTFOUND",
  "EPROTO",
  "EACCES",
  "ERR_INVALID_URL",
  "ERR_INVALID_ARG_TYPE",
  "ERR_INVALID_HTTP_TOKEN",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"
])

/**
 * True for a failure worth another try: a transport failure (connection refused, reset,
 * cut short, timed out; not DNS or TLS certificate errors), or a response whose status is
 * one of `statuses` and whose `Retry-After`, if any, is at most `maxRetryAfter`. Never other
 * 4xx, never a refused URL or an oversized body.
 *
 * @since 0.1.0
 */
export const isRetryable = (
  error: RegistryError.RegistryError,
  settings: Pick<RetrySettings, "statuses" | "maxRetryAfter"> = defaults
): boolean => {
  switch (error.reason) {
    case "Transport":
      return !isBodyFailure(error) && (error.errno === undefined || !permanent.has(error.errno))
    case "Status":
    case "Auth":
      return error.status !== undefined &&
        settings.statuses.includes(error.status) &&
        (error.retryAfterMillis === undefined ||
          error.retryAfterMillis <= Duration.toMillis(settings.maxRetryAfter))
    default:
      return false
  }
}

const isBodyFailure = (error: RegistryError.RegistryError): boolean =>
  error.detail?.startsWith("the request body failed") === true

/**
 * The retry `Schedule` for registry requests: up to `attempts` tries, exponential backoff
 * from `base` by `factor` with jitter, each wait stretched to the failure's `Retry-After`, and
 * only while the failure {@link isRetryable}.
 *
 * @since 0.1.0
 */
export const policy = (
  settings: RetrySettings = defaults
): Schedule.Schedule<unknown, RegistryError.RegistryError> =>
  Schedule.exponential(settings.base, settings.factor).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(Math.max(0, settings.attempts - 1))),
    Schedule.intersect(Schedule.identity<RegistryError.RegistryError>()),
    Schedule.whileInput((error: RegistryError.RegistryError) => isRetryable(error, settings)),
    Schedule.modifyDelay(([, error], delay) =>
      error.retryAfterMillis === undefined ? delay : Duration.max(delay, Duration.millis(error.retryAfterMillis))
    )
  )
