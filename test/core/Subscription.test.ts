import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { AgentId, Subscription, TopicId } from "../../src/index.ts"

describe("Subscription", () => {
  it.effect("a type subscription matches exactly its topic type", () =>
    Effect.sync(() => {
      const s = Subscription.type("chat", "assistant")
      assert.isTrue(Subscription.matches(s, TopicId.make("chat", "room-1")))
      assert.isFalse(Subscription.matches(s, TopicId.make("chat2", "room-1")))
      assert.isFalse(Subscription.matches(s, TopicId.make("cha", "room-1")))
    }))

  it.effect("a type subscription maps topic chat/room-1 to agent assistant/room-1", () =>
    Effect.gen(function*() {
      const agent = yield* Subscription.mapToAgent(Subscription.type("chat", "assistant"), TopicId.make("chat", "room-1"))
      assert.instanceOf(agent, AgentId.AgentId)
      assert.strictEqual(AgentId.toString(agent), "assistant/room-1")
    }))

  it.effect("mapping a topic the subscription does not match is an error, not a wrong AgentId", () =>
    Effect.gen(function*() {
      const error = yield* Subscription.mapToAgent(Subscription.type("chat", "assistant"), TopicId.make("news", "room-1")).pipe(Effect.flip)
      assert.strictEqual(error._tag, "SubscriptionMismatchError")
      assert.strictEqual(error.message, "subscription type:chat->assistant does not match topic news/room-1")
      const prefix = yield* Subscription.mapToAgent(Subscription.typePrefix("chat.", "logger"), TopicId.make("chat", "x")).pipe(Effect.flip)
      assert.strictEqual(prefix.topic, "chat/x")
    }))

  it.effect("a prefix subscription matches every topic type that starts with the prefix", () =>
    Effect.gen(function*() {
      const s = Subscription.typePrefix("chat.", "logger")
      assert.isTrue(Subscription.matches(s, TopicId.make("chat.alerts", "x")))
      assert.isTrue(Subscription.matches(s, TopicId.make("chat.", "x")))
      assert.isFalse(Subscription.matches(s, TopicId.make("chat", "x")))
      assert.isFalse(Subscription.matches(s, TopicId.make("xchat.alerts", "x")))
      assert.strictEqual(AgentId.toString(yield* Subscription.mapToAgent(s, TopicId.make("chat.alerts", "x"))), "logger/x")
    }))

  it.effect("defaultFor subscribes to the default topic type", () =>
    Effect.sync(() => {
      const s = Subscription.defaultFor("assistant")
      assert.deepStrictEqual(s, Subscription.type(TopicId.defaultType, "assistant"))
      assert.isTrue(Subscription.matches(s, TopicId.make("default", "k")))
      assert.isFalse(Subscription.matches(s, TopicId.make("other", "k")))
    }))

  it.effect("with one argument type and typePrefix give templates that take the agent type", () =>
    Effect.sync(() => {
      const template = Subscription.type("chat")
      assert.isFunction(template)
      const s = template("assistant")
      assert.strictEqual(s._tag === "TypeSubscription" && s.topicType, "chat")
      assert.strictEqual(s.agentType, "assistant")
      const p = Subscription.typePrefix("chat.")("logger")
      assert.strictEqual(p._tag === "TypePrefixSubscription" && p.prefix, "chat.")
      assert.strictEqual(p.agentType, "logger")
    }))

  it.effect("ids derive from content: equal subscriptions share an id, different ones do not", () =>
    Effect.sync(() => {
      const ids = [
        Subscription.type("chat", "a"),
        Subscription.type("chat", "b"),
        Subscription.type("chat2", "a"),
        Subscription.typePrefix("chat", "a")
      ].map(Subscription.id)
      assert.strictEqual(new Set(ids).size, ids.length)
      assert.strictEqual(Subscription.id(Subscription.type("chat", "a")), Subscription.id(Subscription.type("chat")("a")))
    }))

  it.effect("subscriptions round-trip through the JSON codec of the union", () =>
    Effect.gen(function*() {
      const codec = Schema.toCodecJson(Subscription.Subscription)
      for (const s of [Subscription.type("chat", "a"), Subscription.typePrefix("chat.", "b")]) {
        const json = JSON.parse(JSON.stringify(yield* Schema.encodeEffect(codec)(s)))
        const back = yield* Schema.decodeUnknownEffect(codec)(json)
        assert.strictEqual(back._tag, s._tag)
        assert.strictEqual(Subscription.id(back), Subscription.id(s))
      }
      const bad = yield* Schema.decodeUnknownEffect(codec)({ _tag: "TypeSubscription", topicType: "chat", agentType: "a b" }).pipe(Effect.exit)
      assert.isTrue(bad._tag === "Failure")
    }))

  it.effect("a subscription with a malformed agent type cannot be built", () =>
    Effect.sync(() => {
      assert.throws(() => Subscription.type("chat", "no spaces"))
    }))
})
