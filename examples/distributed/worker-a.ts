/**
 * Worker A: runs the editor agents. Joins the host at $HOST_URL and serves
 * until stopped.
 *
 *   HOST_URL=ws://127.0.0.1:7700/ node examples/distributed/worker-a.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Layer } from "effect"
import { WorkerRuntime } from "../../src/index.ts"
import { EditorLive } from "./agents.ts"

const url = process.env.HOST_URL ?? "ws://127.0.0.1:7700/"

Layer.launch(
  Layer.effectDiscard(Console.log("worker-a ready")).pipe(
    Layer.provide(EditorLive),
    Layer.provide(WorkerRuntime.layer({ url, workerId: "worker-a" }))
  )
).pipe(NodeRuntime.runMain)
