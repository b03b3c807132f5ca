/**
 * Worker B: runs the writer agents, assigns the editor (on worker A) a
 * subject, waits until the whole distributed runtime is idle, and exits.
 *
 *   HOST_URL=ws://127.0.0.1:7700/ node examples/distributed/worker-b.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { AgentRuntime, WorkerRuntime } from "../../src/index.ts"
import { Editor, WriterLive } from "./agents.ts"

const url = process.env.HOST_URL ?? "ws://127.0.0.1:7700/"

const program = Effect.gen(function*() {
  const editor = yield* Editor.client
  yield* Console.log("worker-b: assigning the editor a subject")
  const verdict = yield* editor("essay-1").Assign({ subject: "Why agents need mailboxes" })
  yield* Console.log(`worker-b: editor answered accepted=${verdict.accepted} after ${verdict.rounds} rounds`)
  // the review goes on by publish, between both workers: wait until it is over
  yield* AgentRuntime.awaitIdle
  const state = yield* AgentRuntime.AgentRuntime.use((runtime) => runtime.saveState(Editor.id("essay-1")))
  yield* Console.log(`worker-b: conversation over; editor state ${JSON.stringify(state)}`)
})

program.pipe(
  Effect.provide(WriterLive),
  Effect.provide(WorkerRuntime.layer({ url, workerId: "worker-b" })),
  NodeRuntime.runMain
)
