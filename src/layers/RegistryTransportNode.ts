/**
 * The {@link RegistryTransport.RegistryTransport} on Node: the transport over
 * `@effect/platform-node`'s HTTP client, with keep-alive agents so the many requests of a
 * push or pull reuse their connections.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Https from "node:https"
import type * as Keychain from "../services/Keychain.js"
import * as RegistryTransport from "../services/RegistryTransport.js"
import * as KeychainDockerConfig from "./KeychainDockerConfig.js"

/**
 * The transport's options, plus those of Node's agents.
 *
 * @since 0.1.0
 */
export interface Options extends RegistryTransport.Options {
  /**
   * Options of the http and https agents, over `{ keepAlive: true }`: `maxSockets`, `ca` for
   * a private certificate authority, `rejectUnauthorized: false` to accept any certificate.
   */
  readonly agent?: Https.AgentOptions | undefined
}

/**
 * Provides the transport over Node's HTTP client, with credentials from the `Keychain` in
 * the context.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<RegistryTransport.RegistryTransport, never, Keychain.Keychain> =>
  RegistryTransport.layer(options).pipe(
    Layer.provide(
      untraced.pipe(
        Layer.provide(NodeHttpClient.layerWithoutAgent),
        Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true, ...options.agent }))
      )
    )
  )

/**
 * The platform client opens a tracing span and adds `traceparent`/`b3` headers to every
 * request: about a millisecond of CPU per request, and headers registries have no use for.
 * Registry traffic is many small requests, so the transport's client does neither.
 */
const untraced: Layer.Layer<HttpClient.HttpClient, never, HttpClient.HttpClient> = Layer.effect(
  HttpClient.HttpClient,
  Effect.map(HttpClient.HttpClient, (client) =>
    client.pipe(HttpClient.withTracerDisabledWhen(() => true), HttpClient.withTracerPropagation(false))
  )
)

/**
 * Provides the transport over Node's HTTP client with credentials from docker's
 * `config.json` and credential helpers (see `KeychainDockerConfig`), as `docker` and `crane`
 * find them.
 *
 * @since 0.1.0
 */
export const layerDocker = (
  options: Options & { readonly keychain?: KeychainDockerConfig.Options | undefined } = {}
): Layer.Layer<RegistryTransport.RegistryTransport> =>
  layer(options).pipe(Layer.provide(KeychainDockerConfig.layerNode(options.keychain)))
