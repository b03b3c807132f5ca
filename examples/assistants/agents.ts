/**
 * The agents of the assistants example: a planner breaks a task into a plan,
 * a coder writes code for it and runs it in a sandbox (the `execute_code`
 * tool on a `CodeExecutor`), and a reviewer reads the code and what it
 * printed and approves it or asks for changes. The planner drives the
 * rounds by sending to the other two, through the runtime, so each agent can
 * run on a worker of its own. Every agent keeps its conversation in a
 * buffered model context held in its agent state.
 */
import { Console, Effect, Layer, Schema } from "effect"
import { type LanguageModel, Prompt, Toolkit } from "effect/ai"
import { Agent } from "../../src/index.ts"
import * as CodeExecutionTool from "../../src/ai/code/CodeExecutionTool.ts"
import type { CodeExecutor } from "../../src/ai/code/CodeExecutor.ts"
import * as BufferedContext from "../../src/ai/context/BufferedContext.ts"
import * as ModelContext from "../../src/ai/context/ModelContext.ts"
import * as ToolLoop from "../../src/ai/tools/ToolLoop.ts"

// messages
export class Solve extends Schema.TaggedClass<Solve>()("Solve", { task: Schema.String }) {}
export class Implement extends Schema.TaggedClass<Implement>()("Implement", {
  plan: Schema.String,
  feedback: Schema.optionalKey(Schema.String)
}) {}
export class Implementation extends Schema.TaggedClass<Implementation>()("Implementation", {
  code: Schema.String,
  output: Schema.String,
  exitCode: Schema.Int,
  summary: Schema.String
}) {}
export class Review extends Schema.TaggedClass<Review>()("Review", {
  plan: Schema.String,
  code: Schema.String,
  output: Schema.String
}) {}
export class Verdict extends Schema.TaggedClass<Verdict>()("Verdict", { approved: Schema.Boolean, notes: Schema.String }) {}
export class Solution extends Schema.TaggedClass<Solution>()("Solution", {
  plan: Schema.String,
  implementation: Implementation,
  verdict: Verdict,
  rounds: Schema.Int
}) {}

/** An assistant's model could not do its part; says which and why. */
export class AssistantError extends Schema.TaggedError<AssistantError>()("AssistantError", {
  agent: Schema.String,
  reason: Schema.String
}) {}

// contracts
export const Planner = Agent.make("planner", { Solve: Agent.rpc(Solve, { success: Solution, error: AssistantError }) })
export const Coder = Agent.make("coder", { Implement: Agent.rpc(Implement, { success: Implementation, error: AssistantError }) })
export const Reviewer = Agent.make("reviewer", { Review: Agent.rpc(Review, { success: Verdict, error: AssistantError }) })

/** How many implement-and-review rounds the planner allows before it gives up. */
export const maxRounds = 3

const NoTools = Toolkit.make()

const failed = (agent: string) => (error: { readonly message: string }) => new AssistantError({ agent, reason: error.message })

// an assistant's own failure passes through as it is; the runtime's (a timeout, a worker gone) is wrapped
const relayed = (agent: string) => (error: AssistantError | { readonly _tag: string; readonly message: string }) =>
  error instanceof AssistantError ? error : failed(agent)(error)

/** A buffered context in the agent's state, opened with the agent's instructions. */
const conversation = (instructions: string) =>
  Effect.gen(function*() {
    const context = yield* BufferedContext.make({ size: 40, state: yield* ModelContext.agentState() }).pipe(Effect.orDie)
    if ((yield* context.messages).length === 0) yield* Effect.orDie(context.add(Prompt.makeMessage("system", { content: instructions })))
    return context
  })

// behaviours

