/**
 * The client of the distributed assistants example: joins the host at
 * $HOST_URL as a worker that runs no agents, gives the planner a task, and
 * exits with 0 once the reviewer approved the solution.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { WorkerRuntime } from "../../src/index.ts"
import { solve } from "./app.ts"
import { defaultTask } from "./models.ts"

const url = process.env.HOST_URL ?? "ws://127.0.0.1:7700/"

solve(process.argv[2] ?? defaultTask).pipe(
  Effect.provide(WorkerRuntime.layer({ url, workerId: "client", sendTimeout: "10 minutes" })),
  NodeRuntime.runMain
)
