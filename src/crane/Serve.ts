/**
 * Serving the embedded registry (`crane registry serve`): on an address of the caller's
 * choosing, keeping its content in memory or in a directory, until interrupted. While it
 * serves, uploads abandoned by their clients are purged now and then, as distribution does.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import type * as Path from "@effect/platform/Path"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Registry from "../registry/Registry.js"
import * as BlobStore from "../services/BlobStore.js"
import type * as ManifestStore from "../services/ManifestStore.js"

/**
 * An address that cannot be listened on as written.
 *
 * @since 0.1.0
 */
export class InvalidAddress extends Data.TaggedError("InvalidAddress")<{
  readonly input: string
  readonly detail: string
}> {
  override get message(): string {
    return `invalid address ${JSON.stringify(this.input)}: ${this.detail}`
  }
}

/**
 * Where to listen: a host (empty for the default) and a port (0 for any free one).
 *
 * @since 0.1.0
 */
export interface Address {
  readonly host: string
  readonly port: number
}

/**
 * The host listened on when an address names none: the loopback interface, so that a
 * registry is not exposed to the network unless asked for (`--address 0.0.0.0:5000`).
 *
 * @since 0.1.0
 */
export const defaultHost = "127.0.0.1"

/**
 * Parses `host:port`, `:port`, `port`, `[::1]:port` or `host` (any free port).
 *
 * @since 0.1.0
 */
export const parseAddress = (input: string): Either.Either<Address, InvalidAddress> => {
  const fail = (detail: string) => Either.left(new InvalidAddress({ input, detail }))
  const text = input.trim()
  let host = text
  let port = "0"
  if (text.startsWith("[")) {
    const close = text.indexOf("]")
    if (close < 0) return fail("an IPv6 address needs its closing ']'")
    host = text.slice(1, close)
    const rest = text.slice(close + 1)
    if (rest !== "") {
      if (!rest.startsWith(":")) return fail("only ':port' may follow a bracketed IPv6 address")
      port = rest.slice(1)
    }
  } else if (/^\d+$/.test(text)) {
    host = ""
    port = text
  } else {
    const colon = text.lastIndexOf(":")
    if (colon >= 0) {
      if (text.indexOf(":") !== colon) return fail("an IPv6 address must be written in brackets, as in [::1]:5000")
      host = text.slice(0, colon)
      port = text.slice(colon + 1)
    }
  }
  const n = Number(port)
  if (!/^\d{1,5}$/.test(port) || n > 65535) return fail(`port ${JSON.stringify(port)} is not a number from 0 to 65535`)
  return Either.right({ host, port: n })
}

/**
 * When abandoned uploads are purged: every `interval` (once at start, then after each
 * interval), the uploads started more than `olderThan` ago go, with what they hold.
 *
 * @since 0.1.0
 */
export interface PurgeUploadsOptions {
  /** How often to purge; {@link defaultPurgeInterval} by default. */
  readonly interval?: Duration.DurationInput | undefined
  /** How old an upload must be to go; {@link defaultPurgeOlderThan} by default. */
  readonly olderThan?: Duration.DurationInput | undefined
}

/**
 * How often abandoned uploads are purged by default: hourly (distribution: daily).
 *
 * @since 0.1.0
 */
export const defaultPurgeInterval: Duration.Duration = Duration.hours(1)

/**
 * How old an upload must be to be purged by default: a day (distribution: a week). Long
 * enough for any client still resuming it; short enough that abandoned uploads of a busy
 * registry do not pile up for long.
 *
 * @since 0.1.0
 */
export const defaultPurgeOlderThan: Duration.Duration = Duration.days(1)

/**
 * Options of {@link serve}.
 *
 * @since 0.1.0
 */
export interface ServeOptions {
  /** Where to listen; `127.0.0.1` on a free port by default. */
  readonly address?: Address | undefined
  /** Keep content in this directory (created when missing); in memory when absent. */
  readonly disk?: string | undefined
  /** Log each request (at info level). */
  readonly logRequests?: boolean | undefined
  /** Allow deletes; true by default. */
  readonly deleteEnabled?: boolean | undefined
  /** When to purge abandoned uploads (hourly, those over a day old, by default); `false` never to. */
  readonly purgeUploads?: PurgeUploadsOptions | false | undefined
}

/**
 * Purges abandoned uploads of the {@link BlobStore.BlobStore} at once and then every
 * interval, on a fiber that lives as long as the layer. A purge that fails is logged as a
 * warning and tried again at the next interval; one that removes uploads logs how many.
 *
 * @since 0.1.0
 */
export const purgeUploadsLayer = (options: PurgeUploadsOptions = {}): Layer.Layer<never, never, BlobStore.BlobStore> =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const store = yield* BlobStore.BlobStore
      const olderThan = options.olderThan ?? defaultPurgeOlderThan
      const once = store.purgeUploads(olderThan).pipe(
        Effect.tap((purged) =>
          purged > 0
            ? Effect.logInfo(`purged ${purged} upload(s) older than ${Duration.format(olderThan)}`)
            : Effect.void
        ),
        Effect.catchAll((error) => Effect.logWarning(`purging old uploads failed: ${error.message}`))
      )
      yield* Effect.forkScoped(Effect.repeat(once, Schedule.spaced(options.interval ?? defaultPurgeInterval)))
    })
  )

/**
 * How serving may fail: the address cannot be listened on, or the directory cannot be used.
 *
 * @since 0.1.0
 */
export type ServeError = HttpServerError.ServeError | BlobStore.BlobStoreError | ManifestStore.ManifestStoreError

/**
 * The registry server as a layer: listening while the layer lives, with the stores the
 * options ask for, purging abandoned uploads (see {@link purgeUploadsLayer}) unless told not to.
 *
 * @since 0.1.0
 */
export const layer = (
  options: ServeOptions = {}
): Layer.Layer<HttpServer.HttpServer, ServeError, FileSystem.FileSystem | Path.Path> => {
  const address = options.address ?? { host: defaultHost, port: 0 }
  const stores: Layer.Layer<Registry.Stores, ServeError, FileSystem.FileSystem | Path.Path> =
    options.disk === undefined ? Registry.layerMemory : Registry.layerFileSystem(options.disk)
  const server = Registry.layerServer({
    host: address.host === "" ? defaultHost : address.host,
    port: address.port,
    ...(options.deleteEnabled !== undefined ? { deleteEnabled: options.deleteEnabled } : {}),
    ...(options.logRequests === true ? { logger: Registry.logRequest } : {})
  })
  const purger = options.purgeUploads === false ? Layer.empty : purgeUploadsLayer(options.purgeUploads)
  return Layer.merge(server, purger).pipe(Layer.provide(stores))
}

/**
 * The `host:port` a running server listens on (`127.0.0.1:41234`), for references.
 *
 * @since 0.1.0
 */
export const address: Effect.Effect<string, never, HttpServer.HttpServer> = Effect.map(
  Registry.url,
  (url) => url.replace(/^[a-z]+:\/\//, "")
)

/**
 * Serves the registry until interrupted, telling `onListening` the `host:port` it listens on
 * once it does.
 *
 * @since 0.1.0
 */
export const serve = <E, R>(
  options: ServeOptions,
  onListening: (address: string) => Effect.Effect<void, E, R>
): Effect.Effect<never, ServeError | E, FileSystem.FileSystem | Path.Path | R> =>
  Layer.launch(Layer.effectDiscard(Effect.flatMap(address, onListening)).pipe(Layer.provide(layer(options))))
