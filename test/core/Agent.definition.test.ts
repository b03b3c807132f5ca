import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Schema } from "effect"
import { Agent, AgentError, StandaloneRuntime } from "../../src/index.ts"
import type { AgentRuntime } from "../../src/core/AgentRuntime.ts"

class Ping extends Schema.TaggedClass<Ping>()("Ping", {}) {}
class Pong extends Schema.TaggedClass<Pong>()("Pong", {}) {}
/** A struct whose `_tag` is any string: no literal, so no wire name. */
const Untagged = Schema.Struct({ _tag: Schema.String, n: Schema.Number })

/** Builds an agent layer on a standalone runtime; the exit of building it. */
const build = (layer: Layer.Layer<never, AgentError.RegistrationError, AgentRuntime>) =>
  Effect.exit(Layer.build(layer.pipe(Layer.provide(StandaloneRuntime.layer()))))

/** The definition error a layer failed with (a typed failure, not a defect). */
const definitionError = (exit: Exit.Exit<unknown, AgentError.RegistrationError>) => {
  assert.isTrue(Exit.isFailure(exit), "the layer should fail")
  if (!Exit.isFailure(exit)) throw new Error("unreachable")
  assert.isFalse(Cause.hasDies(exit.cause), "a definition error is a typed failure, not a defect")
  const error = Cause.findErrorOption(exit.cause)
  assert.strictEqual(error._tag, "Some")
  const value = (error as { readonly value: AgentError.RegistrationError }).value
  assert.isTrue(AgentError.AgentDefinitionError.is(value))
  return value as AgentError.AgentDefinitionError
}

const handlers = Effect.succeed({ Ping: () => Effect.void })

describe("Agent definitions", () => {
  it.effect("a bad agent type name makes the type's layer fail with AgentDefinitionError", () =>
    Effect.gen(function*() {
      // defining it does not throw
      const Bad = Agent.make("not a name!", { Ping: Agent.rpc(Ping) })
      const error = definitionError(yield* build(Bad.toLayer(handlers)))
      assert.strictEqual(error.agentType, "not a name!")
      assert.include(error.issue, "is not an agent type name")
    }))

  it.effect("a second handler of one kind for a message that the first takes whole makes the layer fail with AgentDefinitionError", () =>
    Effect.gen(function*() {
      const Twice = Agent.make("twice", { Ping: Agent.rpc(Ping), Again: Agent.rpc(Ping) })
      const error = definitionError(yield* build(Twice.toLayer(Effect.succeed({ Ping: () => Effect.void, Again: () => Effect.void }))))
      assert.strictEqual(error.agentType, "twice")
      assert.include(error.issue, "handler Again can never run")
      // an rpc and an event handler of one message are two routes, not a mistake
      const Both = Agent.make("both", { Ping: Agent.rpc(Ping), Published: Agent.event(Ping) })
      assert.isTrue(Exit.isSuccess(yield* build(Both.toLayer(Effect.succeed({ Ping: () => Effect.void, Published: () => Effect.void })))))
    }))

  it.effect("rpc handlers of one message chosen by match must share a reply contract", () =>
    Effect.gen(function*() {
      const Split = Agent.make("split", {
        Ping: Agent.rpc(Ping, { match: () => true }),
        Other: Agent.rpc(Ping, { success: Schema.String })
      })
      const error = definitionError(yield* build(Split.toLayer(Effect.succeed({ Ping: () => Effect.void, Other: () => Effect.succeed("x") }))))
      assert.include(error.issue, "must declare the same success and error schemas")
    }))

  it.effect("a message schema without a literal _tag makes the type's layer fail with AgentDefinitionError", () =>
    Effect.gen(function*() {
      const NoTag = Agent.make("notag", { Run: Agent.rpc(Untagged) })
      const error = definitionError(yield* build(NoTag.toLayer(Effect.succeed({ Run: () => Effect.void }))))
      assert.strictEqual(error.agentType, "notag")
      assert.include(error.issue, "handler Run")
      assert.include(error.issue, "_tag")
    }))

  it.effect("concurrency 0 (or any value that is not a whole number of at least 1) makes the layer fail with AgentDefinitionError", () =>
    Effect.gen(function*() {
      const Busy = Agent.make("busy", { Ping: Agent.rpc(Ping) })
      for (const concurrency of [0, -1, 1.5, Number.NaN]) {
        const error = definitionError(yield* build(Busy.toLayer(handlers, { concurrency })))
        assert.strictEqual(error.agentType, "busy")
        assert.include(error.issue, "concurrency")
      }
    }))

  it.effect("a function agent with a bad name or an untagged message fails the same way", () =>
    Effect.gen(function*() {
      const badName = definitionError(yield* build(Agent.fromFunction("bad name", [Ping], () => Effect.void)))
      assert.strictEqual(badName.agentType, "bad name")
      const untagged = definitionError(yield* build(Agent.fromFunction("fn", [Untagged], () => Effect.void)))
      assert.include(untagged.issue, "_tag")
    }))

  it.effect("a well-defined type builds, and answers", () =>
    Effect.gen(function*() {
      const Good = Agent.make("good", { Ping: Agent.rpc(Ping, { success: Pong }) })
      const reply = yield* Effect.gen(function*() {
        const client = yield* Good.client
        return yield* client("k").Ping({})
      }).pipe(
        Effect.provide(Good.toLayer(Effect.succeed(Good.of({ Ping: () => Effect.succeed(new Pong()) })), { concurrency: 2 })),
        Effect.provide(StandaloneRuntime.layer())
      )
      assert.instanceOf(reply, Pong)
    }))
})
