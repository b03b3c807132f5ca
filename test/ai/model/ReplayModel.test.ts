import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, Schema, Stream } from "effect"
import { AiError, LanguageModel, Prompt } from "effect/ai"
import * as ReplayModel from "../../../src/ai/model/ReplayModel.ts"
import { MathTools, mathHandlers } from "../fixtures.ts"

const userText = (prompt: Prompt.Prompt) =>
  prompt.content.flatMap((message) =>
    message.role === "user" ? message.content.flatMap((part) => part.type === "text" ? [part.text] : []) : []
  ).join(" ")

describe("ReplayModel", () => {
  it.effect("answers generateText with the scripted text, finish reason and usage", () =>
    Effect.gen(function*() {
      const response = yield* LanguageModel.generateText({ prompt: "hello" })
      assert.strictEqual(response.text, "Hi there")
      assert.strictEqual(response.finishReason, "stop")
      assert.strictEqual(response.usage.inputTokens.total, 7)
      assert.strictEqual(response.usage.outputTokens.total, 2)
    }).pipe(Effect.provide(ReplayModel.layer([ReplayModel.text("Hi there", { usage: { inputTokens: 7, outputTokens: 2 } })]))))

  it.effect("records every request: prompt, tools and tool choice", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make<ReadonlyArray<string>>([])
      const toolkit = yield* MathTools.pipe(Effect.provide(mathHandlers(calls)))
      yield* LanguageModel.generateText({ prompt: "first" })
      yield* LanguageModel.generateText({ prompt: "second", toolkit, toolChoice: "required" })
      const requests = yield* (yield* ReplayModel.Recorder).requests
      assert.deepStrictEqual(requests.map((r) => userText(r.prompt)), ["first", "second"])
      assert.deepStrictEqual(requests[0]!.tools, [])
      assert.deepStrictEqual(requests[1]!.tools.map((t) => t.name), ["add", "divide", "safe_divide"])
      assert.strictEqual(requests[1]!.toolChoice, "required")
    }).pipe(Effect.provide(ReplayModel.layer([ReplayModel.text("one"), ReplayModel.text("two")]))))

  it.effect("scripted tool calls are resolved by generateText's own round of tool calls", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make<ReadonlyArray<string>>([])
      const toolkit = yield* MathTools.pipe(Effect.provide(mathHandlers(calls)))
      const response = yield* LanguageModel.generateText({ prompt: "2+3?", toolkit })
      assert.strictEqual(response.finishReason, "tool-calls")
      assert.deepStrictEqual(response.toolCalls.map((c) => [c.id, c.name]), [["call_0_0", "add"]])
      assert.deepStrictEqual(response.toolResults.map((r) => r.result), [5])
      assert.deepStrictEqual(yield* Ref.get(calls), ["add"])
    }).pipe(Effect.provide(ReplayModel.layer([ReplayModel.toolCalls([{ name: "add", params: { a: 2, b: 3 } }])]))))

  it.effect("a text step streams as deltas, and a streamed step is joined for generateText", () =>
    Effect.gen(function*() {
      const parts = yield* Stream.runCollect(LanguageModel.streamText({ prompt: "a" }))
      const deltas = parts.flatMap((part) => part.type === "text-delta" ? [part.delta] : [])
      assert.deepStrictEqual(deltas, ["whole answer"])
      assert.strictEqual(parts[parts.length - 1]!.type, "finish")
      const joined = yield* LanguageModel.generateText({ prompt: "b" })
      assert.strictEqual(joined.text, "Hello, world")
      const streamed = yield* Stream.runCollect(LanguageModel.streamText({ prompt: "c" }))
      assert.deepStrictEqual(streamed.flatMap((part) => part.type === "text-delta" ? [part.delta] : []), ["x", "y"])
    }).pipe(Effect.provide(ReplayModel.layer([
      ReplayModel.text("whole answer"),
      ReplayModel.streamOf(["Hel", "lo, ", "world"]),
      ReplayModel.streamOf(["x", "y"])
    ]))))

  it.effect("generateObject decodes a scripted JSON answer, and the request asks for JSON", () =>
    Effect.gen(function*() {
      const Point = Schema.Struct({ x: Schema.Number, y: Schema.Number })
      const response = yield* LanguageModel.generateObject({ prompt: "a point", schema: Point, objectName: "point" })
      assert.deepStrictEqual(response.value, { x: 1, y: 2 })
      const [request] = yield* (yield* ReplayModel.Recorder).requests
      assert.strictEqual(request!.responseFormat.type, "json")
      const bad = yield* LanguageModel.generateObject({ prompt: "again", schema: Point }).pipe(Effect.flip)
      assert.strictEqual(bad.reason._tag, "StructuredOutputError")
    }).pipe(Effect.provide(ReplayModel.layer([ReplayModel.text('{"x":1,"y":2}'), ReplayModel.text('{"x":"one"}')]))))

  it.effect("a function step answers from the request's prompt", () =>
    Effect.gen(function*() {
      const response = yield* LanguageModel.generateText({ prompt: "echo me" })
      assert.strictEqual(response.text, "you said: echo me")
    }).pipe(Effect.provide(ReplayModel.layer([
      ReplayModel.respond((request) => ReplayModel.text(`you said: ${userText(request.prompt)}`))
    ]))))

  it.effect("a scripted failure fails the request with that AiError reason", () =>
    Effect.gen(function*() {
      const error = yield* LanguageModel.generateText({ prompt: "x" }).pipe(Effect.flip)
      assert.isTrue(AiError.isAiError(error))
      assert.strictEqual(error.reason._tag, "RateLimitError")
      assert.isFalse(ReplayModel.isExhausted(error))
      const next = yield* LanguageModel.generateText({ prompt: "y" })
      assert.strictEqual(next.text, "recovered")
    }).pipe(Effect.provide(ReplayModel.layer([ReplayModel.fail(new AiError.RateLimitError({})), ReplayModel.text("recovered")]))))

  it.effect("when the script runs out, requests fail with the typed exhausted error, on both methods", () =>
    Effect.gen(function*() {
      const recorder = yield* ReplayModel.Recorder
      assert.strictEqual(yield* recorder.remaining, 1)
      yield* LanguageModel.generateText({ prompt: "one" })
      assert.strictEqual(yield* recorder.remaining, 0)
      const error = yield* LanguageModel.generateText({ prompt: "two" }).pipe(Effect.flip)
      assert.isTrue(ReplayModel.isExhausted(error), String(error))
      const streamError = yield* Stream.runCollect(LanguageModel.streamText({ prompt: "three" })).pipe(Effect.flip)
      assert.isTrue(ReplayModel.isExhausted(streamError), String(streamError))
      // the record is bounded: the script's steps and the first request past its end
      assert.strictEqual((yield* recorder.requests).length, 2)
    }).pipe(Effect.provide(ReplayModel.layer([ReplayModel.text("only")]))))

  it.effect("each build of the layer replays the script from the start", () =>
    Effect.gen(function*() {
      const layer = ReplayModel.layer([ReplayModel.text("again")])
      const first = yield* LanguageModel.generateText({ prompt: "a" }).pipe(Effect.provide(layer))
      const second = yield* LanguageModel.generateText({ prompt: "a" }).pipe(Effect.provide(Layer.fresh(layer)))
      assert.strictEqual(first.text, "again")
      assert.strictEqual(second.text, "again")
    }))
})
