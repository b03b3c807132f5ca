/**
 * The assistants example (examples/assistants) in process: its planner,
 * coder and reviewer on the standalone runtime, on their replay scripts,
 * with the coder's code run by the real local executor.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { StandaloneRuntime } from "../../src/index.ts"
import { assistants, Planner } from "../../examples/assistants/agents.ts"
import { defaultTask, replay } from "../../examples/assistants/models.ts"
import * as NodeCodeExecutor from "../../src/node/NodeCodeExecutor.ts"

describe("the assistants example", () => {
  it.live("the reviewer sends back the coder's buggy first program, and approves the fixed one by what it printed", () =>
    Effect.gen(function*() {
      const solution = yield* (yield* Planner.client)("test").Solve({ task: defaultTask })
      assert.strictEqual(solution.rounds, 2)
      assert.isTrue(solution.verdict.approved, solution.verdict.notes)
      assert.strictEqual(solution.implementation.exitCode, 0)
      assert.strictEqual(solution.implementation.output.trim(), "0 1 1 2 3 5 8 13 21 34")
      assert.include(solution.implementation.code, "range(10)")
    }).pipe(Effect.provide(Layer.unwrap(Effect.sync(() => {
      const agents = assistants(replay())
      return Layer.mergeAll(agents.planner, agents.coder(NodeCodeExecutor.layer({ timeout: "20 seconds" })), agents.reviewer).pipe(
        Layer.provideMerge(StandaloneRuntime.layer({ sendTimeout: "60 seconds" }))
      )
    })))), 60_000)
})
