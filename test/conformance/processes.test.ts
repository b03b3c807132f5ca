/**
 * The conformance suite with the host and workers as separate OS processes.
 * The host is the `effect-agents host` CLI (one per file; tests that need the
 * suite's access policy get a host of their own, started with `--policy`).
 * As in the in-process setup, a test's agent layers alternate between the
 * test's own worker (this process, through which the test calls) and other
 * workers: here worker processes, which load fixture layers by their export
 * name. Layers that close over a test's own state (probes, queues) cannot
 * cross and stay on this process's worker.
 */
import { afterAll } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Scope } from "effect"
import { WorkerRuntime } from "../../src/index.ts"
import * as Processes from "../support/processes.ts"
import * as Fixtures from "./fixtures.ts"
import { type AgentLayer, conformance, type RuntimeOptions } from "./suite.ts"

/** The fixture export name of a layer, if it is one. */
const exportName = (layer: AgentLayer): string | undefined =>
  Object.entries(Fixtures).find(([, value]) => value === layer)?.[0]

const policyName = (policy: RuntimeOptions["policy"]) => Object.entries(Fixtures).find(([, value]) => value === policy)?.[0]

const millis = (input: Duration.Input | undefined) => input === undefined ? undefined : Duration.toMillis(Duration.fromInputUnsafe(input))

// one host process for the file, started on first use
const hostScope = Effect.runSync(Scope.make())
const sharedHost = Effect.runPromise(Processes.host().pipe(Scope.provide(hostScope)))
afterAll(() => Effect.runPromise(Scope.close(hostScope, Exit.void)))

let nextWorker = 0

conformance("host and workers as separate processes", (agents, { policy, ...options }) =>
  Layer.unwrap(Effect.gen(function*() {
    let url: string
    if (policy === undefined) url = (yield* Effect.promise(() => sharedHost)).url
    else {
      const name = policyName(policy)
      if (name === undefined) return yield* Effect.die(new Error("a policy must be a fixture export to cross to a host process"))
      url = (yield* Processes.host(["--policy", `test/conformance/fixtures.ts#${name}`])).url
    }
    // as in the in-process setup: odd positions on other workers (here: processes, when the layer can be
    // loaded there by name), even positions and layers bound to the test's own state on this process's worker
    const remote = agents.flatMap((layer, i) => {
      const name = i % 2 === 1 ? exportName(layer) : undefined
      return name === undefined ? [] : [name]
    })
    const local = agents.filter((layer, i) => i % 2 === 0 || exportName(layer) === undefined)
    const env = {
      ...(options.sendTimeout !== undefined ? { SEND_TIMEOUT: String(millis(options.sendTimeout)) } : {}),
      ...(options.shutdownTimeout !== undefined ? { SHUTDOWN_TIMEOUT: String(millis(options.shutdownTimeout)) } : {})
    }
    const groups = [remote.filter((_, i) => i % 2 === 0), remote.filter((_, i) => i % 2 === 1)].filter((g) => g.length > 0)
    yield* Effect.forEach(groups, (names) => Processes.worker(url, `proc-${nextWorker++}`, "test/conformance/fixtures.ts", names, env), {
      concurrency: "unbounded",
      discard: true
    })
    return Layer.mergeAll(Layer.empty, ...local).pipe(
      Layer.provideMerge(WorkerRuntime.layer({ url, workerId: `test-${nextWorker++}`, reconnectInterval: "100 millis", ...options } as WorkerRuntime.Options))
    )
  })))
