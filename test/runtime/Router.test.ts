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

/** The router as specified, without index or cache: every subscription in order of addition, each agent type once. */
const reference = () => {
  const byId = new Map<string, Subscription.Subscription>()
  return {
    add: (s: Subscription.Subscription) => {
      const id = Subscription.id(s)
      if (byId.has(id)) return false
      byId.set(id, s)
      return true
    },
    remove: (id: string) => {
      const s = byId.get(id)
      byId.delete(id)
      return s
    },
    list: () => [...byId.values()],
    recipients: (topic: TopicId.TopicId) => {
      const out: Array<string> = []
      for (const s of byId.values()) {
        const agent = `${s.agentType}/${topic.source}`
        if (Subscription.matches(s, topic) && !out.includes(agent)) out.push(agent)
      }
      return out
    }
  }
}

/** A small deterministic generator (mulberry32), so a failure replays. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/**
 * Random adds, removes and publishes against the reference, in order (not
 * sorted): few letters, so topic types share prefixes, and few agent types,
 * so subscriptions often map a topic to the same agent.
 */
const randomized = (seed: number, steps: number, bounds?: Router.Bounds) => {
  const next = random(seed)
  const pick = <A>(xs: ReadonlyArray<A>) => xs[Math.floor(next() * xs.length)]!
  const word = (min: number, max: number) => {
    const length = min + Math.floor(next() * (max - min + 1))
    let w = ""
    for (let i = 0; i < length; i++) w += pick(["a", "b", "."])
    return w
  }
  const agentTypes = ["p", "q", "r", "s", "t"]
  const router = Router.make(bounds)
  const naive = reference()
  for (let step = 0; step < steps; step++) {
    const roll = next()
    if (roll < 0.3) {
      const s = next() < 0.5 ? Subscription.type(word(1, 4), pick(agentTypes)) : Subscription.typePrefix(word(0, 3), pick(agentTypes))
      assert.strictEqual(router.add(s), naive.add(s), `step ${step}: add ${Subscription.id(s)}`)
    } else if (roll < 0.45) {
      const present = naive.list()
      const id = present.length > 0 && next() < 0.9 ? Subscription.id(pick(present)) : "type:none->p"
      assert.deepStrictEqual(router.remove(id), naive.remove(id), `step ${step}: remove ${id}`)
    } else {
      const topic = TopicId.make(word(1, 5), pick(["s1", "s2"]))
      assert.deepStrictEqual(router.recipients(topic).map(AgentId.toString), naive.recipients(topic), `step ${step}: recipients of ${topic}`)
    }
    if (bounds !== undefined) {
      const cached = router.cached()
      assert.isAtMost(cached.topicTypes, bounds.maxCachedTopicTypes)
      assert.isAtMost(cached.recipients, bounds.maxCachedRecipients)
    }
  }
  assert.deepStrictEqual(router.list(), naive.list())
}

