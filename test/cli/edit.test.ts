/**
 * The built `crane` program's `edit` and `layout gc` commands, run as subprocesses against our
 * registry (`crane registry serve`). The `$EDITOR` path runs crane under `script`, which gives
 * it a terminal, as a person at a shell would.
 */
import { execFile } from "node:child_process"
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  bin,
  crane,
  ensureBuilt,
  fixture,
  ok,
  registryTargets,
  sha256,
  startServe,
  type Target,
  tarList,
  useRegistry
} from "./support.js"

const exec = promisify(execFile)

const image1 = fixture("tarball/test_image_1.tar")
const image2 = fixture("tarball/test_image_2.tar")

const scriptBinary = "/usr/bin/script"
const hasScript = existsSync(scriptBinary)

let scratch = ""
let target: Target | undefined
const host = () => target?.host ?? ""

beforeAll(async () => {
  await ensureBuilt()
  scratch = mkdtempSync(join(tmpdir(), "crane-cli-edit-"))
  target = await startServe()
  await ok(["push", image1, `${host()}/edit/image:v1`])
}, 180_000)

afterAll(async () => {
  await target?.stop()
  if (scratch !== "") rmSync(scratch, { recursive: true, force: true })
})

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`

/** Runs `crane ARGS...` on a terminal (under `script`) with `EDITOR` set; gives what it printed. */
const onTerminal = async (args: ReadonlyArray<string>, editor: string): Promise<string> => {
  const command = [process.execPath, bin, ...args].map(quote).join(" ")
  const { stdout } = await exec(scriptBinary, ["-q", "-e", "-c", command, "/dev/null"], {
    env: { ...process.env, EDITOR: editor, NO_COLOR: "1" },
    timeout: 60_000
  })
  return stdout.replaceAll("\r", "")
}

/** A shell script to stand in for an editor. */
const editorScript = (name: string, body: string): string => {
  const path = join(scratch, name)
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
  return path
}

const blobFiles = (dir: string) => readdirSync(join(dir, "blobs", "sha256")).map((n) => `sha256:${n}`).sort()

interface ManifestJson {
  readonly mediaType: string
  readonly config: { readonly digest: string; readonly size: number }
  readonly layers: ReadonlyArray<{ readonly digest: string }>
}

const manifestOf = async (ref: string): Promise<ManifestJson> => JSON.parse(await ok(["manifest", ref])) as ManifestJson

describe("crane layout gc", () => {
  it("removes exactly the blobs of an entry taken out of index.json, naming each on stderr", async () => {
    await ok(["push", image2, `${host()}/edit/other:v1`])
    const dir = join(scratch, "layout")
    await ok(["pull", "--format", "oci", `${host()}/edit/image:v1`, `${host()}/edit/other:v1`, dir])
    const [keep, drop] = await Promise.all([manifestOf(`${host()}/edit/image:v1`), manifestOf(`${host()}/edit/other:v1`)])
    const keepDigest = (await ok(["digest", `${host()}/edit/image:v1`])).trim()
    const dropDigest = (await ok(["digest", `${host()}/edit/other:v1`])).trim()
    const kept = [keepDigest, keep?.config.digest ?? "", ...(keep?.layers.map((l) => l.digest) ?? [])].sort()
    const dropped = [dropDigest, drop?.config.digest ?? "", ...(drop?.layers.map((l) => l.digest) ?? [])].sort()
    expect(blobFiles(dir)).toEqual([...kept, ...dropped].sort())

    const nothing = await crane(["layout", "gc", dir])
    expect([nothing.code, nothing.out, nothing.stderr]).toEqual([0, "", ""])

    const indexPath = join(dir, "index.json")
    const index = JSON.parse(readFileSync(indexPath, "utf8")) as { manifests: ReadonlyArray<{ digest: string }> }
    writeFileSync(indexPath, JSON.stringify({ ...index, manifests: index.manifests.filter((m) => m.digest !== dropDigest) }))

    const run = await crane(["layout", "gc", dir])
    expect(run.code).toBe(0)
    expect(run.out).toBe("")
    expect(run.stderr).toBe(dropped.map((d) => `garbage collecting: ${d}\n`).join(""))
    expect(blobFiles(dir)).toEqual(kept)
    // What is left is whole: the remaining image pushes back with its digest.
    expect(await ok(["push", dir, `${host()}/edit/gc-back:v1`])).toBe(`${host()}/edit/gc-back@${keepDigest}\n`)
  })

  it("exits 1 on a directory that is not a layout, and 2 without one", async () => {
    const run = await crane(["layout", "gc", scratch])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("not an OCI image layout")
    expect((await crane(["layout", "gc"])).code).toBe(2)
    expect((await crane(["layout"])).code).toBe(2)
  })
})

describe.each(registryTargets)("crane edit against %s", (_name, start, available) => {
  const host = useRegistry(start, available, image1, "edit/image:v1")
  const maybe = available ? it : it.skip

  maybe("gives an image the config read from stdin, shown by crane config", async () => {
    const before = (await ok(["digest", `${host()}/edit/image:v1`])).trim()
    await ok(["tag", `${host()}/edit/image:v1`, "config"])
    const config = "{\"architecture\":\"arm64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"
    const out = await ok(["edit", "config", `${host()}/edit/image:config`], { stdin: config })
    expect(out).toBe(`${host()}/edit/image:config\n`)
    const run = await crane(["config", `${host()}/edit/image:config`])
    expect(run.stdout.toString()).toBe(config)
    const manifest = await manifestOf(`${host()}/edit/image:config`)
    expect(manifest.config).toMatchObject({ digest: sha256(config), size: config.length })
    expect(manifest.layers).toEqual((await manifestOf(`${host()}/edit/image:v1`)).layers)
    expect((await ok(["digest", `${host()}/edit/image:config`])).trim()).not.toBe(before)
  })

  maybe("puts the manifest read from stdin as it is, by the new digest when named by digest", async () => {
    const digest = (await ok(["digest", `${host()}/edit/image:v1`])).trim()
    const raw = await ok(["manifest", `${host()}/edit/image:v1`])
    const edited = raw.replace("\"schemaVersion\":2", "\"schemaVersion\":2,\"annotations\":{\"by\":\"crane edit\"}")
    expect(edited).not.toBe(raw)
    const out = await ok(["edit", "manifest", `${host()}/edit/image@${digest}`], { stdin: edited })
    expect(out).toBe(`${host()}/edit/image@${sha256(edited)}\n`)
    expect(await ok(["manifest", `${host()}/edit/image@${sha256(edited)}`])).toBe(edited)
  })

  maybe("puts the manifest under a new tag with -t and the media type given with -m", async () => {
    // Without its own mediaType, the document would go up under the type it had (Docker's).
    const raw = (await ok(["manifest", `${host()}/edit/image:v1`])).replace(/"mediaType":"[^"]*manifest[^"]*",/, "")
    expect(raw).not.toContain("manifest.v2+json")
    const out = await ok(
      ["edit", "manifest", `${host()}/edit/image:v1`, "-t", `${host()}/edit/image:retyped`, "-m", "application/vnd.oci.image.manifest.v1+json"],
      { stdin: raw }
    )
    expect(out).toBe(`${host()}/edit/image:retyped\n`)
    // docker-registry answers an OCI manifest only to a client that accepts it.
    const res = await fetch(`http://${host()}/v2/edit/image/manifests/retyped`, {
      method: "HEAD",
      headers: { accept: "application/vnd.oci.image.manifest.v1+json" }
    })
    expect(res.headers.get("content-type")).toBe("application/vnd.oci.image.manifest.v1+json")
  })

  maybe("adds the file read from stdin, as crane export shows it", async () => {
    const out = await ok(["edit", "fs", `${host()}/edit/image:v1`, "-f", "/etc/motd", "-t", `${host()}/edit/image:fs`], {
      stdin: "welcome\n"
    })
    expect(out).toBe(`${host()}/edit/image:fs\n`)
    const tar = (await crane(["export", `${host()}/edit/image:fs`, "-"])).stdout
    expect(await tarList(tar)).toEqual(expect.arrayContaining(["etc/motd", "foo", "bar"]))
    const { stdout } = await exec("sh", ["-c", `"${process.execPath}" "${bin}" export ${host()}/edit/image:fs - | tar xOf - etc/motd`])
    expect(stdout).toBe("welcome\n")
    const config = JSON.parse(await ok(["config", `${host()}/edit/image:fs`])) as {
      history: ReadonlyArray<{ author?: string; created_by?: string }>
    }
    expect(config.history.at(-1)?.author).toBe("crane")
    expect(config.history.at(-1)?.created_by).toContain("crane edit fs")
  })

  maybe("exits 2 without a subcommand, or edit fs without --filename", async () => {
    expect((await crane(["edit"])).code).toBe(2)
    expect((await crane(["edit", "fs", `${host()}/edit/image:v1`])).code).toBe(2)
  })

})

