/**
 * The assistants example on the standalone runtime: a planner, a coder whose
 * code runs in a sandbox, and a reviewer, talking through the runtime.
 * Offline on replay scripts by default; on an OpenAI-compatible endpoint
 * when `OPENAI_MODEL` is set (see `models.ts`). `run-distributed.ts` runs
 * the same agents on a host and three workers, as separate processes.
 *
 *   npx node examples/assistants/run.ts ["another task"]
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { StandaloneRuntime } from "../../src/index.ts"
import { assistants } from "./agents.ts"
import { NodeCodeExecutorLayer, solve } from "./app.ts"
import { defaultTask, fromEnvironment } from "./models.ts"

const models = fromEnvironment()
const agents = assistants(models)

Effect.gen(function*() {
  yield* Console.log(`models: ${models.source}`)
  yield* solve(process.argv[2] ?? defaultTask)
}).pipe(
  Effect.provide(Layer.mergeAll(agents.planner, agents.coder(NodeCodeExecutorLayer()), agents.reviewer).pipe(
    Layer.provideMerge(StandaloneRuntime.layer({ sendTimeout: "10 minutes" }))
  )),
  NodeRuntime.runMain
)
