import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Language from "../../../src/ai/code/Language.ts"

describe("Language", () => {
  it.effect("resolves the names models use, whatever their case and blanks", () =>
    Effect.gen(function*() {
      for (const [name, language] of [["python", "python"], ["Python3", "python"], [" py ", "python"], ["shell", "sh"], ["console", "sh"], ["BASH", "bash"]] as const) {
        assert.strictEqual(yield* Language.resolve(name), language, name)
      }
    }))

  it.effect("refuses a language it does not know, or one left out of the supported list, listing what is supported", () =>
    Effect.gen(function*() {
      for (const name of ["javascript", "constructor", "__proto__", ""]) {
        const error = yield* Effect.flip(Language.resolve(name))
        assert.strictEqual(error._tag, "UnsupportedLanguageError")
        assert.deepStrictEqual(error.supported, ["python", "sh", "bash"])
      }
      const error = yield* Effect.flip(Language.resolve("bash", ["python"]))
      assert.deepStrictEqual(error.supported, ["python"])
      assert.strictEqual(error.message, "unsupported language \"bash\"; supported: python")
    }))
})
