/**
 * Testing agents by swapping in the test runtime: a small group chat with a
 * scripted "model" agent, tested on the test clock with no casts, no retry
 * loops and no real waiting. This is also the file to copy for your own tests.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Ref, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Agent, AgentRuntime, Subscription, TestRuntime, TopicId } from "../../src/index.ts"

class Say extends Schema.TaggedClass<Say>()("Say", { who: Schema.String, text: Schema.String }) {}
class Complete extends Schema.TaggedClass<Complete>()("Complete", { prompt: Schema.String }) {}
class Completion extends Schema.TaggedClass<Completion>()("Completion", { text: Schema.String }) {}
class Think extends Schema.TaggedClass<Think>()("Think", { seconds: Schema.Number }) {}

class Prompt extends Schema.TaggedClass<Prompt>()("Prompt", { prompt: Schema.String }) {}
class Token extends Schema.TaggedClass<Token>()("Token", { text: Schema.String }) {}

/** A writer that answers token by token. */
const Writer = Agent.make("writer", { Tokens: Agent.stream(Prompt, { success: Token }) })

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
      // by handler: the reply is typed by the handler's contract
      const asked = yield* test.sent(Model, "Complete")
      assert.deepStrictEqual(asked.map((s) => [s.sender?.toString(), s.recipient.toString(), s.message.prompt, s.reply?.text]), [
        ["assistant/r1", "model/m", "hello", "you said: hello"]
      ])
      // by message schema: the same send
      assert.deepStrictEqual((yield* test.sent(Complete)).map((s) => s.message.prompt), ["hello"])
      // the assistant's state, saved like any agent's, typed by its cells
      const state = yield* test.saveState(Assistant.id("r1"), { heard: Schema.Number })
      assert.strictEqual(state.heard + 1, 2)
      yield* test.loadState(Assistant.id("r1"), { heard: Schema.Number }, { heard: 41 })
      assert.deepStrictEqual(yield* test.saveState(Assistant.id("r1"), { heard: Schema.Number }), { heard: 41 })
      // a state read with the wrong schema is a typed error, not a wrong value
      const wrong = yield* Effect.flip(test.saveState(Assistant.id("r1"), { heard: Schema.String }))
      assert.strictEqual(wrong._tag, "InvalidMessageError")
      yield* test.clear
      assert.deepStrictEqual([(yield* test.sends).length, (yield* test.publishes).length], [0, 0])
    }).pipe(Effect.provide(runtime)))

  it.effect("records a failed send with its typed failure, and an event send with no reply", () =>
    Effect.gen(function*() {
      const test = yield* TestRuntime.TestRuntime
      const model = yield* Model.client
      const timedOut = yield* Effect.forkChild(Effect.flip(model("m").Think({ seconds: 60 }, { timeout: "1 second" })))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(timedOut))._tag, "TimeoutError")
      const [thought] = yield* test.sent(Model, "Think")
      assert.strictEqual(thought?.failure?._tag, "TimeoutError")
      assert.isFalse(thought !== undefined && "reply" in thought)
      const missing = yield* Effect.flip(AgentRuntime.AgentRuntime.use((r) => r.send(Model.id("m"), new Say({ who: "x", text: "y" }))))
      assert.strictEqual(missing._tag, "CantHandleError")
      assert.strictEqual((yield* test.sent(Say))[0]?.failure?._tag, "CantHandleError")
    }).pipe(Effect.provide(runtime)))

  it.effect("a stream send is recorded with the chunks it gave, typed by the handler's contract", () =>
    Effect.gen(function*() {
      const writer = yield* Writer.client
      const tokens = yield* Stream.runCollect(writer("w").Tokens({ prompt: "a b c" }))
      assert.deepStrictEqual(tokens.map((t) => t.text), ["a", "b", "c"])
      const test = yield* TestRuntime.TestRuntime
      const [sent] = yield* test.sent(Writer, "Tokens")
      assert.strictEqual(sent?.message.prompt, "a b c")
      assert.deepStrictEqual(sent?.reply?.map((t) => t.text), ["a", "b", "c"])
    }).pipe(Effect.provide(
      TestRuntime.stub(Writer, { Tokens: ({ prompt }) => Stream.fromIterable(prompt.split(" ").map((text) => new Token({ text }))) })
        .pipe(Layer.provideMerge(TestRuntime.layer()))
    )))

  it.effect("a stub answers with canned replies, or plays a script per instance and says when it ran out", () =>
    Effect.gen(function*() {
      const model = yield* Model.client
      assert.strictEqual((yield* model("a").Complete({ prompt: "1" })).text, "first")
      assert.strictEqual((yield* model("a").Complete({ prompt: "2" })).text, "second")
      // another instance plays the script from the start
      assert.strictEqual((yield* model("b").Complete({ prompt: "1" })).text, "first")
      const over = yield* Effect.flip(model("a").Complete({ prompt: "3" }))
      assert.strictEqual(over._tag, "HandlerError")
      assert.include(over.message, "the script of model.Complete has no reply left (it had 2)")
      // a canned reply for a void handler
      yield* model("a").Think({ seconds: 1 })
      const test = yield* TestRuntime.TestRuntime
      assert.deepStrictEqual((yield* test.sent(Model, "Complete")).map((s) => s.reply?.text), ["first", "second", "first", undefined])
    }).pipe(Effect.provide(
      TestRuntime.stub(Model, {
        Complete: TestRuntime.script(new Completion({ text: "first" }), new Completion({ text: "second" })),
        Think: undefined
      }).pipe(Layer.provideMerge(TestRuntime.layer()))
    )))

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
