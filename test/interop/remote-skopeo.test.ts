/**
 * `Remote` and skopeo agree: what we push, skopeo reads back byte for byte; what skopeo
 * pushes (from an OCI layout made by ggcr's tests), we pull with the same digests. Run against
 * our registry on a port and against the CNCF distribution registry.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as Digest from "../../src/domain/Digest.js"
import * as IndexManifest from "../../src/domain/IndexManifest.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Platform from "../../src/domain/Platform.js"
import * as Random from "../../src/domain/Random.js"
import * as Reference from "../../src/domain/Reference.js"
import * as Remote from "../../src/services/Remote.js"
import { hasDockerRegistry } from "../registry/peers.js"
import {
  digestsOf,
  dockerRegistry,
  type Env,
  freshRepository,
  oursOverHttp,
  readAll,
  tagOf
} from "../services/remote/support.js"

const skopeo = "/usr/bin/skopeo"
const hasSkopeo = existsSync(skopeo)

const layoutDir = fileURLToPath(
  new URL("../../../shared/fixtures/ggcr/layout/test_index_one_image", import.meta.url)
)

// skopeo refuses to run without a signature policy; accept anything for these loopback tests.
const ensurePolicy = () => {
  const policy = "/etc/containers/policy.json"
  if (existsSync(policy)) return
  mkdirSync("/etc/containers", { recursive: true })
  writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }))
}

const run = (args: ReadonlyArray<string>) =>
  Effect.async<Buffer, Error>((resume) => {
    execFile(skopeo, args, { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error !== null) resume(Effect.fail(new Error(`skopeo ${args.join(" ")}: ${stderr.toString()}`)))
      else resume(Effect.succeed(stdout))
    })
  })

const inspectRaw = (ref: Reference.Reference) =>
  run(["inspect", "--raw", "--tls-verify=false", `docker://${Reference.name(ref)}`])

const interop = (it: import("@effect/vitest").Vitest.MethodsNonLive<Env, true>) => {
  it.effect("skopeo reads back the exact manifest bytes of an image we push", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("to-skopeo")
      const image = yield* Random.image({ layers: 2, layerSize: 10_000, seed: "to-skopeo" })
      const ref = tagOf(repo, "v1")
      yield* Remote.write(ref, image)
      const raw = yield* inspectRaw(ref)
      expect(Buffer.compare(raw, yield* image.rawManifest)).toBe(0)
      expect(Digest.fromBytes(raw)).toBe(yield* image.digest)
    }))

  it.effect("skopeo reads back the exact bytes of an index we push", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("index-to-skopeo")
      const index = yield* Random.index({
        images: 2,
        layers: 1,
        layerSize: 3_000,
        seed: "index-to-skopeo",
        platforms: [Platform.defaultPlatform, Platform.make({ os: "linux", architecture: "arm64", variant: "v8" })]
      })
      const ref = tagOf(repo, "multi")
      yield* Remote.writeIndex(ref, index)
      expect(Buffer.compare(yield* inspectRaw(ref), yield* index.rawManifest)).toBe(0)
      const [, arm] = (yield* index.indexManifest).manifests
      const child = Reference.withDigest(repo, arm!.digest)
      expect(Digest.fromBytes(yield* inspectRaw(child))).toBe(arm!.digest)
    }))

  it.effect("we pull what skopeo pushes from an OCI layout, with the same digests", () =>
    Effect.gen(function*() {
      const repo = yield* freshRepository("from-skopeo")
      const ref = tagOf(repo, "v1")
      const index = Either.getOrThrow(
        IndexManifest.decode(new Uint8Array(readFileSync(`${layoutDir}/index.json`)), { mediaType: MediaType.OCI_INDEX })
      )
      const expected = index.value.manifests[0]!
      yield* run([
        "copy",
        "--quiet",
        "--preserve-digests",
        "--dest-tls-verify=false",
        `oci:${layoutDir}`,
        `docker://${Reference.name(ref)}`
      ])
      const pulled = yield* Remote.image(ref)
      expect(yield* pulled.digest).toBe(expected.digest)
      const manifest = yield* pulled.manifest
      const digests = yield* digestsOf(pulled)
      expect(digests.config).toBe(manifest.config.digest)
      expect(digests.layers).toEqual(manifest.layers.map((l) => l.digest))
      const read = yield* readAll(pulled)
      for (const [i, layer] of manifest.layers.entries()) {
        const file = readFileSync(`${layoutDir}/blobs/sha256/${Digest.hex(layer.digest)}`)
        expect(read.sizes[i]).toBe(file.byteLength)
      }
      const config = readFileSync(`${layoutDir}/blobs/sha256/${Digest.hex(manifest.config.digest)}`)
      expect(Buffer.compare(read.config, config)).toBe(0)
    }))
}

describe.skipIf(!hasSkopeo)("Remote and skopeo", () => {
  ensurePolicy()
  layer(oursOverHttp(), { excludeTestServices: true })("on our registry", interop)
  describe.skipIf(!hasDockerRegistry)("on docker-registry", () => {
    layer(dockerRegistry(), { excludeTestServices: true })(interop)
  })
})
