/**
 * What every way of running the example shares: the sandbox the coder's
 * code runs in, and the client that hands the planner a task and prints
 * what came of it.
 */
import { Console, Effect } from "effect"
import { NodeCodeExecutorLayer } from "./sandbox.ts"
import { Planner, type Solution } from "./agents.ts"

export { NodeCodeExecutorLayer }

/** Prints a solution, as a person would want to read it. */
export const show = (solution: Solution) =>
  Console.log([
    "plan:",
    solution.plan.replace(/^/gm, "  "),
    `code (round ${solution.rounds}):`,
    solution.implementation.code.replace(/^/gm, "  "),
    `output (exit code ${solution.implementation.exitCode}):`,
    solution.implementation.output.trimEnd().replace(/^/gm, "  "),
    `coder: ${solution.implementation.summary}`,
    `reviewer: ${solution.verdict.approved ? "approved" : "not approved"}: ${solution.verdict.notes}`
  ].join("\n"))

/** Gives the planner `task` and prints the solution; fails if the reviewer did not approve it. */
export const solve = (task: string) =>
  Effect.gen(function*() {
    yield* Console.log(`task: ${task}`)
    const solution = yield* (yield* Planner.client)("demo").Solve({ task }, { timeout: "10 minutes" })
    yield* show(solution)
    if (!solution.verdict.approved) return yield* Effect.fail(new Error(`not approved after ${solution.rounds} rounds`))
  })
