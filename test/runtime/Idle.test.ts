import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Idle from "../../src/runtime/Idle.ts"

const flush = Effect.gen(function*() {
  for (let i = 0; i < 10; i++) yield* Effect.yieldNow
})

describe("Idle", () => {
  it.effect("counts work entering and leaving", () =>
    Effect.sync(() => {
      const idle = Idle.make()
      assert.strictEqual(idle.pending(), 0)
      idle.enter()
      idle.enter()
      assert.strictEqual(idle.pending(), 2)
      idle.exit()
      assert.strictEqual(idle.pending(), 1)
    }))

  it.effect("await returns at once when nothing is pending", () =>
    Effect.gen(function*() {
      const idle = Idle.make()
      const fiber = yield* Effect.forkChild(idle.await)
      yield* flush
      assert.isDefined(fiber.pollUnsafe())
    }))

  it.effect("await waits until the count is back to zero", () =>
    Effect.gen(function*() {
      const idle = Idle.make()
      idle.enter()
      idle.enter()
      const fiber = yield* Effect.forkChild(idle.await)
      yield* flush
      idle.exit()
      yield* flush
      assert.isUndefined(fiber.pollUnsafe())
      idle.exit()
      yield* Fiber.join(fiber)
      assert.strictEqual(idle.pending(), 0)
    }))

  it.effect("work that finishes and starts more in the same tick keeps await waiting", () =>
    Effect.gen(function*() {
      const idle = Idle.make()
      idle.enter()
      const fiber = yield* Effect.forkChild(idle.await)
      yield* flush
      // the last piece of work ends, and a follow-up starts synchronously after it
      idle.exit()
      idle.enter()
      yield* flush
      assert.isUndefined(fiber.pollUnsafe())
      idle.exit()
      yield* Fiber.join(fiber)
    }))

  it.effect("await can be used again after the runtime became busy again", () =>
    Effect.gen(function*() {
      const idle = Idle.make()
      idle.enter()
      idle.exit()
      yield* idle.await
      idle.enter()
      const fiber = yield* Effect.forkChild(idle.await)
      yield* flush
      assert.isUndefined(fiber.pollUnsafe())
      idle.exit()
      yield* Fiber.join(fiber)
    }))
})
