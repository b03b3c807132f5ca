import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { LanguageModel } from "effect/ai"
import * as CodeExecutionTool from "../../../src/ai/code/CodeExecutionTool.ts"
import * as ReplayModel from "../../../src/ai/model/ReplayModel.ts"
import { layer } from "./processes.ts"

const handlers = CodeExecutionTool.layer.pipe(Layer.provide(layer({})))

/** Calls the tool's handler as the framework does, returning its final result. */
const call = (params: Record<string, unknown>) =>
  Effect.gen(function*() {
    const toolkit = yield* CodeExecutionTool.toolkit
    const results = yield* Stream.runCollect(yield* toolkit.handle("execute_code", params as never))
    return results[results.length - 1]!
  })

describe("CodeExecutionTool", () => {
  it.live("runs the code and gives the model its exit code and output", () =>
    Effect.gen(function*() {
      const result = yield* call({ language: "python", code: "print(6 * 7)\nraise SystemExit(3)" })
      assert.isFalse(result.isFailure)
      assert.deepStrictEqual(result.result, { exitCode: 3, output: "42\n", timedOut: false, truncated: false })
    }).pipe(Effect.provide(handlers)))

  it.live("an unsupported language and a file name outside the work directory come back to the model as failures it can read", () =>
    Effect.gen(function*() {
      const language = yield* call({ language: "cobol", code: "DISPLAY 'HI'." })
      assert.isTrue(language.isFailure)
      assert.strictEqual((language.result as { _tag: string })._tag, "UnsupportedLanguageError")
      assert.deepStrictEqual(language.encodedResult, { _tag: "UnsupportedLanguageError", language: "cobol", supported: ["python", "sh", "bash"] })
      const filename = yield* call({ language: "sh", code: "echo", filename: "../../etc/cron.d/x" })
      assert.isTrue(filename.isFailure)
      assert.strictEqual((filename.result as { _tag: string })._tag, "InvalidFilenameError")
    }).pipe(Effect.provide(handlers)))

  it.live("a model's tool call runs through LanguageModel.generateText and its result is in the response", () =>
    Effect.gen(function*() {
      const toolkit = yield* CodeExecutionTool.toolkit
      const response = yield* LanguageModel.generateText({ prompt: "what is 2**10?", toolkit })
      assert.strictEqual(response.toolCalls.length, 1)
      assert.strictEqual(response.toolResults.length, 1)
      assert.deepStrictEqual(response.toolResults[0]!.result, { exitCode: 0, output: "1024\n", timedOut: false, truncated: false })
    }).pipe(
      Effect.provide(handlers),
      Effect.provide(ReplayModel.layer([
        ReplayModel.toolCalls([{ name: "execute_code", params: { language: "python", code: "print(2**10)" } }])
      ]))
    ))
})
