/**
 * Benchmarks of the standalone runtime (`StandaloneRuntime.layer()`, default
 * options: 30 s send deadline, no interventions, allow-all policy).
 */
import { Context, Deferred, Effect, Layer, Schema } from "effect"
import { Agent, AgentRuntime, StandaloneRuntime, Subscription, TopicId } from "../src/index.ts"
import type { Case } from "./harness.ts"

class Ping extends Schema.TaggedClass<Ping>()("Ping", { n: Schema.Number }) {}
class Pong extends Schema.TaggedClass<Pong>()("Pong", { n: Schema.Number }) {}
class Drive extends Schema.TaggedClass<Drive>()("Drive", { times: Schema.Number }) {}
class Tick extends Schema.TaggedClass<Tick>()("Tick", { n: Schema.Number }) {}

const Ponger = Agent.make("ponger", { Ping: Agent.rpc(Ping, { success: Pong }) })
export const Driver = Agent.make("driver", { Drive: Agent.rpc(Drive) })

export const PongerLive = Ponger.toLayer(Effect.succeed(Ponger.of({
  Ping: ({ n }) => Effect.succeed(new Pong({ n: n + 1 }))
})))

/** The driver's handler sends `times` Pings to ponger/a, one after the other, awaiting each reply. */
export const DriverLive = Driver.toLayer(Effect.gen(function*() {
  const ponger = (yield* Ponger.client)("a")
  return Driver.of({
    Drive: ({ times }) =>
      Effect.gen(function*() {
        for (let i = 0; i < times; i++) yield* ponger.Ping({ n: i })
      }).pipe(Effect.orDie)
  })
}))

/** Builds `layer` on the standalone runtime in the current scope; returns its context. */
const build = <E>(layer: Layer.Layer<never, E, AgentRuntime.AgentRuntime>, options?: StandaloneRuntime.Options) =>
  Layer.build(Layer.provideMerge(layer, StandaloneRuntime.layer(options)))

export const requestReply = (options?: StandaloneRuntime.Options, label = ""): Case => ({
  name: `agent -> agent send/reply, sequential${label}`,
  unit: "round trips",
  make: Effect.gen(function*() {
    const context = yield* build(Layer.mergeAll(PongerLive, DriverLive), options)
    const driver = (yield* Effect.provideContext(Driver.client, context))("d")
    return (n) => driver.Drive({ times: n }, { timeout: "1 hour" })
  })
})

/** How many publishes go out before the publisher waits for its subscribers (below the mailbox capacity). */
const window = 1024

/** A counter that completes a Deferred when it reaches the expected count. */
const counter = () => {
  let expected = Infinity
  let count = 0
  let done: Deferred.Deferred<void> | undefined
  return {
    hit: Effect.sync(() => {
      if (++count >= expected && done !== undefined) Deferred.doneUnsafe(done, Effect.void)
    }),
    arm: (n: number) =>
      Effect.map(Deferred.make<void>(), (d) => {
        count = 0
        expected = n
        done = d
        return d
      })
  }
}

export const publishOne: Case = {
  name: "publish -> 1 subscriber",
  unit: "publishes",
  make: Effect.gen(function*() {
    const c = counter()
    const Sink = Agent.fromFunction("sink", [Tick], () => c.hit, { subscriptions: [Subscription.type("ticks")] })
    const context = yield* build(Sink)
    const runtime = Context.get(context, AgentRuntime.AgentRuntime)
    const topic = TopicId.make("ticks", "s")
    const tick = new Tick({ n: 0 })
    return (n) =>
      Effect.gen(function*() {
        const done = yield* c.arm(n)
        for (let i = 0; i < n; i++) {
          yield* runtime.publish(topic, tick)
          // mailboxes are bounded (4096): a publisher this fast lets its subscriber catch up, or its publishes are dead letters
          if (i % window === window - 1) yield* runtime.awaitIdle
        }
        yield* Deferred.await(done)
      })
  })
}

export const fanOut = (subscribers: number): Case => ({
  name: `publish -> ${subscribers} subscriber types`,
  unit: "deliveries",
  make: Effect.gen(function*() {
    const c = counter()
    const sinks = Array.from({ length: subscribers }, (_, i) =>
      Agent.fromFunction(`sink-${i}`, [Tick], () => c.hit, { subscriptions: [Subscription.type("fan")] }))
    const context = yield* build(Layer.mergeAll(...(sinks as [Layer.Layer<never, unknown, AgentRuntime.AgentRuntime>])))
    const runtime = Context.get(context, AgentRuntime.AgentRuntime)
    const topic = TopicId.make("fan", "s")
    const tick = new Tick({ n: 0 })
    return (deliveries) =>
      Effect.gen(function*() {
        const n = Math.max(1, Math.round(deliveries / subscribers))
        const done = yield* c.arm(n * subscribers)
        for (let i = 0; i < n; i++) {
          yield* runtime.publish(topic, tick)
          if (i % window === window - 1) yield* runtime.awaitIdle
        }
        yield* Deferred.await(done)
        return n * subscribers
      })
  })
})
