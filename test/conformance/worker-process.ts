/**
 * A worker process for the conformance suite: runs the fixture agent layers
 * named in $AGENTS (module-level exports of fixtures.ts) as worker
 * $WORKER_ID of the host at $HOST_URL, prints "ready", serves until killed.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Layer } from "effect"
import { type AgentRuntime, WorkerRuntime } from "../../src/index.ts"
import * as Fixtures from "./fixtures.ts"

const agents = process.env.AGENTS!.split(",").map((name) =>
  (Fixtures as unknown as Record<string, Layer.Layer<never, unknown, AgentRuntime.AgentRuntime>>)[name]!
)

Layer.launch(
  Layer.effectDiscard(Console.log("ready")).pipe(
    Layer.provide(Layer.mergeAll(Layer.empty, ...agents)),
    Layer.provide(WorkerRuntime.layer({
      url: process.env.HOST_URL!,
      workerId: process.env.WORKER_ID!,
      ...(process.env.SEND_TIMEOUT ? { sendTimeout: Number(process.env.SEND_TIMEOUT) } : {}),
      ...(process.env.SHUTDOWN_TIMEOUT ? { shutdownTimeout: Number(process.env.SHUTDOWN_TIMEOUT) } : {})
    }))
  )
).pipe(NodeRuntime.runMain)
