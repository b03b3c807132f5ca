import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Schema } from "effect"
import { Model } from "effect/ai"
import * as ModelInfo from "../../../src/ai/model/ModelInfo.ts"

describe("ModelInfo", () => {
  it("finds a known family by prefix, ignoring a vendor prefix and case", () => {
    const tagged = Option.getOrThrow(ModelInfo.lookup("gpt-4o-2024-08-06"))
    assert.strictEqual(tagged.contextWindow, 128_000)
    assert.strictEqual(tagged.name, "gpt-4o-2024-08-06")
    assert.isTrue(tagged.capabilities.vision)
    // the longest family wins: gpt-4.1-mini, not gpt-4.1
    assert.strictEqual(Option.getOrThrow(ModelInfo.lookup("openai/gpt-4.1-mini-2025-04-14")).maxOutputTokens, 32_768)
    assert.strictEqual(Option.getOrThrow(ModelInfo.lookup("llama3.1:8b")).contextWindow, 131_072)
    assert.strictEqual(Option.getOrThrow(ModelInfo.lookup("Qwen/Qwen2.5-7B-Instruct")).contextWindow, 32_768)
    // a prefix that is not followed by a separator is another model
    assert.isTrue(Option.isNone(ModelInfo.lookup("gpt-4omega")))
    assert.isTrue(Option.isNone(ModelInfo.lookup("my-fine-tune")))
  })

  it.effect("layerFor prefers declared figures, and fails with UnknownModelError for an unknown name", () =>
    Effect.gen(function*() {
      const mine = ModelInfo.make({ name: "my-fine-tune", contextWindow: 8192, maxOutputTokens: 1024, capabilities: { tools: false } })
      const info = yield* Effect.service(ModelInfo.ModelInfo).pipe(Effect.provide(ModelInfo.layerFor("my-fine-tune-v2", [mine])))
      assert.strictEqual(info.contextWindow, 8192)
      assert.isFalse(info.capabilities.tools)
      assert.isTrue(info.capabilities.json)
      const exit = yield* Effect.service(ModelInfo.ModelInfo).pipe(Effect.provide(ModelInfo.layerFor("nobody-knows")), Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(Exit.findErrorOption(exit).pipe(Option.map((e) => e._tag)), Option.some("UnknownModelError"))
    }))

  it.effect("layerFromModelName reads the provider's model name", () =>
    Effect.gen(function*() {
      const info = yield* Effect.service(ModelInfo.ModelInfo).pipe(
        Effect.provide(ModelInfo.layerFromModelName().pipe(Layer.provide(Layer.succeed(Model.ModelName)("o4-mini"))))
      )
      assert.strictEqual(info.contextWindow, 200_000)
    }))

  it("figures are Schema data: they encode and decode, and bad ones are refused", () => {
    const info = Option.getOrThrow(ModelInfo.lookup("mistral"))
    const json = Schema.encodeSync(ModelInfo.Info)(info)
    assert.deepStrictEqual(Schema.decodeUnknownSync(ModelInfo.Info)(json), info)
    assert.throws(() => Schema.decodeUnknownSync(ModelInfo.Info)({ ...json, contextWindow: -1 }))
  })
})
