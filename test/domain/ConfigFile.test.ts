import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import * as ConfigFile from "../../src/domain/ConfigFile.js"
import * as Digest from "../../src/domain/Digest.js"
import type { InvalidDocument } from "../../src/domain/Errors.js"
import * as MediaType from "../../src/domain/MediaType.js"
import * as Platform from "../../src/domain/Platform.js"

const FIXTURES = new URL("../../../shared/fixtures/", import.meta.url)
const BAZEL_CONFIG =
  "ggcr/layout/test_index/blobs/sha256/6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e"
const DOCKER_TAR = "containers-image/docker-archive/almostempty.tar"
const DOCKER_CONFIG = "9d7f147c0d0c4d4538a04c7ef385809e56eb1aac7bf800fbe976612188025b68.json"

const file = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, FIXTURES)))
const sha256 = (bytes: Uint8Array): string => `sha256:${createHash("sha256").update(bytes).digest("hex")}`
const json = (bytes: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(bytes))
const text = new TextEncoder()

/** One file of a ustar archive (enough for `docker save` tarballs). */
const tarEntry = (tar: Uint8Array, name: string): Uint8Array => {
  const field = (at: number, length: number) =>
    new TextDecoder().decode(tar.subarray(at, at + length)).replace(/\0.*$/s, "")
  for (let offset = 0; offset + 512 <= tar.length && tar[offset] !== 0; ) {
    const size = parseInt(field(offset + 124, 12).trim(), 8)
    if (field(offset, 100) === name) return tar.slice(offset + 512, offset + 512 + size)
    offset += 512 + Math.ceil(size / 512) * 512
  }
  return expect.fail(`${name} is not in the archive`)
}

const dockerConfig = () => tarEntry(file(DOCKER_TAR), DOCKER_CONFIG)
const decoded = (bytes: Uint8Array) => Either.getOrThrow(ConfigFile.decode(bytes))
const reasonOf = <A>(result: Either.Either<A, InvalidDocument>) =>
  Either.match(result, { onLeft: (e) => e.reason, onRight: () => "ok" as const })
const detailOf = <A>(result: Either.Either<A, InvalidDocument>) =>
  Either.match(result, { onLeft: (e) => e.detail, onRight: () => "" })

const minimal = {
  architecture: "amd64",
  os: "linux",
  rootfs: { type: "layers", diff_ids: [Digest.fromBytes("layer")] }
}

