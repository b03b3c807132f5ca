import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { AgentId, Subscription, TopicId } from "../../../src/index.ts"
import * as HostSubscriptions from "../../../src/distributed/internal/HostSubscriptions.ts"
import type { Connection } from "../../../src/distributed/internal/Sessions.ts"
import * as FakeConnection from "./connection.ts"

const worker = (workerId: string): Connection => FakeConnection.make(workerId).conn

const chat = Subscription.type("chat", "assistant")
const logs = Subscription.typePrefix("chat.", "logger")

const recipients = (subscriptions: HostSubscriptions.HostSubscriptions, type: string) =>
  subscriptions.recipients(TopicId.make(type, "room")).map(AgentId.toString).sort()

describe("HostSubscriptions", () => {
  it.effect("a subscription a worker adds routes topics and is recorded on the worker", () =>
    Effect.sync(() => {
      const subscriptions = HostSubscriptions.make()
      const w1 = worker("w1")
      subscriptions.add(w1, chat)
      subscriptions.add(w1, logs)
      assert.deepStrictEqual(recipients(subscriptions, "chat"), ["assistant/room"])
      assert.deepStrictEqual(recipients(subscriptions, "chat.alerts"), ["logger/room"])
      assert.deepStrictEqual([...w1.subscriptions].sort(), [Subscription.id(chat), Subscription.id(logs)].sort())
      assert.strictEqual(subscriptions.list().length, 2)
    }))

  it.effect("a subscription declared by two workers stays until both left", () =>
    Effect.gen(function*() {
      const subscriptions = HostSubscriptions.make()
      const w1 = worker("w1")
      const w2 = worker("w2")
      subscriptions.add(w1, chat)
      subscriptions.add(w2, chat)
      assert.strictEqual(subscriptions.list().length, 1)
      subscriptions.dropWorker(w1)
      assert.deepStrictEqual(recipients(subscriptions, "chat"), ["assistant/room"])
      subscriptions.dropWorker(w2)
      assert.deepStrictEqual(recipients(subscriptions, "chat"), [])
      assert.deepStrictEqual(subscriptions.list(), [])
    }))

  it.effect("a worker leaving takes away only what it alone declared", () =>
    Effect.sync(() => {
      const subscriptions = HostSubscriptions.make()
      const w1 = worker("w1")
      const w2 = worker("w2")
      subscriptions.add(w1, chat)
      subscriptions.add(w1, logs)
      subscriptions.add(w2, chat)
      subscriptions.dropWorker(w1)
      assert.deepStrictEqual(subscriptions.list().map(Subscription.id), [Subscription.id(chat)])
    }))

  it.effect("a worker removes only its own declaration: a subscription stays until the last declarer removes it", () =>
    Effect.sync(() => {
      const subscriptions = HostSubscriptions.make()
      const w1 = worker("w1")
      const w2 = worker("w2")
      subscriptions.add(w1, chat)
      subscriptions.add(w2, chat)
      assert.isTrue(subscriptions.remove(w1, Subscription.id(chat)))
      assert.strictEqual(w1.subscriptions.size, 0)
      assert.strictEqual(w2.subscriptions.size, 1)
      assert.deepStrictEqual(recipients(subscriptions, "chat"), ["assistant/room"])
      assert.isTrue(subscriptions.remove(w2, Subscription.id(chat)))
      assert.deepStrictEqual(recipients(subscriptions, "chat"), [])
      assert.isUndefined(subscriptions.get(Subscription.id(chat)))
    }))

  it.effect("removing what a worker did not declare is false and changes nothing", () =>
    Effect.sync(() => {
      const subscriptions = HostSubscriptions.make()
      const w1 = worker("w1")
      const w2 = worker("w2")
      subscriptions.add(w1, chat)
      assert.isFalse(subscriptions.remove(w2, Subscription.id(chat)))
      assert.isFalse(subscriptions.remove(w1, "no such id"))
      assert.deepStrictEqual(recipients(subscriptions, "chat"), ["assistant/room"])
      assert.deepStrictEqual(subscriptions.get(Subscription.id(chat)), chat)
    }))

  it.effect("a worker that removed its declaration and then leaves takes nothing of the others' away", () =>
    Effect.sync(() => {
      const subscriptions = HostSubscriptions.make()
      const w1 = worker("w1")
      const w2 = worker("w2")
      subscriptions.add(w1, chat)
      subscriptions.remove(w1, Subscription.id(chat))
      subscriptions.add(w2, chat)
      subscriptions.dropWorker(w1)
      assert.deepStrictEqual(recipients(subscriptions, "chat"), ["assistant/room"])
      // re-declared after removal, it is in force again, and leaving takes it away again
      subscriptions.add(w1, logs)
      subscriptions.dropWorker(w1)
      assert.deepStrictEqual(recipients(subscriptions, "chat.x"), [])
    }))
})

