/**
 * The registry transport over an abstract `HttpClient`: ping `/v2/` once per registry,
 * answer its challenge (Basic, or Bearer through the token server), follow redirects with
 * every URL checked and credentials kept to their host, re-authenticate once on a 401,
 * retry what is safe to retry. The public face is `RegistryTransport`.
 *
 * @since 0.1.0
 * @internal
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Reference from "../../../domain/Reference.js"
import * as Keychain from "../../Keychain.js"
import { RegistryError } from "../../RegistryError.js"
import * as DrainMarks from "../drainMarks.js"
import * as AuthKeys from "./authKeys.js"
import * as Body from "./body.js"
import * as Cache from "./cache.js"
import * as Challenge from "./challenge.js"
import * as Retry from "./retry.js"
import * as Url from "./url.js"

/**
 * The largest token server answer read: 64 KiB, as ggcr.
 *
 * @since 0.1.0
 */
export const maxTokenBytes = 64 * 1024

/**
 * The token lifetime assumed when the token server gives none (the docker token spec's 60 s).
 *
 * @since 0.1.0
 */
export const defaultTokenSeconds = 60

/**
 * The `client_id` sent to OAuth2 token servers.
 *
 * @since 0.1.0
 */
export const clientId = "effect-containerregistry"

/**
 * What a request needs from a registry: the registry, the repository whose credentials
 * apply (when there is one) and the token scopes.
 *
 * @since 0.1.0
 */
export interface Access {
  /** Where the request goes; relative request URLs are resolved against it. */
  readonly registry: Reference.Registry
  /** The repository whose credentials apply (keychains may know `host/namespace` keys). */
  readonly repository?: Reference.Repository | undefined
  /** Token scopes: `repository:NAME:pull`, `repository:NAME:pull,push`, `registry:catalog:*`. */
  readonly scopes: ReadonlyArray<string>
}

/**
 * Per-request options.
 *
 * @since 0.1.0
 */
export interface RequestOptions {
  readonly expected?: ReadonlyArray<number> | undefined
  readonly retryable?: boolean | undefined
}

/**
 * The transport's settings, defaults filled in.
 *
 * @since 0.1.0
 */
export interface Settings {
  readonly userAgent: string
  readonly maxRedirects: number
  readonly retry: Retry.RetrySettings
  readonly oauthPassword: boolean
  readonly credentialLifetimeMillis: number
  /** The longest wait for response headers once the request body is sent; `Infinity` for none. */
  readonly responseTimeoutMillis: number
  /** The longest wait for the next bytes of a response body; `Infinity` for none. */
  readonly idleTimeoutMillis: number
}

/**
 * The operations of the transport.
 *
 * @since 0.1.0
 */
export interface Transport {
  readonly execute: (
    request: HttpClientRequest.HttpClientRequest,
    access: Access,
    options?: RequestOptions
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, RegistryError>
}

interface Registered {
  /** `scheme://host[:port]` the registry answered on. */
  readonly base: URL
  /** The challenge of its `/v2/` ping; `undefined` when it needs no authentication. */
  readonly challenge: Challenge.Challenge | undefined
}

interface Auth {
  /** The `Authorization` header value. */
  readonly header: string
  /** Where it may be sent: only this host and port, with this scheme. */
  readonly origin: URL
}

interface Token {
  readonly value: Redacted.Redacted<string>
  readonly lifetimeMillis: number
}

// What an error is about: the request on whose behalf the transport was working.
interface Context {
  readonly method: string
  readonly url: string
}

const TokenResponse = Schema.Struct({
  token: Schema.optional(Schema.String),
  access_token: Schema.optional(Schema.String),
  expires_in: Schema.optional(Schema.Number),
  refresh_token: Schema.optional(Schema.String)
})
const decodeTokenResponse = Schema.decodeUnknownEither(Schema.parseJson(TokenResponse))

const isRedirect = (status: number): boolean =>
  status === 301 || status === 302 || status === 303 || status === 307 || status === 308

const registryKey = (registry: Reference.Registry): string =>
  `${Reference.registryHost(registry)}${registry.insecure ? " insecure" : ""}`

const targetOf = (access: Access): AuthKeys.Target => access.repository ?? access.registry

const basicHeader = (username: string, password: Redacted.Redacted<string>): string =>
  `Basic ${Encoding.encodeBase64(`${username}:${Redacted.value(password)}`)}`

// A token's cache lifetime: its `expires_in`, less a margin (a tenth, at most 10 s) so a
// token is refreshed shortly before it runs out rather than used as it does.
const tokenLifetime = (seconds: number): number => {
  const millis = seconds * 1000
  return millis - Math.min(10_000, millis / 10)
}

/**
 * Builds the transport over the `HttpClient` and `Keychain` in the context.
 *
 * @since 0.1.0
 */
export const make = (
  settings: Settings
): Effect.Effect<Transport, never, HttpClient.HttpClient | Keychain.Keychain> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const keychain = yield* Keychain.Keychain
    const pings = Cache.make<Registered, RegistryError>()
    const tokens = Cache.make<Token, RegistryError>()
    const credentials = Cache.make<Keychain.Credential, RegistryError>()
    // Challenges learnt from a 401 after the ping (realm or scheme changed).
    const challenges = new Map<string, Challenge.Challenge>()
    // Refresh tokens handed out by OAuth2 token servers, used for later exchanges.
    const refreshTokens = new Map<string, Redacted.Redacted<string>>()
    // Scope sets grown by a 401's challenge, so later requests ask for them at once.
    const upgradedScopes = new Map<string, ReadonlyArray<string>>()
    const policy = Retry.policy(settings.retry)

