import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { AgentId, Subscription, TopicId } from "../../src/index.ts"
import * as Router from "../../src/runtime/Router.ts"

const recipients = (router: Router.Router, type: string, source: string) =>
  router.recipients(TopicId.make(type, source)).map(AgentId.toString).sort()

describe("Router", () => {
  it.effect("a topic goes to one agent per matching subscription, keyed by the topic source", () =>
    Effect.sync(() => {
      const router = Router.make()
      router.add(Subscription.type("chat", "assistant"))
      router.add(Subscription.type("chat", "logger"))
      router.add(Subscription.type("other", "x"))
      assert.deepStrictEqual(recipients(router, "chat", "room-1"), ["assistant/room-1", "logger/room-1"])
      assert.deepStrictEqual(recipients(router, "nobody", "room-1"), [])
    }))

  it.effect("two subscriptions mapping a topic to the same agent deliver once", () =>
    Effect.sync(() => {
      const router = Router.make()
      router.add(Subscription.type("chat.alerts", "logger"))
      router.add(Subscription.typePrefix("chat.", "logger"))
      router.add(Subscription.typePrefix("chat", "logger"))
      assert.deepStrictEqual(recipients(router, "chat.alerts", "x"), ["logger/x"])
    }))

  it.effect("adding a subscription twice keeps one and tells so", () =>
    Effect.sync(() => {
      const router = Router.make()
      assert.isTrue(router.add(Subscription.type("chat", "a")))
      assert.isFalse(router.add(Subscription.type("chat", "a")))
      assert.strictEqual(router.list().length, 1)
    }))

  it.effect("remove returns the removed subscription, or undefined when there is none", () =>
    Effect.sync(() => {
      const router = Router.make()
      const s = Subscription.type("chat", "a")
      router.add(s)
      assert.deepStrictEqual(router.remove(Subscription.id(s)), s)
      assert.isUndefined(router.remove(Subscription.id(s)))
      assert.deepStrictEqual(router.list(), [])
    }))

  it.effect("a subscription added after a topic was routed is seen (the cache is dropped)", () =>
    Effect.sync(() => {
      const router = Router.make()
      router.add(Subscription.type("chat", "a"))
      assert.deepStrictEqual(recipients(router, "chat", "s"), ["a/s"])
      router.add(Subscription.typePrefix("ch", "b"))
      assert.deepStrictEqual(recipients(router, "chat", "s"), ["a/s", "b/s"])
    }))

  it.effect("a removed subscription stops routing at once (the cache is dropped)", () =>
    Effect.sync(() => {
      const router = Router.make()
      const a = Subscription.type("chat", "a")
      router.add(a)
      router.add(Subscription.type("chat", "b"))
      assert.deepStrictEqual(recipients(router, "chat", "s"), ["a/s", "b/s"])
      router.remove(Subscription.id(a))
      assert.deepStrictEqual(recipients(router, "chat", "s"), ["b/s"])
    }))

  it.effect("cached matches are per topic type: sources of the same type map to their own keys", () =>
    Effect.sync(() => {
      const router = Router.make()
      router.add(Subscription.type("chat", "a"))
      assert.deepStrictEqual(recipients(router, "chat", "one"), ["a/one"])
      assert.deepStrictEqual(recipients(router, "chat", "two"), ["a/two"])
    }))
})
