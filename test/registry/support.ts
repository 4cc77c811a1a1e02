/**
 * What the registry tests share: the two ways of reaching a registry (a real server on
 * 127.0.0.1:0 with Node's HTTP client, and the in-process client with no socket), a small
 * request helper, and real image bytes to push.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { gzipSync } from "node:zlib"
import * as Digest from "../../src/domain/Digest.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Registry from "../../src/registry/Registry.js"
import type * as BlobStore from "../../src/services/BlobStore.js"
import type * as ManifestStore from "../../src/services/ManifestStore.js"

/** Where the registry under test answers. */
export class Target extends Context.Tag("test/registry/Target")<Target, { readonly base: string }>() {}

/** Everything a registry test needs: a client, the base URL, and the registry's stores. */
export type Env = HttpClient.HttpClient | Target | BlobStore.BlobStore | ManifestStore.ManifestStore

/** A registry on a real port (127.0.0.1:0) with fresh memory stores, reached by Node's HTTP client. */
export const overHttp = (options: Registry.ServerOptions = {}): Layer.Layer<Env, unknown> =>
  Layer.merge(NodeHttpClient.layer, Layer.effect(Target, Effect.map(Registry.url, (base) => ({ base })))).pipe(
    Layer.provideMerge(Registry.layerServer(options)),
    Layer.provideMerge(Registry.layerMemory)
  )

/** A registry on a real port over the filesystem stores in `root`, reached by Node's HTTP client. */
export const onDisk = (root: string, options: Registry.ServerOptions = {}): Layer.Layer<Env, unknown> =>
  Layer.merge(NodeHttpClient.layer, Layer.effect(Target, Effect.map(Registry.url, (base) => ({ base })))).pipe(
    Layer.provideMerge(Registry.layerServer(options)),
    Layer.provideMerge(Registry.layerFileSystem(root).pipe(Layer.provide(NodeContext.layer)))
  )

/** A registry with fresh memory stores, reached in-process with no socket. */
export const inProcess = (options: Registry.Options = {}): Layer.Layer<Env, unknown> =>
  Layer.merge(Registry.layerClient(options), Layer.succeed(Target, { base: "http://registry.test" })).pipe(
    Layer.provideMerge(Registry.layerMemory)
  )

/** The two transports every endpoint test runs over. */
export const transports: ReadonlyArray<readonly [string, (options?: Registry.ServerOptions) => Layer.Layer<Env, unknown>]> = [
  ["over HTTP", overHttp],
  ["in-process", inProcess]
]

/** A response, read whole. */
export interface Reply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
  readonly text: string
}

/** The parsed JSON of a reply (untyped, for assertions). */
export const json = (reply: Reply): ReturnType<typeof JSON.parse> => JSON.parse(reply.text)

/** The OCI error codes of an error reply. */
export const errorCodes = (reply: Reply): ReadonlyArray<string> =>
  (json(reply) as { errors: ReadonlyArray<{ code: string }> }).errors.map((e) => e.code)

/** Options of {@link send}. */
export interface SendOptions {
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: Uint8Array | Stream.Stream<Uint8Array>
  readonly contentType?: string
}

/** Sends a request to a path (with its query) of the registry under test and reads the reply. */
export const send = (method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE", path: string, options: SendOptions = {}) =>
  Effect.gen(function*() {
    const { base } = yield* Target
    const client = yield* HttpClient.HttpClient
    let request = HttpClientRequest.make(method)(path.startsWith("http") ? path : `${base}${path}`).pipe(
      HttpClientRequest.setHeaders(options.headers ?? {})
    )
    const body = options.body
    if (body instanceof Uint8Array) {
      request = HttpClientRequest.bodyUint8Array(request, body, options.contentType ?? "application/octet-stream")
    } else if (body !== undefined) {
      request = HttpClientRequest.bodyStream(request, body, { contentType: options.contentType ?? "application/octet-stream" })
    }
    const response = yield* client.execute(request)
    const bytes = method === "HEAD" ? new Uint8Array(0) : new Uint8Array(yield* response.arrayBuffer)
    const reply: Reply = {
      status: response.status,
      headers: response.headers,
      body: bytes,
      text: new TextDecoder().decode(bytes)
    }
    return reply
  }).pipe(Effect.scoped)

const text = new TextEncoder()

/** Bytes of a given size, varied enough that ranges are distinguishable. */
export const patterned = (size: number, seed = 1): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** A stream emitting `bytes` in chunks of `size`. */
export const chunked = (bytes: Uint8Array, size = 1000): Stream.Stream<Uint8Array> =>
  Stream.fromChunk(
    Chunk.fromIterable(
      Array.from({ length: Math.ceil(bytes.byteLength / size) }, (_, i) => bytes.slice(i * size, (i + 1) * size))
    )
  )

/** A blob: bytes with their digest. */
export interface Blob {
  readonly bytes: Uint8Array
  readonly digest: Digest.Digest
}

/** A blob of the given bytes (or text). */
export const blob = (content: Uint8Array | string): Blob => {
  const bytes = typeof content === "string" ? text.encode(content) : content
  return { bytes, digest: Digest.fromBytes(bytes) }
}

/** A small image: a config, two gzipped layers, and its OCI manifest (pretty-printed, as clients often send). */
export const image = (seed = 1) => {
  const layers = [blob(gzipSync(patterned(4000, seed))), blob(gzipSync(patterned(3000, seed + 100)))]
  const config = blob(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [Digest.fromBytes(patterned(4000, seed)), Digest.fromBytes(patterned(3000, seed + 100))] },
    author: `seed ${seed}`
  }))
  const manifest = blob(JSON.stringify(
    {
      schemaVersion: 2,
      mediaType: MediaType.OCI_MANIFEST,
      config: { mediaType: MediaType.OCI_CONFIG, digest: config.digest, size: config.bytes.byteLength },
      layers: layers.map((l) => ({ mediaType: MediaType.OCI_LAYER_GZIP, digest: l.digest, size: l.bytes.byteLength }))
    },
    null,
    "\t"
  ))
  return { config, layers, manifest, blobs: [config, ...layers] }
}

/** Uploads a blob with `POST` then `PUT`, failing the test unless it is created. */
export const pushBlob = (repository: string, b: Blob) =>
  Effect.gen(function*() {
    const started = yield* send("POST", `/v2/${repository}/blobs/uploads/`)
    if (started.status !== 202) return yield* Effect.die(`POST upload: ${started.status} ${started.text}`)
    const location = started.headers.location ?? ""
    const put = yield* send("PUT", `${location}${location.includes("?") ? "&" : "?"}digest=${b.digest}`, { body: b.bytes })
    if (put.status !== 201) return yield* Effect.die(`PUT upload: ${put.status} ${put.text}`)
  })

/** Pushes a manifest by tag or digest, failing the test unless it is created. */
export const pushManifest = (repository: string, reference: string, manifest: Blob, mediaType: string = MediaType.OCI_MANIFEST) =>
  Effect.gen(function*() {
    const reply = yield* send("PUT", `/v2/${repository}/manifests/${reference}`, { body: manifest.bytes, contentType: mediaType })
    if (reply.status !== 201) return yield* Effect.die(`PUT manifest: ${reply.status} ${reply.text}`)
    return reply
  })

/** Pushes an image's blobs and its manifest under a tag. */
export const pushImage = (repository: string, tag: string, img: ReturnType<typeof image>) =>
  Effect.gen(function*() {
    for (const b of img.blobs) yield* pushBlob(repository, b)
    return yield* pushManifest(repository, tag, img.manifest)
  })
