/**
 * A small keyed cache for the transport's pings, tokens and credentials: one computation in
 * flight per key (concurrent callers wait for it), successes kept for a lifetime chosen from
 * the value, failures never kept. Time comes from the `Clock`, so tests can move it.
 *
 * @since 0.1.0
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

interface Entry<A, E> {
  readonly deferred: Deferred.Deferred<A, E>
  expiresAt: number
}

/**
 * A keyed cache of values of type `A` whose computations fail with `E`.
 *
 * @since 0.1.0
 */
export interface KeyedCache<A, E> {
  /**
   * The value for `key`: the cached one while it lives, else the result of `compute`, kept
   * for `lifetimeMillis(value)` milliseconds (`Infinity` for ever).
   */
  readonly get: <R>(
    key: string,
    compute: Effect.Effect<A, E, R>,
    lifetimeMillis: (value: A) => number
  ) => Effect.Effect<A, E, R>
  /** Forgets the value for `key` (a computation in flight finishes for its waiters). */
  readonly invalidate: (key: string) => Effect.Effect<void>
}

/**
 * Makes an empty {@link KeyedCache}.
 *
 * @since 0.1.0
 */
export const make = <A, E>(): KeyedCache<A, E> => {
  const entries = new Map<string, Entry<A, E>>()
  const get = <R>(
    key: string,
    compute: Effect.Effect<A, E, R>,
    lifetimeMillis: (value: A) => number
  ): Effect.Effect<A, E, R> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const hit = entries.get(key)
      if (hit !== undefined && hit.expiresAt > now) {
        // A computation interrupted by its own caller does not fail the others: they retry.
        return yield* Deferred.await(hit.deferred).pipe(
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause) ? get(key, compute, lifetimeMillis) : Effect.failCause(cause)
          )
        )
      }
      const entry: Entry<A, E> = { deferred: yield* Deferred.make<A, E>(), expiresAt: Number.POSITIVE_INFINITY }
      entries.set(key, entry)
      return yield* compute.pipe(
        Effect.onExit((exit) =>
          Effect.gen(function*() {
            if (Exit.isSuccess(exit)) {
              const done = yield* Clock.currentTimeMillis
              entry.expiresAt = done + lifetimeMillis(exit.value)
            } else if (entries.get(key) === entry) {
              entries.delete(key)
            }
            yield* Deferred.done(entry.deferred, exit)
          })
        )
      )
    })
  const invalidate = (key: string) => Effect.sync(() => void entries.delete(key))
  return { get, invalidate }
}
