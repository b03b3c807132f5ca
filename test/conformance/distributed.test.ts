/**
 * The conformance suite on the distributed runtime, in one process: a host
 * servicer and two workers over real loopback WebSockets. The test's agent
 * layers alternate between worker A and worker B, so any test with two agent
 * types talks across workers; the test itself calls through worker A.
 */
import { Effect, Layer } from "effect"
import { HostServicer, WorkerRuntime } from "../../src/index.ts"
import { type AgentLayer, conformance } from "./suite.ts"

const workerOptions = (url: string, workerId: string, options: { readonly sendTimeout?: unknown; readonly shutdownTimeout?: unknown; readonly interventions?: unknown }) =>
  ({ url, workerId, reconnectInterval: "100 millis", ...options }) as WorkerRuntime.Options

const merged = (agents: ReadonlyArray<AgentLayer>) => Layer.mergeAll(Layer.empty, ...agents)

conformance("host and two workers over loopback WebSockets", (agents, { policy, ...options }) =>
  Layer.unwrap(Effect.gen(function*() {
    const host = yield* HostServicer.HostServicer
    const onA = agents.filter((_, i) => i % 2 === 0)
    const onB = agents.filter((_, i) => i % 2 === 1)
    const workerB = merged(onB).pipe(Layer.provide(WorkerRuntime.layer(workerOptions(host.url, "b", options))))
    const workerA = merged(onA).pipe(Layer.provideMerge(WorkerRuntime.layer(workerOptions(host.url, "a", options))))
    return Layer.merge(workerA, workerB)
  })).pipe(Layer.provide(HostServicer.layer({ port: 0, ...(policy ? { policy } : {}) }))))
