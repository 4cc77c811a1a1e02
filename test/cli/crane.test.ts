/**
 * The built `crane` program, run as a subprocess, against our registry (started with `crane
 * registry serve`) and against Debian's docker-registry, with skopeo as the independent reader.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  bin,
  crane,
  ensureBuilt,
  ensurePolicy,
  fixture,
  hasDistribution,
  hasSkopeo,
  ok,
  registryTargets,
  root,
  sh,
  sha256,
  skopeoDigest,
  skopeoRaw,
  startServe,
  tarList,
  useRegistry
} from "./support.js"

const image1 = fixture("tarball/test_image_1.tar")
const image2 = fixture("tarball/test_image_2.tar")
const content = fixture("crane/content.tar")
/** The config bytes `docker save` stored for test_image_1. */
const image1Config = execFileSync("tar", ["xOf", image1, "6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e.json"])

let scratch = ""
/** A directory on the PATH where `crane` is the built program, for scripts run unchanged. */
let pathDir = ""

beforeAll(async () => {
  await ensureBuilt()
  ensurePolicy()
  scratch = mkdtempSync(join(tmpdir(), "crane-cli-"))
  pathDir = join(scratch, "bin")
  execFileSync("mkdir", ["-p", pathDir])
  symlinkSync(bin, join(pathDir, "crane"))
}, 180_000)

afterAll(() => {
  if (scratch !== "") rmSync(scratch, { recursive: true, force: true })
})

const script = (text: string) => sh(text, { PATH: `${pathDir}:${process.env["PATH"] ?? ""}` })

describe("crane, on its own", () => {
  it("prints the package version", async () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }
    expect(await ok(["version"])).toBe(`${pkg.version}\n`)
  })

  it("exits 2 for a subcommand that does not exist", async () => {
    const run = await crane(["bogus"])
    expect(run.code).toBe(2)
    expect(run.stdout.byteLength).toBe(0)
  })

  it("prints its help and exits 0 when run without arguments, as crane does", async () => {
    const run = await crane([])
    expect(run.code).toBe(0)
    expect(run.stdout.toString()).toContain("USAGE")
    expect(run.stdout.toString()).toContain("pull")
  })

  it("writes help and parse errors without colours when they do not go to a terminal", async () => {
    // NO_COLOR unset: the pipe alone turns colours off.
    const help = await crane(["--help"], { env: { NO_COLOR: undefined } })
    expect(help.code).toBe(0)
    expect(help.stdout.toString()).toContain("USAGE")
    expect(help.stdout.toString()).not.toContain("\u001b[")
    const bad = await crane(["digest", "--platform"], { env: { NO_COLOR: undefined } })
    expect(bad.code).toBe(2)
    expect(bad.stderr).not.toContain("\u001b[")
  })

  it("exits 2 when an argument is missing", async () => {
    expect((await crane(["pull", "only-one-argument"])).code).toBe(2)
    expect((await crane(["digest"])).code).toBe(2)
  })

  it("exits 2 for a malformed platform", async () => {
    const run = await crane(["digest", "--platform", "linux/amd64/v8/extra", "localhost:1/x:y"])
    expect(run.code).toBe(2)
  })

  it("exits 1 with one line naming the bad reference", async () => {
    const run = await crane(["digest", "UPPER/case:tag"])
    expect(run.code).toBe(1)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr).toContain("repository names must be lower-case")
  })

  it("prints shell completions for bash", async () => {
    const out = await ok(["completion", "bash"])
    expect(out).toContain("crane")
    expect(out).toContain("complete")
  })

  it("writes docker's config.json on login, honouring DOCKER_CONFIG, and answers it back as a helper", async () => {
    const dockerConfig = join(scratch, "docker-config")
    const env = { DOCKER_CONFIG: dockerConfig }
    const login = await crane(["auth", "login", "registry.example.com", "-u", "alice", "--password-stdin"], {
      env,
      stdin: "s3cret\n"
    })
    expect(login.code).toBe(0)
    const config = JSON.parse(readFileSync(join(dockerConfig, "config.json"), "utf8")) as unknown
    expect(config).toEqual({
      auths: { "registry.example.com": { auth: Buffer.from("alice:s3cret").toString("base64") } }
    })
    expect(JSON.parse(await ok(["auth", "get", "registry.example.com"], { env }))).toEqual({
      Username: "alice",
      Secret: "s3cret"
    })
    await ok(["auth", "logout", "registry.example.com"], { env })
    const missing = await crane(["auth", "get", "registry.example.com"], { env })
    expect(missing.code).toBe(1)
    expect(missing.out).toBe("credentials not found in native keychain\n")
  })

  it("validates a docker save tarball", async () => {
    expect(await ok(["validate", "--tarball", image1])).toBe(`PASS: ${image1}\n`)
  })

  it("gives the digest of an image in a tarball", async () => {
    expect((await ok(["digest", "--tarball", image1])).trim()).toMatch(/^sha256:[0-9a-f]{64}$/)
  })
})

