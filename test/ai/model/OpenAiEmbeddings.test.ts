import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer } from "effect"
import { AiError, EmbeddingModel } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import * as OpenAiEmbeddings from "../../../src/ai/model/OpenAiEmbeddings.ts"
import { chatServer, json, type Reply } from "./chatServer.ts"

/** Answers an embeddings request with vectors [i, length of input], in reverse order (index decides). */
const embeddings: Reply = (res, seen) => {
  const inputs = seen.body.input as Array<string>
  const data = inputs.map((text, index) => ({ object: "embedding", index, embedding: [index, text.length] })).reverse()
  json(200, { object: "list", data, model: seen.body.model, usage: { prompt_tokens: inputs.length, total_tokens: inputs.length } })(res, seen)
}

const layer = (baseUrl: string, options: Partial<OpenAiEmbeddings.Options> = {}) =>
  OpenAiEmbeddings.layer({ baseUrl, model: "embed-model", ...options }).pipe(Layer.provide(FetchHttpClient.layer))

describe("OpenAiEmbeddings", () => {
  it.live("embeds many inputs in batches, in input order, with usage", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([embeddings, embeddings])
      const response = yield* EmbeddingModel.EmbeddingModel.pipe(
        Effect.flatMap((model) => model.embedMany(["a", "bb", "ccc"])),
        Effect.provide(layer(server.baseUrl, { maxBatchSize: 2, dimensions: 2 }))
      )
      assert.deepStrictEqual(response.embeddings.map((e) => e.vector), [[0, 1], [1, 2], [0, 3]])
      assert.strictEqual(response.usage.inputTokens, 3)
      assert.strictEqual(server.seen.length, 2)
      assert.strictEqual(server.seen[0].path, "/v1/embeddings")
      assert.deepStrictEqual(server.seen[0].body, { model: "embed-model", input: ["a", "bb"], encoding_format: "float", dimensions: 2 })
    }).pipe(Effect.scoped))

  it.live("concurrent single embeds go out as one request", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([embeddings])
      const vectors = yield* EmbeddingModel.EmbeddingModel.pipe(
        Effect.flatMap((model) => Effect.all([model.embed("x"), model.embed("yy")], { concurrency: "unbounded" })),
        Effect.provide(layer(server.baseUrl))
      )
      assert.deepStrictEqual(vectors.map((v) => v.vector[1]).sort(), [1, 2])
      assert.strictEqual(server.seen.length, 1)
    }).pipe(Effect.scoped))

  it.live("a response with the wrong number of vectors fails with a typed error", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([json(200, { data: [{ index: 0, embedding: [1] }] })])
      const exit = yield* EmbeddingModel.EmbeddingModel.pipe(
        Effect.flatMap((model) => model.embedMany(["a", "b"])),
        Effect.provide(layer(server.baseUrl)),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      assert.isTrue(error?._tag === "Some" && AiError.isAiError(error.value) && error.value.reason._tag === "InvalidResponseError")
    }).pipe(Effect.scoped))
})
