/**
 * One worker of the distributed assistants example: runs one of the three
 * agents (`planner`, `coder` or `reviewer`, the first argument) with its
 * model, joins the host at $HOST_URL, and serves until stopped. The agents
 * are the same as on the standalone runtime; only the runtime layer differs.
 *
 *   HOST_URL=ws://127.0.0.1:7700/ npx node examples/assistants/worker.ts coder
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { WorkerRuntime } from "../../src/index.ts"
import { assistants } from "./agents.ts"
import { NodeCodeExecutorLayer } from "./app.ts"
import { fromEnvironment } from "./models.ts"

const url = process.env.HOST_URL ?? "ws://127.0.0.1:7700/"
const role = process.argv[2]
const agents = assistants(fromEnvironment())
const agent = role === "planner"
  ? agents.planner
  : role === "coder"
  ? agents.coder(NodeCodeExecutorLayer())
  : role === "reviewer"
  ? agents.reviewer
  : undefined

if (agent === undefined) {
  console.error(`usage: worker.ts planner|coder|reviewer (got ${role})`)
  process.exit(2)
}

Layer.launch(
  Layer.effectDiscard(Console.log(`${role} ready`)).pipe(
    Layer.provide(agent),
    Layer.provide(WorkerRuntime.layer({ url, workerId: role!, sendTimeout: "10 minutes" }))
  )
).pipe(Effect.tapCause(Effect.logError), NodeRuntime.runMain)
