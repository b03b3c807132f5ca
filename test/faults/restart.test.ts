/**
 * The host is SIGKILLed and restarted on the same port, three times, while a
 * publisher keeps publishing in acknowledged mode and a subscriber on another
 * worker records what it receives. An acknowledged publish has been handled
 * by every recipient, so none of them may be missing afterwards; right after
 * each restart a send to a type whose worker has not re-registered yet
 * waits for the recovery window instead of failing. Figures are printed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Ref, Schema } from "effect"
import { Agent, AgentRuntime, Subscription, TopicId } from "../../src/index.ts"
import * as Harness from "../support/harness.ts"
import * as Processes from "../support/processes.ts"

class Tick extends Schema.TaggedClass<Tick>()("Tick", { n: Schema.Number }) {}
class Seen extends Schema.TaggedClass<Seen>()("Seen", {}) {}

const received = new Set<number>()

const Recorder = Agent.make("recorder", {
  Tick: Agent.event(Tick),
  Seen: Agent.rpc(Seen, { success: Schema.Number })
})
const RecorderLive = Recorder.toLayer(Effect.succeed(Recorder.of({
  Tick: ({ n }) => Effect.sync(() => void received.add(n)),
  Seen: () => Effect.sync(() => received.size)
})), { subscriptions: [Subscription.type("ticks")] })

describe("a host restarted under load", () => {
  it.live("loses no acknowledged publish across three SIGKILL + restart cycles, and sends after a restart wait for re-registration", () =>
    Effect.gen(function*() {
      const port = yield* Processes.freePort
      let host = yield* Processes.host([], port)
      const url = host.url
      const publisher = yield* Harness.worker(url, "publisher")
      yield* Harness.worker(url, "subscriber", RecorderLive)
      const acked = yield* Ref.make<ReadonlyArray<number>>([])
      const failed = yield* Ref.make(0)
      const publishing = yield* Effect.forkChild(Harness.on(publisher, Effect.gen(function*() {
        for (let n = 0;; n++) {
          const exit = yield* Effect.exit(AgentRuntime.publish(TopicId.make("ticks", "r"), new Tick({ n }), { ack: true }))
          if (Exit.isSuccess(exit)) yield* Ref.update(acked, (all) => [...all, n])
          else {
            yield* Ref.update(failed, (k) => k + 1)
            yield* Effect.sleep("20 millis")
          }
        }
      })))
      const afterRestart: Array<string> = []
      for (let cycle = 0; cycle < 3; cycle++) {
        // longer than the recovery window (3 s): publishes acknowledged in every life of the host
        yield* Effect.sleep("4500 millis")
        host.child.kill("SIGKILL")
        yield* Effect.sleep("300 millis")
        host = yield* Processes.host([], port)
        // as soon as the publisher's own link is back (HostUnreachable until then), whether or not the
        // subscriber's worker has re-registered yet: the send waits for the type instead of failing
        const send = Harness.on(publisher, Effect.flatMap(Recorder.client, (r) => r("r").Seen({})))
        let outcome = "no answer"
        for (let attempt = 0; attempt < 200; attempt++) {
          const exit = yield* Effect.exit(send)
          if (Exit.isSuccess(exit)) {
            outcome = "answered"
            break
          }
          const text = String(exit.cause)
          if (!text.includes("is unreachable")) {
            outcome = text.slice(0, 160)
            break
          }
          yield* Effect.sleep("25 millis")
        }
        afterRestart.push(outcome)
      }
      yield* Effect.sleep("4500 millis")
      yield* Fiber.interrupt(publishing)
      const confirmed = yield* Ref.get(acked)
      const missing = confirmed.filter((n) => !received.has(n))
      console.log(
        `restarts: ${confirmed.length} publishes acknowledged, ${yield* Ref.get(failed)} refused while the host was down, ` +
          `${received.size} received, ${missing.length} acknowledged but missing; sends right after each restart: ${afterRestart.join(", ")}`
      )
      assert.isAbove(confirmed.length, 100)
      assert.deepStrictEqual(missing, [])
      assert.deepStrictEqual(afterRestart, ["answered", "answered", "answered"])
    }).pipe(Effect.scoped), 60_000)
})
