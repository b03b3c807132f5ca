/**
 * Benchmarks of the distributed runtime: a host servicer process (the CLI),
 * worker B in its own process (pongers, sinks), and this process as worker A
 * (the driver agent, the publisher). Every message goes A -> host -> B, over
 * real loopback WebSockets. The floor is a bare effect/rpc request/reply
 * over the same transport, server in its own process.
 */
import { Effect, Layer } from "effect"
import { AgentRuntime, TopicId, WorkerRuntime } from "../src/index.ts"
import * as Processes from "../test/support/processes.ts"
import { Driver, DriverLive, Tick } from "./distributed-agents.ts"
import type { Case } from "./harness.ts"
import * as RpcFloor from "./rpc-floor.ts"

/** Host and worker B as processes; worker A (with the driver) here. Returns A's context. */
const cluster = Effect.gen(function*() {
  // no recovery window: a fresh host must not hold the first publishes of a measurement
  const host = yield* Processes.host([], 0, { EFFECT_AGENTS_RECOVERY_WINDOW: "0 millis" })
  yield* Processes.worker(host.url, "bench-b", "bench/distributed-agents.ts", ["WorkerB"])
  return yield* Layer.build(DriverLive.pipe(Layer.provideMerge(WorkerRuntime.layer({ url: host.url, workerId: "bench-a" }))))
})

export const requestReply = (inFlight: number): Case => ({
  name: `agent A -> host -> agent B send/reply, ${inFlight} in flight`,
  unit: "round trips",
  make: Effect.gen(function*() {
    const a = yield* cluster
    const driver = (yield* Effect.provideContext(Driver.client, a))("d")
    return (n) => driver.Drive({ times: n, inFlight }, { timeout: "1 hour" })
  })
})

/** `n` publishes on `topicType`, 64 in flight, then wait until every delivery is handled. */
const publishes = (topicType: string, perPublish: number): Case => ({
  name: perPublish === 1 ? "publish A -> host -> 1 subscriber on B" : `publish A -> host -> ${perPublish} subscriber types on B`,
  unit: perPublish === 1 ? "publishes" : "deliveries",
  make: Effect.gen(function*() {
    const a = yield* cluster
    return (n) => {
      const count = Math.max(1, Math.round(n / perPublish))
      return Effect.forEach(
        Array.from({ length: count }, (_, i) => i),
        (i) => AgentRuntime.publish(TopicId.make(topicType, "s"), new Tick({ n: i })),
        { concurrency: 64, discard: true }
      ).pipe(
        Effect.andThen(AgentRuntime.awaitIdle),
        Effect.as(count * perPublish),
        Effect.provideContext(a)
      )
    }
  })
})

export const publishOne = publishes("one", 1)
export const fanOut = publishes("fan", 100)

/** Bare effect/rpc request/reply over WebSocket, `inFlight` at a time. */
export const rpcFloor = (inFlight: number): Case => ({
  name: `bare effect/rpc request/reply (ws), ${inFlight} in flight`,
  unit: "round trips",
  make: Effect.gen(function*() {
    const server = yield* Processes.start("bench/rpc-floor.ts", [], {}, /listening on (\S+)/)
    const client = yield* RpcFloor.client(server.match[1]!)
    return (n) => Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => client.Echo({ n: i }), { concurrency: inFlight, discard: true })
  })
})
