/**
 * Pipes a byte stream through a Node Transform (zlib, a tar rewriter) with backpressure on
 * every write. @effect/platform-node's `pipeThroughDuplex` resumes after the last element of
 * each chunk without waiting for `drain`, so a fast producer of one-element chunks fills the
 * transform's buffer without bound (a 1 GiB layer gzipped that way held hundreds of MiB).
 * Here each write that returns false waits for `drain` before the next element is pulled.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as NodeStream from "@effect/platform-node/NodeStream"
import type { Duplex } from "node:stream"

const write = (duplex: Duplex, bytes: Uint8Array): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (duplex.write(bytes)) {
      resume(Effect.void)
      return
    }
    const go = () => {
      duplex.off("close", go)
      duplex.off("drain", go)
      resume(Effect.void)
    }
    duplex.once("drain", go)
    duplex.once("close", go)
    return Effect.sync(() => {
      duplex.off("drain", go)
      duplex.off("close", go)
    })
  })

const end = (duplex: Duplex): Effect.Effect<void> =>
  Effect.sync(() => {
    duplex.end()
  })

/** Streams `input` through the transform `make()` builds, failing with `onError` on its errors. */
export const pipeThrough = <E, R, E2>(
  input: Stream.Stream<Uint8Array, E, R>,
  make: () => Duplex,
  onError: (error: unknown) => E2
): Stream.Stream<Uint8Array, E | E2, R> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const duplex = make()
      let inputFailure: Cause.Cause<E> | undefined
      yield* Effect.addFinalizer(() => Effect.sync(() => duplex.destroy()))
      yield* Stream.runForEach(input, (bytes) => write(duplex, bytes)).pipe(
        Effect.zipRight(end(duplex)),
        Effect.catchAllCause((cause) =>
          Effect.sync(() => {
            inputFailure = cause
            duplex.destroy(new Error("input stream failed"))
          })
        ),
        Effect.forkScoped
      )
      const output: Stream.Stream<Uint8Array, E | E2> = NodeStream.fromReadable<E2, Uint8Array>(
        () => duplex,
        onError
      )
      return output.pipe(
        Stream.catchAllCause((cause) =>
          inputFailure !== undefined && !Cause.isInterruptedOnly(inputFailure)
            ? Stream.failCause(inputFailure)
            : Stream.failCause(cause)
        )
      )
    })
  )