describe("Router against a reference without index or cache", () => {
  it.effect("random adds, removes and publishes give the same recipients in the same order", () =>
    Effect.sync(() => {
      for (let seed = 1; seed <= 20; seed++) randomized(seed, 2000)
    }))

  it.effect("the same with a cache so small that it evicts all the time", () =>
    Effect.sync(() => {
      for (let seed = 1; seed <= 10; seed++) randomized(seed, 2000, { maxCachedTopicTypes: 3, maxCachedRecipients: 4 })
    }))

  it.effect("the cache stays within its bounds however many topic types are published to", () =>
    Effect.sync(() => {
      const router = Router.make()
      router.add(Subscription.typePrefix("t", "a"))
      router.add(Subscription.typePrefix("", "b"))
      for (let i = 0; i < Router.maxCachedTopicTypes * 3; i++) {
        assert.deepStrictEqual(recipients(router, `t${i}`, "s"), ["a/s", "b/s"])
      }
      assert.isAtMost(router.cached().topicTypes, Router.maxCachedTopicTypes)
      assert.isAtMost(router.cached().recipients, Router.maxCachedRecipients)
    }))

  it.effect("a topic type reaching more agent types than the cache holds is computed, not cached", () =>
    Effect.sync(() => {
      const router = Router.make({ maxCachedTopicTypes: 8, maxCachedRecipients: 3 })
      for (const a of ["a", "b", "c", "d"]) router.add(Subscription.type("wide", a))
      router.add(Subscription.type("narrow", "a"))
      assert.deepStrictEqual(recipients(router, "wide", "s"), ["a/s", "b/s", "c/s", "d/s"])
      assert.deepStrictEqual(recipients(router, "narrow", "s"), ["a/s"])
      assert.deepStrictEqual(router.cached(), { topicTypes: 1, recipients: 1 })
    }))

  it.effect("a change drops only the cached topic types it affects", () =>
    Effect.sync(() => {
      const router = Router.make()
      router.add(Subscription.type("chat", "a"))
      router.add(Subscription.type("news", "b"))
      recipients(router, "chat", "s")
      recipients(router, "news", "s")
      recipients(router, "chat.x", "s")
      assert.strictEqual(router.cached().topicTypes, 3)
      router.add(Subscription.type("chat", "c")) // only "chat"
      assert.strictEqual(router.cached().topicTypes, 2)
      recipients(router, "chat", "s")
      router.add(Subscription.typePrefix("chat", "d")) // "chat" and "chat.x", not "news"
      assert.strictEqual(router.cached().topicTypes, 1)
      assert.deepStrictEqual(router.recipients(TopicId.make("chat", "s")).map(AgentId.toString), ["a/s", "c/s", "d/s"])
      assert.deepStrictEqual(recipients(router, "news", "s"), ["b/s"])
    }))

  it.effect("recipients come in the order their subscriptions were added, across exact and prefix subscriptions", () =>
    Effect.sync(() => {
      const router = Router.make()
      router.add(Subscription.typePrefix("ch", "z"))
      router.add(Subscription.type("chat", "y"))
      router.add(Subscription.typePrefix("", "x"))
      router.add(Subscription.typePrefix("chat", "y"))
      router.add(Subscription.type("chat", "w"))
      assert.deepStrictEqual(router.recipients(TopicId.make("chat", "s")).map(AgentId.toString), ["z/s", "y/s", "x/s", "w/s"])
      // removed and added again, a subscription goes last
      router.remove(Subscription.id(Subscription.typePrefix("ch", "z")))
      router.add(Subscription.typePrefix("ch", "z"))
      assert.deepStrictEqual(router.recipients(TopicId.make("chat", "s")).map(AgentId.toString), ["y/s", "x/s", "w/s", "z/s"])
    }))
})

describe("Router.Table", () => {
  it.effect("holds what a Map would, and no more than twice its live keys plus 1024", () =>
    Effect.sync(() => {
      const next = random(7)
      const table = new Router.Table<number>()
      const reference = new Map<string, number>()
      for (let step = 0; step < 50_000; step++) {
        // many distinct keys, so holes pile up and the table is rebuilt, and a few that come back often
        const key = next() < 0.5 ? `k${Math.floor(next() * 5000)}` : `hot${Math.floor(next() * 4)}`
        if (next() < 0.55) {
          table.set(key, step)
          reference.set(key, step)
        } else {
          table.delete(key)
          reference.delete(key)
        }
        assert.strictEqual(table.get(key), reference.get(key))
        assert.strictEqual(table.size, reference.size)
        assert.isAtMost(table.held, 2 * table.size + 1025)
      }
      assert.deepStrictEqual(table.values().sort((a, b) => a - b), [...reference.values()].sort((a, b) => a - b))
    }))

  it.effect("a router through many distinct subscriptions coming and going lists and routes as the reference does", () =>
    Effect.sync(() => {
      const router = Router.make()
      const naive = reference()
      const subscription = (i: number) => i % 3 === 0 ? Subscription.typePrefix(`t${i % 7}`, `a${i}`) : Subscription.type(`t${i % 7}`, `a${i}`)
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 3000; i++) assert.strictEqual(router.add(subscription(i)), naive.add(subscription(i)))
        for (let i = 0; i < 3000; i += round + 2) assert.deepStrictEqual(router.remove(Subscription.id(subscription(i))), naive.remove(Subscription.id(subscription(i))))
        for (const type of ["t1", "t3x", "t6"]) {
          const topic = TopicId.make(type, "s")
          assert.deepStrictEqual(router.recipients(topic).map(AgentId.toString), naive.recipients(topic))
        }
        assert.deepStrictEqual(router.list(), naive.list())
      }
    }))
})
