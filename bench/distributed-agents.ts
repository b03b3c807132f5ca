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

export const Ponger = Agent.make("ponger", { Ping: Agent.rpc(Ping, { success: Pong }) })
export const Driver = Agent.make("driver", { Drive: Agent.rpc(Drive) })

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

/** `count` sink agent types, each subscribed to `topicType`. */
export const sinks = (topicType: string, count: number) =>
  Layer.mergeAll(
    Layer.empty,
    ...Array.from({ length: count }, (_, i) => {
      const Sink = Agent.make(`${topicType}-sink-${i}`, { Tick: Agent.event(Tick) })
      return Sink.toLayer(Effect.succeed(Sink.of({ Tick: () => Effect.void })), { subscriptions: [Subscription.type(topicType)] })
    })
  )

/** What worker B runs (in its own process): pongers, one sink on "one", 100 sinks on "fan". */
export const WorkerB = Layer.mergeAll(PongerLive, sinks("one", 1), sinks("fan", 100))
