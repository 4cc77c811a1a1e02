/**
 * Keyed mutual exclusion inside one process: effects run under the same key run one at a
 * time, effects under different keys run freely. The stores use it to serialise the writers
 * of one upload session or one repository. Entries are dropped when nobody holds or awaits
 * them, so the map stays as small as the set of busy keys.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

/** @internal */
export interface KeyedLock {
  readonly withLock: (key: string) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

interface Entry {
  readonly semaphore: Effect.Semaphore
  users: number
}

/** @internal */
export const make: Effect.Effect<KeyedLock> = Effect.sync(() => {
  const entries = new Map<string, Entry>()
  const withLock =
    (key: string) =>
    <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          let entry = entries.get(key)
          if (entry === undefined) {
            entry = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 }
            entries.set(key, entry)
          }
          const held = entry
          held.users++
          return restore(held.semaphore.withPermits(1)(self)).pipe(
            Effect.ensuring(
              Effect.sync(() => {
                held.users--
                if (held.users === 0) entries.delete(key)
              })
            )
          )
        })
      )
  return { withLock }
})
