/**
 * Transfer progress, as ggcr's `v1.Update` channel: what a push or pull reports while bytes
 * flow, for a command line to draw bars from. Each blob or manifest is one transfer, named by
 * its digest: it is started, advanced as chunks pass (the byte count so far, one event per
 * chunk), and done; or skipped, when the registry already has it or mounted it.
 *
 * Progress is a service with a no-op default: operations look it up when they start and
 * report nothing when there is none.
 * ```ts
 * const events = yield* Ref.make(Chunk.empty<Progress.Event>())
 * yield* Remote.write(ref, image).pipe(Effect.provide(Progress.layerRef(events)))
 * ```
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"

/**
 * Which way a transfer goes.
 *
 * @since 0.1.0
 */
export type Direction = "Upload" | "Download"

/**
 * A transfer began (or began again from its first byte, after a failed attempt).
 *
 * @since 0.1.0
 */
export interface Start {
  readonly _tag: "Start"
  /** The digest of what is transferred. */
  readonly id: string
  /** Its size in bytes; `undefined` while unknown (a stream layer). */
  readonly total: number | undefined
  readonly direction: Direction
}

/**
 * Bytes went through: `bytes` is the count so far for this transfer.
 *
 * @since 0.1.0
 */
export interface Advance {
  readonly _tag: "Advance"
  readonly id: string
  readonly total: number | undefined
  readonly direction: Direction
  readonly bytes: number
}

/**
 * Nothing needed to be sent: the registry had the content (`Exists`) or linked it from
 * another repository (`Mounted`).
 *
 * @since 0.1.0
 */
export interface Skip {
  readonly _tag: "Skip"
  readonly id: string
  readonly total: number | undefined
  readonly direction: Direction
  readonly reason: "Exists" | "Mounted"
}

/**
 * A transfer finished: all `bytes` went through.
 *
 * @since 0.1.0
 */
export interface Done {
  readonly _tag: "Done"
  readonly id: string
  readonly total: number | undefined
  readonly direction: Direction
  readonly bytes: number
}

/**
 * A progress event.
 *
 * @since 0.1.0
 */
export type Event = Start | Advance | Skip | Done

/**
 * Receives progress events. Reporting must be cheap: it runs once per chunk.
 *
 * @since 0.1.0
 */
export interface Progress {
  readonly report: (event: Event) => Effect.Effect<void>
}

/**
 * The service tag of {@link Progress}.
 *
 * @since 0.1.0
 */
export const Progress: Context.Tag<Progress, Progress> = Context.GenericTag<Progress>(
  "effect-containerregistry/Progress"
)

/**
 * Builds a {@link Progress} from its operation.
 *
 * @since 0.1.0
 */
export const make = (report: Progress["report"]): Progress => Progress.of({ report })

/**
 * The progress that ignores everything (the default). Streams are not even counted.
 *
 * @since 0.1.0
 */
export const none: Progress = make(() => Effect.void)

/**
 * A progress that appends every event to a `Ref` (for tests).
 *
 * @since 0.1.0
 */
export const collect = (ref: Ref.Ref<Chunk.Chunk<Event>>): Progress =>
  make((event) => Ref.update(ref, Chunk.append(event)))

/**
 * Provides the progress that ignores everything.
 *
 * @since 0.1.0
 */
export const layerNone: Layer.Layer<Progress> = Layer.succeed(Progress, none)

/**
 * Provides a progress that appends every event to a `Ref` (see {@link collect}).
 *
 * @since 0.1.0
 */
export const layerRef = (ref: Ref.Ref<Chunk.Chunk<Event>>): Layer.Layer<Progress> =>
  Layer.succeed(Progress, collect(ref))

/**
 * The progress in the context, if any: what operations report to when the caller names none.
 *
 * @since 0.1.0
 */
export const current: Effect.Effect<Option.Option<Progress>> = Effect.serviceOption(Progress)

/**
 * What a tracked transfer is.
 *
 * @since 0.1.0
 */
export interface Transfer {
  readonly id: string
  readonly total: number | undefined
  readonly direction: Direction
}

/**
 * Reports a byte stream as one transfer each time it runs: `Start` when it is opened, an
 * `Advance` per chunk (one counter, no copying) and `Done` at its end. With {@link none} the
 * stream is returned as it is.
 *
 * @since 0.1.0
 */
export const track: {
  (progress: Progress, transfer: Transfer): <E, R>(stream: Stream.Stream<Uint8Array, E, R>) => Stream.Stream<
    Uint8Array,
    E,
    R
  >
  <E, R>(stream: Stream.Stream<Uint8Array, E, R>, progress: Progress, transfer: Transfer): Stream.Stream<
    Uint8Array,
    E,
    R
  >
} = dual(
  3,
  <E, R>(stream: Stream.Stream<Uint8Array, E, R>, progress: Progress, transfer: Transfer) => {
    if (progress === none) return stream
    const { direction, id, total } = transfer
    return Stream.suspend(() => {
      let bytes = 0
      return Stream.execute(progress.report({ _tag: "Start", id, total, direction })).pipe(
        Stream.concat(
          Stream.mapChunksEffect(stream, (chunk) => {
            for (const part of chunk) bytes += part.byteLength
            return Effect.as(progress.report({ _tag: "Advance", id, total, direction, bytes }), chunk)
          })
        ),
        Stream.concat(Stream.execute(Effect.suspend(() => progress.report({ _tag: "Done", id, total, direction, bytes }))))
      )
    })
  }
)