/** A small deterministic generator (mulberry32), so a failure replays. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

describe("HostSubscriptions against a reference without index or cache", () => {
  it.effect("random declarations, withdrawals, departures and publishes: same recipients, same order", () =>
    Effect.sync(() => {
      for (let seed = 1; seed <= 10; seed++) {
        const next = random(seed)
        const pick = <A>(xs: ReadonlyArray<A>) => xs[Math.floor(next() * xs.length)]!
        const word = (min: number, max: number) => {
          const length = min + Math.floor(next() * (max - min + 1))
          let w = ""
          for (let i = 0; i < length; i++) w += pick(["a", "b", "."])
          return w
        }
        const subscriptions = HostSubscriptions.make()
        // the reference: a subscription is in force while some worker declares it, in the order it came into force
        const inForce = new Map<string, { readonly subscription: Subscription.Subscription; readonly by: Set<Connection> }>()
        let generation = 0
        const workers = Array.from({ length: 3 }, (_, i) => worker(`w${i}-${generation}`))
        for (let step = 0; step < 1500; step++) {
          const roll = next()
          const w = Math.floor(next() * workers.length)
          const from = workers[w]!
          if (roll < 0.35) {
            const s = next() < 0.5 ? Subscription.type(word(1, 3), pick(["p", "q", "r"])) : Subscription.typePrefix(word(0, 2), pick(["p", "q", "r"]))
            subscriptions.add(from, s)
            const id = Subscription.id(s)
            const entry = inForce.get(id) ?? { subscription: s, by: new Set<Connection>() }
            entry.by.add(from)
            inForce.set(id, entry)
          } else if (roll < 0.55) {
            const present = [...inForce.keys()]
            const id = present.length > 0 ? pick(present) : "type:none->p"
            const entry = inForce.get(id)
            assert.strictEqual(subscriptions.remove(from, id), entry?.by.has(from) ?? false, `seed ${seed} step ${step}: remove ${id}`)
            entry?.by.delete(from)
            if (entry?.by.size === 0) inForce.delete(id)
          } else if (roll < 0.6) {
            subscriptions.dropWorker(from)
            for (const [id, entry] of inForce) {
              entry.by.delete(from)
              if (entry.by.size === 0) inForce.delete(id)
            }
            workers[w] = worker(`w${w}-${++generation}`)
          } else {
            const topic = TopicId.make(word(1, 4), "room")
            const expected: Array<string> = []
            for (const { subscription } of inForce.values()) {
              const agent = `${subscription.agentType}/room`
              if (Subscription.matches(subscription, topic) && !expected.includes(agent)) expected.push(agent)
            }
            assert.deepStrictEqual(subscriptions.recipients(topic).map(AgentId.toString), expected, `seed ${seed} step ${step}: ${topic}`)
          }
        }
        assert.deepStrictEqual(subscriptions.list().map(Subscription.id), [...inForce.keys()])
      }
    }))
})
