/**
 * The distributed runtime across real OS processes: a host servicer started
 * from the CLI, two worker processes, and this test process as a third
 * worker. Then a worker process is killed (SIGKILL) mid-request.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { AgentRuntime, TopicId } from "../../src/index.ts"
import { Note, Probe, Refused, Relayer } from "./agents.ts"
import * as Harness from "../support/harness.ts"
import * as Processes from "../support/processes.ts"

describe("host and workers as separate processes", () => {
  it.live("send, publish, a cascade across workers, state, errors; a killed worker fails its pending sends", () =>
    Effect.gen(function*() {
      const host = yield* Processes.host()
      const probes = yield* Processes.worker(host.url, "proc-a", "test/distributed/agents.ts", ["probeLive"])
      yield* Processes.worker(host.url, "proc-b", "test/distributed/agents.ts", ["RelayerLive"])
      const client = yield* Harness.worker(host.url, "test-process")

      yield* Harness.on(client, Effect.gen(function*() {
        const probe = yield* Probe.client
        const relayer = yield* Relayer.client
        // send, to another process
        assert.strictEqual(yield* probe("p").Echo({ text: "hi" }), "proc-a:hi")
        // a cascade: this process -> relayer (proc-b) -> probe (proc-a), plus a publish from proc-b
        assert.strictEqual(yield* relayer("c").Relay({ text: "via b" }), "proc-a:via b")
        yield* AgentRuntime.awaitIdle
        assert.strictEqual(yield* probe("c").Count({}), 1)
        // publish from here
        yield* AgentRuntime.publish(TopicId.make("notes", "c"), new Note({ text: "direct" }))
        yield* AgentRuntime.awaitIdle
        assert.strictEqual(yield* probe("c").Count({}), 2)
        // state lives in proc-a, saved and loaded from here
        const runtime = yield* AgentRuntime.AgentRuntime
        assert.deepStrictEqual(yield* runtime.saveState(Probe.id("c")), { notes: 2 })
        yield* runtime.loadState(Probe.id("c"), { notes: 40 })
        assert.strictEqual(yield* probe("c").Count({}), 40)
        const all = yield* runtime.saveAll
        assert.deepStrictEqual(all["probe/c"], { notes: 40 })
        // errors cross processes with their types
        const refused = yield* Effect.flip(probe("e").Risky({ fail: true }))
        assert.instanceOf(refused, Refused)
        const unknown = yield* Effect.flip(AgentRuntime.send(Relayer.id("x"), new Note({ text: "?" })))
        assert.strictEqual(unknown._tag, "CantHandleError")
      }))

      // kill proc-a while a send waits on it: the send fails with a typed error, not a timeout
      const pending = yield* Harness.on(client, Effect.flatMap(Probe.client, (probe) => probe("slow").Slow({ millis: 60_000 }))).pipe(
        Effect.forkChild
      )
      yield* Effect.sleep("300 millis")
      probes.child.kill("SIGKILL")
      const exit = yield* Fiber.await(pending)
      assert.isTrue(Exit.isFailure(exit))
      assert.include(Exit.isFailure(exit) ? exit.cause.toString() : "", "UndeliverableError")
      const gone = yield* Harness.on(client, Effect.flatMap(Probe.client, (probe) => probe("p").Echo({ text: "?" })).pipe(Effect.flip))
      assert.strictEqual(gone._tag, "UndeliverableError")
    }).pipe(Effect.scoped), 60_000)
})
