/**
 * Lazy, memoized Effects for image accessors: the first run computes, later runs reuse the
 * value. Only successes are kept: a failed or interrupted computation is tried again by the
 * next caller, so a transient network error does not poison an image value.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"

/** Wraps an Effect so that it runs at most once successfully; concurrent callers share the run. */
export const memoize = <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  let done: Exit.Exit<A, never> | undefined
  let inflight: Deferred.Deferred<A, E> | undefined
  const run: Effect.Effect<A, E> = Effect.suspend(() => {
    if (done !== undefined) return done
    if (inflight !== undefined) {
      const waiting = inflight
      return Deferred.await(waiting).pipe(
        // The run we waited on was interrupted: start (or join) a fresh one.
        Effect.onInterrupt(() => Effect.void),
        Effect.catchAllCause((cause) => (Exit.isInterrupted(Exit.failCause(cause)) ? run : Effect.failCause(cause)))
      )
    }
    const deferred = Deferred.unsafeMake<A, E>(FiberId.none)
    inflight = deferred
    return self.pipe(
      Effect.onExit((exit) =>
        Effect.suspend(() => {
          if (inflight === deferred) inflight = undefined
          if (Exit.isSuccess(exit)) done = Exit.succeed(exit.value)
          return Deferred.done(deferred, exit)
        })
      )
    )
  })
  return run
}

/** Memoizes a function of one string-like key (e.g. a digest), one cell per key. */
export const memoizeBy = <K, A, E>(f: (key: K) => Effect.Effect<A, E>): ((key: K) => Effect.Effect<A, E>) => {
  const cells = new Map<K, Effect.Effect<A, E>>()
  return (key) => {
    let cell = cells.get(key)
    if (cell === undefined) {
      cell = memoize(f(key))
      cells.set(key, cell)
    }
    return cell
  }
}
