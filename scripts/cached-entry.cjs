#!/usr/bin/env node
// The start of a bundled program, with V8's code cache. It runs `<name>.program.cjs`, found
// beside this file (`<name>.cjs`), compiled with the code cache in `<name>.program.cache`
// when that cache was made from the same program: a start then skips parsing and compiling
// most of the bundle (a third of `crane version`'s time on Node 20, which has no built-in
// compile cache). When the cache is missing, stale or refused (another Node), the program is
// compiled from source and a fresh cache is written at exit, through a temporary name and a
// rename, where this directory is writable; any failure to write leaves things as they were.
//
// The cache starts with the SHA-256 of the program's source: V8 checks only the source's
// length, so without it an edited program of the same length would run stale code.
"use strict"
const { createHash } = require("node:crypto")
const { readFileSync, renameSync, rmSync, writeFileSync } = require("node:fs")
const Module = require("node:module")
const { Script } = require("node:vm")

const entry = __filename.replace(/\.cjs$/, "")
const programFile = `${entry}.program.cjs`
const cacheFile = `${entry}.program.cache`
const source = readFileSync(programFile, "utf8")
const hash = createHash("sha256").update(source).digest()

const readCache = () => {
  try {
    const stored = readFileSync(cacheFile)
    return stored.subarray(0, hash.length).equals(hash) ? stored.subarray(hash.length) : undefined
  } catch {
    return undefined
  }
}

const cachedData = readCache()
const script = new Script(Module.wrap(source), { filename: programFile, cachedData })

if (cachedData === undefined || script.cachedDataRejected === true) {
  process.once("exit", () => {
    const temporary = `${cacheFile}.${process.pid}.tmp`
    try {
      writeFileSync(temporary, Buffer.concat([hash, script.createCachedData()]))
      renameSync(temporary, cacheFile)
    } catch {
      try {
        rmSync(temporary, { force: true })
      } catch {
        // nothing was written, or nothing can be removed here
      }
    }
  })
}

const programModule = { exports: {}, filename: programFile, id: ".", loaded: false }
script.runInThisContext().call(
  programModule.exports,
  programModule.exports,
  Module.createRequire(programFile),
  programModule,
  programFile,
  __dirname
)