describe("ConfigFile.decode", () => {
  it("decodes the config Docker 1.10 wrote into a docker save tarball", () => {
    const bytes = dockerConfig()
    const raw = decoded(bytes)
    expect(raw.digest).toBe(`sha256:${DOCKER_CONFIG.replace(".json", "")}`)
    expect(raw.value.docker_version).toBe("1.10.3")
    expect(raw.value.created).toBe("2017-02-07T19:02:14.382332032Z")
    expect(ConfigFile.diffIds(raw.value)).toEqual([
      "sha256:0b916d257bd406111a3fced53f81b47de9a30f7c7d514a89769b3483aaddca7e"
    ])
  })

  it("accepts the nulls Docker writes for empty lists and maps", () => {
    const config = decoded(dockerConfig()).value.config
    expect(config?.Cmd).toBeNull()
    expect(config?.Entrypoint).toBeNull()
    expect(config?.Volumes).toBeNull()
    expect(config?.OnBuild).toBeNull()
    expect(config?.Labels).toBeNull()
    expect(config?.Env).toEqual(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
  })

  it("reads container_config as a run configuration too", () => {
    const containerConfig = decoded(dockerConfig()).value.container_config
    expect(containerConfig?.Cmd?.[0]).toBe("/bin/sh")
  })

  it("decodes the Bazel-written configs of a ggcr layout", () => {
    const bytes = file(BAZEL_CONFIG)
    const raw = decoded(bytes)
    expect(raw.digest).toBe(sha256(bytes))
    expect(raw.value.author).toBe("Bazel")
    expect(raw.value.history).toEqual([
      { author: "Bazel", created: "1970-01-01T00:00:00Z", created_by: "bazel build ..." }
    ])
    expect(raw.value.config).toEqual({})
  })

  it.each([DOCKER_CONFIG, BAZEL_CONFIG])("keeps the bytes of %s and re-encodes its value losing no field", (name) => {
    const bytes = name === DOCKER_CONFIG ? dockerConfig() : file(name)
    const raw = decoded(bytes)
    expect(Buffer.from(raw.bytes).equals(bytes)).toBe(true)
    expect(json(ConfigFile.encode(raw.value))).toEqual(json(bytes))
  })

  it("reads the run configuration of Docker 1.8's v1 image JSON, kept in a schema 1 manifest", () => {
    const manifest = json(file("containers-image/manifests/v2s1.manifest.json")) as {
      history: Array<{ v1Compatibility: string }>
    }
    for (const entry of manifest.history) {
      const v1 = JSON.parse(entry.v1Compatibility) as { config: unknown; container_config: unknown }
      const decode = Schema.decodeUnknownEither(ConfigFile.Config, { onExcessProperty: "preserve" })
      const config = Either.getOrThrow(decode(v1.config))
      expect(config.ExposedPorts).toBeNull()
      expect(config).toMatchObject({ PublishService: "", VolumeDriver: "" })
      expect(Either.isRight(decode(v1.container_config))).toBe(true)
    }
  })

  it("keeps unknown fields at every level and writes them back", () => {
    const doc = {
      ...minimal,
      "moby.buildkit.buildinfo.v1": "e30=",
      config: { Cmd: ["sh"], StopTimeout: 10, Healthcheck: { Test: ["CMD", "true"], Interval: 30000000000 } },
      history: [{ created_by: "RUN x", "com.example": 1 }]
    }
    const raw = decoded(text.encode(JSON.stringify(doc)))
    expect(raw.value).toMatchObject({ "moby.buildkit.buildinfo.v1": "e30=" })
    expect(raw.value.config).toMatchObject({ StopTimeout: 10 })
    expect(raw.value.config?.Healthcheck?.Interval).toBe(30000000000)
    expect(json(ConfigFile.encode(raw.value))).toEqual(doc)
  })

  it("accepts a rootfs without diff_ids, as Docker writes for an image without layers", () => {
    const raw = decoded(text.encode(JSON.stringify({ ...minimal, rootfs: { type: "layers" } })))
    expect(ConfigFile.diffIds(raw.value)).toEqual([])
  })

  it("gives the OCI config media type unless told another", () => {
    const bytes = text.encode(JSON.stringify(minimal))
    expect(decoded(bytes).mediaType).toBe(MediaType.OCI_CONFIG)
    const docker = Either.getOrThrow(ConfigFile.decode(bytes, { mediaType: MediaType.DOCKER_CONFIG }))
    expect(docker.mediaType).toBe(MediaType.DOCKER_CONFIG)
  })

  it("refuses a config without rootfs, naming the field", () => {
    const { rootfs: _, ...rest } = minimal
    const result = ConfigFile.decode(text.encode(JSON.stringify(rest)))
    expect(reasonOf(result)).toBe("Schema")
    expect(detailOf(result)).toContain("rootfs")
  })

  it("refuses a malformed diff id with its path", () => {
    const doc = { ...minimal, rootfs: { type: "layers", diff_ids: ["sha256:abc"] } }
    const result = ConfigFile.decode(text.encode(JSON.stringify(doc)))
    expect(reasonOf(result)).toBe("Schema")
    expect(detailOf(result)).toContain(".rootfs.diff_ids[0]")
  })

  it("refuses bytes that are not JSON, and JSON that is not an object", () => {
    expect(reasonOf(ConfigFile.decode(file("containers-image/manifests/non-json.manifest.json")))).toBe("NotJson")
    expect(reasonOf(ConfigFile.decode(text.encode("[]")))).toBe("Schema")
  })

  it("refuses a config larger than the limit", () => {
    expect(reasonOf(ConfigFile.decode(dockerConfig(), { maxSize: 1024 }))).toBe("TooLarge")
  })
})

describe("ConfigFile.encode", () => {
  it("writes compact JSON in ggcr's field order", () => {
    const config: ConfigFile.ConfigFile = {
      os: "linux",
      architecture: "arm64",
      variant: "v8",
      rootfs: { diff_ids: [Digest.fromBytes("l")], type: "layers" },
      config: { Env: ["A=1"], Cmd: ["sh"], Labels: { z: "1", a: "2" } },
      history: [{ created_by: "RUN x", created: "2024-01-01T00:00:00Z" }],
      created: "2024-01-01T00:00:00Z"
    }
    expect(new TextDecoder().decode(ConfigFile.encode(config))).toBe(
      `{"architecture":"arm64","created":"2024-01-01T00:00:00Z",` +
        `"history":[{"created":"2024-01-01T00:00:00Z","created_by":"RUN x"}],"os":"linux",` +
        `"rootfs":{"type":"layers","diff_ids":["${Digest.fromBytes("l")}"]},` +
        `"config":{"Cmd":["sh"],"Env":["A=1"],"Labels":{"a":"2","z":"1"}},"variant":"v8"}`
    )
  })

  it("escapes the && of a shell command as Go does", () => {
    const config = { ...minimal, history: [{ created_by: "/bin/sh -c apt-get update && apt-get clean" }] }
    expect(new TextDecoder().decode(ConfigFile.encode(config))).toContain(String.raw`update \u0026\u0026 apt-get`)
  })

  it("encodes once and digests those bytes", () => {
    const raw = ConfigFile.toRaw(minimal, MediaType.DOCKER_CONFIG)
    expect(raw.digest).toBe(sha256(raw.bytes))
    expect(raw.mediaType).toBe(MediaType.DOCKER_CONFIG)
    expect(decoded(raw.bytes).value).toEqual(minimal)
  })
})

describe("ConfigFile.platform", () => {
  it("reads os and architecture", () => {
    expect(ConfigFile.platform(decoded(dockerConfig()).value)).toEqual(Platform.defaultPlatform)
  })

  it("carries variant, os.version and os.features", () => {
    const config = {
      ...minimal,
      os: "windows",
      variant: "v2",
      "os.version": "10.0.17763.1234",
      "os.features": ["win32k"]
    }
    expect(ConfigFile.platform(config)).toEqual({
      architecture: "amd64",
      os: "windows",
      "os.version": "10.0.17763.1234",
      "os.features": ["win32k"],
      variant: "v2"
    })
  })
})
