/**
 * The registry transport a crane program runs on, as crane sets it up: Node's HTTP client with
 * keep-alive, credentials from docker's `config.json` and credential helpers (or a keychain of
 * the caller's choosing), a user agent, optionally any TLS certificate accepted (`--insecure`),
 * and optionally every HTTP request logged (`--verbose`) without its secrets.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as KeychainDockerConfig from "../layers/KeychainDockerConfig.js"
import * as Keychain from "../services/Keychain.js"
import * as RegistryTransport from "../services/RegistryTransport.js"

/**
 * How the transport is set up; every option has a default.
 *
 * @since 0.1.0
 */
export interface TransportOptions {
  /** Appended to the `User-Agent` header. */
  readonly userAgent?: string | undefined
  /** Accept any TLS certificate (self-signed registries), as crane's `--insecure`. */
  readonly insecure?: boolean | undefined
  /** Where credentials come from; docker's `config.json` and credential helpers by default. */
  readonly keychain?: Keychain.Keychain | undefined
  /** Log every HTTP request and its answer at debug level (method, URL without secrets, status). */
  readonly logRequests?: boolean | undefined
  /** Retry settings of the transport; `false` for a single try. */
  readonly retry?: RegistryTransport.Options["retry"]
}

const VISIBLE = new Set(["scope", "service", "mount", "from", "digest", "n", "last"])

/**
 * A URL as the request log shows it: no user info, and query values other than the
 * protocol's own (`scope`, `service`, `mount`, `from`, `digest`, `n`, `last`) replaced.
 *
 * @since 0.1.0
 */
export const redactUrl = (input: string): string => {
  if (!URL.canParse(input)) return input.replace(/\?.*$/, "?REDACTED")
  const url = new URL(input)
  url.username = ""
  url.password = ""
  url.hash = ""
  if (url.search !== "") {
    const params = new URLSearchParams()
    for (const [key, value] of url.searchParams) params.append(key, VISIBLE.has(key) ? value : "REDACTED")
    url.search = params.toString()
  }
  return url.toString()
}

const describe = (request: HttpClientRequest.HttpClientRequest): string => {
  const query = request.urlParams.length > 0
    ? `?${new URLSearchParams(request.urlParams.map(([k, v]) => [k, v] as [string, string])).toString()}`
    : ""
  return `${request.method} ${redactUrl(`${request.url}${query}`)}`
}

/**
 * Wraps an HTTP client so that each request is logged at debug level when sent and when
 * answered. Headers are not logged, so no credential ever reaches the log.
 *
 * @since 0.1.0
 */
export const logging = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.transform(client, (effect, request) =>
    Effect.gen(function* () {
      const line = describe(request)
      yield* Effect.logDebug(`--> ${line}`)
      const start = yield* Clock.currentTimeMillis
      return yield* effect.pipe(
        Effect.tap((response) =>
          Effect.flatMap(Clock.currentTimeMillis, (end) =>
            Effect.logDebug(`<-- ${response.status} ${line} (${end - start} ms)`)
          )
        ),
        Effect.tapError((error) => Effect.logDebug(`<-- failed ${line}: ${error._tag}`))
      )
    }))

const httpClient = (options: TransportOptions): Layer.Layer<HttpClient.HttpClient> => {
  const node = NodeHttpClient.layerWithoutAgent.pipe(
    Layer.provide(
      NodeHttpClient.makeAgentLayer({ keepAlive: true, ...(options.insecure === true ? { rejectUnauthorized: false } : {}) })
    )
  )
  return options.logRequests === true
    ? Layer.effect(HttpClient.HttpClient, Effect.map(HttpClient.HttpClient, logging)).pipe(Layer.provide(node))
    : node
}

/**
 * The keychain crane reads credentials from: docker's `config.json` (`DOCKER_CONFIG`,
 * `~/.docker`, `REGISTRY_AUTH_FILE`, podman's `auth.json`) and the credential helpers it names.
 *
 * @since 0.1.0
 */
export const layerKeychain: Layer.Layer<Keychain.Keychain> = KeychainDockerConfig.layerNode()

/**
 * Provides the registry transport for crane functions.
 *
 * @since 0.1.0
 */
export const layer = (options: TransportOptions = {}): Layer.Layer<RegistryTransport.RegistryTransport> =>
  RegistryTransport.layer({ userAgent: options.userAgent, retry: options.retry }).pipe(
    Layer.provide(httpClient(options)),
    Layer.provide(
      options.keychain !== undefined ? Layer.succeed(Keychain.Keychain, options.keychain) : layerKeychain
    )
  )

/**
 * Provides the registry transport over the HTTP client in the context (an in-process
 * registry's, a test double's), with the given keychain, anonymous by default.
 *
 * @since 0.1.0
 */
export const layerWith = (
  options: Pick<TransportOptions, "userAgent" | "keychain" | "retry"> = {}
): Layer.Layer<RegistryTransport.RegistryTransport, never, HttpClient.HttpClient> =>
  RegistryTransport.layer({ userAgent: options.userAgent, retry: options.retry }).pipe(
    Layer.provide(Layer.succeed(Keychain.Keychain, options.keychain ?? Keychain.alwaysAnonymous))
  )
