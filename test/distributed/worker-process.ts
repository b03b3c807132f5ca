/**
 * A worker in its own process, for tests of the distributed runtime across
 * processes: runs the agent sets named in $AGENTS (see agents.ts) as worker
 * $WORKER_ID of the host at $HOST_URL, prints "ready", serves until killed.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Layer } from "effect"
import { WorkerRuntime } from "../../src/index.ts"
import { sets } from "./agents.ts"

const workerId = process.env.WORKER_ID ?? "worker"
const agents = (process.env.AGENTS ?? "probe").split(",").map((name) => sets[name]!(workerId))
const [first, ...rest] = agents

Layer.launch(
  Layer.effectDiscard(Console.log("ready")).pipe(
    Layer.provide(Layer.mergeAll(first!, ...rest)),
    Layer.provide(WorkerRuntime.layer({ url: process.env.HOST_URL!, workerId }))
  )
).pipe(NodeRuntime.runMain)
