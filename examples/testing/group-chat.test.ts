/**
 * How to test your agents: a group chat with one LLM-like assistant, tested
 * on the test runtime with a scripted model, on the test clock. No casts, no
 * retry loops, no real waiting. Copy this file to start your own tests (in
 * your project, import from "effect-agents" instead of "../../src/index.ts").
 *
 *   npx vitest run test/examples/group-chat.test.ts   (the suite runs it from there)
 *
 * The app: people `Say` things in a room (a topic); the assistant, subscribed
 * to every room, asks its model with the conversation so far and says the
 * answer in the room. A model that does not answer within 30 seconds gets an
 * apology instead.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Ref, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Agent, AgentRuntime, Subscription, TestRuntime, TopicId } from "../../src/index.ts"

// ---------------------------------------------------------------------------
// the app (in your project, these live in your source files)
// ---------------------------------------------------------------------------

class Say extends Schema.TaggedClass<Say>()("Say", { who: Schema.String, text: Schema.String }) {}
class Complete extends Schema.TaggedClass<Complete>()("Complete", { history: Schema.Array(Schema.String) }) {}
class Completion extends Schema.TaggedClass<Completion>()("Completion", { text: Schema.String }) {}

/** The model's contract: the real one calls an LLM; tests give it a script. */
const Model = Agent.make("model", { Complete: Agent.rpc(Complete, { success: Completion }) })

const Assistant = Agent.make("assistant", { Say: Agent.event(Say) })

/** One assistant per room (the topic's source is its key); it remembers the room's conversation. */
const AssistantLive = Assistant.toLayer(Effect.gen(function*() {
  const self = yield* Agent.Self
  const model = yield* Model.client
  const history = yield* Agent.state(Schema.Array(Schema.String), [], { name: "history" })
  const say = (text: string) => AgentRuntime.publish(TopicId.make("room", self.key), new Say({ who: "assistant", text }))
  return Assistant.of({
    Say: ({ text, who }) =>
      Effect.gen(function*() {
        if (who === "assistant") return
        const heard = yield* Ref.updateAndGet(history, (h) => [...h, `${who}: ${text}`])
        const answer = yield* model(self.key).Complete({ history: heard }, { timeout: "30 seconds" }).pipe(
          Effect.map((completion) => completion.text),
          Effect.catchTag("TimeoutError", () => Effect.succeed("sorry, I am thinking too slowly today"))
        )
        yield* Ref.update(history, (h) => [...h, `assistant: ${answer}`])
        yield* say(answer)
      })
  })
}), { subscriptions: [Subscription.type("room")] })

// ---------------------------------------------------------------------------
// the tests
// ---------------------------------------------------------------------------

/** The model plays its script: one reply per question, in order. */
const ScriptedModel = TestRuntime.stub(Model, {
  Complete: TestRuntime.script(new Completion({ text: "hello Ada" }), new Completion({ text: "it is 42" }))
})

/** The runtime under test: the app's agents on the test runtime, the model swapped for its script. */
const chat = Layer.mergeAll(AssistantLive, ScriptedModel).pipe(Layer.provideMerge(TestRuntime.layer()))

const room = TopicId.make("room", "lobby")

describe("group chat", () => {
  it.effect("the assistant answers each message in the room, with the conversation so far", () =>
    Effect.gen(function*() {
      const test = yield* TestRuntime.TestRuntime
      yield* AgentRuntime.publish(room, new Say({ who: "ada", text: "hi" }))
      yield* test.awaitIdle
      yield* AgentRuntime.publish(room, new Say({ who: "ada", text: "what is the answer?" }))
      yield* test.awaitIdle

      // what was said in the room, in order: typed by the message schema
      const said = yield* test.published(Say)
      assert.deepStrictEqual(said.map((p) => `${p.message.who}: ${p.message.text}`), [
        "ada: hi",
        "assistant: hello Ada",
        "ada: what is the answer?",
        "assistant: it is 42"
      ])
      // what the assistant asked the model, and what it answered: typed by the model's contract
      const asked = yield* test.sent(Model, "Complete")
      assert.deepStrictEqual(asked.map((s) => s.message.history.length), [1, 3])
      assert.deepStrictEqual(asked.map((s) => s.reply?.text), ["hello Ada", "it is 42"])
      assert.strictEqual(asked[0]?.sender?.toString(), "assistant/lobby")
      // the assistant's saved state, typed by its cells
      const state = yield* test.saveState(Assistant.id("lobby"), { history: Schema.Array(Schema.String) })
      assert.strictEqual(state.history.at(-1), "assistant: it is 42")
    }).pipe(Effect.provide(chat)))

  it.effect("a model that does not answer in 30 seconds (on the test clock) gets an apology in the room", () =>
    Effect.gen(function*() {
      const test = yield* TestRuntime.TestRuntime
      yield* AgentRuntime.publish(room, new Say({ who: "ada", text: "are you there?" }))
      // awaitIdle would wait for the model: wait for it in a fiber, and move the clock
      const idle = yield* Effect.forkChild(test.awaitIdle)
      yield* TestClock.adjust("29 seconds")
      assert.deepStrictEqual((yield* test.published(Say)).map((p) => p.message.who), ["ada"])
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(idle)
      assert.deepStrictEqual((yield* test.published(Say)).map((p) => p.message.text), [
        "are you there?",
        "sorry, I am thinking too slowly today"
      ])
      const [asked] = yield* test.sent(Model, "Complete")
      assert.strictEqual(asked?.failure?._tag, "TimeoutError")
    }).pipe(Effect.provide(
      // a model that never answers: its handler waits (on the test clock) for a day
      Layer.mergeAll(AssistantLive, TestRuntime.stub(Model, { Complete: () => Effect.as(Effect.sleep("1 day"), new Completion({ text: "late" })) }))
        .pipe(Layer.provideMerge(TestRuntime.layer()))
    )))

  it.effect("a test can wait for an agent type that another part of the app registers", () =>
    Effect.gen(function*() {
      const test = yield* TestRuntime.TestRuntime
      // the model comes up in the background (say, after loading its weights)
      yield* Effect.forkChild(Effect.andThen(Effect.sleep("5 seconds"), Layer.build(ScriptedModel)))
      const ready = yield* Effect.forkChild(test.awaitType(Model))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(ready)
      const model = yield* Model.client
      assert.strictEqual((yield* model("x").Complete({ history: ["ada: hi"] })).text, "hello Ada")
    }).pipe(Effect.provide(TestRuntime.layer())))
})
