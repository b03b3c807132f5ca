/**
 * What the cluster benchmarks measure against: an echo agent and a sink
 * subscriber (the agents), and the bare effect/cluster entity with the
 * same two calls, volatile and persisted (the floor). The runner process
 * (`cluster-runner.ts`) registers all of them.
 */
import { Effect, Schema } from "effect"
import { ClusterSchema, Entity } from "effect/cluster"
import { Rpc } from "effect/rpc"
import { Agent, Subscription } from "../src/index.ts"

export class Ping extends Schema.TaggedClass<Ping>()("Ping", { n: Schema.Int }) {}
export class Tick extends Schema.TaggedClass<Tick>()("Tick", { n: Schema.Int }) {}

export const Echo = Agent.make("echo", { Ping: Agent.rpc(Ping, { success: Schema.Int }) })
export const EchoLive = Echo.toLayer(Effect.succeed(Echo.of({ Ping: ({ n }) => Effect.succeed(n) })))

export const Sink = Agent.make("sink", { Tick: Agent.event(Tick) })
export const SinkLive = Sink.toLayer(Effect.succeed(Sink.of({ Tick: () => Effect.void })), { subscriptions: [Subscription.type("bench")] })

/** The floor: a bare entity, one volatile and one persisted call. */
export const FloorEntity = Entity.make("bench-floor", [
  Rpc.make("Echo", { payload: { n: Schema.Int }, success: Schema.Int }),
  Rpc.make("EchoPersisted", { payload: { n: Schema.Int }, success: Schema.Int }).annotate(ClusterSchema.Persisted, true)
])

export const FloorLive = FloorEntity.toLayer(Effect.succeed(FloorEntity.of({
  Echo: (request) => Effect.succeed(request.payload.n),
  EchoPersisted: (request) => Effect.succeed(request.payload.n)
})))
