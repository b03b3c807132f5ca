/**
 * The TypeScript worker of the polyglot example: runs the writer agent,
 * asks it to write, prints the report of what happened across both
 * languages, and exits.
 *
 *   HOST_URL=tcp://127.0.0.1:7700 node examples/polyglot/writer.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { AgentRuntime, WorkerRuntime } from "../../src/index.ts"
import { Analyst, Writer, WriterLive } from "./agents.ts"

const url = process.env.HOST_URL ?? "tcp://127.0.0.1:7700"

const program = Effect.gen(function*() {
  const writer = yield* Writer.client
  yield* Console.log("typescript worker: asking writer/essay to write about \"mailboxes\"")
  const report = yield* writer("essay").Write({ subject: "mailboxes" })
  yield* AgentRuntime.awaitIdle
  // the Python agent's state, read from here through the host
  const state = yield* AgentRuntime.AgentRuntime.use((runtime) => runtime.saveState(Analyst.id("essay")))
  yield* Console.log(
    `typescript worker: done in ${report.attempts} attempts: ${report.words} words, longest "${report.longest}"; review: ${report.review}`
  )
  yield* Console.log(`typescript worker: the Python analyst's state ${JSON.stringify(state)}`)
})

program.pipe(
  Effect.provide(WriterLive),
  Effect.provide(WorkerRuntime.layer({ url, workerId: "typescript-worker" })),
  NodeRuntime.runMain
)
