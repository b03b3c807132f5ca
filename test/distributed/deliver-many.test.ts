/**
 * A publish's deliveries to several agents of one worker as one
 * `DeliverMany` (docs/protocol.md): only to a worker that accepts it, each
 * recipient answered on its own (a failure is that recipient's dead letter,
 * a deadline times out only the unanswered), order per instance kept; and
 * the TypeScript worker, which accepts it, runs it as a Deliver per
 * recipient.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Schema, Stream } from "effect"
import { Agent, AgentRuntime, Subscription, TopicId } from "../../src/index.ts"
import * as Harness from "../support/harness.ts"
import * as Raw from "./raw-client.ts"

const said = { type: "Said", data: { _tag: "Said", text: "hi" } }
const failure = (exit: any): any => {
  assert.strictEqual(exit?._tag, "Failure", `expected a failure, got ${JSON.stringify(exit)}`)
  return exit.cause[0].error
}

/** A raw worker that runs `types`, each subscribed to topic type `chat`. */
const subscriber = (url: string, workerId: string, types: ReadonlyArray<string>, accepts?: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const client = yield* Raw.open(url, workerId)
    yield* client.join({ workerId, ...(accepts ? { accepts } : {}) })
    for (const name of types) {
      yield* client.call("RegisterAgentType", { name, description: "" })
      yield* client.call("AddSubscription", { subscription: { _tag: "TypeSubscription", topicType: "chat", agentType: name } })
    }
    return client
  })

const reply = (client: Raw.RawClient, requestId: string, outcome: unknown, recipients?: ReadonlyArray<number>) =>
  client.call("Reply", { replies: [{ requestId, outcome, ...(recipients ? { recipients } : {}) }] })

const handled = { _tag: "Success", value: null }
const diskFull = (recipient: string) => ({ _tag: "HandlerError", recipient, messageType: "Said", reason: "disk full" })

describe("DeliverMany", () => {
  it.live("a worker that accepts it gets its recipients as one message; each recipient's answer counts on its own; one that does not gets a Deliver each", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ config: { recoveryWindow: Duration.zero } })
      const many = yield* subscriber(host.service.url, "w-many", ["logger", "audit", "archive"], ["DeliverMany", "SomethingNewer"])
      const plain = yield* subscriber(host.service.url, "w-plain", ["mail", "pager"])
      const pub = yield* Raw.open(host.service.url, "pub")
      yield* pub.join({ workerId: "w-pub" })
      const published = pub.request("Publish", { topic: { type: "chat", source: "r1" }, messageId: "p-1", message: said, ack: true })

      const batch = yield* many.item((p) => p._tag === "DeliverMany")
      assert.deepStrictEqual({ ...batch, requestId: "" }, {
        _tag: "DeliverMany",
        requestId: "",
        messageId: "p-1",
        types: ["logger", "audit", "archive"],
        topic: { type: "chat", source: "r1" },
        message: said
      })
      assert.isUndefined(many.pushed.find((p) => p._tag === "Deliver"), "no Deliver to a worker that takes DeliverMany")
      const delivers = [yield* plain.item((p) => p._tag === "Deliver" && p.recipient.type === "mail"), yield* plain.item((p) => p._tag === "Deliver" && p.recipient.type === "pager")]
      assert.deepStrictEqual(delivers.map((d) => [d.messageId, d.rpc, d.chain]), [["p-1:mail", false, []], ["p-1:pager", false, []]])
      assert.isUndefined(plain.pushed.find((p) => p._tag === "DeliverMany"), "a worker that did not accept it never gets one")
      for (const d of delivers) yield* reply(plain, d.requestId, handled)

      // one recipient answered, an index out of range ignored: the acknowledged publish still waits
      yield* reply(many, batch.requestId, handled, [0, 9])
      const idle = yield* Effect.forkChild(Effect.flatMap(Raw.open(host.service.url, "idle"), (c) => Effect.andThen(c.join({ workerId: "w-idle" }), c.call("AwaitIdle", null))))
      yield* Effect.sleep(Duration.millis(200))
      assert.isUndefined(pub.frames.find((f) => f._tag === "Exit" && f.requestId === published), "the publish waits for every recipient")
      assert.isUndefined(idle.pollUnsafe(), "awaitIdle waits for every recipient")
      // the second fails: a dead letter for it alone; an entry without recipients answers the rest
      yield* reply(many, batch.requestId, { _tag: "Failure", error: diskFull("audit/r1") }, [1])
      yield* reply(many, batch.requestId, handled)
      assert.deepStrictEqual(failure(yield* pub.exit(published)), diskFull("audit/r1"))
      const letter = yield* pub.item((p) => p._tag === "DeadLetter")
      assert.deepStrictEqual(letter, { _tag: "DeadLetter", recipient: "audit/r1", messageType: "Said", topic: "chat/r1", error: diskFull("audit/r1") })
      yield* Fiber.join(idle)
      yield* Effect.sleep(Duration.millis(100))
      assert.strictEqual(pub.pushed.filter((p) => p._tag === "DeadLetter").length, 1)
    }).pipe(Effect.scoped))

  it.live("at the event deadline only the recipients without an answer time out", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ eventTimeout: "500 millis", config: { recoveryWindow: Duration.zero } })
      const many = yield* subscriber(host.service.url, "w-many", ["logger", "audit", "archive"], ["DeliverMany"])
      const pub = yield* Raw.open(host.service.url, "pub")
      yield* pub.join({ workerId: "w-pub" })
      yield* pub.call("Publish", { topic: { type: "chat", source: "r2" }, messageId: "p-2", message: said })
      const batch = yield* many.item((p) => p._tag === "DeliverMany")
      yield* reply(many, batch.requestId, handled, [1])
      yield* pub.item((p) => p._tag === "DeadLetter" && p.recipient === "archive/r2", 5000)
      const letters = pub.pushed.filter((p) => p._tag === "DeadLetter")
      assert.deepStrictEqual(letters.map((l) => [l.recipient, l.error._tag, l.error.timeoutMillis]), [["logger/r2", "TimeoutError", 500], ["archive/r2", "TimeoutError", 500]])
      // a late answer changes nothing
      yield* reply(many, batch.requestId, { _tag: "Failure", error: diskFull("logger/r2") })
      yield* Effect.sleep(Duration.millis(100))
      assert.strictEqual(pub.pushed.filter((p) => p._tag === "DeadLetter").length, 2)
    }).pipe(Effect.scoped))

  it.live("a worker near its bound gets the recipients that fit; the others are Overloaded dead letters", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ config: { maxPendingPerWorker: 2, recoveryWindow: Duration.zero } })
      const many = yield* subscriber(host.service.url, "w-many", ["logger", "audit", "archive"], ["DeliverMany"])
      const pub = yield* Raw.open(host.service.url, "pub")
      yield* pub.join({ workerId: "w-pub" })
      yield* pub.call("Publish", { topic: { type: "chat", source: "r3" }, messageId: "p-3", message: said })
      const batch = yield* many.item((p) => p._tag === "DeliverMany")
      assert.deepStrictEqual(batch.types, ["logger", "audit"])
      const letter = yield* pub.item((p) => p._tag === "DeadLetter")
      assert.deepStrictEqual([letter.recipient, letter.error.reason._tag], ["archive/r3", "Overloaded"])
      // the worker is at its bound: the next publish is refused whole (dead letters beyond a small queue's share are dropped)
      yield* pub.call("Publish", { topic: { type: "chat", source: "r4" }, messageId: "p-4", message: said })
      const refused = yield* pub.item((p) => p._tag === "DeadLetter" && p.recipient.endsWith("/r4"))
      assert.strictEqual(refused.error.reason._tag, "Overloaded")
      yield* Effect.sleep(Duration.millis(100))
      assert.strictEqual(many.pushed.filter((p) => p._tag === "DeliverMany").length, 1)
    }).pipe(Effect.scoped))

  it.live("a reply naming more recipients than a DeliverMany may have is refused whole", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ config: { recoveryWindow: Duration.zero } })
      const many = yield* subscriber(host.service.url, "w-many", ["logger"], ["DeliverMany"])
      const exit = yield* many.call("Reply", { replies: [{ requestId: "x", outcome: handled, recipients: [1024] }] })
      assert.strictEqual(exit._tag, "Failure")
      assert.strictEqual(exit.cause[0]._tag, "Die")
    }).pipe(Effect.scoped))
})

