/**
 * Code execution as an `effect/ai` tool: a model calls `execute_code` with
 * a language and code (and, if it likes, a file name), the handler runs it
 * on the `CodeExecutor` in context, and the model reads back the exit code
 * and output. Put `toolkit` in a `LanguageModel.generateText` call and
 * provide `layer` (which needs a `CodeExecutor`):
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { LanguageModel } from "effect/ai"
 * import { CodeExecutionTool, NodeCodeExecutor, Isolation } from "effect-agents/ai"
 *
 * export const solve = (question: string) =>
 *   Effect.gen(function*() {
 *     const toolkit = yield* CodeExecutionTool.toolkit
 *     const response = yield* LanguageModel.generateText({ prompt: question, toolkit })
 *     return response.toolResults
 *   }).pipe(
 *     Effect.provide(CodeExecutionTool.layer.pipe(
 *       Layer.provide(NodeCodeExecutor.layer({ isolation: [Isolation.jail(), Isolation.noNetwork] }))
 *     ))
 *   )
 * ```
 *
 * Failures the model can act on (an unsupported language, a file name
 * outside the work directory) and failures of the machine are returned to
 * the model as the tool's result (`failureMode: "return"`), so one bad call
 * does not end the conversation; the caller still sees them, marked
 * `isFailure`, in the response's tool results.
 */
import { Effect, Schema } from "effect"
import { Tool, Toolkit } from "effect/ai"
import { CodeBlock, maxCodeLength, maxFilenameLength } from "./CodeBlock.ts"
import { CodeExecutor } from "./CodeExecutor.ts"
import { CodeExecutionError, InvalidFilenameError, UnsupportedLanguageError } from "./CodeExecutorError.ts"
import * as Language from "./Language.ts"

/** What the model gets back. */
export const Result = Schema.Struct({
  exitCode: Schema.Int.annotate({ description: "0 on success; 124 when it timed out; 128+n when signal n killed it" }),
  output: Schema.String.annotate({ description: "stdout and stderr together, with a note when it was truncated or timed out" }),
  timedOut: Schema.Boolean,
  truncated: Schema.Boolean
})

/** The `execute_code` tool: language and code in, exit code and output out. */
export const tool = Tool.make("execute_code", {
  description: "Run a block of code in a fresh process, in a work directory kept between calls, and return its exit code and output. " +
    `Languages: ${Language.all.join(", ")}. Files written in one call are there in the next. Print what you need to see.`,
  parameters: Schema.Struct({
    language: Schema.String.check(Schema.isMaxLength(64)).annotate({ description: `One of: ${Language.all.join(", ")}` }),
    code: Schema.String.check(Schema.isMaxLength(maxCodeLength)).annotate({ description: "The complete program to run" }),
    filename: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(maxFilenameLength))).annotate({
      description: "Optional file name to save the code under, relative to the work directory, e.g. analysis.py"
    })
  }),
  success: Result,
  failure: Schema.Union([UnsupportedLanguageError, InvalidFilenameError, CodeExecutionError]),
  failureMode: "return"
})

/** A toolkit holding just `execute_code`; merge it into a larger one with `Toolkit.merge`. */
export const toolkit = Toolkit.make(tool)

/** The handler of `execute_code`, running blocks on the `CodeExecutor` in context. */
export const layer = toolkit.toLayer(Effect.gen(function*() {
  const executor = yield* CodeExecutor
  return toolkit.of({
    execute_code: Effect.fn("CodeExecutionTool.execute_code")(function*(params) {
      const [result] = yield* executor.execute([new CodeBlock(params)])
      return { exitCode: result!.exitCode, output: result!.output, timedOut: result!.timedOut, truncated: result!.truncated }
    })
  })
}))
