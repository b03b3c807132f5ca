/**
 * A `LanguageModel` for any server that speaks the OpenAI chat-completions
 * API (`POST {baseUrl}/chat/completions`): OpenAI itself, Ollama, vLLM,
 * llama.cpp's `llama-server`, LM Studio, and the gateways in front of them.
 *
 * It is built with `effect/ai`'s `LanguageModel.make`, so everything of
 * `effect/ai` works on it unchanged: `generateText`, `generateObject`,
 * `streamText`, `Chat`, toolkits with one round of tool resolution per call.
 * Text, streamed text (SSE, usage included), tool calls (parallel ones, and
 * streamed argument fragments), structured output (`response_format` with the
 * JSON Schema of the `Schema`), usage and finish reasons come through; 429,
 * 5xx, connection failures and timeouts are retried with backoff (honouring
 * `Retry-After`); every failure is an `AiError`.
 *
 * The published `@effect/ai-openai` and `@effect/ai-openai-compat`
 * (4.0.0-beta.106 / beta.98) import `effect/unstable/...` paths that effect
 * 4.1 no longer has, which is why this module exists.
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { LanguageModel } from "effect/ai"
 * import { FetchHttpClient } from "effect/http"
 * import { OpenAiCompatible } from "effect-agents/ai"
 *
 * const Ollama = OpenAiCompatible.layer({ baseUrl: "http://127.0.0.1:11434/v1", model: "llama3.2" })
 *
 * const program = LanguageModel.generateText({ prompt: "Say hi" }).pipe(
 *   Effect.map((response) => response.text),
 *   Effect.provide(Ollama.pipe(Layer.provide(FetchHttpClient.layer)))
 * )
 * ```
 */