describe("crane edit on a terminal", () => {
  const terminal = hasScript ? it : it.skip

  terminal("opens $EDITOR on the config when on a terminal", async () => {
    const editor = editorScript("config-editor.sh", "sed -i 's/\"os\"/\"os.note\":\"edited\",\"os\"/' \"$1\"")
    const printed = await onTerminal(["edit", "config", `${host()}/edit/image:v1`, "-t", `${host()}/edit/image:by-editor`], editor)
    expect(printed).toContain(`${host()}/edit/image:by-editor\n`)
    const before = await ok(["config", `${host()}/edit/image:v1`])
    const after = await ok(["config", `${host()}/edit/image:by-editor`])
    expect(after).toBe(before.replace("\"os\"", "\"os.note\":\"edited\",\"os\""))
    expect(after).not.toBe(before)
  })

  terminal("opens $EDITOR on a file of the image when on a terminal", async () => {
    const editor = editorScript("fs-editor.sh", "printf 'edited:%s' \"$(cat \"$1\")\" > \"$1\"")
    const printed = await onTerminal(["edit", "fs", `${host()}/edit/image:v1`, "-f", "foo", "-t", `${host()}/edit/image:fs-editor`], editor)
    expect(printed).toContain(`${host()}/edit/image:fs-editor\n`)
    const read = (ref: string) =>
      exec("sh", ["-c", `"${process.execPath}" "${bin}" export ${ref} - | tar xOf - foo`]).then((r) => r.stdout)
    const before = await read(`${host()}/edit/image:v1`)
    expect(await read(`${host()}/edit/image:fs-editor`)).toBe(`edited:${before.trimEnd()}`)
  })

  terminal("fails when $EDITOR fails, pushing nothing", async () => {
    const editor = editorScript("failing-editor.sh", "exit 4")
    const command = [process.execPath, bin, "edit", "config", `${host()}/edit/image:v1`, "-t", `${host()}/edit/image:never`]
    const failed = await exec(scriptBinary, ["-q", "-e", "-c", command.map(quote).join(" "), "/dev/null"], {
      env: { ...process.env, EDITOR: editor, NO_COLOR: "1" }
    }).then(() => undefined, (e: { code?: number; stdout?: string }) => e)
    expect(failed?.code).toBe(1)
    expect(failed?.stdout).toContain("exited with status 4")
    expect((await crane(["digest", `${host()}/edit/image:never`])).code).toBe(1)
  })
})
