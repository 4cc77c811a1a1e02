/**
 * Content digests (`algorithm:hex`), as ggcr's `v1.Hash`: parsing with precise errors, a
 * Schema for JSON fields, and hashing of bytes and of byte streams while they flow.
 *
 * A {@link Digest} is a branded string, so it serialises as itself in JSON and compares with
 * `===`.
 *
 * @since 0.1.0
 */
import * as Brand from "effect/Brand"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { createHash, type Hash as NodeHash } from "node:crypto"
import { DigestMismatch, InvalidDigest, SizeMismatch } from "./Errors.js"

/** The hash algorithms a digest may name. */
export type Algorithm = "sha256" | "sha512"

/** Every supported algorithm with the length of its hex encoding. */
export const algorithms: { readonly [A in Algorithm]: number } = { sha256: 64, sha512: 128 }

/**
 * A validated digest string such as `sha256:e3b0c442...`.
 *
 * @since 0.1.0
 */
export type Digest = string & Brand.Brand<"Digest">

const HEX = /^[a-f0-9]+$/
const ALGORITHM_GRAMMAR = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/

const isAlgorithm = (s: string): s is Algorithm => Object.prototype.hasOwnProperty.call(algorithms, s)

/**
 * Parses `algorithm:hex`, refusing unknown algorithms, wrong lengths and anything but
 * lower-case hex. Returns an `Either`, which is also an `Effect`.
 *
 * @since 0.1.0
 */
export const parse = (input: string): Either.Either<Digest, InvalidDigest> => {
  const fail = (reason: InvalidDigest["reason"], detail: string) =>
    Either.left(new InvalidDigest({ input, reason, detail }))
  const colon = input.indexOf(":")
  if (colon <= 0 || colon === input.length - 1) {
    return fail("Malformed", "expected the form algorithm:hex")
  }
  const algorithm = input.slice(0, colon)
  const encoded = input.slice(colon + 1)
  if (!ALGORITHM_GRAMMAR.test(algorithm)) {
    return fail("Malformed", `algorithm ${JSON.stringify(algorithm)} is not a valid algorithm name`)
  }
  if (!isAlgorithm(algorithm)) {
    return fail("UnknownAlgorithm", `unsupported algorithm ${JSON.stringify(algorithm)} (supported: sha256, sha512)`)
  }
  const expected = algorithms[algorithm]
  if (encoded.length !== expected) {
    return fail("BadLength", `${algorithm} needs ${expected} hex characters, got ${encoded.length}`)
  }
  if (!HEX.test(encoded)) {
    return fail(
      "BadHex",
      /[A-F]/.test(encoded) ? "hex must be lower-case" : "hex part contains characters other than 0-9 and a-f"
    )
  }
  return Either.right(input as Digest)
}

/**
 * True when the string is a valid digest.
 *
 * @since 0.1.0
 */
export const isDigest = (input: unknown): input is Digest => typeof input === "string" && Either.isRight(parse(input))

/**
 * Schema for digest fields in JSON documents: decodes a string into a {@link Digest}, with
 * the same error messages as {@link parse}.
 *
 * @since 0.1.0
 */
export const Digest: Schema.Schema<Digest, string> = Schema.String.pipe(
  Schema.filter((s, _, ast) =>
    Either.match(parse(s), {
      onLeft: (e) => new ParseResult.Type(ast, s, e.message),
      onRight: () => undefined
    })
  ),
  Schema.brand("Digest"),
  Schema.annotations({ identifier: "Digest", description: "a content digest, algorithm:hex" })
)

/**
 * The algorithm part of a digest.
 *
 * @since 0.1.0
 */
export const algorithm = (digest: Digest): Algorithm => digest.slice(0, digest.indexOf(":")) as Algorithm

/**
 * The hex part of a digest.
 *
 * @since 0.1.0
 */
export const hex = (digest: Digest): string => digest.slice(digest.indexOf(":") + 1)

/**
 * Builds a digest from an algorithm and a hex string, validating both.
 *
 * @since 0.1.0
 */
export const make = (alg: Algorithm, hexPart: string): Either.Either<Digest, InvalidDigest> => parse(`${alg}:${hexPart}`)

/**
 * The digest of some bytes (sha256 unless told otherwise).
 *
 * @since 0.1.0
 */
export const fromBytes = (bytes: Uint8Array | string, alg: Algorithm = "sha256"): Digest =>
  `${alg}:${createHash(alg).update(bytes).digest("hex")}` as Digest

/**
 * An incremental hasher that also counts bytes.
 *
 * @since 0.1.0
 */
export interface Hasher {
  /** Feeds bytes to the hash. */
  readonly update: (chunk: Uint8Array) => void
  /** Bytes fed so far. */
  readonly size: () => number
  /** Finishes the hash; call once. */
  readonly digest: () => Digest
}

/**
 * A new incremental {@link Hasher}.
 *
 * @since 0.1.0
 */
export const hasher = (alg: Algorithm = "sha256"): Hasher => {
  const hash: NodeHash = createHash(alg)
  let size = 0
  return {
    update: (chunk) => {
      size += chunk.byteLength
      hash.update(chunk)
    },
    size: () => size,
    digest: () => `${alg}:${hash.digest("hex")}` as Digest
  }
}

