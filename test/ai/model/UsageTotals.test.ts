import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema, Stream } from "effect"
import { LanguageModel } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import * as OpenAiCompatible from "../../../src/ai/model/OpenAiCompatible.ts"
import * as UsageTotals from "../../../src/ai/model/UsageTotals.ts"
import { chatServer, chunk, completion, sse, sseText, usageChunk } from "./chatServer.ts"

const tracked = (baseUrl: string, model: string) =>
  UsageTotals.tracked.pipe(
    Layer.provide(OpenAiCompatible.layer({ baseUrl, model })),
    Layer.provide(FetchHttpClient.layer)
  )

describe("UsageTotals", () => {
  it.live("adds up the usage of generated and streamed answers, overall and per model, and resets", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([
        completion({ content: "a" }, "stop", { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }),
        sse(sseText([chunk({ content: "b" }, "stop"), usageChunk(3, 2)])),
        completion({ content: "c" }, "stop", { prompt_tokens: 100, completion_tokens: 50, total_tokens: 150 })
      ])
      const big = tracked(server.baseUrl, "big-model")
      const small = tracked(server.baseUrl, "small-model")
      yield* LanguageModel.generateText({ prompt: "1" }).pipe(Effect.provide(big))
      yield* Stream.runDrain(LanguageModel.streamText({ prompt: "2" })).pipe(Effect.provide(big))
      yield* LanguageModel.generateText({ prompt: "3" }).pipe(Effect.provide(small))
      const totals = yield* UsageTotals.totals
      assert.strictEqual(totals.requests, 3)
      assert.strictEqual(totals.inputTokens, 113)
      assert.strictEqual(totals.outputTokens, 57)
      assert.strictEqual(totals.totalTokens, 170)
      assert.strictEqual(totals.byModel["big-model"].inputTokens, 13)
      assert.strictEqual(totals.byModel["big-model"].requests, 2)
      assert.strictEqual(totals.byModel["small-model"].outputTokens, 50)
      // totals are Schema data: they survive an encode/decode and seed a new store
      const saved = Schema.encodeSync(UsageTotals.Totals)(totals)
      const restored = yield* UsageTotals.totals.pipe(
        Effect.provide(UsageTotals.layerFrom(Schema.decodeUnknownSync(UsageTotals.Totals)(saved)))
      )
      assert.strictEqual(restored.totalTokens, 170)
      yield* UsageTotals.reset
      assert.strictEqual((yield* UsageTotals.totals).requests, 0)
    }).pipe(Effect.scoped, Effect.provide(UsageTotals.layer)))

  it.live("a failed call counts nothing", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([])
      const exit = yield* LanguageModel.generateText({ prompt: "1" }).pipe(
        Effect.provide(UsageTotals.tracked.pipe(
          Layer.provide(OpenAiCompatible.layer({ baseUrl: server.baseUrl, model: "m", maxRetries: 0 })),
          Layer.provide(FetchHttpClient.layer)
        )),
        Effect.exit
      )
      assert.strictEqual(exit._tag, "Failure")
      assert.strictEqual((yield* UsageTotals.totals).requests, 0)
    }).pipe(Effect.scoped, Effect.provide(UsageTotals.layer)))
})
