/**
 * An HTTP body read straight from the event-emitting source under a platform message (Node's
 * `IncomingMessage` under @effect/platform-node's client responses and server requests), with
 * an idle timeout built in.
 *
 * The generic path (the message's `stream`, with `Stream.timeoutFail` around it for a client)
 * costs a timer race per read and, in @effect/platform-node, a `Buffer.concat` of whatever was
 * buffered at each read. Here the pieces the socket delivers are queued as they come and
 * handed on as one chunk, never copied; the source is paused while the queue holds
 * `highWaterMark` bytes and resumed when it is taken, so the socket keeps being read while the
 * consumer works (a file write, a hash) and memory stays bounded. The idle timer runs only
 * while the consumer waits.
 *
 * The source is recognised by shape, so this module needs nothing from Node; a message without
 * such a source keeps the generic path.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"

/**
 * The part of a Node `Readable` this reader uses.
 *
 * @internal
 */
export interface EventSource {
  readonly readable: boolean
  readonly readableEnded: boolean
  readonly on: (event: string, listener: (...args: Array<unknown>) => void) => unknown
  readonly off: (event: string, listener: (...args: Array<unknown>) => void) => unknown
  readonly pause: () => unknown
  readonly resume: () => unknown
  readonly destroy: () => unknown
}

/**
 * The event source under a platform message (client response or server request), when it has
 * one of the expected shape. Wrappers that keep the message as `original` (@effect/platform's
 * client wraps every response so that an unread one is aborted) are looked through: once the
 * body has been read to its end, aborting the request is a no-op, as it is when the
 * wrapper's own stream ends.
 *
 * @internal
 */
export const sourceOf = (message: unknown): EventSource | undefined => {
  let current = message
  for (let depth = 0; depth < 4 && Predicate.isObject(current); depth++) {
    if (Predicate.hasProperty(current, "source")) {
      const source = current.source
      return isEventSource(source) ? source : undefined
    }
    current = Predicate.hasProperty(current, "original") ? current.original : undefined
  }
  return undefined
}

const isEventSource = (source: unknown): source is EventSource =>
  Predicate.hasProperty(source, "on") &&
  Predicate.hasProperty(source, "off") &&
  Predicate.hasProperty(source, "pause") &&
  Predicate.hasProperty(source, "resume") &&
  Predicate.hasProperty(source, "destroy") &&
  Predicate.hasProperty(source, "readable") &&
  Predicate.hasProperty(source, "readableEnded") &&
  typeof source.on === "function" && typeof source.pause === "function"

/**
 * Bytes queued before the source is paused: enough to keep the socket read while a file write
 * or a hash runs, and small enough that the pieces die young. Each piece is a fresh buffer;
 * held longer (a 2 MiB queue), many survive two scavenges, are promoted, and then only a full
 * mark-compact frees them: a 1 GiB pull ran ~55 of those and spent ~15% more CPU than with
 * this limit.
 */
const highWaterMark = 256 * 1024

class PrematureClose extends Error {
  readonly code = "ECONNRESET"
  constructor() {
    super("the connection closed before the body ended")
  }
}

/**
 * Options of {@link stream}.
 *
 * @internal
 */
export interface Options<E> {
  /** Fail with `onIdle()` when no bytes come for `millis` while the consumer waits. */
  readonly idle?: { readonly millis: number; readonly onIdle: () => E } | undefined
  /**
   * The message the source came from, kept reachable until the stream ends: @effect/platform's
   * client aborts a request whose response object is garbage collected, and nothing else here
   * refers to it while the body is read.
   */
  readonly owner?: unknown
}

/**
 * The bytes of `source` as a stream: `onError` makes the failure of a source error (or of a
 * close before the end). The source is destroyed when the stream stops before its end.
 *
 * @internal
 */
export const stream = <E>(
  source: EventSource,
  onError: (cause: unknown) => E,
  options: Options<E> = {}
): Stream.Stream<Uint8Array, E> =>
  Stream.suspend(() => {
    if (!source.readable) return Stream.empty
    let queue: Array<Uint8Array> = []
    let queued = 0
    let paused = false
    let ended = false
    let failure: Option.Option<E> = Option.none()
    let wake: (() => void) | undefined

    const notify = () => {
      const w = wake
      wake = undefined
      if (w !== undefined) w()
    }
    const onData = (...args: Array<unknown>) => {
      const bytes = args[0]
      if (!(bytes instanceof Uint8Array)) return
      queue.push(bytes)
      queued += bytes.byteLength
      if (queued >= highWaterMark && !paused) {
        paused = true
        source.pause()
      }
      notify()
    }
    const onEnd = () => {
      ended = true
      notify()
    }
    const onFailure = (...args: Array<unknown>) => {
      if (!ended && Option.isNone(failure)) failure = Option.some(onError(args[0]))
      notify()
    }
    const onClose = () => {
      if (!ended && Option.isNone(failure)) failure = Option.some(onError(new PrematureClose()))
      notify()
    }
    const { idle, owner } = options
    if (owner !== undefined) reading.add(owner)
    source.on("data", onData)
    source.on("end", onEnd)
    source.on("error", onFailure)
    source.on("close", onClose)

    const take = (): Chunk.Chunk<Uint8Array> => {
      const out = queue
      queue = []
      queued = 0
      if (paused) {
        paused = false
        source.resume()
      }
      return Chunk.unsafeFromArray(out)
    }

    const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<E>> = Effect.suspend(() => {
      if (queue.length > 0) return Effect.succeed(take())
      if (Option.isSome(failure)) return Effect.fail(failure)
      if (ended) return Effect.fail(Option.none())
      return Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<E>>((resume) => {
        const timer = idle !== undefined && Number.isFinite(idle.millis)
          ? setTimeout(() => {
            if (Option.isNone(failure)) failure = Option.some(idle.onIdle())
            notify()
          }, idle.millis)
          : undefined
        wake = () => {
          if (timer !== undefined) clearTimeout(timer)
          resume(pull)
        }
        return Effect.sync(() => {
          wake = undefined
          if (timer !== undefined) clearTimeout(timer)
        })
      })
    })

    return Stream.repeatEffectChunkOption(pull).pipe(
      Stream.ensuring(Effect.sync(() => {
        source.off("data", onData)
        source.off("end", onEnd)
        source.off("error", onFailure)
        source.off("close", onClose)
        // Keep a late error from becoming an unhandled 'error' event.
        source.on("error", ignore)
        if (!source.readableEnded) source.destroy()
        reading.delete(owner)
      }))
    )
  })

const ignore = () => {}

// The messages whose bodies are being read, held so that they stay reachable.
const reading = new Set<unknown>()
