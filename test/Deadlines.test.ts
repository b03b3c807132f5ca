import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Deadlines from "../src/internal/Deadlines.ts"

const sleep = (millis: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, millis)))

describe("Deadlines", () => {
  it.live("fires in order, and a deadline added from a firing callback fires once, later", () =>
    Effect.gen(function*() {
      const deadlines = Deadlines.make()
      const fired: Array<string> = []
      deadlines.add(20, () => {
        fired.push("first")
        deadlines.add(20, () => fired.push("added while firing"))
      })
      deadlines.add(20, () => fired.push("second"))
      yield* sleep(100)
      assert.deepStrictEqual(fired, ["first", "second", "added while firing"])
      deadlines.close()
    }))

  it.live("a cleared deadline never fires, and nothing fires after close", () =>
    Effect.gen(function*() {
      const deadlines = Deadlines.make()
      const fired: Array<string> = []
      const clear = deadlines.add(10, () => fired.push("cleared"))
      clear()
      deadlines.add(30, () => fired.push("closed"))
      deadlines.close()
      yield* sleep(80)
      assert.deepStrictEqual(fired, [])
    }))
})
