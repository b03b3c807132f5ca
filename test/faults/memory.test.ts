/**
 * A host process under full publish load towards a worker that does not keep
 * up: one that stops reading its socket, and one that reads and answers the
 * host's pings but never answers a delivery. The host's memory (VmRSS of its
 * process) must stay within the configured bounds (pending requests and bytes
 * per worker) instead of growing with the load; the host runs with a 64 MiB
 * heap, so memory kept per message would end it. The load runs for
 * FAULT_SECONDS (default 8) seconds; figures are printed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Net from "node:net"
import { Effect, Schema } from "effect"
import { AgentRuntime, TopicId } from "../../src/index.ts"
import * as Harness from "../support/harness.ts"
import * as Processes from "../support/processes.ts"

class Flood extends Schema.TaggedClass<Flood>()("Flood", { data: Schema.String }) {}

const seconds = Number(process.env.FAULT_SECONDS ?? 8)
const heapMiB = 64
const MiB = 1024 * 1024

/** A worker spoken by hand over ndjson TCP: joins as `sink`, subscribes its type to `flood`, and then behaves as told. */
const rawSink = (url: string, behaviour: "stop-reading" | "never-answer") =>
  Effect.acquireRelease(
    Effect.callback<Net.Socket>((resume) => {
      const { hostname, port } = new URL(url)
      const socket = Net.connect({ host: hostname, port: Number(port) }, () => {
        const request = (id: string, tag: string, payload: unknown) =>
          socket.write(JSON.stringify({ _tag: "Request", id, tag, payload, headers: [] }) + "\n")
        request("1", "Connect", { workerId: "sink" })
        request("2", "RegisterAgentType", { name: "sink", description: "" })
        request("3", "AddSubscription", { subscription: { _tag: "TypeSubscription", topicType: "flood", agentType: "sink" } })
        let buffered = ""
        let pongs = 0
        socket.on("data", (chunk) => {
          buffered += chunk.toString()
          const lines = buffered.split("\n")
          buffered = lines.pop()!
          for (const line of lines) {
            // answer the host's pings (a live worker), never its deliveries
            for (const match of line.matchAll(/"_tag":"Ping","seq":(\d+)/g)) request(`pong-${pongs++}`, "Pong", { seq: Number(match[1]) })
          }
        })
        setTimeout(() => {
          if (behaviour === "stop-reading") socket.pause()
          resume(Effect.succeed(socket))
        }, 300)
      })
      socket.on("error", () => {})
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

const flood = (behaviour: "stop-reading" | "never-answer") =>
  it.live(`a worker that ${behaviour === "stop-reading" ? "stops reading" : "never answers"} under full load: the host's memory stays bounded`, () =>
    Effect.gen(function*() {
      // a small heap: memory the host kept for every message would end it (out of memory) rather than pass unseen
      const host = yield* Processes.host(["--transport", "tcp"], 0, { NODE_OPTIONS: `--max-old-space-size=${heapMiB} --max-semi-space-size=4` })
      const pid = host.child.pid!
      yield* rawSink(host.url, behaviour)
      const publisher = yield* Harness.worker(host.url, "publisher")
      yield* Effect.sleep("3500 millis") // past the recovery window: publishes go out at once
      const baseline = Processes.rss(pid)
      let peak = baseline
      let published = 0
      const data = "x".repeat(1024)
      const until = Date.now() + seconds * 1000
      yield* Harness.on(publisher, Effect.gen(function*() {
        while (Date.now() < until) {
          yield* Effect.forEach(Array.from({ length: 64 }), () => AgentRuntime.publish(TopicId.make("flood", "s"), new Flood({ data })), { concurrency: 64, discard: true })
          published += 64
          peak = Math.max(peak, Processes.rss(pid))
        }
      }))
      const stats = yield* Effect.sync(() => Processes.rss(pid))
      const growth = peak - baseline
      console.log(
        `${behaviour}: ${published} publishes of 1 KiB in ${seconds} s; host RSS ${(baseline / MiB).toFixed(0)} MiB -> peak ${(peak / MiB).toFixed(0)} MiB ` +
          `(+${(growth / MiB).toFixed(1)} MiB), at the end ${(stats / MiB).toFixed(0)} MiB`
      )
      assert.isAbove(published, 1000)
      // still up, and serving: a new worker joins and its own publish is accepted
      assert.isNull(host.child.exitCode)
      const late = yield* Harness.worker(host.url, "late")
      yield* Harness.on(late, AgentRuntime.publish(TopicId.make("flood", "s"), new Flood({ data: "late" })))
      // the bound: 8192 pending deliveries of ~1.2 KiB each (about 10 MiB) plus the runtime's own churn; 64 MiB is the ceiling
      assert.isBelow(growth, 64 * MiB)
    }).pipe(Effect.scoped), 60_000)

describe("a worker that does not keep up costs the host bounded memory", () => {
  flood("stop-reading")
  flood("never-answer")
})
