/**
 * Silent links: a host process, worker A connected to it directly and
 * worker B through a TCP proxy the test controls. The proxy cuts the link,
 * blackholes it (sockets stay open, bytes vanish), or stalls one direction.
 * Each side must notice within 3 s (the host fails what it had pushed to B
 * and drops B; B fails its own calls in flight), and traffic must flow again
 * within 3 s of the link healing. Figures are printed; assertions are on
 * outcomes and on those bounds, which the heartbeat settings make (500 ms
 * interval, 2 s timeout), not on speed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Schema } from "effect"
import { Agent, AgentRuntime } from "../../src/index.ts"
import * as Harness from "../support/harness.ts"
import * as Processes from "../support/processes.ts"
import * as TcpProxy from "./TcpProxy.ts"

class Nap extends Schema.TaggedClass<Nap>()("Nap", { millis: Schema.Number }) {}
class Hello extends Schema.TaggedClass<Hello>()("Hello", {}) {}

const napper = (name: string) => {
  const type = Agent.make(name, {
    Nap: Agent.rpc(Nap, { success: Schema.Number }),
    Hello: Agent.rpc(Hello, { success: Schema.String })
  })
  const live = type.toLayer(Effect.succeed(type.of({
    Nap: ({ millis }) => Effect.as(Effect.sleep(millis), millis),
    Hello: () => Effect.succeed(`hello from ${name}`)
  })))
  return { type, live }
}

const OnA = napper("on-a")
const OnB = napper("on-b")

const now = Clock.currentTimeMillis

/** Milliseconds until `effect` ends (it is expected to fail). */
const timeToFailure = <A, E>(fiber: Fiber.Fiber<A, E>, since: number) =>
  Effect.gen(function*() {
    const exit = yield* Fiber.await(fiber)
    return { exit, millis: (yield* now) - since }
  })

/** Retries a quick call until it succeeds; milliseconds from `since`. */
const timeToRecovery = (call: Effect.Effect<unknown, unknown>, since: number) =>
  Effect.gen(function*() {
    let last: Exit.Exit<unknown, unknown> | undefined
    while ((yield* now) - since < 10_000) {
      last = yield* Effect.exit(Effect.timeout(call, "300 millis"))
      if (Exit.isSuccess(last)) return (yield* now) - since
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.die(new Error(`no recovery within 10 s; last attempt: ${last === undefined ? "none" : String(Exit.isFailure(last) ? last.cause : "")}`))
  })

const fault = (name: string, apply: (proxy: TcpProxy.TcpProxy) => Effect.Effect<void>) =>
  it.live(`${name}: both sides notice within 3 s, and traffic flows within 3 s of healing`, () =>
    Effect.gen(function*() {
      const host = yield* Processes.host()
      const port = Number(new URL(host.url).port)
      const proxy = yield* TcpProxy.make({ host: "127.0.0.1", port })
      const a = yield* Harness.worker(host.url, "a", OnA.live)
      const b = yield* Harness.worker(proxy.url("ws"), "b", OnB.live, { reconnectInterval: "100 millis" })
      const hello = Effect.flatMap(OnB.type.client, (c) => c("k").Hello({}))
      assert.strictEqual(yield* Harness.on(a, hello), "hello from on-b")
      // a call pushed to B (the host must fail it) and a call from B (B must fail it)
      const toB = yield* Effect.forkChild(Harness.on(a, Effect.flatMap(OnB.type.client, (c) => c("k").Nap({ millis: 60_000 }))))
      const fromB = yield* Effect.forkChild(Harness.on(b, Effect.flatMap(OnA.type.client, (c) => c("k").Nap({ millis: 60_000 }))))
      yield* Effect.sleep("300 millis")
      const faultAt = yield* now
      yield* apply(proxy)
      const [hostSide, workerSide] = yield* Effect.all([timeToFailure(toB, faultAt), timeToFailure(fromB, faultAt)], { concurrency: 2 })
      const healAt = yield* now
      yield* proxy.mode("forward")
      const recovered = yield* timeToRecovery(Harness.on(a, hello), healAt)
      const reason = (exit: Exit.Exit<unknown, unknown>) => Exit.isFailure(exit) ? String(exit.cause).match(/"_tag":"(\w+)"|reason: (\w+)|(\w+Error)/)?.slice(1).find(Boolean) : "success"
      console.log(`${name}: host noticed in ${hostSide.millis} ms (${reason(hostSide.exit)}), worker B in ${workerSide.millis} ms (${reason(workerSide.exit)}), traffic again ${recovered} ms after healing`)
      assert.isTrue(Exit.isFailure(hostSide.exit))
      assert.include(String(Exit.isFailure(hostSide.exit) ? hostSide.exit.cause : ""), "UndeliverableError")
      assert.isTrue(Exit.isFailure(workerSide.exit))
      assert.include(String(Exit.isFailure(workerSide.exit) ? workerSide.exit.cause : ""), "UndeliverableError")
      assert.isBelow(hostSide.millis, 3000)
      assert.isBelow(workerSide.millis, 3000)
      assert.isBelow(recovered, 3000)
      // and B can call out again
      const outward = yield* timeToRecovery(Harness.on(b, Effect.flatMap(OnA.type.client, (c) => c("k").Hello({}))), healAt)
      console.log(`${name}: worker B calls out again ${outward} ms after healing`)
      assert.isBelow(outward, 3000)
      void AgentRuntime
    }).pipe(Effect.scoped), 30_000)

describe("silent links are noticed by both sides", () => {
  fault("blackhole", (proxy) => proxy.mode("blackhole"))
  fault("one-way stall, worker to host", (proxy) => proxy.mode("stall-upstream"))
  fault("one-way stall, host to worker", (proxy) => proxy.mode("stall-downstream"))
  fault("cut", (proxy) => Effect.andThen(proxy.mode("blackhole"), proxy.cut))
})