export const PlannerLive = Planner.toLayer(Effect.gen(function*() {
  const self = yield* Agent.Self
  const context = yield* conversation("You are a planner. Break the task into a short numbered plan a programmer can follow.")
  const coder = (yield* Coder.client)(self.key)
  const reviewer = (yield* Reviewer.client)(self.key)
  return Planner.of({
    Solve: Effect.fn("Planner.Solve")(function*({ task }) {
      const plan = (yield* ToolLoop.run({ toolkit: NoTools, context, prompt: `Task: ${task}` }).pipe(Effect.mapError(failed("planner")))).text
      let feedback: string | undefined
      for (let round = 1;; round++) {
        const implementation = yield* coder.Implement(feedback === undefined ? { plan } : { plan, feedback }).pipe(
          Effect.mapError(relayed("coder"))
        )
        const verdict = yield* reviewer.Review({ plan, code: implementation.code, output: implementation.output }).pipe(
          Effect.mapError(relayed("reviewer"))
        )
        yield* Console.log(`round ${round}: ${verdict.approved ? "approved" : `the reviewer asks for changes: ${verdict.notes}`}`)
        if (verdict.approved || round === maxRounds) return new Solution({ plan, implementation, verdict, rounds: round })
        feedback = verdict.notes
      }
    })
  })
}))

/** The last `execute_code` call of a run and its result, read from the run's transcript. */
const lastExecution = (transcript: ReadonlyArray<Prompt.Message>) => {
  let code = ""
  let output = "(the coder ran nothing)"
  let exitCode = -1
  for (const message of transcript) {
    for (const part of message.content) {
      if (typeof part === "string") continue
      if (part.type === "tool-call" && part.name === CodeExecutionTool.tool.name) code = String((part.params as { code?: unknown }).code ?? "")
      if (part.type === "tool-result" && part.name === CodeExecutionTool.tool.name) {
        const result = part.result as { readonly output?: unknown; readonly exitCode?: unknown }
        output = String(result.output ?? JSON.stringify(part.result))
        exitCode = typeof result.exitCode === "number" ? result.exitCode : -1
      }
    }
  }
  return { code, output, exitCode }
}

export const CoderLive = Coder.toLayer(Effect.gen(function*() {
  const context = yield* conversation(
    "You are a programmer. Write Python for the plan, run it with the execute_code tool, and fix it until it works. " +
      "Then say in one sentence what it does."
  )
  const toolkit = yield* CodeExecutionTool.toolkit
  return Coder.of({
    Implement: Effect.fn("Coder.Implement")(function*({ plan, feedback }) {
      const prompt = feedback === undefined ? `Plan:\n${plan}` : `The reviewer asks for changes: ${feedback}`
      const result = yield* ToolLoop.run({ toolkit, context, prompt, maxSteps: 6, toolErrors: "return" }).pipe(
        Effect.mapError(failed("coder"))
      )
      return new Implementation({ ...lastExecution(result.transcript), summary: result.text })
    })
  })
})).pipe(Layer.provide(CodeExecutionTool.layer))

export const ReviewerLive = Reviewer.toLayer(Effect.gen(function*() {
  const context = yield* conversation(
    "You are a code reviewer. Check that the code does what the plan says and that its output shows it. " +
      "Answer APPROVED: <why>, or CHANGES: <what to change>."
  )
  return Reviewer.of({
    Review: Effect.fn("Reviewer.Review")(function*({ plan, code, output }) {
      const prompt = `Plan:\n${plan}\n\nCode:\n${code}\n\nOutput:\n${output}`
      const { text } = yield* ToolLoop.run({ toolkit: NoTools, context, prompt }).pipe(Effect.mapError(failed("reviewer")))
      const approved = /^\s*APPROVED\b/i.test(text)
      return new Verdict({ approved, notes: text.replace(/^\s*(APPROVED|CHANGES)\s*:?\s*/i, "") })
    })
  })
}))

/** The three agents, each given its model (on one worker, or each on its own). */
export const assistants = (models: {
  readonly planner: Layer.Layer<LanguageModel.LanguageModel, unknown>
  readonly coder: Layer.Layer<LanguageModel.LanguageModel, unknown>
  readonly reviewer: Layer.Layer<LanguageModel.LanguageModel, unknown>
}) => ({
  planner: PlannerLive.pipe(Layer.provide(models.planner)),
  coder: (executor: Layer.Layer<CodeExecutor, unknown>) =>
    CoderLive.pipe(Layer.provide(Layer.merge(models.coder, executor))),
  reviewer: ReviewerLive.pipe(Layer.provide(models.reviewer))
})
