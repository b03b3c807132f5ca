import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { TopicId } from "../../src/index.ts"

describe("TopicId", () => {
  it.effect("make builds type and source, with source 'default' when left out", () =>
    Effect.sync(() => {
      const topic = TopicId.make("chat", "room-1")
      assert.strictEqual(topic.type, "chat")
      assert.strictEqual(topic.source, "room-1")
      assert.strictEqual(TopicId.make("chat").source, "default")
    }))

  it.effect("the string form is type/source", () =>
    Effect.sync(() => {
      const topic = TopicId.make("chat", "room-1")
      assert.strictEqual(TopicId.toString(topic), "chat/room-1")
      assert.strictEqual(`${topic}`, "chat/room-1")
    }))

  it.effect("topic types allow ':' besides what agent types allow", () =>
    Effect.sync(() => {
      assert.strictEqual(TopicId.make("org:chat.v1_x-y", "s").type, "org:chat.v1_x-y")
      for (const bad of ["", "a b", "a/b"]) assert.throws(() => TopicId.make(bad, "s"), undefined, undefined, bad)
    }))

  it.effect("sources follow the agent key rules, since they become agent keys", () =>
    Effect.sync(() => {
      assert.strictEqual(TopicId.make("t", "a b/c").source, "a b/c")
      for (const bad of ["", "\n", "é"]) assert.throws(() => TopicId.make("t", bad), undefined, undefined, JSON.stringify(bad))
    }))

  it.effect("the default topic type is 'default'", () =>
    Effect.sync(() => {
      assert.strictEqual(TopicId.defaultType, "default")
    }))

  it.effect("a TopicId round-trips through its JSON codec", () =>
    Effect.gen(function*() {
      const codec = Schema.toCodecJson(TopicId.TopicId)
      const topic = TopicId.make("chat", "room-1")
      const back = yield* Schema.decodeUnknownEffect(codec)(JSON.parse(JSON.stringify(yield* Schema.encodeEffect(codec)(topic))))
      assert.instanceOf(back, TopicId.TopicId)
      assert.strictEqual(TopicId.toString(back), "chat/room-1")
    }))
})
