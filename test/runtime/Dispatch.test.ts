import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Agent, AgentId, Intervention } from "../../src/index.ts"
import { Current } from "../../src/runtime/Current.ts"
import * as Dispatch from "../../src/runtime/Dispatch.ts"

class Greet extends Schema.TaggedClass<Greet>()("Greet", { name: Schema.String, at: Schema.Date }) {}
const spec = Agent.rpc(Greet)

describe("Dispatch", () => {
  describe("validate", () => {
    it.effect("a value of the schema passes as it is", () =>
      Effect.sync(() => {
        const message = new Greet({ name: "Bob", at: new Date(0) })
        const valid = Dispatch.validate(spec, message)
        assert.isTrue(Exit.isSuccess(valid))
        assert.strictEqual(Exit.isSuccess(valid) && valid.value, message)
      }))

    it.effect("a plain object is decoded into a value of the schema", () =>
      Effect.sync(() => {
        const valid = Dispatch.validate(spec, { _tag: "Greet", name: "Bob", at: new Date(5) })
        assert.isTrue(Exit.isSuccess(valid))
        const value = Exit.isSuccess(valid) ? valid.value : undefined
        assert.instanceOf(value, Greet)
        assert.strictEqual((value as Greet).name, "Bob")
        assert.strictEqual((value as Greet).at.getTime(), 5)
      }))

    it.effect("a value that does not fit fails with InvalidMessageError naming the message type and the issue", () =>
      Effect.sync(() => {
        const invalid = Dispatch.validate(spec, { _tag: "Greet", name: 42, at: new Date(0) })
        assert.isTrue(Exit.isFailure(invalid))
        const error = Exit.isFailure(invalid) ? Dispatch.firstError(invalid.cause) : undefined
        assert.strictEqual(error?._tag, "InvalidMessageError")
        assert.strictEqual(error?.messageType, "Greet")
        assert.include(error?.issue ?? "", "name")
        // the same spec validated again (its guard is cached) still checks
        assert.isTrue(Exit.isFailure(Dispatch.validate(spec, { _tag: "Greet" })))
        assert.isTrue(Exit.isSuccess(Dispatch.validate(spec, new Greet({ name: "x", at: new Date(0) }))))
      }))
  })

  describe("withDeadline", () => {
    it.effect("fails with TimeoutError once the deadline passes, and interrupts the effect", () =>
      Effect.gen(function*() {
        let interrupted = false
        const fiber = yield* Effect.forkChild(
          Dispatch.withDeadline(Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))), AgentId.make("a", "k"), "Greet", "2 seconds")
        )
        yield* TestClock.adjust("1999 millis")
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("1 millis")
        const error = yield* Fiber.join(fiber).pipe(Effect.flip)
        assert.strictEqual(error._tag, "TimeoutError")
        assert.deepStrictEqual(
          error._tag === "TimeoutError" && { recipient: error.recipient, messageType: error.messageType, timeoutMillis: error.timeoutMillis },
          { recipient: "a/k", messageType: "Greet", timeoutMillis: 2000 }
        )
        assert.isTrue(interrupted)
      }))

    it.effect("an effect that ends in time keeps its outcome", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(Dispatch.withDeadline(Effect.as(Effect.sleep("1 second"), "reply"), "a/k", "Greet", "2 seconds"))
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Fiber.join(fiber), "reply")
      }))

    it.effect("an infinite deadline never times out", () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(Dispatch.withDeadline(Effect.never, "a/k", "Greet", Infinity))
        yield* TestClock.adjust("1000 days")
        assert.isUndefined(fiber.pollUnsafe())
        yield* Fiber.interrupt(fiber)
      }))
  })

  describe("outgoing", () => {
    it.effect("refuses a value without a string _tag with InvalidMessageError, before calling on", () =>
      Effect.gen(function*() {
        let called = 0
        const go = (message: unknown) => Dispatch.outgoing(message, () => Effect.sync(() => called++))
        for (const message of [undefined, null, 42, "Greet", { name: "x" }, { _tag: 7 }]) {
          const error = yield* Effect.flip(go(message))
          assert.strictEqual(error._tag, "InvalidMessageError")
          assert.strictEqual(error._tag === "InvalidMessageError" && error.messageType, "unknown")
        }
        assert.strictEqual(called, 0)
      }))

    it.effect("calls on with the message's tag and the message the fiber is handling", () =>
      Effect.gen(function*() {
        const seen: Array<unknown> = []
        const go = Dispatch.outgoing({ _tag: "Greet" }, (tag, current) => Effect.sync(() => seen.push([tag, current?.self.toString(), current?.chain])))
        yield* go
        yield* go.pipe(Effect.provideService(Current, { self: AgentId.make("me", "k"), chain: ["m1"] }))
        assert.deepStrictEqual(seen, [["Greet", undefined, undefined], ["Greet", "me/k", ["m1"]]])
      }))
  })

  it.effect("messageIds are unique within a runtime and across runtimes", () =>
    Effect.sync(() => {
      const a = Dispatch.messageIds()
      const b = Dispatch.messageIds()
      const ids = new Set<string>()
      for (let i = 0; i < 5000; i++) {
        ids.add(a())
        ids.add(b())
      }
      assert.strictEqual(ids.size, 10000)
    }))

  it.effect("hooks groups the interventions' hooks by stage, in order", () =>
    Effect.sync(() => {
      const send1: Intervention.Hook<Intervention.SendInfo> = Effect.succeed
      const send2: Intervention.Hook<Intervention.SendInfo> = Effect.succeed
      const reply: Intervention.Hook<Intervention.ReplyInfo> = Effect.succeed
      const hooks = Dispatch.hooks([Intervention.make({ onSend: send1 }), Intervention.make({ onSend: send2, onReply: reply })])
      assert.deepStrictEqual(hooks.onSend, [send1, send2])
      assert.deepStrictEqual(hooks.onPublish, [])
      assert.deepStrictEqual(hooks.onReply, [reply])
      assert.deepStrictEqual(Dispatch.hooks(), { onSend: [], onPublish: [], onReply: [] })
    }))

  it.effect("firstError finds a cause's typed error, and nothing in a defect", () =>
    Effect.sync(() => {
      assert.strictEqual(Dispatch.firstError(Cause.fail("e")), "e")
      assert.isUndefined(Dispatch.firstError(Cause.die("d")))
    }))
})
