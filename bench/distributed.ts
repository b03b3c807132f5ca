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
import { Driver, DriverLive, Tally, Tick } from "./distributed-agents.ts"
import { type Case, cpuMicros } from "./harness.ts"
import * as RpcFloor from "./rpc-floor.ts"

/** Host and worker B as processes; worker A (with the driver) here. Returns A's context and the CPU all three have used. */
const cluster = Effect.gen(function*() {
  // no recovery window: a fresh host must not hold the first publishes of a measurement
  const host = yield* Processes.host([], 0, { EFFECT_AGENTS_RECOVERY_WINDOW: "0 millis" })
  const b = yield* Processes.worker(host.url, "bench-b", "bench/distributed-agents.ts", ["WorkerB"])
  // a process that dies during a measurement says why (the scope's kill at the end is SIGKILL, not reported)
  for (const [name, p] of [["host", host], ["worker B", b]] as const) {
    p.child.once("exit", (code) => {
      if (code !== null && code !== 130) process.stderr.write(`bench: ${name} exited with ${code}:\n${p.output().slice(-4000)}\n`)
    })
  }
  const context = yield* Layer.build(DriverLive.pipe(Layer.provideMerge(WorkerRuntime.layer({ url: host.url, workerId: "bench-a" }))))
  return { context, cpu: cpuMicros([host.child.pid, b.child.pid]) }
})

export const requestReply = (inFlight: number): Case => ({
  name: `agent A -> host -> agent B send/reply, ${inFlight} in flight`,
  unit: "round trips",
  make: Effect.gen(function*() {
    const { context: a, cpu } = yield* cluster
    const driver = (yield* Effect.provideContext(Driver.client, a))("d")
    return Object.assign((n: number) => driver.Drive({ times: n, inFlight }, { timeout: "1 hour" }), { cpuMicros: cpu })
  })
})

/**
 * Deliveries the publisher lets be on their way at most: below the host's
 * bound on a worker's pending requests (8192), since a publish is not held
 * back by its deliveries (what exceeds the bound is a dead letter).
 */
const window = 3200

/**
 * `n` deliveries: `n / perPublish` publishes on `topicType`, 64 in flight,
 * done when B's sinks have handled every delivery (counted there, by the
 * tally: what A sent is not what reached the subscribers). Publishes go in
 * windows of `window` deliveries, at most two windows on their way.
 */
const publishes = (topicType: string, perPublish: number): Case => ({
  name: perPublish === 1 ? "publish A -> host -> 1 subscriber on B" : `publish A -> host -> ${perPublish} subscriber types on B`,
  unit: perPublish === 1 ? "publishes" : "deliveries",
  make: Effect.gen(function*() {
    const { context: a, cpu } = yield* cluster
    const tally = (yield* Effect.provideContext(Tally.client, a))("b")
    const perWindow = Math.max(1, Math.floor(window / perPublish))
    return Object.assign((n: number) => {
      const count = Math.max(1, Math.round(n / perPublish))
      return Effect.gen(function*() {
        const before = yield* tally.Count()
        const reach = (target: number) =>
          Effect.flatMap(tally.AwaitTicks({ atLeast: target }, { timeout: "2 minutes" }), (reached) =>
            reached < target ? Effect.fail(new Error(`${target - reached} deliveries did not reach the sinks`)) : Effect.void)
        for (let start = 0; start < count; start += perWindow) {
          // the window before the previous one has arrived: at most two are on their way
          if (start >= 2 * perWindow) yield* reach(before + (start - perWindow) * perPublish)
          yield* Effect.forEach(
            Array.from({ length: Math.min(perWindow, count - start) }, (_, i) => start + i),
            (i) => AgentRuntime.publish(TopicId.make(topicType, "s"), new Tick({ n: i })),
            { concurrency: 64, discard: true }
          )
        }
        yield* reach(before + count * perPublish)
        return count * perPublish
      }).pipe(Effect.provideContext(a))
    }, { cpuMicros: cpu })
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
    return Object.assign(
      (n: number) => Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => client.Echo({ n: i }), { concurrency: inFlight, discard: true }),
      { cpuMicros: cpuMicros([server.child.pid]) }
    )
  })
})
