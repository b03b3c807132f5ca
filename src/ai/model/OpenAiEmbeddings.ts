/**
 * An `EmbeddingModel` for any server with the OpenAI embeddings API
 * (`POST {baseUrl}/embeddings`): OpenAI, Ollama, vLLM, llama.cpp started with
 * `--embeddings`. Built with `effect/ai`'s `EmbeddingModel.make`, so single
 * `embed` calls made together are batched into one request; large batches
 * are split into requests of at most `maxBatchSize` inputs. It shares the
 * chat client's transport: the same retries, timeouts, size bounds and
 * typed `AiError`s.
 */
import { Config, Effect, Layer, Option, Schema } from "effect"
import { AiError, EmbeddingModel, Model } from "effect/ai"
import type { HttpClient } from "effect/http"
import { EmbeddingList, type EmbeddingList as EmbeddingListType } from "./internal/chatWire.ts"
import * as HttpTransport from "./internal/httpTransport.ts"
import * as Settings from "./internal/settings.ts"
import * as OpenAiCompatible from "./OpenAiCompatible.ts"

/** Options: the chat client's connection settings, plus the embedding specifics. */
export interface Options extends
  Pick<
    OpenAiCompatible.Options,
    | "model"
    | "baseUrl"
    | "apiKey"
    | "headers"
    | "requestTimeout"
    | "maxRetries"
    | "initialRetryDelay"
    | "maxRetryDelay"
    | "maxRetryAfter"
    | "maxResponseBytes"
  >
{
  /** Ask for vectors of this length (models that support shortening them, such as text-embedding-3). */
  readonly dimensions?: number | undefined
  /** Most inputs in one request. Default 256. */
  readonly maxBatchSize?: number | undefined
}

const decode = Schema.decodeUnknownEffect(EmbeddingList)

const invalid = (description: string) =>
  AiError.make({
    module: "OpenAiEmbeddings",
    method: "embedMany",
    reason: new AiError.InvalidResponseError({ description })
  })

/** The vectors of a response, in input order (`index` decides, not the array order). */
const vectors = (list: EmbeddingListType, expected: number) => {
  if (list.data.length !== expected) {
    return Effect.fail(invalid(`expected ${expected} embeddings, got ${list.data.length}`))
  }
  const out = new Array<Array<number>>(expected)
  for (let i = 0; i < list.data.length; i++) {
    const entry = list.data[i]
    const index = entry.index ?? i
    if (!Number.isInteger(index) || index < 0 || index >= expected || out[index] !== undefined) {
      return Effect.fail(invalid(`embedding index ${index} is out of range or repeated`))
    }
    out[index] = [...entry.embedding]
  }
  return Effect.succeed(out)
}

/** The `EmbeddingModel` service for `options`, on the `HttpClient` in context. */
export const make = Effect.fn("OpenAiEmbeddings.make")(function*(options: Options) {
  const transport = yield* HttpTransport.make(Settings.transport(options))
  const batch = Math.max(1, Math.floor(options.maxBatchSize ?? 256))
  const request = (inputs: ReadonlyArray<string>) =>
    transport.postJson("/embeddings", {
      model: options.model,
      input: inputs,
      encoding_format: "float",
      ...(options.dimensions !== undefined ? { dimensions: options.dimensions } : {})
    }, "embedMany").pipe(
      Effect.flatMap((json) =>
        decode(json).pipe(Effect.mapError((error) => invalid(`unexpected response shape: ${error.message}`)))
      ),
      Effect.flatMap((list) =>
        Effect.map(vectors(list, inputs.length), (results) => ({
          results,
          inputTokens: list.usage?.prompt_tokens ?? undefined
        }))
      )
    )
  return yield* EmbeddingModel.make({
    embedMany: ({ inputs }) =>
      Effect.gen(function*() {
        const results: Array<Array<number>> = []
        let inputTokens: number | undefined = undefined
        for (let start = 0; start < inputs.length; start += batch) {
          const part = yield* request(inputs.slice(start, start + batch))
          results.push(...part.results)
          if (part.inputTokens !== undefined) inputTokens = (inputTokens ?? 0) + part.inputTokens
        }
        return { results, usage: { inputTokens } }
      })
  })
})

/** A layer with the `EmbeddingModel` (and `Model.ProviderName` / `Model.ModelName`) for `options`. */
export const layer = (
  options: Options
): Model.Model<typeof OpenAiCompatible.providerName, EmbeddingModel.EmbeddingModel, HttpClient.HttpClient> =>
  Model.make(OpenAiCompatible.providerName, options.model, Layer.effect(EmbeddingModel.EmbeddingModel)(make(options)))

/**
 * The layer of `layer`, read through `Config`: `OPENAI_EMBEDDING_MODEL`
 * (required), `OPENAI_BASE_URL`, `OPENAI_API_KEY`; another `prefix` reads
 * other names.
 */
export const layerConfig = (
  options?: { readonly prefix?: string | undefined; readonly overrides?: Partial<Options> | undefined }
): Layer.Layer<EmbeddingModel.EmbeddingModel | Model.ProviderName | Model.ModelName, Config.ConfigError, HttpClient.HttpClient> =>
  Layer.unwrap(Effect.gen(function*() {
    const prefix = options?.prefix ?? "OPENAI"
    const read = yield* Config.all({
      model: Config.String(`${prefix}_EMBEDDING_MODEL`),
      baseUrl: Config.String(`${prefix}_BASE_URL`).pipe(Config.withDefault(OpenAiCompatible.defaults.baseUrl)),
      apiKey: Config.option(Config.Redacted(`${prefix}_API_KEY`))
    })
    return layer({ ...read, apiKey: Option.getOrUndefined(read.apiKey), ...options?.overrides })
  }))
