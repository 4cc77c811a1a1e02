import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Readme from "../examples/readme.js"

describe("the README's examples", () => {
  it.effect("push a generated image to the in-process registry and pull it back", () =>
    Effect.gen(function* () {
      const result = yield* Readme.main
      expect(result.pulled).toBe(result.pushed)
      expect(result.os).toBe("linux")
      expect(result.tags).toEqual(["v1"])
    })
  )
})