describe.each(registryTargets)("crane against %s", (name, start, available) => {
  const host = useRegistry(start, available, image1, "test/image:v1")

  const maybe = available ? it : it.skip
  const withSkopeo = available && hasSkopeo ? it : it.skip

  maybe("pushes a tarball and prints the reference by digest, as a script would run it", async () => {
    const out = await script(`crane push ${image2} ${host()}/test/pushed:v2`)
    expect(out).toMatch(new RegExp(`^${host()}/test/pushed@sha256:[0-9a-f]{64}\\n$`))
  })

  withSkopeo("reports the digest skopeo computes", async () => {
    const digest = (await ok(["digest", `${host()}/test/image:v1`])).trim()
    expect(digest).toBe(await skopeoDigest(`${host()}/test/image:v1`))
  })

  maybe("prints the full reference by digest with --full-ref", async () => {
    const digest = (await ok(["digest", `${host()}/test/image:v1`])).trim()
    expect(await ok(["digest", "--full-ref", `${host()}/test/image:v1`])).toBe(`${host()}/test/image@${digest}\n`)
  })

  withSkopeo("prints the manifest's exact bytes, as skopeo reads them", async () => {
    const run = await crane(["manifest", `${host()}/test/image:v1`])
    expect(run.stdout.equals(await skopeoRaw(`${host()}/test/image:v1`))).toBe(true)
  })

  maybe("prints the pushed config bytes", async () => {
    const run = await crane(["config", `${host()}/test/image:v1`])
    expect(run.code).toBe(0)
    expect(run.stdout.equals(image1Config)).toBe(true)
  })

  maybe("writes a blob's bytes to stdout", async () => {
    const manifest = JSON.parse(await ok(["manifest", `${host()}/test/image:v1`])) as {
      layers: ReadonlyArray<{ digest: string }>
    }
    const layer = manifest.layers[0]?.digest ?? ""
    const run = await crane(["blob", `${host()}/test/image@${layer}`])
    expect(sha256(run.stdout)).toBe(layer)
  })

  maybe("lists tags, in full with --full-ref", async () => {
    await ok(["tag", `${host()}/test/image:v1`, "also"])
    expect((await ok(["ls", `${host()}/test/image`])).split("\n").filter(Boolean).sort()).toEqual(["also", "v1"])
    expect((await ok(["ls", "--full-ref", `${host()}/test/image`])).split("\n")).toContain(`${host()}/test/image:v1`)
  })

  maybe("leaves out digest tags with -O", async () => {
    const digest = (await ok(["digest", `${host()}/test/image:v1`])).trim()
    await ok(["tag", `${host()}/test/image:v1`, `sha256-${digest.slice(7)}.sig`])
    const all = (await ok(["ls", `${host()}/test/image`])).split("\n").filter(Boolean)
    const omitted = (await ok(["ls", "-O", `${host()}/test/image`])).split("\n").filter(Boolean)
    expect(all.some((t) => t.startsWith("sha256-"))).toBe(true)
    expect(omitted.some((t) => t.startsWith("sha256-"))).toBe(false)
  })

  maybe("lists repositories in the catalog", async () => {
    expect((await ok(["catalog", host()])).split("\n")).toContain("test/image")
  })

  withSkopeo("copies an image keeping its digest", async () => {
    await ok(["copy", `${host()}/test/image:v1`, `${host()}/test/copied:v1`])
    await ok(["cp", `${host()}/test/image:v1`, `${host()}/test/copied:cp`])
    const digest = await skopeoDigest(`${host()}/test/image:v1`)
    expect(await skopeoDigest(`${host()}/test/copied:v1`)).toBe(digest)
    expect(await skopeoDigest(`${host()}/test/copied:cp`)).toBe(digest)
  })

  maybe("copies every tag with --all-tags", async () => {
    await ok(["push", image1, `${host()}/test/all:one`])
    await ok(["push", image2, `${host()}/test/all:two`])
    await ok(["copy", "--all-tags", `${host()}/test/all`, `${host()}/test/all-copy`])
    expect((await ok(["ls", `${host()}/test/all-copy`])).split("\n").filter(Boolean).sort()).toEqual(["one", "two"])
  })

  maybe("pulls to an OCI layout, as a script would run it", async () => {
    const dir = join(scratch, `layout-${name.length}-${Date.now()}`)
    await script(`crane pull --format oci ${host()}/test/image:v1 ${dir}`)
    const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as { manifests: ReadonlyArray<{ digest: string }> }
    expect(index.manifests.map((m) => m.digest)).toEqual([(await ok(["digest", `${host()}/test/image:v1`])).trim()])
    expect(readFileSync(join(dir, "oci-layout"), "utf8")).toContain("1.0.0")
  })

  maybe("pulls to a tarball that pushes back to the same digest", async () => {
    const path = join(scratch, `pulled-${Date.now()}.tar`)
    await ok(["pull", `${host()}/test/image:v1`, path])
    const pushed = await ok(["push", path, `${host()}/test/repushed:v1`])
    expect(pushed.trim().split("@")[1]).toBe((await ok(["digest", `${host()}/test/image:v1`])).trim())
  })

  maybe("exports the filesystem to stdout for tar, as a script would run it", async () => {
    const listed = (await script(`crane export ${host()}/test/image:v1 - | tar t`)).split("\n").filter(Boolean)
    expect(listed.filter((n) => !n.endsWith("/")).sort()).toEqual(["bar", "foo"])
  })

  maybe("flattens an image to one layer under a new tag, as a script would run it", async () => {
    const out = await script(`crane flatten ${host()}/test/image:v1 -t ${host()}/test/image:flat`)
    expect(out).toMatch(new RegExp(`^${host()}/test/image@sha256:[0-9a-f]{64}\\n$`))
    const manifest = JSON.parse(await ok(["manifest", `${host()}/test/image:flat`])) as { layers: ReadonlyArray<unknown> }
    expect(manifest.layers).toHaveLength(1)
    expect(await tarList((await crane(["export", `${host()}/test/image:flat`, "-"])).stdout)).toContain("foo")
  })

  maybe("mutates the config and pushes the result to a new tag", async () => {
    const out = await ok([
      "mutate",
      `${host()}/test/image:v1`,
      "-t",
      `${host()}/test/image:mutated`,
      "-l",
      "org.example=yes",
      "-e",
      "GREETING=hello",
      "--entrypoint",
      "/bin/sh,-c",
      "-a",
      "note=mutated"
    ])
    const digest = out.trim().split("@")[1]
    const config = JSON.parse(await ok(["config", `${host()}/test/image:mutated`])) as {
      config: { Labels: Record<string, string>; Env: ReadonlyArray<string>; Entrypoint: ReadonlyArray<string> }
    }
    expect(config.config.Labels).toEqual({ "org.example": "yes" })
    expect(config.config.Env).toEqual(["GREETING=hello"])
    expect(config.config.Entrypoint).toEqual(["/bin/sh", "-c"])
    expect((await ok(["digest", `${host()}/test/image:mutated`])).trim()).toBe(digest)
  })

  maybe("appends a layer file to an empty image and to a base", async () => {
    await ok(["append", "-f", content, "-t", `${host()}/test/appended:empty`])
    const listed = await tarList((await crane(["export", `${host()}/test/appended:empty`, "-"])).stdout)
    expect(listed.filter((n) => !n.endsWith("/")).sort()).toEqual(["bat", "baz"])
    await ok(["append", "-f", content, "-b", `${host()}/test/image:v1`, "-t", `${host()}/test/appended:base`, "--set-base-image-annotations"])
    const manifest = JSON.parse(await ok(["manifest", `${host()}/test/appended:base`])) as {
      layers: ReadonlyArray<unknown>
      annotations: Record<string, string>
    }
    expect(manifest.layers).toHaveLength(2)
    expect(manifest.annotations["org.opencontainers.image.base.name"]).toBe(`${host()}/test/image:v1`)
  })

  maybe("rebases an image from its old base onto a new one", async () => {
    await ok(["append", "-f", content, "-b", `${host()}/test/image:v1`, "-t", `${host()}/test/app:v1`, "--set-base-image-annotations"])
    await ok(["push", image2, `${host()}/test/newbase:v1`])
    const out = await ok([
      "rebase",
      `${host()}/test/app:v1`,
      "--old_base",
      `${host()}/test/image:v1`,
      "--new_base",
      `${host()}/test/newbase:v1`,
      "-t",
      `${host()}/test/app:rebased`
    ])
    expect(out).toMatch(/@sha256:[0-9a-f]{64}\n$/)
    const rebased = JSON.parse(await ok(["manifest", `${host()}/test/app:rebased`])) as { layers: ReadonlyArray<{ digest: string }> }
    const newBase = JSON.parse(await ok(["manifest", `${host()}/test/newbase:v1`])) as { layers: ReadonlyArray<{ digest: string }> }
    expect(rebased.layers[0]?.digest).toBe(newBase.layers[0]?.digest)
  })

  withSkopeo("builds an index from two images, as a script would run it, and filters it by platform", async () => {
    await ok(["mutate", `${host()}/test/image:v1`, "--set-platform", "linux/arm64", "-t", `${host()}/test/image:arm64`])
    await script(
      `crane index append -m ${host()}/test/image:v1 -m ${host()}/test/image:arm64 -t ${host()}/test/index:v1`
    )
    const raw = await skopeoRaw(`${host()}/test/index:v1`)
    const index = JSON.parse(raw.toString()) as { manifests: ReadonlyArray<{ platform: { architecture: string } }> }
    expect(index.manifests.map((m) => m.platform.architecture)).toEqual(["amd64", "arm64"])
    expect((await ok(["digest", `${host()}/test/index:v1`])).trim()).toBe(sha256(raw))
    const listed = await ok(["index", "list", `${host()}/test/index:v1`])
    expect(listed).toContain("linux/arm64")
    await ok(["index", "filter", `${host()}/test/index:v1`, "--platform", "linux/arm64", "-t", `${host()}/test/index:arm64`])
    const filtered = JSON.parse((await skopeoRaw(`${host()}/test/index:arm64`)).toString()) as {
      manifests: ReadonlyArray<unknown>
    }
    expect(filtered.manifests).toHaveLength(1)
    const arm = (await ok(["digest", "--platform", "linux/arm64", `${host()}/test/index:v1`])).trim()
    expect(arm).toBe((await ok(["digest", `${host()}/test/image:arm64`])).trim())
  })

  maybe("takes an os alone for --platform: index filter keeps all of its children, image choice wants an arch", async () => {
    await ok(["mutate", `${host()}/test/image:v1`, "--set-platform", "linux/arm64", "-t", `${host()}/test/os-only:arm64`])
    await ok(["mutate", `${host()}/test/image:v1`, "--set-platform", "windows/amd64", "-t", `${host()}/test/os-only:windows`])
    const children = [`${host()}/test/image:v1`, `${host()}/test/os-only:arm64`, `${host()}/test/os-only:windows`]
    await ok(["index", "append", ...children.flatMap((c) => ["-m", c]), "-t", `${host()}/test/os-only:index`])
    await ok(["index", "filter", `${host()}/test/os-only:index`, "--platform", "linux", "-t", `${host()}/test/os-only:linux`])
    const kept = JSON.parse(await ok(["manifest", `${host()}/test/os-only:linux`])) as {
      manifests: ReadonlyArray<{ platform: { os: string; architecture: string } }>
    }
    expect(kept.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`)).toEqual(["linux/amd64", "linux/arm64"])
    // As ggcr's remote, choosing one image out of an index needs os and architecture both.
    const run = await crane(["digest", "--platform", "linux", `${host()}/test/os-only:index`])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("no image for linux")
    // An image that is not an index is taken as it is.
    expect((await ok(["digest", "--platform", "linux", `${host()}/test/image:v1`])).trim()).toMatch(/^sha256:/)
  })

  maybe("validates a remote image, as a script would run it", async () => {
    expect(await script(`crane validate --remote ${host()}/test/image:v1`)).toBe(`PASS: ${host()}/test/image:v1\n`)
  })

  maybe("deletes an image by digest, after which it is missing: exit 1 and one line with the registry's code", async () => {
    await ok(["push", image2, `${host()}/test/doomed:v1`])
    const digest = (await ok(["digest", `${host()}/test/doomed:v1`])).trim()
    await ok(["delete", `${host()}/test/doomed@${digest}`])
    const run = await crane(["manifest", `${host()}/test/doomed@${digest}`])
    expect(run.code).toBe(1)
    expect(run.stdout.byteLength).toBe(0)
    const lines = run.stderr.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^Error: .*MANIFEST_UNKNOWN/)
  })

  maybe("fails with one line and exit 1 for a tag that does not exist", async () => {
    const run = await crane(["digest", `${host()}/test/image:missing`])
    expect(run.code).toBe(1)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr).toContain("MANIFEST_UNKNOWN")
  })

  maybe("logs every request with -v, without credentials", async () => {
    const run = await crane(["-v", "digest", `${host()}/test/image:v1`])
    expect(run.code).toBe(0)
    expect(run.stderr).toContain(`GET http://${host()}/v2/`)
    expect(run.stderr).toMatch(/<-- 200 (HEAD|GET) /)
  })
})

describe("crane registry serve", () => {
  it("keeps what is pushed in the --disk directory across restarts", async () => {
    await ensureBuilt()
    const disk = join(scratch, "disk")
    const first = await startServe(["--address", "127.0.0.1:0", "--disk", disk])
    let digest = ""
    try {
      const out = await ok(["push", image1, `${first.host}/kept/image:v1`])
      digest = out.trim().split("@")[1] ?? ""
    } finally {
      await first.stop()
    }
    const second = await startServe(["--address", "127.0.0.1:0", "--disk", disk])
    try {
      expect((await ok(["digest", `${second.host}/kept/image:v1`])).trim()).toBe(digest)
    } finally {
      await second.stop()
    }
  }, 120_000)

  it("exits 2 for an address it cannot read", async () => {
    await ensureBuilt()
    const run = await crane(["registry", "serve", "--address", "127.0.0.1:99999"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("99999")
  })
})

describe.skipIf(!hasDistribution)("crane against docker-registry with htpasswd auth", () => {
  let registry: { readonly host: string; readonly stop: () => Promise<void> } | undefined
  let user = ""
  let pass = ""
  const host = () => registry?.host ?? ""
  // each test's own docker config directory, so no credentials leak between them
  const dockerConfig = () => ({ DOCKER_CONFIG: mkdtempSync(join(scratch, "docker-config-")) })
  const noStackTrace = (stderr: string) => expect(stderr).not.toMatch(/^\s+at /m)

  beforeAll(async () => {
    await ensureBuilt()
    const auth = await import("../interop/authRegistry.js")
    user = auth.username
    pass = auth.password
    registry = await auth.startAuthRegistry()
  }, 180_000)

  afterAll(async () => {
    await registry?.stop()
  })

  it("fails without credentials: exit 1 and one line naming UNAUTHORIZED, no stack trace", async () => {
    const run = await crane(["digest", `${host()}/secured/app:v1`], { env: dockerConfig() })
    expect(run.code).toBe(1)
    expect(run.stdout.byteLength).toBe(0)
    const lines = run.stderr.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^Error: .*401 UNAUTHORIZED/)
    noStackTrace(run.stderr)
  })

  it("pushes and reads the digest back after crane auth login -u -p", async () => {
    const env = dockerConfig()
    const login = await crane(["auth", "login", host(), "-u", user, "-p", pass], { env })
    expect(login.code).toBe(0)
    const pushed = (await ok(["push", image1, `${host()}/secured/app:v1`], { env })).trim()
    const digest = (await ok(["digest", `${host()}/secured/app:v1`], { env })).trim()
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(pushed).toBe(`${host()}/secured/app@${digest}`)
  })

  it("fails with a wrong password: exit 1, one line naming UNAUTHORIZED, without the password", async () => {
    const env = dockerConfig()
    await ok(["auth", "login", host(), "-u", user, "-p", "not-the-password"], { env })
    const run = await crane(["digest", `${host()}/secured/app:v1`], { env })
    expect(run.code).toBe(1)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(run.stderr).toContain("UNAUTHORIZED")
    expect(run.stderr).not.toContain("not-the-password")
    noStackTrace(run.stderr)
  })

  it("gives up on a registry nobody listens on: exit 1, one clear line, in bounded time", async () => {
    const { freePort } = await import("../interop/authRegistry.js")
    const port = await freePort()
    const started = Date.now()
    const run = await crane(["digest", `127.0.0.1:${port}/nobody/home:v1`], { env: dockerConfig() })
    expect(Date.now() - started).toBeLessThan(25_000)
    expect(run.code).toBe(1)
    const lines = run.stderr.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`127.0.0.1:${port}`)
    expect(lines[0]).toContain("ECONNREFUSED")
    noStackTrace(run.stderr)
  }, 30_000)
})