class Tick extends Schema.TaggedClass<Tick>()("Tick", { n: Schema.Number }) {}

/** What each sink handled, by agent, in order. */
const seen = new Map<string, Array<number>>()

const sink = (name: string, fails: boolean) => {
  const Sink = Agent.make(name, { Tick: Agent.event(Tick) })
  return Sink.toLayer(
    Effect.succeed(Sink.of({
      Tick: ({ n }) =>
        Effect.gen(function*() {
          const self = yield* Agent.Self
          const key = self.toString()
          seen.set(key, [...(seen.get(key) ?? []), n])
          if (fails && n % 10 === 0) return yield* Effect.fail(new Error(`no ${n}`))
        })
    })),
    { subscriptions: [Subscription.type("ticks")] }
  ).pipe(Layer.orDie)
}

describe("DeliverMany between TypeScript workers", () => {
  it.live("every sink on the worker handles every publish, in publish order per instance; a failing one is the publisher's dead letter alone", () =>
    Effect.gen(function*() {
      seen.clear()
      const host = yield* Harness.host({ config: { recoveryWindow: Duration.zero } })
      yield* Harness.worker(host.service.url, "b", Layer.mergeAll(sink("sink-a", false), sink("sink-b", true), sink("sink-c", false)))
      const a = yield* Harness.worker(host.service.url, "a")
      const letters = yield* Harness.on(a, Effect.gen(function*() {
        const deadLetters = yield* AgentRuntime.AgentRuntime.use((runtime) => runtime.deadLetters)
        const collected = yield* Effect.forkChild(Stream.runCollect(Stream.take(deadLetters, 5)))
        // concurrent publishes from one publisher: their order at each instance is the order the host took them in
        for (let n = 0; n < 50; n++) yield* AgentRuntime.publish(TopicId.make("ticks", "k1"), new Tick({ n }))
        yield* AgentRuntime.awaitIdle
        return yield* Fiber.join(collected)
      }).pipe(Effect.scoped))
      const expected = Array.from({ length: 50 }, (_, n) => n)
      assert.deepStrictEqual([...seen.keys()].sort(), ["sink-a/k1", "sink-b/k1", "sink-c/k1"])
      for (const key of seen.keys()) assert.deepStrictEqual(seen.get(key), expected, key)
      assert.deepStrictEqual(letters.map((l) => l.recipient), Array.from({ length: 5 }, () => "sink-b/k1"))
      assert.deepStrictEqual(letters.map((l) => l.error._tag), Array.from({ length: 5 }, () => "HandlerError"))
      const status = yield* host.service.stats
      assert.strictEqual(status.pendingRequests, 0)
    }).pipe(Effect.scoped))
})
