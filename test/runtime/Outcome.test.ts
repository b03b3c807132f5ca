import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"
import { Agent, AgentId } from "../../src/index.ts"
import type { AgentError } from "../../src/core/AgentError.ts"
import type { Delivery } from "../../src/runtime/Mailbox.ts"
import * as Outcome from "../../src/runtime/Outcome.ts"

class Ask extends Schema.TaggedClass<Ask>()("Ask", {}) {}
class Refused extends Schema.TaggedError<Refused>()("Refused", { why: Schema.String }) {}
class Other extends Schema.TaggedError<Other>()("Other", {}) {}

const spec = Agent.rpc(Ask, { success: Schema.String, error: Refused })

const delivery: Delivery = {
  messageId: "m1",
  recipient: AgentId.make("asked", "k"),
  tag: "Ask",
  message: new Ask(),
  sender: undefined,
  topic: undefined,
  rpc: true,
  chain: [],
  onDone: () => {}
}

const errorOf = (exit: Exit.Exit<unknown, AgentError>): AgentError => {
  assert.isTrue(Exit.isFailure(exit))
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
  assert.strictEqual(error?._tag, "Some")
  return (error as { readonly value: AgentError }).value
}

describe("Outcome", () => {
  it.effect("a success is the reply, as it is", () =>
    Effect.sync(() => {
      assert.deepStrictEqual(Outcome.ofHandler(delivery, spec, Exit.succeed("hello")), Exit.succeed("hello"))
    }))

  it.effect("the declared error travels inside HandlerError.error", () =>
    Effect.sync(() => {
      const refused = new Refused({ why: "busy" })
      const error = errorOf(Outcome.ofHandler(delivery, spec, Exit.fail(refused)))
      assert.strictEqual(error._tag, "HandlerError")
      if (error._tag !== "HandlerError") return
      assert.strictEqual(error.error, refused)
      assert.isFalse("cause" in error)
      assert.strictEqual(error.recipient, "asked/k")
      assert.strictEqual(error.messageType, "Ask")
      assert.strictEqual(error.reason, "Refused")
    }))

  it.effect("an undeclared failure is a HandlerError with reason and cause, and no error", () =>
    Effect.sync(() => {
      const other = new Other()
      const error = errorOf(Outcome.ofHandler(delivery, spec, Exit.fail(other)))
      assert.strictEqual(error._tag, "HandlerError")
      if (error._tag !== "HandlerError") return
      assert.isFalse("error" in error)
      assert.strictEqual(error.cause, other)
      assert.strictEqual(error.reason, "Other")
      // without a spec nothing is declared
      const noSpec = errorOf(Outcome.ofHandler(delivery, undefined, Exit.fail(new Refused({ why: "x" }))))
      assert.isFalse(noSpec._tag === "HandlerError" && "error" in noSpec)
    }))

  it.effect("a defect is a HandlerError describing it, with the defect as cause", () =>
    Effect.sync(() => {
      const boom = new Error("kaboom")
      const error = errorOf(Outcome.ofHandler(delivery, spec, Exit.die(boom)))
      assert.strictEqual(error._tag, "HandlerError")
      if (error._tag !== "HandlerError") return
      assert.include(error.reason, "kaboom")
      assert.strictEqual(error.cause, boom)
    }))

  it.effect("an interrupted handler is undeliverable: its runtime stopped", () =>
    Effect.sync(() => {
      const error = errorOf(Outcome.ofHandler(delivery, spec, Exit.failCause(Cause.interrupt())))
      assert.strictEqual(error._tag, "UndeliverableError")
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "RuntimeStopping")
      assert.strictEqual(error._tag === "UndeliverableError" && error.recipient, "asked/k")
    }))

  it.effect("reasonOf gives an error's message, else its tag, else its string form", () =>
    Effect.sync(() => {
      assert.strictEqual(Outcome.reasonOf(new Error("broken")), "broken")
      assert.strictEqual(Outcome.reasonOf(new Refused({ why: "x" })), "Refused")
      assert.strictEqual(Outcome.reasonOf({ _tag: "Plain" }), "Plain")
      assert.strictEqual(Outcome.reasonOf("text"), "text")
      assert.strictEqual(Outcome.reasonOf(null), "null")
    }))
})
