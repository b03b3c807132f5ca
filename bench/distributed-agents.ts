/**
 * Agents of the distributed benchmarks, shared by the bench process (worker
 * A, the driver) and the worker process (worker B, ponger and sinks).
 */
import { Effect, Layer, Schema } from "effect"
import { Agent, Subscription } from "../src/index.ts"

export class Ping extends Schema.TaggedClass<Ping>()("Ping", { n: Schema.Number }) {}
export class Pong extends Schema.TaggedClass<Pong>()("Pong", { n: Schema.Number }) {}
export class Drive extends Schema.TaggedClass<Drive>()("Drive", { times: Schema.Number, inFlight: Schema.Number }) {}
export class Tick extends Schema.TaggedClass<Tick>()("Tick", { n: Schema.Number }) {}
export class Count extends Schema.TaggedClass<Count>()("Count", {}) {}
export class AwaitTicks extends Schema.TaggedClass<AwaitTicks>()("AwaitTicks", { atLeast: Schema.Number }) {}

export const Ponger = Agent.make("ponger", { Ping: Agent.rpc(Ping, { success: Pong }) })
export const Driver = Agent.make("driver", { Drive: Agent.rpc(Drive) })
/**
 * Deliveries handled by the sinks of this process, so a publish case counts
 * what reached its subscribers (not what the publisher sent): `Count` is the
 * tally so far, `AwaitTicks` answers once it reaches `atLeast` (or after a
 * minute with what it reached: a lost delivery fails the case, it does not hang it).
 */
export const Tally = Agent.make("tally", {
  Count: Agent.rpc(Count, { success: Schema.Number }),
  AwaitTicks: Agent.rpc(AwaitTicks, { success: Schema.Number })
})

export const PongerLive = Ponger.toLayer(Effect.succeed(Ponger.of({
  Ping: ({ n }) => Effect.succeed(new Pong({ n: n + 1 }))
})))

/**
 * Sends `times` Pings to pongers, `inFlight` at a time; each lane has its own
 * ponger instance, so lanes do not queue behind each other in one mailbox.
 */
export const DriverLive = Driver.toLayer(Effect.gen(function*() {
  const ponger = yield* Ponger.client
  return Driver.of({
    Drive: ({ inFlight, times }) =>
      Effect.forEach(
        Array.from({ length: inFlight }, (_, lane) => lane),
        (lane) =>
          Effect.gen(function*() {
            const target = ponger(`lane-${lane}`)
            for (let i = lane; i < times; i += inFlight) yield* target.Ping({ n: i })
          }),
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.orDie)
  })
}))

let ticks = 0
const waiters = new Set<{ readonly atLeast: number; readonly resume: () => void }>()
const hit = Effect.sync(() => {
  ticks++
  for (const waiter of waiters) if (ticks >= waiter.atLeast) waiter.resume()
})

export const TallyLive = Tally.toLayer(Effect.succeed(Tally.of({
  Count: () => Effect.sync(() => ticks),
  AwaitTicks: ({ atLeast }) =>
    Effect.callback<void>((resume) => {
      if (ticks >= atLeast) return resume(Effect.void)
      const waiter = { atLeast, resume: () => {
        waiters.delete(waiter)
        resume(Effect.void)
      } }
      waiters.add(waiter)
      return Effect.sync(() => void waiters.delete(waiter))
    }).pipe(Effect.timeoutOption("1 minute"), Effect.map(() => ticks))
})))

/** `count` sink agent types, each subscribed to `topicType`; every delivery they handle is tallied. */
export const sinks = (topicType: string, count: number) =>
  Layer.mergeAll(
    Layer.empty,
    ...Array.from({ length: count }, (_, i) => {
      const Sink = Agent.make(`${topicType}-sink-${i}`, { Tick: Agent.event(Tick) })
      return Sink.toLayer(Effect.succeed(Sink.of({ Tick: () => hit })), { subscriptions: [Subscription.type(topicType)] })
    })
  )

/** What worker B runs (in its own process): pongers, the tally, one sink on "one", 100 sinks on "fan". */
export const WorkerB = Layer.mergeAll(PongerLive, TallyLive, sinks("one", 1), sinks("fan", 100))

/** A worker that only runs pongers (the cases with several workers). */
export const Pongers = PongerLive
