/**
 * Testing agents by swapping in the test runtime: a small group chat with a
 * scripted "model" agent, tested on the test clock with no casts, no retry
 * loops and no real waiting. This is also the file to copy for your own tests.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Ref, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Agent, AgentRuntime, Subscription, TestRuntime, TopicId } from "../../src/index.ts"

class Say extends Schema.TaggedClass<Say>()("Say", { who: Schema.String, text: Schema.String }) {}
class Complete extends Schema.TaggedClass<Complete>()("Complete", { prompt: Schema.String }) {}
class Completion extends Schema.TaggedClass<Completion>()("Completion", { text: Schema.String }) {}
class Think extends Schema.TaggedClass<Think>()("Think", { seconds: Schema.Number }) {}

/** The model the assistant asks: a contract only; the test stubs it. */
const Model = Agent.make("model", { Complete: Agent.rpc(Complete, { success: Completion }), Think: Agent.rpc(Think) })

/** An assistant in the room: on every message from someone else, asks the model and says its answer. */
const Assistant = Agent.make("assistant", { Say: Agent.event(Say) })
const AssistantLive = Assistant.toLayer(Effect.gen(function*() {
  const model = yield* Model.client
  const self = yield* Agent.Self
  const heard = yield* Agent.state(Schema.Number, 0, { name: "heard" })
  return Assistant.of({
    Say: ({ text, who }) =>
      Effect.gen(function*() {
        if (who === "assistant") return
        yield* Ref.update(heard, (n) => n + 1)
        const answer = yield* Effect.orDie(model("m").Complete({ prompt: text }))
        yield* AgentRuntime.publish(TopicId.make("room", self.key), new Say({ who: "assistant", text: answer.text }))
      })
  })
}), { subscriptions: [Subscription.type("room")] })

/** The scripted model: answers by rule, and "thinks" for as long as it is asked (on the test clock). */
const ModelStub = TestRuntime.stub(Model, {
  Complete: ({ prompt }) => Effect.succeed(new Completion({ text: `you said: ${prompt}` })),
  Think: ({ seconds }) => Effect.sleep(`${seconds} seconds`)
})

const runtime = Layer.mergeAll(AssistantLive, ModelStub).pipe(Layer.provideMerge(TestRuntime.layer()))

describe("TestRuntime", () => {
  it.effect("records what agents send and publish, typed by message schema", () =>
    Effect.gen(function*() {
      yield* AgentRuntime.publish(TopicId.make("room", "r1"), new Say({ who: "ada", text: "hello" }))
      yield* AgentRuntime.awaitIdle
      const test = yield* TestRuntime.TestRuntime
      const said = yield* test.published(Say)
      assert.deepStrictEqual(said.map((p) => `${p.message.who}: ${p.message.text}`), ["ada: hello", "assistant: you said: hello"])
      const asked = yield* test.sent(Complete)
      assert.deepStrictEqual(asked.map((s) => [s.sender?.toString(), s.message.prompt, (s.reply as Completion).text]), [
        ["assistant/r1", "hello", "you said: hello"]
      ])
      // the assistant's state, saved like any agent's
      assert.deepStrictEqual(yield* AgentRuntime.AgentRuntime.pipe(Effect.flatMap((r) => r.saveState(Assistant.id("r1")))), { heard: 1 })
    }).pipe(Effect.provide(runtime)))

  it.effect("deadlines run on the test clock: a model that thinks too long times out when the clock says so", () =>
    Effect.gen(function*() {
      const model = yield* Model.client
      const slow = yield* Effect.forkChild(model("m").Think({ seconds: 600 }, { timeout: "10 minutes" }))
      yield* TestClock.adjust("9 minutes")
      assert.isUndefined(slow.pollUnsafe())
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* Effect.flip(Fiber.join(slow)))._tag, "TimeoutError")
      const quick = yield* Effect.forkChild(model("m").Think({ seconds: 5 }))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(quick)
    }).pipe(Effect.provide(runtime)))

  it.effect("a test waits for an agent type to be registered instead of retrying", () =>
    Effect.gen(function*() {
      const test = yield* TestRuntime.TestRuntime
      const waiting = yield* Effect.forkChild(test.awaitType(Model))
      yield* Effect.yieldNow
      assert.isUndefined(waiting.pollUnsafe())
      yield* Layer.build(ModelStub)
      yield* Fiber.join(waiting)
      const model = yield* Model.client
      assert.strictEqual((yield* model("m").Complete({ prompt: "x" })).text, "you said: x")
    }).pipe(Effect.provide(TestRuntime.layer())))

  it.effect("closing the runtime with a handler still running does not hang the test", () =>
    Effect.gen(function*() {
      const model = yield* Model.client
      yield* Effect.forkChild(model("m").Think({ seconds: 3600 }))
      yield* Effect.yieldNow
    }).pipe(Effect.provide(runtime)))
})
