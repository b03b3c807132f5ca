import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Deadlines from "../../src/runtime/Deadlines.ts"

describe("Deadlines", () => {
  it.effect("fires in order at its time on the clock, and a deadline added from a firing callback fires once, later", () =>
    Effect.gen(function*() {
      const deadlines = yield* Deadlines.make
      const fired: Array<string> = []
      deadlines.add(20, () => {
        fired.push("first")
        deadlines.add(20, () => fired.push("added while firing"))
      })
      deadlines.add(20, () => fired.push("second"))
      yield* TestClock.adjust("19 millis")
      assert.deepStrictEqual(fired, [])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(fired, ["first", "second"])
      yield* TestClock.adjust("20 millis")
      assert.deepStrictEqual(fired, ["first", "second", "added while firing"])
    }))

  it.effect("deadlines of different lengths keep their own times", () =>
    Effect.gen(function*() {
      const deadlines = yield* Deadlines.make
      const fired: Array<string> = []
      deadlines.add(50, () => fired.push("50"))
      deadlines.add(10, () => fired.push("10"))
      yield* TestClock.adjust("5 millis")
      deadlines.add(10, () => fired.push("10 later"))
      yield* TestClock.adjust("5 millis")
      assert.deepStrictEqual(fired, ["10"])
      yield* TestClock.adjust("5 millis")
      assert.deepStrictEqual(fired, ["10", "10 later"])
      yield* TestClock.adjust("40 millis")
      assert.deepStrictEqual(fired, ["10", "10 later", "50"])
    }))

  it.effect("a cleared deadline never fires, and nothing fires after its scope closed", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const deadlines = yield* Deadlines.make.pipe(Scope.provide(scope))
      const fired: Array<string> = []
      const clear = deadlines.add(10, () => fired.push("cleared"))
      clear()
      deadlines.add(30, () => fired.push("closed"))
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(fired, [])
    }))
})