/**
 * The digest and size of everything a stream emits.
 *
 * @since 0.1.0
 */
export interface Measured {
  readonly digest: Digest
  readonly size: number
}

/**
 * Runs a byte stream to its end and returns its digest and size.
 *
 * @since 0.1.0
 */
export const ofStream = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>,
  alg: Algorithm = "sha256"
): Effect.Effect<Measured, E, R> =>
  Effect.suspend(() => {
    const h = hasher(alg)
    return Stream.runForEachChunk(stream, (chunk) =>
      Effect.sync(() => {
        for (const bytes of chunk) h.update(bytes)
      })
    ).pipe(Effect.map(() => ({ digest: h.digest(), size: h.size() })))
  })

/**
 * Passes a byte stream through while hashing it, and calls `onEnd` with its digest and size
 * once it has been read to the end. Each run of the returned stream hashes afresh.
 *
 * @since 0.1.0
 */
export const tapMeasured = <E, R, E2, R2>(
  stream: Stream.Stream<Uint8Array, E, R>,
  onEnd: (measured: Measured) => Effect.Effect<void, E2, R2>,
  alg: Algorithm = "sha256"
): Stream.Stream<Uint8Array, E | E2, R | R2> =>
  Stream.suspend(() => {
    const h = hasher(alg)
    return stream.pipe(
      Stream.mapChunks((chunk) => {
        for (const bytes of chunk) h.update(bytes)
        return chunk
      }),
      Stream.concat(Stream.execute(Effect.suspend(() => onEnd({ digest: h.digest(), size: h.size() }))))
    )
  })

/**
 * Options for {@link verifyStream}.
 *
 * @since 0.1.0
 */
export interface VerifyOptions {
  /** The size the bytes must have, when known. */
  readonly size?: number | undefined
  /** What is being read, for error messages. Defaults to the digest. */
  readonly subject?: string | undefined
}

// The streams made by `verifyStream`, with what each checks (see `verification`).
const verifications = new WeakMap<object, { readonly digest: Digest; readonly size: number | undefined }>()

/**
 * Passes a byte stream through while hashing it; at the end fails with {@link DigestMismatch}
 * (or {@link SizeMismatch}) when the bytes are not the ones `expected` names. A stream that
 * emits more bytes than `size` fails as soon as it passes it. Consumers must treat what they
 * received as untrusted until the stream ends successfully.
 *
 * @since 0.1.0
 */
export const verifyStream = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>,
  expected: Digest,
  options: VerifyOptions = {}
): Stream.Stream<Uint8Array, E | DigestMismatch | SizeMismatch, R> => {
  const verified = Stream.suspend(() => {
    const subject = options.subject ?? expected
    const h = hasher(algorithm(expected))
    const limit = options.size
    const checked = stream.pipe(
      Stream.mapChunksEffect((chunk) =>
        Effect.suspend(() => {
          for (const bytes of chunk) h.update(bytes)
          return limit !== undefined && h.size() > limit
            ? Effect.fail(new SizeMismatch({ subject, expected: limit, actual: h.size() }))
            : Effect.succeed(chunk)
        })
      )
    )
    const atEnd = Effect.suspend((): Effect.Effect<void, DigestMismatch | SizeMismatch> => {
      if (limit !== undefined && h.size() !== limit) {
        return Effect.fail(new SizeMismatch({ subject, expected: limit, actual: h.size() }))
      }
      const actual = h.digest()
      return actual === expected ? Effect.void : Effect.fail(new DigestMismatch({ subject, expected, actual }))
    })
    return Stream.concat(checked, Stream.execute(atEnd))
  })
  verifications.set(verified, { digest: expected, size: options.size })
  return verified
}

/**
 * What a stream made by {@link verifyStream} checks its bytes against.
 *
 * @since 0.1.0
 */
export interface Verification {
  readonly digest: Digest
  readonly size: number | undefined
}

/**
 * The digest (and size) a stream checks its own bytes against, when it was made by
 * {@link verifyStream}: such a stream fails before it ends unless its bytes are right, so a
 * consumer that runs it to the end need not hash them again. `None` for any other stream.
 *
 * @since 0.1.0
 */
export const verification = (stream: Stream.Stream<Uint8Array, unknown, unknown>): Option.Option<Verification> =>
  Option.fromNullable(verifications.get(stream))

/**
 * Checks whole bytes against a digest (and size, when given).
 *
 * @since 0.1.0
 */
export const verifyBytes = (
  bytes: Uint8Array,
  expected: Digest,
  options: VerifyOptions = {}
): Effect.Effect<void, DigestMismatch | SizeMismatch> => {
  const subject = options.subject ?? expected
  if (options.size !== undefined && options.size !== bytes.byteLength) {
    return Effect.fail(new SizeMismatch({ subject, expected: options.size, actual: bytes.byteLength }))
  }
  const actual = fromBytes(bytes, algorithm(expected))
  return actual === expected ? Effect.void : Effect.fail(new DigestMismatch({ subject, expected, actual }))
}
