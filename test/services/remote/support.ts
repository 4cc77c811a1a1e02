/**
 * What the remote tests share: registries to run against (ours in-process, ours on a port,
 * the CNCF distribution registry), each reached through a transport whose HTTP client records
 * every request, and small helpers over images.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type * as Digest from "../../../src/domain/Digest.js"
import type * as Image from "../../../src/domain/Image.js"
import * as Reference from "../../../src/domain/Reference.js"
import * as Registry from "../../../src/registry/Registry.js"
import * as Keychain from "../../../src/services/Keychain.js"
import * as Progress from "../../../src/services/Progress.js"
import * as RegistryTransport from "../../../src/services/RegistryTransport.js"
import { startDockerRegistry } from "../../registry/peers.js"

/** A request the client sent: method, path and query. */
export interface Sent {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: Readonly<Record<string, string>>
}

/** A registry under test and what was sent to it. */
export interface PeerInfo {
  readonly name: string
  /** `host:port` to put in references. */
  readonly host: string
  readonly sent: Array<Sent>
  /** True for our registry (referrers API, paging), false for docker-registry. */
  readonly ours: boolean
}

/** The registry under test. */
export class Peer extends Context.Tag("test/remote/Peer")<Peer, PeerInfo>() {}

/** Everything a remote test runs with. */
export type Env = Peer | RegistryTransport.RegistryTransport

/** A response made up by a test instead of the registry's. */
export type Fault = (request: HttpClientRequest.HttpClientRequest, url: URL) =>
  | { readonly status: number; readonly body?: string; readonly headers?: Record<string, string> }
  | undefined

const recording = (sent: Array<Sent>, fault: Fault | undefined) => (client: HttpClient.HttpClient) =>
  HttpClient.transform(client, (effect, request) =>
    Effect.suspend(() => {
      const url = new URL(request.url)
      for (const [key, value] of request.urlParams) url.searchParams.append(key, value)
      sent.push({ method: request.method, path: url.pathname, query: url.searchParams, headers: request.headers })
      const made = fault?.(request, url)
      if (made === undefined) return effect
      return Effect.succeed(
        HttpClientResponse.fromWeb(
          request,
          new Response(made.body ?? null, { status: made.status, headers: made.headers ?? {} })
        )
      )
    }))

const transportOver = (client: Layer.Layer<HttpClient.HttpClient>) =>
  RegistryTransport.layer({ retry: { base: "5 millis" } }).pipe(
    Layer.provide(Layer.merge(client, Keychain.layerAnonymous))
  )

/** A transport over `client`, recording what it sends, and the peer it reaches. */
export const envOver = (
  info: Omit<PeerInfo, "sent">,
  client: Layer.Layer<HttpClient.HttpClient>,
  fault?: Fault
): Layer.Layer<Env> => {
  const sent: Array<Sent> = []
  const recorded = Layer.effect(HttpClient.HttpClient, Effect.map(HttpClient.HttpClient, recording(sent, fault))).pipe(
    Layer.provide(client)
  )
  return Layer.merge(transportOver(recorded), Layer.succeed(Peer, { ...info, sent }))
}

/** Our registry in this process, with fresh memory stores, reached with no socket. */
export const oursInProcess = (fault?: Fault): Layer.Layer<Env> =>
  envOver(
    { name: "ours (in-process)", host: "localhost:5000", ours: true },
    Registry.layerClient().pipe(Layer.provide(Registry.layerMemory)),
    fault
  )

/** Our registry on a port of 127.0.0.1, reached by Node's HTTP client. */
export const oursOverHttp = (fault?: Fault): Layer.Layer<Env, unknown> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const context = yield* Layer.build(Registry.layerServer().pipe(Layer.provide(Registry.layerMemory)))
      const url = yield* Effect.provide(Registry.url, context)
      return envOver({ name: "ours (HTTP)", host: new URL(url).host, ours: true }, NodeHttpClient.layer, fault)
    })
  )

/** Debian's docker-registry (the CNCF distribution registry 2.8) on a port of 127.0.0.1. */
export const dockerRegistry = (fault?: Fault): Layer.Layer<Env, unknown> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const running = yield* Effect.acquireRelease(
        Effect.promise(() => startDockerRegistry()),
        (r) => Effect.promise(() => r.stop())
      )
      return envOver({ name: "docker-registry", host: new URL(running.url).host, ours: false }, NodeHttpClient.layer, fault)
    })
  )

let counter = 0

/** A repository of the peer with a name no other test uses. */
export const freshRepository = (name: string): Effect.Effect<Reference.Repository, never, Peer> =>
  Effect.map(Peer, (peer) => {
    counter += 1
    return Either.getOrThrow(Reference.parseRepository(`${peer.host}/${name}-${counter}`))
  })

/** A tag reference in a repository. */
export const tagOf = (repository: Reference.Repository, tag: string): Reference.Tag =>
  Either.getOrThrow(Reference.withTag(repository, tag))

/** The requests sent from now on, as a function to read them later. */
export const recordFromNow = Effect.map(Peer, (peer) => {
  const start = peer.sent.length
  return () => peer.sent.slice(start)
})

/** Requests whose method is `method` and whose path contains `fragment`. */
export const requests = (sent: ReadonlyArray<Sent>, method: string, fragment: string) =>
  sent.filter((s) => s.method === method && s.path.includes(fragment))

/** Every byte of a stream. */
export const collect = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))

/** The digests of an image's manifest, config and layers. */
export const digestsOf = <E>(image: Image.Image<E>) =>
  Effect.gen(function*() {
    const layers = yield* image.layers
    return {
      manifest: yield* image.digest,
      config: yield* image.configName,
      layers: yield* Effect.forEach(layers, (l) => l.digest)
    }
  })

/** Reads every blob of an image to its end (which checks them) and returns the config bytes. */
export const readAll = <E>(image: Image.Image<E>) =>
  Effect.gen(function*() {
    const layers = yield* image.layers
    const sizes: Array<number> = []
    for (const layer of layers) sizes.push((yield* collect(layer.compressed)).byteLength)
    return { config: yield* image.rawConfigFile, sizes }
  })

/** A progress collecting its events, and a way to read them. */
export const progressRecorder = Effect.map(Ref.make(Chunk.empty<Progress.Event>()), (ref) => ({
  progress: Progress.collect(ref),
  events: Effect.map(Ref.get(ref), Chunk.toReadonlyArray)
}))

/** Events of a kind for a digest. */
export const eventsFor = (events: ReadonlyArray<Progress.Event>, id: Digest.Digest | string) =>
  events.filter((e) => e.id === id)
