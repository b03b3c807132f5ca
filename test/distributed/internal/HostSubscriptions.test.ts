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