import { Config, Duration, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import { AiError, LanguageModel, Model, OpenAiStructuredOutput, Telemetry } from "effect/ai"
import type { HttpClient } from "effect/http"
import * as ChatRequest from "./internal/chatRequest.ts"
import * as ChatResponse from "./internal/chatResponse.ts"
import { ChatCompletion, ChatCompletionChunk } from "./internal/chatWire.ts"
import * as HttpTransport from "./internal/httpTransport.ts"
import * as Settings from "./internal/settings.ts"

/** The provider name `Model.ProviderName` holds for these models. */
export const providerName = "openai-compatible"

/** How to reach a server and what to ask of it. Only `model` is required. */
export interface Options {
  /** The model name the server knows (`gpt-4.1-mini`, `llama3.2`, `Qwen/Qwen2.5-7B-Instruct`...). */
  readonly model: string
  /** The API root, up to and including `/v1`. Default `https://api.openai.com/v1`. */
  readonly baseUrl?: string | undefined
  /** Sent as `Authorization: Bearer ...`; leave it out for local servers that need none. */
  readonly apiKey?: Redacted.Redacted<string> | string | undefined
  /** Extra headers on every request (an organisation, a gateway's routing key...). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Extra body fields on every request, sent unchanged: `temperature`, `max_tokens`, `seed`... */
  readonly body?: Readonly<Record<string, unknown>> | undefined
  /** Deadline of a whole non-streamed request, and of a stream's response headers. Default 120 s. */
  readonly requestTimeout?: Duration.Input | undefined
  /** Longest pause between two chunks of a stream before it fails as stalled. Default 60 s. */
  readonly streamIdleTimeout?: Duration.Input | undefined
  /** Retries after the first attempt, for 429, 5xx, connection errors and timeouts. Default 3; 0 disables. */
  readonly maxRetries?: number | undefined
  /** First backoff delay; doubles on each retry, with jitter. Default 500 ms. */
  readonly initialRetryDelay?: Duration.Input | undefined
  /** Longest backoff delay (a `Retry-After` may ask for more). Default 20 s. */
  readonly maxRetryDelay?: Duration.Input | undefined
  /** A `Retry-After` longer than this fails at once instead of being waited for. Default 60 s. */
  readonly maxRetryAfter?: Duration.Input | undefined
  /** Largest non-streamed response body, in bytes. Default 16 MiB. */
  readonly maxResponseBytes?: number | undefined
  /** Largest single server-sent event, in characters. Default 1 MiB. */
  readonly maxEventBytes?: number | undefined
  /** Most events in one stream. Default 200 000. */
  readonly maxStreamEvents?: number | undefined
  /** Most tool calls in one response. Default 128. */
  readonly maxToolCalls?: number | undefined
  /**
   * How structured output is requested: `json_schema` (the default; OpenAI,
   * vLLM, Ollama, llama.cpp) or the older `json_object`, which only asks for
   * some JSON (the schema is still enforced when the answer is decoded).
   */
  readonly jsonMode?: ChatRequest.JsonMode | undefined
  /**
   * Whether `json_schema` requests are `strict` (OpenAI's constrained
   * decoding). Strict schemas are rewritten into the subset OpenAI accepts
   * (an object root, every property required, optional ones nullable).
   * Default true.
   */
  readonly strictJsonSchema?: boolean | undefined
}

/** The defaults of every optional setting. */
export const defaults = Settings.defaults

const decodeCompletion = Schema.decodeUnknownEffect(ChatCompletion)
const decodeChunk = Schema.decodeUnknownEffect(ChatCompletionChunk)

const invalidResponse = (method: string) => (error: Schema.SchemaError): AiError.AiError =>
  AiError.make({
    module: "OpenAiCompatible",
    method,
    reason: new AiError.InvalidResponseError({ description: `unexpected response shape: ${error.message}` })
  })

/**
 * The `LanguageModel` service for `options`, on the `HttpClient` in context.
 *
 * Use `layer` to provide it; `make` is for building one inside an effect
 * (several models against one server, a model chosen at run time).
 */
export const make = Effect.fn("OpenAiCompatible.make")(function*(options: Options) {
  const transport = yield* HttpTransport.make(Settings.transport(options))
  const strict = options.strictJsonSchema ?? defaults.strictJsonSchema
  const codecTransformer: LanguageModel.CodecTransformer = strict
    ? OpenAiStructuredOutput.toCodecOpenAI
    : LanguageModel.defaultCodecTransformer
  const settings: ChatRequest.RequestSettings = {
    model: options.model,
    jsonMode: options.jsonMode ?? defaults.jsonMode,
    strictJsonSchema: strict,
    codecTransformer,
    body: options.body ?? {}
  }
  const limits: ChatResponse.StreamLimits = {
    maxToolArgumentChars: Settings.count(options.maxResponseBytes, defaults.maxResponseBytes),
    maxToolCalls: Settings.count(options.maxToolCalls, defaults.maxToolCalls)
  }

  const annotate = (options: LanguageModel.ProviderOptions) =>
    Telemetry.addGenAIAnnotations(options.span, {
      provider: { name: providerName },
      operation: { name: "chat" },
      request: { model: settings.model },
      output: { type: options.responseFormat.type === "json" ? "json" : "text" }
    })

  return yield* LanguageModel.make({
    codecTransformer,
    generateText: Effect.fnUntraced(function*(providerOptions) {
      annotate(providerOptions)
      const body = yield* ChatRequest.body(providerOptions, settings)
      const json = yield* transport.postJson("/chat/completions", body, "generateText")
      const completion = yield* decodeCompletion(json).pipe(Effect.mapError(invalidResponse("generateText")))
      const parts = yield* ChatResponse.fromCompletion(completion)
      Telemetry.addGenAIAnnotations(providerOptions.span, {
        response: { id: completion.id ?? null, model: completion.model ?? null },
        usage: {
          inputTokens: completion.usage?.prompt_tokens ?? null,
          outputTokens: completion.usage?.completion_tokens ?? null
        }
      })
      return parts
    }),
    streamText: (providerOptions) =>
      Stream.unwrap(Effect.gen(function*() {
        annotate(providerOptions)
        const body = yield* ChatRequest.body(providerOptions, settings)
        const state = ChatResponse.makeStreamState(limits)
        const events = transport.postEvents(
          "/chat/completions",
          { ...body, stream: true, stream_options: { include_usage: true } },
          "streamText"
        )
        return events.pipe(
          Stream.mapEffect((json) =>
            decodeChunk(json).pipe(
              Effect.mapError(invalidResponse("streamText")),
              Effect.flatMap(state.push)
            )
          ),
          Stream.concat(Stream.fromEffect(state.end)),
          Stream.flattenIterable
        )
      }))
  })
})

/**
 * A layer with the `LanguageModel` (and `Model.ProviderName` /
 * `Model.ModelName`) for `options`. It needs an `HttpClient`:
 * `FetchHttpClient.layer` from `effect/http` on Node 22+, or
 * `NodeHttpClient.layerUndici` from `@effect/platform-node`.
 */
export const layer = (options: Options): Model.Model<typeof providerName, LanguageModel.LanguageModel, HttpClient.HttpClient> =>
  Model.make(providerName, options.model, Layer.effect(LanguageModel.LanguageModel)(make(options)))

/** Names of the environment variables `config` reads, for a prefix such as `OPENAI`. */
export const envNames = (prefix = "OPENAI") => ({
  baseUrl: `${prefix}_BASE_URL`,
  apiKey: `${prefix}_API_KEY`,
  model: `${prefix}_MODEL`,
  requestTimeout: `${prefix}_REQUEST_TIMEOUT`,
  streamIdleTimeout: `${prefix}_STREAM_IDLE_TIMEOUT`,
  maxRetries: `${prefix}_MAX_RETRIES`
})

/**
 * The options as a `Config`: `OPENAI_MODEL` (required), `OPENAI_BASE_URL`,
 * `OPENAI_API_KEY` (optional: Ollama, vLLM and llama.cpp need none),
 * `OPENAI_REQUEST_TIMEOUT`, `OPENAI_STREAM_IDLE_TIMEOUT` (durations such as
 * `30 seconds`), `OPENAI_MAX_RETRIES`. Another `prefix` reads other names
 * (`LOCAL_MODEL`, `LOCAL_BASE_URL`...), so two servers can be configured
 * side by side.
 */
export const config = (prefix = "OPENAI"): Config.Config<Options> => {
  const names = envNames(prefix)
  return Config.all({
    model: Config.String(names.model),
    baseUrl: Config.String(names.baseUrl).pipe(Config.withDefault(defaults.baseUrl)),
    apiKey: Config.option(Config.Redacted(names.apiKey)),
    requestTimeout: Config.Duration(names.requestTimeout).pipe(Config.withDefault(defaults.requestTimeout)),
    streamIdleTimeout: Config.Duration(names.streamIdleTimeout).pipe(Config.withDefault(defaults.streamIdleTimeout)),
    maxRetries: Config.Int(names.maxRetries).pipe(Config.withDefault(defaults.maxRetries))
  }).pipe(
    Config.map(({ apiKey, ...rest }): Options => ({
      ...rest,
      apiKey: Option.getOrUndefined(apiKey)
    }))
  )
}

/**
 * The layer of `layer`, its options read through `config(prefix)` (from the
 * environment unless another `ConfigProvider` is installed); `overrides`
 * set what the environment does not (a `body`, limits, headers).
 */
export const layerConfig = (
  options?: { readonly prefix?: string | undefined; readonly overrides?: Partial<Options> | undefined }
): Layer.Layer<LanguageModel.LanguageModel | Model.ProviderName | Model.ModelName, Config.ConfigError, HttpClient.HttpClient> =>
  Layer.unwrap(Effect.gen(function*() {
    const read = yield* config(options?.prefix)
    return layer({ ...read, ...options?.overrides })
  }))
