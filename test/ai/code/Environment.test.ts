import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import * as Environment from "../../../src/ai/code/Environment.ts"

describe("Environment", () => {
  it.effect("starts from a fixed base, copies allowed names that are set, and lets set values win", () =>
    Effect.gen(function*() {
      const env = yield* Environment.make({ allow: ["LANG", "PROXY", "ABSENT"], set: { PATH: "/opt/bin" } }, "/work")
      assert.deepStrictEqual(env, {
        PATH: "/opt/bin",
        HOME: "/work",
        TMPDIR: "/work",
        LANG: "en_GB.UTF-8",
        PYTHONUNBUFFERED: "1",
        PYTHONDONTWRITEBYTECODE: "1",
        PROXY: "http://proxy:3128"
      })
    }).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ LANG: "en_GB.UTF-8", PROXY: "http://proxy:3128", SECRET: "s" })))))

  it.effect("refuses a name that is not a variable name, and a value with a NUL", () =>
    Effect.gen(function*() {
      for (const options of [{ allow: ["A=B"] }, { set: { "1X": "y" } }, { set: { X: "a\0b" } }]) {
        const error = yield* Effect.flip(Environment.make(options, "/work"))
        assert.strictEqual(error._tag, "CodeExecutionError")
      }
    }))
})
