/**
 * What the cluster runtime adds to the conformance suite, on one in-memory
 * runner: delivery modes (per message type and per call), the state a
 * persisted delivery saves with its reply, passivation through the entity
 * idle time (state saved, and loaded on the next message), subscriptions
 * in the directory, and what a failing directory does to a send.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, Schema } from "effect"
import { Agent, AgentId, AgentRuntime, Subscription, TopicId } from "../../src/index.ts"
import { ClusterRuntime, DeliveryMode, Directory } from "../../src/cluster/index.ts"
import { Counter, CounterLive, Increment, Note, recorderLayer, recorderType } from "../conformance/fixtures.ts"

const runtime = (options: ClusterRuntime.MemoryOptions = {}) =>
  ClusterRuntime.layer({ sendTimeout: "5 seconds", shutdownTimeout: "1 second", ...options }).pipe(
    Layer.provideMerge(Directory.layerMemory),
    Layer.provide(ClusterRuntime.shardingMemory({ shutdownTimeout: "1 second", ...options }))
  )

const withAgents = (agents: ReadonlyArray<Layer.Layer<never, any, AgentRuntime.AgentRuntime>>, options?: ClusterRuntime.MemoryOptions) =>
<A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provide(effect, Layer.mergeAll(Layer.empty, ...agents).pipe(Layer.provideMerge(runtime(options))))

/** Counts how often its handler ran, per message id: a second delivery of one message would show. */
class Once extends Schema.TaggedClass<Once>()("Once", {}) {}
const Runs = Agent.make("runs", { Once: Agent.rpc(Once, { success: Schema.Array(Schema.String) }) })
const runsLayer = Runs.toLayer(Effect.gen(function*() {
  const ids = yield* Agent.state(Schema.Array(Schema.String), [], { name: "ids" })
  return Runs.of({ Once: (_, context) => Ref.updateAndGet(ids, (all) => [...all, context.messageId]) })
}))

describe("ClusterRuntime (one in-memory runner)", () => {
  it.live("a message type named persisted goes through the message storage and saves the state with its reply", () =>
    Effect.gen(function*() {
      const counter = yield* Counter.client
      assert.strictEqual(yield* counter("a").Increment({ by: 2 }), 2)
      assert.strictEqual(yield* counter("a").Increment({ by: 3 }), 5)
      const directory = yield* Directory.Directory
      // written with the reply of the last persisted Increment, not at passivation (the idle time is a minute)
      assert.deepStrictEqual(yield* directory.loadState(Counter.id("a")), { count: 5 })
    }).pipe(withAgents([CounterLive], { persisted: ["Increment"] })))

  it.live("volatile messages save nothing until the agent is passivated or its runner stops", () =>
    Effect.gen(function*() {
      const counter = yield* Counter.client
      yield* counter("a").Increment({ by: 2 })
      const directory = yield* Directory.Directory
      assert.isUndefined(yield* directory.loadState(Counter.id("a")))
    }).pipe(withAgents([CounterLive])))

  it.live("DeliveryMode.persisted chooses the mode per call, over the runtime's default", () =>
    Effect.gen(function*() {
      const counter = yield* Counter.client
      const directory = yield* Directory.Directory
      yield* counter("v").Increment({ by: 1 })
      yield* DeliveryMode.persisted(counter("p").Increment({ by: 1 }))
      assert.isUndefined(yield* directory.loadState(Counter.id("v")))
      assert.deepStrictEqual(yield* directory.loadState(Counter.id("p")), { count: 1 })
      // and volatile over a persisted default
      yield* DeliveryMode.volatile(counter("w").Increment({ by: 1 }))
      assert.isUndefined(yield* directory.loadState(Counter.id("w")))
    }).pipe(withAgents([CounterLive])))

  it.live("with a persisted default, each send is handled once", () =>
    Effect.gen(function*() {
      const runs = yield* Runs.client
      const first = yield* runs("k").Once({})
      const second = yield* runs("k").Once({})
      assert.strictEqual(first.length, 1)
      assert.deepStrictEqual(second.slice(0, 1), first)
      assert.strictEqual(second.length, 2)
      assert.notStrictEqual(second[0], second[1])
    }).pipe(withAgents([runsLayer], { delivery: "persisted" })))

  it.live("an idle agent is passivated: its state is saved, and loaded again on its next message", () =>
    Effect.gen(function*() {
      const counter = yield* Counter.client
      const directory = yield* Directory.Directory
      yield* counter("a").Increment({ by: 4 })
      // the entity goes after 200 ms idle (effect/cluster's reaper looks every 5 s at most), saving the counter's state
      let saved = yield* directory.loadState(Counter.id("a"))
      for (let i = 0; i < 400 && saved === undefined; i++) {
        yield* Effect.sleep("50 millis")
        saved = yield* directory.loadState(Counter.id("a"))
      }
      assert.deepStrictEqual(saved, { count: 4 })
      // meanwhile another runner moved it on (as if it had lived there): the next message starts from that
      yield* directory.saveState(Counter.id("a"), { count: 40 })
      assert.strictEqual(yield* counter("a").Increment({ by: 1 }), 41)
    }).pipe(withAgents([CounterLive], { maxIdleTime: "200 millis" })), 30_000)

  it.live("subscriptions live in the directory: added at run time, they route publishes; removed, they stop", () => {
    const Listener = recorderType("listener")
    return Effect.gen(function*() {
      const directory = yield* Directory.Directory
      const subscription = Subscription.type("late", "listener")
      yield* AgentRuntime.addSubscription(subscription)
      assert.include((yield* directory.subscriptions).map(Subscription.id), Subscription.id(subscription))
      yield* AgentRuntime.publish(TopicId.make("late", "x"), new Note({ text: "1" }), { ack: true })
      assert.isTrue(yield* AgentRuntime.removeSubscription(Subscription.id(subscription)))
      yield* AgentRuntime.publish(TopicId.make("late", "x"), new Note({ text: "2" }), { ack: true })
      const runtime = yield* AgentRuntime.AgentRuntime
      assert.deepStrictEqual(yield* runtime.saveState(Listener.id("x")), { notes: ["1"] })
    }).pipe(withAgents([recorderLayer(Listener)]))
  })

  it.live("a persisted publish is acknowledged once every subscriber handled it", () => {
    const Listener = recorderType("listener")
    return Effect.gen(function*() {
      yield* DeliveryMode.persisted(AgentRuntime.publish(TopicId.make("notes", "a"), new Note({ text: "kept" }), { ack: true }))
      const directory = yield* Directory.Directory
      assert.deepStrictEqual(yield* directory.loadState(Listener.id("a")), { notes: ["kept"] })
    }).pipe(withAgents([recorderLayer(Listener, { subscriptions: [Subscription.type("notes")] })]))
  })

  it.live("a send to a type no runner runs is undeliverable, however it is sent", () =>
    Effect.gen(function*() {
      const error = yield* DeliveryMode.persisted(AgentRuntime.send(AgentId.make("ghost", "a"), new Increment({ by: 1 }))).pipe(Effect.flip)
      assert.strictEqual(error._tag, "UndeliverableError")
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "NoSuchAgentType")
    }).pipe(withAgents([CounterLive])))
})