    // Sends a request and waits for its response headers, at most `responseTimeoutMillis`
    // counted from when the request body has been sent (a streamed upload may take long);
    // the request is aborted when the time is up. The response's body gets the idle timeout.
    const exchangeOnce = (
      request: HttpClientRequest.HttpClientRequest
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, RegistryError> =>
      Effect.gen(function*() {
        const millis = settings.responseTimeoutMillis
        const run = (r: HttpClientRequest.HttpClientRequest) =>
          client.execute(r).pipe(Effect.mapError(Body.fromClientError))
        let response: HttpClientResponse.HttpClientResponse
        const body = request.body
        // A streamed body is written with backpressure (see drainMarks.ts); `sent` runs once
        // its last byte has been handed on.
        const streamed = (sent: Effect.Effect<unknown>) =>
          body._tag === "Stream"
            ? HttpClientRequest.setBody(
              request,
              HttpBody.stream(
                DrainMarks.withDrainMarks(Stream.concat(body.stream, Stream.execute(sent))),
                body.contentType,
                body.contentLength
              )
            )
            : request
        if (!Number.isFinite(millis)) {
          response = yield* run(streamed(Effect.void))
        } else {
          const bodySent = yield* Deferred.make<void>()
          const tracked = streamed(Deferred.succeed(bodySent, undefined))
          if (body._tag !== "Stream") yield* Deferred.succeed(bodySent, undefined)
          const timer = Deferred.await(bodySent).pipe(
            Effect.zipRight(Effect.sleep(millis)),
            Effect.zipRight(Effect.fail(Body.headersTimeout(request, millis)))
          )
          response = yield* Effect.raceFirst(run(tracked), timer)
        }
        return Body.withIdleTimeout(response, settings.idleTimeoutMillis)
      })

    // One request, following redirects: each Location is resolved and checked, a redirect
    // to another host loses the Authorization header, 303 (and 301/302 after POST) become
    // GET, and a body that cannot be replayed is not sent a second time (307/308).
    const send = (
      request: HttpClientRequest.HttpClientRequest,
      url: URL,
      auth: Auth | undefined,
      replayable = Body.isReplayableBody(request.body),
      redirects = 0
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, RegistryError> =>
      Effect.gen(function*() {
        const headers = Headers.remove(request.headers, "authorization")
        const allowed = auth !== undefined && Url.sameHost(url, auth.origin) && url.protocol === auth.origin.protocol
        const outgoing = HttpClientRequest.get(url).pipe(
          HttpClientRequest.setMethod(request.method),
          HttpClientRequest.setBody(request.body),
          HttpClientRequest.setHeaders(headers),
          HttpClientRequest.setHeader("user-agent", settings.userAgent),
          (r) => (allowed ? HttpClientRequest.setHeader(r, "authorization", auth.header) : r)
        )
        const response = yield* exchangeOnce(outgoing)
        const location = response.headers["location"]
        if (!isRedirect(response.status) || location === undefined) return response
        yield* Body.discard(response)
        const context = { method: request.method, url: url.href, status: response.status }
        if (redirects >= settings.maxRedirects) {
          return yield* new RegistryError({
            reason: "Redirect",
            ...context,
            detail: `stopped after ${settings.maxRedirects} redirects`
          })
        }
        const next = Url.resolve(url, location)
        if (Either.isLeft(next)) {
          return yield* new RegistryError({
            reason: "UnsafeUrl",
            ...context,
            detail: `redirect to ${Url.redact(location)} refused: ${next.left}`
          })
        }
        const toGet = (response.status === 303 && request.method !== "HEAD") ||
          ((response.status === 301 || response.status === 302) && request.method === "POST")
        if (toGet) {
          const bare = HttpClientRequest.get(next.right).pipe(
            HttpClientRequest.setHeaders(Headers.remove(headers, ["content-type", "content-length"]))
          )
          return yield* send(bare, next.right, auth, true, redirects + 1)
        }
        if (!replayable) {
          return yield* new RegistryError({
            reason: "Redirect",
            ...context,
            detail: `a streamed request body cannot be sent again to ${Url.redact(next.right)}`
          })
        }
        return yield* send(request, next.right, auth, replayable, redirects + 1)
      })

    const pingWith = (registry: Reference.Registry, scheme: "http" | "https") =>
      Effect.gen(function*() {
        const url = new URL(`${scheme}://${Reference.registryHost(registry)}/v2/`)
        const response = yield* send(HttpClientRequest.get(url), url, undefined)
        const final = new URL(Body.requestUrl(response.request))
        const sameAuthority = final.hostname === url.hostname && final.port === url.port
        const base = new URL(`${sameAuthority ? final.protocol : url.protocol}//${url.host}`)
        if (response.status >= 200 && response.status < 300) {
          yield* Body.discard(response)
          return { base, challenge: undefined } satisfies Registered
        }
        if (response.status === 401) {
          const header = response.headers["www-authenticate"]
          yield* Body.discard(response)
          // A 401 without a challenge we can read is taken as Basic, as ggcr does.
          const challenge = Challenge.pick(Challenge.parse(header ?? "")) ?? { scheme: "basic", params: {} }
          return { base, challenge } satisfies Registered
        }
        return yield* Effect.flip(Body.statusError(response))
      })

    // The ping, once per registry. An insecure registry is tried over https first and then
    // over plain http when https cannot connect (ggcr's scheme fallback).
    const ping = (registry: Reference.Registry): Effect.Effect<Registered, RegistryError> =>
      pings.get(
        registryKey(registry),
        registry.insecure
          ? pingWith(registry, "https").pipe(
            Effect.catchIf((e) => e.reason === "Transport", () => pingWith(registry, "http"))
          )
          : pingWith(registry, Reference.scheme(registry)),
        () => Number.POSITIVE_INFINITY
      )

    const credentialFor = (target: AuthKeys.Target, context: Context) =>
      credentials.get(
        AuthKeys.targetName(target),
        keychain.resolve(target).pipe(
          Effect.mapError((e) =>
            new RegistryError({ reason: "Auth", ...context, detail: `no credentials: ${e.message}`, cause: e })
          )
        ),
        () => settings.credentialLifetimeMillis
      )

    const exchange = (
      access: Access,
      realm: URL,
      service: string | undefined,
      scopes: ReadonlyArray<string>,
      context: Context
    ): Effect.Effect<Token, RegistryError> =>
      Effect.gen(function*() {
        const target = targetOf(access)
        const credential = yield* credentialFor(target, context)
        if (credential._tag === "RegistryToken") {
          return { value: credential.token, lifetimeMillis: settings.credentialLifetimeMillis }
        }
        const refreshKey = `${registryKey(access.registry)}\n${AuthKeys.targetName(target)}`
        const refresh = refreshTokens.get(refreshKey)
        const effective = refresh === undefined ? credential : Keychain.identityToken(refresh)

        // docker's token flow: GET realm?scope=...&service=... with Basic credentials or none
        const viaGet = (basic: Keychain.Basic | undefined) => {
          const url = new URL(realm)
          url.searchParams.delete("scope")
          for (const scope of scopes) url.searchParams.append("scope", scope)
          if (service !== undefined) url.searchParams.set("service", service)
          const auth = basic === undefined ? undefined : { header: basicHeader(basic.username, basic.password), origin: url }
          return send(HttpClientRequest.get(url), url, auth)
        }
        // the OAuth2 flow: POST a form, falling back to GET when the server has no OAuth2
        const viaPost = (form: Record<string, string>, fallback: Keychain.Basic | undefined) =>
          Effect.gen(function*() {
            const params = new URLSearchParams()
            if (scopes.length > 0) params.set("scope", scopes.join(" "))
            if (service !== undefined) params.set("service", service)
            params.set("client_id", clientId)
            for (const [k, v] of Object.entries(form)) params.set(k, v)
            const request = HttpClientRequest.post(realm).pipe(
              HttpClientRequest.setBody(HttpBody.text(params.toString(), "application/x-www-form-urlencoded"))
            )
            const response = yield* send(request, realm, undefined)
            if (response.status !== 404) return response
            yield* Body.discard(response)
            return yield* viaGet(fallback)
          })

        const response = yield* (
          effective._tag === "IdentityToken"
            ? viaPost({ grant_type: "refresh_token", refresh_token: Redacted.value(effective.token) }, undefined)
            : effective._tag === "Basic" && settings.oauthPassword
            ? viaPost({
              grant_type: "password",
              username: effective.username,
              password: Redacted.value(effective.password),
              access_type: "offline"
            }, effective)
            : viaGet(effective._tag === "Basic" ? effective : undefined)
        )
        if (response.status !== 200) {
          return yield* Effect.flip(Body.statusError(response, "Auth"))
        }
        const bytes = yield* Body.readCapped(response, maxTokenBytes, "token response")
        const authError = (detail: string) =>
          new RegistryError({
            reason: "Auth",
            method: response.request.method,
            url: Body.requestUrl(response.request),
            status: response.status,
            detail
          })
        const decoded = decodeTokenResponse(new TextDecoder().decode(bytes))
        if (Either.isLeft(decoded)) return yield* authError("the token server's answer is not a token response")
        const body = decoded.right
        const token = body.token !== undefined && body.token !== "" ? body.token : body.access_token
        if (token === undefined || token === "") return yield* authError("the token server's answer holds no token")
        if (body.refresh_token !== undefined && body.refresh_token !== "") {
          refreshTokens.set(refreshKey, Redacted.make(body.refresh_token))
        }
        const seconds = body.expires_in !== undefined && body.expires_in > 0 ? body.expires_in : defaultTokenSeconds
        return { value: Redacted.make(token), lifetimeMillis: tokenLifetime(seconds) }
      })

    const tokenFor = (
      access: Access,
      scopes: ReadonlyArray<string>,
      challenge: Challenge.Challenge,
      base: URL,
      context: Context,
      fresh: boolean
    ): Effect.Effect<Token, RegistryError> =>
      Effect.gen(function*() {
        const realmParam = challenge.params["realm"]
        if (realmParam === undefined || realmParam === "") {
          return yield* new RegistryError({
            reason: "Auth",
            ...context,
            detail: "the registry's Bearer challenge names no realm"
          })
        }
        const realm = Url.resolve(base, realmParam)
        if (Either.isLeft(realm)) {
          return yield* new RegistryError({
            reason: "UnsafeUrl",
            ...context,
            detail: `token realm ${Url.redact(realmParam)} refused: ${realm.left}`
          })
        }
        const service = challenge.params["service"]
        const key = [
          registryKey(access.registry),
          realm.right.href,
          service ?? "",
          AuthKeys.targetName(targetOf(access)),
          [...scopes].sort().join(" ")
        ].join("\n")
        if (fresh) yield* tokens.invalidate(key)
        return yield* tokens.get(key, exchange(access, realm.right, service, scopes, context), (t) => t.lifetimeMillis)
      })

    const authorize = (
      access: Access,
      scopes: ReadonlyArray<string>,
      challenge: Challenge.Challenge | undefined,
      base: URL,
      context: Context,
      fresh: boolean
    ): Effect.Effect<Auth | undefined, RegistryError> =>
      Effect.gen(function*() {
        if (challenge === undefined) return undefined
        if (challenge.scheme === "basic") {
          const credential = yield* credentialFor(targetOf(access), context)
          switch (credential._tag) {
            case "Basic":
              return { header: basicHeader(credential.username, credential.password), origin: base }
            case "RegistryToken":
              return { header: `Bearer ${Redacted.value(credential.token)}`, origin: base }
            default:
              return undefined
          }
        }
        if (challenge.scheme === "bearer") {
          const token = yield* tokenFor(access, scopes, challenge, base, context, fresh)
          return { header: `Bearer ${Redacted.value(token.value)}`, origin: base }
        }
        return yield* new RegistryError({
          reason: "Auth",
          ...context,
          detail: `the registry asks for ${JSON.stringify(challenge.scheme)} authentication, which is not supported`
        })
      })

    const urlFor = (request: HttpClientRequest.HttpClientRequest, base: URL): Effect.Effect<URL, RegistryError> =>
      Effect.suspend(() => {
        let url: URL
        try {
          url = new URL(request.url, base)
        } catch {
          return Effect.fail(
            new RegistryError({ reason: "Protocol", method: request.method, url: request.url, detail: "invalid URL" })
          )
        }
        for (const [key, value] of request.urlParams) url.searchParams.append(key, value)
        // the registry's own URLs use the scheme its ping answered on (ggcr's scheme transport)
        if (url.hostname === base.hostname && url.port === base.port) url.protocol = base.protocol
        return Effect.succeed(url)
      })

    const execute: Transport["execute"] = (request, access, options = {}) => {
      const replayable = options.retryable ?? Body.isReplayableBody(request.body)
      const expected = options.expected
      const isExpected = (status: number) =>
        expected === undefined ? status >= 200 && status < 300 : expected.includes(status)
      const scopeKey = `${registryKey(access.registry)}\n${AuthKeys.targetName(targetOf(access))}\n${
        access.scopes.join(" ")
      }`
      const attempt = Effect.gen(function*() {
        const registered = yield* ping(access.registry)
        const url = yield* urlFor(request, registered.base)
        const context = { method: request.method, url: url.href }
        const scopes = upgradedScopes.get(scopeKey) ?? access.scopes
        const challenge = challenges.get(registryKey(access.registry)) ?? registered.challenge
        const auth = yield* authorize(access, scopes, challenge, registered.base, context, false)
        let response = yield* send(request, url, auth, replayable)
        if (
          response.status === 401 && replayable &&
          Url.sameHost(new URL(Body.requestUrl(response.request)), registered.base)
        ) {
          // Expired token or missing scope: take the new challenge, add the scope it names,
          // fetch a fresh token (and re-read the credentials) and send once more. Basic
          // credentials that read the same as those just refused are not sent again.
          const fresh = Challenge.pick(Challenge.parse(response.headers["www-authenticate"] ?? ""))
          if (fresh !== undefined && (fresh.scheme === "bearer" || fresh.scheme === "basic")) {
            challenges.set(registryKey(access.registry), fresh)
            const wanted = (fresh.params["scope"] ?? "").split(" ").filter((s) => s !== "" && !scopes.includes(s))
            const grown = [...wanted, ...scopes]
            if (wanted.length > 0) upgradedScopes.set(scopeKey, grown)
            yield* credentials.invalidate(AuthKeys.targetName(targetOf(access)))
            const again = yield* authorize(access, grown, fresh, registered.base, context, true).pipe(
              Effect.tapError(() => Body.discard(response))
            )
            if (fresh.scheme === "bearer" || again?.header !== auth?.header) {
              yield* Body.discard(response)
              response = yield* send(request, url, again, replayable)
            }
          }
        }
        if (!isExpected(response.status)) return yield* Effect.flip(Body.statusError(response))
        // A HEAD answer has no body, but Node hands its connection back to the keep-alive pool
        // only once that empty body has been read; unread, every HEAD costs a new connection.
        if (request.method === "HEAD") yield* Body.discard(response)
        return response
      })
      return replayable ? Effect.retry(attempt, policy) : attempt
    }

    return { execute }
  })
