/**
 * Our side of the benchmark: one operation per process, as `crane` would run it. The harness
 * bundles this file with esbuild as the `crane` bin is bundled (`driver.program.cjs`, started
 * by `driver.cjs`, a copy of scripts/cached-entry.cjs, with V8's code cache, which `ready`
 * writes once) and runs it in a fresh `node` for every measurement, so start-up is counted as
 * it is for skopeo. Each operation prints one line of JSON on stdout (`get` prints the
 * manifest, as `skopeo inspect --raw` does).
 *
 *   node driver.cjs ready
 *   node driver.cjs prepare --layout DIR --tag NAME --layers N --layer-mib M --seed S
 *   node driver.cjs text --out FILE.gz --mib M --seed S
 *   node driver.cjs push --layout DIR --tag NAME --to REF [--repeat N]
 *   node driver.cjs pull --from REF --layout DIR --tag NAME
 *   node driver.cjs copy --from REF --to REF [--repeat N]
 *   node driver.cjs round-trips --ref REF --count N
 *   node driver.cjs get --ref REF
 *   node driver.cjs tags --ref REF --count N
 *   node driver.cjs list --repo REPO
 *   node driver.cjs sha256 --file FILE
 *   node driver.cjs gunzip --file FILE
 *   node driver.cjs serve --root DIR --port PORT
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import * as Serve from "../src/crane/Serve.js"
import * as Compression from "../src/domain/Compression.js"
import * as Digest from "../src/domain/Digest.js"
import * as MediaType from "../src/domain/MediaType.js"
import * as Random from "../src/domain/Random.js"
import * as Reference from "../src/domain/Reference.js"
import * as Layout from "../src/formats/Layout.js"
import * as NodeMemory from "../src/layers/NodeMemory.js"
import * as RegistryTransportNode from "../src/layers/RegistryTransportNode.js"
import type * as RegistryTransport from "../src/services/RegistryTransport.js"
import * as Remote from "../src/services/Remote.js"

const MiB = 1024 * 1024

class DriverError extends Data.TaggedError("DriverError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

const argv = process.argv.slice(2)
const operation = argv[0] ?? ""

const flag = (name: string): Effect.Effect<string, DriverError> => {
  const at = argv.indexOf(`--${name}`)
  const value = at > 0 ? argv[at + 1] : undefined
  return value === undefined ? Effect.fail(new DriverError({ detail: `${operation}: --${name} is required` })) : Effect.succeed(value)
}

const count = (name: string): Effect.Effect<number, DriverError> =>
  Effect.flatMap(flag(name), (text) => {
    const n = Number(text)
    return Number.isSafeInteger(n) && n >= 0
      ? Effect.succeed(n)
      : Effect.fail(new DriverError({ detail: `--${name}: not a whole number: ${text}` }))
  })

const reference = (name: string) => Effect.flatMap(flag(name), (text) => Reference.parse(text))
const repository = (name: string) => Effect.flatMap(flag(name), (text) => Reference.parseRepository(text))

const print = (value: unknown) => Console.log(JSON.stringify(value))

const fromLayout = (dir: string, tag: string) =>
  Effect.flatMap(Layout.findByRefName(dir, tag), (found) =>
    Option.isSome(found) && found.value._tag === "Image"
      ? Effect.succeed(found.value.image)
      : Effect.fail(new DriverError({ detail: `no image named ${tag} in ${dir}` })))

// Writes a seeded image of incompressible, uncompressed layers to a layout under a name.
const prepare = Effect.gen(function*() {
  const dir = yield* flag("layout")
  const tag = yield* flag("tag")
  const image = yield* Random.image({
    layers: yield* count("layers"),
    layerSize: (yield* count("layer-mib")) * MiB,
    seed: yield* flag("seed"),
    compression: "none",
    mediaType: MediaType.OCI_MANIFEST
  })
  yield* Layout.appendImage(dir, image, { annotations: { [Layout.refNameAnnotation]: tag } })
  const manifest = yield* image.manifest
  yield* print({
    digest: yield* image.digest,
    layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size }))
  })
})

const WORDS = (
  "the of and to in is that for it as was with be by on not he this are or his from at which but have an they " +
  "you were her all she there would their we him been has when who will more no if out so said what up its about " +
  "into than them can only other new some could time these two may then do first any my now such like our over " +
  "layer image manifest digest registry blob config index tag push pull copy mount stream bytes gzip tar"
).split(" ")

// A gzip file (level 6, as gzip's default) of seeded text-like content: words of a small
// vocabulary in lines, as compressible as source code or logs. The first 8 MiB are made and
// repeated; gzip's window is 32 KiB, so the repetition does not help it.
const text = Effect.gen(function*() {
  const out = yield* flag("out")
  const size = (yield* count("mib")) * MiB
  const seed = createHash("sha256").update(yield* flag("seed")).digest()
  let state = seed.readUInt32LE(0)
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const period = Math.min(size, 8 * MiB)
  const block = Buffer.alloc(period)
  let at = 0
  while (at < period) {
    const word = WORDS[Math.floor(next() * WORDS.length)] ?? "x"
    at += block.write(next() < 0.08 ? `${word}\n` : `${word} `, at, "latin1")
  }
  const chunks = Stream.unfold(0, (offset) =>
    offset >= size
      ? Option.none()
      : Option.some([block.subarray(0, Math.min(period, size - offset)), offset + period] as const))
  const fs = yield* FileSystem.FileSystem
  yield* Stream.run(Compression.gzip(chunks, 6), fs.sink(out))
  yield* print({ out, size })
})

// `--repeat N` (default 1) does the operation N times in this one process and reports each
// one's milliseconds: the first pays start-up work (module code compiled on first use, the
// ping), the later ones are what a program using the library pays per operation.
const repeated = <A, E, R>(operation: (run: number) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const at = argv.indexOf("--repeat")
    const n = at > 0 ? yield* count("repeat") : 1
    const millis: Array<number> = []
    let last: A | undefined
    for (let run = 0; run < Math.max(1, n); run++) {
      const started = performance.now()
      last = yield* operation(run)
      millis.push(performance.now() - started)
    }
    return { last: last as A, millis }
  })

const push = Effect.gen(function*() {
  const image = yield* fromLayout(yield* flag("layout"), yield* flag("tag"))
  const to = yield* reference("to")
  const { millis } = yield* repeated(() => Remote.write(to, image))
  yield* print({ pushed: Reference.format(to), digest: yield* image.digest, millis })
})

const pull = Effect.gen(function*() {
  const from = yield* reference("from")
  const dir = yield* flag("layout")
  const tag = yield* flag("tag")
  const image = yield* Remote.image(from)
  const descriptor = yield* Layout.appendImage(dir, image, { annotations: { [Layout.refNameAnnotation]: tag } })
  yield* print({ pulled: Reference.format(from), digest: descriptor.digest })
})

// With `--repeat`, run i > 0 copies to the repository of `--to` with `-i` appended, so that
// every run is a fresh copy (a mount), not a no-op.
const copy = Effect.gen(function*() {
  const from = yield* reference("from")
  const to = yield* reference("to")
  const { last, millis } = yield* repeated((run) =>
    Effect.gen(function*() {
      const target = run === 0 ? to : yield* Reference.parse(`${to.repository.registry.host}/${to.repository.path}-${run}:latest`)
      const image = yield* Remote.image(from)
      yield* Remote.write(target, image)
      return image
    }))
  yield* print({ copied: Reference.format(to), digest: yield* last.digest, millis })
})

// HEAD and GET of one manifest in turn, over one transport (one kept-alive connection).
const roundTrips = Effect.gen(function*() {
  const ref = yield* reference("ref")
  const n = yield* count("count")
  const started = performance.now()
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) yield* Remote.head(ref)
    else yield* Remote.get(ref)
  }
  const millis = performance.now() - started
  yield* print({ requests: n, millis, perRequestMillis: millis / Math.max(1, n) })
})

const get = Effect.gen(function*() {
  const fetched = yield* Remote.get(yield* reference("ref"))
  yield* Effect.promise(
    () => new Promise<void>((resolve) => process.stdout.write(fetched.bytes, () => resolve()))
  )
})

// Setup of the listing scenario: a small image under `count` tags of one repository.
const tags = Effect.gen(function*() {
  const ref = yield* reference("ref")
  const n = yield* count("count")
  const image = yield* Random.image({ layers: 1, layerSize: 1024, seed: "tags", mediaType: MediaType.OCI_MANIFEST })
  const name = (i: number) => `t${String(i).padStart(5, "0")}`
  yield* Remote.write(yield* Reference.withTag(ref.repository, name(0)), image)
  const raw = { bytes: yield* image.rawManifest, mediaType: yield* image.mediaType }
  yield* Effect.forEach(
    Array.from({ length: Math.max(0, n - 1) }, (_, i) => name(i + 1)),
    (t) => Effect.flatMap(Reference.withTag(ref.repository, t), (tagged) => Remote.tag(tagged, raw)),
    { concurrency: 8, discard: true }
  )
  yield* print({ tagged: n })
})

const list = Effect.gen(function*() {
  const found = yield* Remote.list(yield* repository("repo"))
  yield* print({ tags: found.length })
})

const fileStream = (path: string) =>
  Stream.unwrap(Effect.map(FileSystem.FileSystem, (fs) => fs.stream(path)))

const sha256 = Effect.gen(function*() {
  const measured = yield* Digest.ofStream(fileStream(yield* flag("file")))
  yield* print(measured)
})

const gunzip = Effect.gen(function*() {
  let size = 0
  yield* Stream.runForEachChunk(Compression.gunzip(fileStream(yield* flag("file"))), (chunk) =>
    Effect.sync(() => {
      for (const bytes of chunk) size += bytes.byteLength
    }))
  yield* print({ size })
})

const serve = Effect.gen(function*() {
  const root = yield* flag("root")
  const port = yield* count("port")
  return yield* Serve.serve({ disk: root, address: { host: "127.0.0.1", port } }, (address) => print({ address }))
})

// Loads the program and exits: the first run writes the code cache.
const ready = print({ ready: true })

const operations = {
  ready,
  prepare,
  text,
  push,
  pull,
  copy,
  "round-trips": roundTrips,
  get,
  tags,
  list,
  sha256,
  gunzip,
  serve
} as const

const isOperation = (name: string): name is keyof typeof operations => Object.hasOwn(operations, name)

const program: Effect.Effect<unknown, unknown, RegistryTransport.RegistryTransport | NodeContext.NodeContext> =
  isOperation(operation)
  ? operations[operation]
  : Effect.fail(
    new DriverError({ detail: `unknown operation ${JSON.stringify(operation)}; known: ${Object.keys(operations).join(", ")}` })
  )

// As the crane bin does.
Effect.runSync(NodeMemory.prime)

NodeRuntime.runMain(program.pipe(Effect.provide(Layer.merge(RegistryTransportNode.layerDocker(), NodeContext.layer))))
