/**
 * The OpenAI-compatible provider against a real HTTP server on 127.0.0.1
 * that speaks the chat-completions protocol (test/ai/model/chatServer.ts):
 * text, tools, structured output, streams cut in odd places, retries,
 * timeouts, bounds, and `effect/ai`'s `Chat` on top.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Duration, Effect, Exit, Layer, Ref, Schema, Stream } from "effect"
import { AiError, Chat, LanguageModel, Model, type Response, Tool, Toolkit } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import * as HttpTransport from "../../../src/ai/model/internal/httpTransport.ts"
import * as OpenAiCompatible from "../../../src/ai/model/OpenAiCompatible.ts"
import { chatServer, chunk, completion, json, sse, sseText, usageChunk } from "./chatServer.ts"

const model = (baseUrl: string, options: Partial<OpenAiCompatible.Options> = {}) =>
  OpenAiCompatible.layer({ baseUrl, model: "test-model", initialRetryDelay: "10 millis", ...options }).pipe(
    Layer.provide(FetchHttpClient.layer)
  )

/** The `AiError` an effect failed with (a typed failure, never a defect). */
const aiFailure = <A>(exit: Exit.Exit<A, unknown>): AiError.AiError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  if (!Exit.isFailure(exit)) throw new Error("unreachable")
  assert.isFalse(Cause.hasDies(exit.cause), `a defect instead of a typed error: ${Cause.pretty(exit.cause)}`)
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag !== "Some") throw new Error(`no typed error: ${Cause.pretty(exit.cause)}`)
  assert.isTrue(AiError.isAiError(error.value), "the error is an AiError")
  return error.value as AiError.AiError
}

const GetWeather = Tool.make("GetWeather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ city: Schema.String, celsius: Schema.Number })
})
const Weather = Toolkit.make(GetWeather)
const WeatherHandlers = Weather.toLayer({
  GetWeather: ({ city }) => Effect.succeed({ city, celsius: city === "Oslo" ? 3 : 21 })
})

const streamParts = <R>(stream: Stream.Stream<Response.StreamPart<any, any>, AiError.AiError, R>) =>
  Stream.runCollect(stream).pipe(Effect.map((parts) => Array.from(parts)))

const textOf = (parts: ReadonlyArray<Response.StreamPart<any, any>>) =>
  parts.filter((p): p is Response.TextDeltaPart => p.type === "text-delta").map((p) => p.delta).join("")

const finishOf = (parts: ReadonlyArray<Response.StreamPart<any, any>>) =>
  parts.find((p): p is Response.FinishPart => p.type === "finish")

describe("OpenAiCompatible", () => {
  it.live("generates text, maps usage and the finish reason, and sends the model, messages and API key", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([completion({ content: "Hello there" }, "stop")])
      const response = yield* LanguageModel.generateText({
        prompt: [{ role: "system", content: "Be brief" }, { role: "user", content: "Hi" }]
      }).pipe(Effect.provide(model(server.baseUrl, { apiKey: "sk-test", body: { temperature: 0 } })))
      assert.strictEqual(response.text, "Hello there")
      assert.strictEqual(response.finishReason, "stop")
      assert.strictEqual(response.usage.inputTokens.total, 11)
      assert.strictEqual(response.usage.outputTokens.total, 7)
      const [request] = server.seen
      assert.strictEqual(request.path, "/v1/chat/completions")
      assert.strictEqual(request.headers.authorization, "Bearer sk-test")
      assert.strictEqual(request.body.model, "test-model")
      assert.strictEqual(request.body.temperature, 0)
      assert.deepStrictEqual(request.body.messages, [
        { role: "system", content: "Be brief" },
        { role: "user", content: "Hi" }
      ])
      assert.isUndefined(request.body.stream)
    }).pipe(Effect.scoped))

  it.live("sends no Authorization header without an API key (Ollama, vLLM, llama.cpp)", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([completion({ content: "ok" }, "stop")])
      yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.provide(model(server.baseUrl)))
      assert.isUndefined(server.seen[0].headers.authorization)
    }).pipe(Effect.scoped))

  it.live("sends an image as an image_url part, and refuses a file chat completions cannot carry", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([completion({ content: "a red dot" }, "stop")])
      const layer = model(server.baseUrl)
      const pixel = new Uint8Array([137, 80, 78, 71])
      yield* LanguageModel.generateText({
        prompt: [{ role: "user", content: [{ type: "text", text: "What is it?" }, { type: "file", mediaType: "image/png", data: pixel }] }]
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(server.seen[0].body.messages[0].content, [
        { type: "text", text: "What is it?" },
        { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw==" } }
      ])
      const error = aiFailure(yield* LanguageModel.generateText({
        prompt: [{ role: "user", content: [{ type: "file", mediaType: "application/pdf", data: pixel }] }]
      }).pipe(Effect.provide(layer), Effect.exit))
      assert.strictEqual(error.reason._tag, "InvalidUserInputError")
      assert.strictEqual(server.seen.length, 1)
    }).pipe(Effect.scoped))

  it.live("advertises a toolkit, and resolves the model's tool call in one round", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([
        completion({
          content: null,
          tool_calls: [{ id: "call_1", type: "function", function: { name: "GetWeather", arguments: "{\"city\":\"Oslo\"}" } }]
        }, "tool_calls")
      ])
      const response = yield* LanguageModel.generateText({ prompt: "Weather in Oslo?", toolkit: Weather }).pipe(
        Effect.provide(model(server.baseUrl)),
        Effect.provide(WeatherHandlers)
      )
      assert.strictEqual(response.finishReason, "tool-calls")
      assert.deepStrictEqual(response.toolCalls.map((c) => [c.id, c.name, c.params]), [["call_1", "GetWeather", { city: "Oslo" }]])
      assert.deepStrictEqual(response.toolResults.map((r) => [r.id, r.result]), [["call_1", { city: "Oslo", celsius: 3 }]])
      const tools = server.seen[0].body.tools
      assert.strictEqual(tools.length, 1)
      assert.strictEqual(tools[0].type, "function")
      assert.strictEqual(tools[0].function.name, "GetWeather")
      assert.strictEqual(tools[0].function.description, "The weather in a city")
      assert.deepStrictEqual(tools[0].function.parameters.properties.city, { type: "string" })
      assert.strictEqual(server.seen[0].body.tool_choice, "auto")
    }).pipe(Effect.scoped))

  it.live("resolves parallel tool calls of one message", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([
        completion({
          content: null,
          tool_calls: [
            { id: "a", type: "function", function: { name: "GetWeather", arguments: "{\"city\":\"Oslo\"}" } },
            // some servers send the arguments as an object instead of a JSON string
            { id: "b", type: "function", function: { name: "GetWeather", arguments: { city: "Rome" } } }
          ]
        }, "tool_calls")
      ])
      const response = yield* LanguageModel.generateText({ prompt: "Oslo and Rome?", toolkit: Weather }).pipe(
        Effect.provide(model(server.baseUrl)),
        Effect.provide(WeatherHandlers)
      )
      assert.deepStrictEqual(
        response.toolResults.map((r) => [r.id, (r.result as { celsius: number }).celsius]).sort(),
        [["a", 3], ["b", 21]]
      )
    }).pipe(Effect.scoped))

  it.live("tool arguments that are not JSON fail with ToolParameterValidationError", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([
        completion({ content: null, tool_calls: [{ id: "x", type: "function", function: { name: "GetWeather", arguments: "{city: Oslo" } }] }, "tool_calls")
      ])
      const error = aiFailure(yield* LanguageModel.generateText({ prompt: "?", toolkit: Weather }).pipe(
        Effect.provide(model(server.baseUrl)),
        Effect.provide(WeatherHandlers),
        Effect.exit
      ))
      assert.strictEqual(error.reason._tag, "ToolParameterValidationError")
    }).pipe(Effect.scoped))

  it.live("a Chat sends the tool results back, and the model answers in the next turn", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([
        completion({
          content: null,
          tool_calls: [{ id: "call_9", type: "function", function: { name: "GetWeather", arguments: "{\"city\":\"Rome\"}" } }]
        }, "tool_calls"),
        completion({ content: "It is 21 degrees in Rome." }, "stop")
      ])
      const layer = model(server.baseUrl)
      const chat = yield* Chat.empty
      yield* chat.generateText({ prompt: "Weather in Rome?", toolkit: Weather }).pipe(
        Effect.provide(layer),
        Effect.provide(WeatherHandlers)
      )
      const second = yield* chat.generateText({ prompt: "And so?" }).pipe(Effect.provide(layer))
      assert.strictEqual(second.text, "It is 21 degrees in Rome.")
      const messages = server.seen[1].body.messages
      assert.deepStrictEqual(messages[0], { role: "user", content: "Weather in Rome?" })
      assert.strictEqual(messages[1].role, "assistant")
      assert.deepStrictEqual(messages[1].tool_calls, [
        { id: "call_9", type: "function", function: { name: "GetWeather", arguments: "{\"city\":\"Rome\"}" } }
      ])
      assert.deepStrictEqual(messages[2].role, "tool")
      assert.strictEqual(messages[2].tool_call_id, "call_9")
      assert.deepStrictEqual(JSON.parse(messages[2].content), { city: "Rome", celsius: 21 })
      assert.deepStrictEqual(messages[3], { role: "user", content: "And so?" })
      const history = yield* Ref.get(chat.history)
      assert.strictEqual(history.content.length, 5)
    }).pipe(Effect.scoped))

  it.live("generates a structured object with response_format json_schema from the Schema", () =>
    Effect.gen(function*() {
      const Plan = Schema.Struct({ title: Schema.String, steps: Schema.Array(Schema.String) })
      const server = yield* chatServer([
        completion({ content: JSON.stringify({ title: "Ship", steps: ["build", "test"] }) }, "stop")
      ])
      const response = yield* LanguageModel.generateObject({ prompt: "Plan it", schema: Plan, objectName: "plan" }).pipe(
        Effect.provide(model(server.baseUrl))
      )
      assert.deepStrictEqual(response.value, { title: "Ship", steps: ["build", "test"] })
      const format = server.seen[0].body.response_format
      assert.strictEqual(format.type, "json_schema")
      assert.strictEqual(format.json_schema.name, "plan")
      assert.strictEqual(format.json_schema.strict, true)
      assert.deepStrictEqual(format.json_schema.schema.required.sort(), ["steps", "title"])
      assert.strictEqual(format.json_schema.schema.additionalProperties, false)
    }).pipe(Effect.scoped))

  it.live("json_object mode asks for JSON without a schema, and the schema still decides", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([completion({ content: "{\"n\": 4}" }, "stop")])
      const response = yield* LanguageModel.generateObject({ prompt: "A number", schema: Schema.Struct({ n: Schema.Number }) }).pipe(
        Effect.provide(model(server.baseUrl, { jsonMode: "json_object" }))
      )
      assert.strictEqual(response.value.n, 4)
      assert.deepStrictEqual(server.seen[0].body.response_format, { type: "json_object" })
    }).pipe(Effect.scoped))

  it.live("a tool choice becomes tool_choice: a named tool, or a oneOf subset of the tools", () =>
    Effect.gen(function*() {
      const Other = Tool.make("Other", { parameters: Schema.Struct({}), success: Schema.String })
      const Both = Toolkit.make(GetWeather, Other)
      const BothHandlers = Both.toLayer({
        GetWeather: ({ city }) => Effect.succeed({ city, celsius: 1 }),
        Other: () => Effect.succeed("other")
      })
      const server = yield* chatServer([completion({ content: "a" }, "stop"), completion({ content: "b" }, "stop")])
      const layer = model(server.baseUrl)
      yield* LanguageModel.generateText({ prompt: "1", toolkit: Both, toolChoice: { tool: "Other" } }).pipe(
        Effect.provide(layer),
        Effect.provide(BothHandlers)
      )
      yield* LanguageModel.generateText({ prompt: "2", toolkit: Both, toolChoice: { oneOf: ["GetWeather"], mode: "required" } }).pipe(
        Effect.provide(layer),
        Effect.provide(BothHandlers)
      )
      assert.deepStrictEqual(server.seen[0].body.tool_choice, { type: "function", function: { name: "Other" } })
      assert.deepStrictEqual(server.seen[0].body.tools.map((t: any) => t.function.name), ["GetWeather", "Other"])
      assert.strictEqual(server.seen[1].body.tool_choice, "required")
      assert.deepStrictEqual(server.seen[1].body.tools.map((t: any) => t.function.name), ["GetWeather"])
    }).pipe(Effect.scoped))

  it.live("an answer that does not fit the schema fails with a typed error", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([completion({ content: "{\"title\": 5}" }, "stop")])
      const exit = yield* LanguageModel.generateObject({
        prompt: "Plan it",
        schema: Schema.Struct({ title: Schema.String })
      }).pipe(Effect.provide(model(server.baseUrl)), Effect.exit)
      const error = aiFailure(exit)
      assert.include(["InvalidOutputError", "StructuredOutputError"], error.reason._tag)
    }).pipe(Effect.scoped))

  for (
    const [name, sizes, eol] of [
      ["whole", [1 << 20], "\n"],
      ["cut every byte", [1], "\n"],
      ["cut mid-line, mid-JSON and mid-data:", [3, 7, 2, 13, 5], "\n"],
      ["with CRLF line ends, cut in odd places", [4, 1, 9, 2], "\r\n"]
    ] as const
  ) {
    it.live(`streams text with usage on the last chunk (${name})`, () =>
      Effect.gen(function*() {
        const text = sseText([
          chunk({ role: "assistant", content: "" }),
          chunk({ content: "Hel" }),
          chunk({ content: "lo, " }),
          chunk({ content: "wörld ✓" }),
          chunk({}, "stop"),
          usageChunk(5, 4)
        ], eol)
        const server = yield* chatServer([sse(text, sizes)])
        const parts = yield* streamParts(LanguageModel.streamText({ prompt: "Hi" })).pipe(
          Effect.provide(model(server.baseUrl))
        )
        assert.strictEqual(textOf(parts), "Hello, wörld ✓")
        const finish = finishOf(parts)
        assert.strictEqual(finish?.reason, "stop")
        assert.strictEqual(finish?.usage.inputTokens.total, 5)
        assert.strictEqual(finish?.usage.outputTokens.total, 4)
        assert.deepStrictEqual(parts.map((p) => p.type).filter((t) => t.startsWith("text")), [
          "text-start",
          "text-delta",
          "text-delta",
          "text-delta",
          "text-end"
        ])
        assert.strictEqual(server.seen[0].body.stream, true)
        assert.deepStrictEqual(server.seen[0].body.stream_options, { include_usage: true })
      }).pipe(Effect.scoped))
  }

  it.live("streams parallel tool calls whose arguments arrive in fragments, and resolves them", () =>
    Effect.gen(function*() {
      const text = sseText([
        chunk({ role: "assistant", tool_calls: [{ index: 0, id: "c0", type: "function", function: { name: "GetWeather", arguments: "" } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: "{\"ci" } }] }),
        chunk({ tool_calls: [{ index: 1, id: "c1", type: "function", function: { name: "GetWeather", arguments: "{\"city\"" } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: "ty\":\"Oslo\"}" } }] }),
        chunk({ tool_calls: [{ index: 1, function: { arguments: ":\"Rome\"}" } }] }),
        chunk({}, "tool_calls"),
        usageChunk(20, 12)
      ])
      const server = yield* chatServer([sse(text, [6, 11, 3])])
      const parts = yield* streamParts(LanguageModel.streamText({ prompt: "Oslo and Rome?", toolkit: Weather })).pipe(
        Effect.provide(model(server.baseUrl)),
        Effect.provide(WeatherHandlers)
      )
      const deltas = parts.filter((p): p is Response.ToolParamsDeltaPart => p.type === "tool-params-delta")
      assert.deepStrictEqual(deltas.filter((d) => d.id === "c0").map((d) => d.delta).join(""), "{\"city\":\"Oslo\"}")
      const calls = parts.filter((p) => p.type === "tool-call").map((p) => [p.id, p.params])
      assert.deepStrictEqual(calls, [["c0", { city: "Oslo" }], ["c1", { city: "Rome" }]])
      const results = parts.filter((p) => p.type === "tool-result").map((p) => [p.id, (p.result as any).celsius]).sort()
      assert.deepStrictEqual(results, [["c0", 3], ["c1", 21]])
      assert.strictEqual(finishOf(parts)?.reason, "tool-calls")
      assert.strictEqual(finishOf(parts)?.usage.inputTokens.total, 20)
    }).pipe(Effect.scoped))

  it.live("a 429 with Retry-After is retried after at least that long, then succeeds", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([
        json(429, { error: { message: "slow down", type: "rate_limit_exceeded" } }, { "retry-after": "1" }),
        completion({ content: "after the wait" }, "stop")
      ])
      const response = yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.provide(model(server.baseUrl)))
      assert.strictEqual(response.text, "after the wait")
      assert.strictEqual(server.seen.length, 2)
      // a lower bound only: the client waited for what the server asked
      assert.isAtLeast(server.seen[1].at - server.seen[0].at, 950)
    }).pipe(Effect.scoped))

  it.live("a Retry-After longer than maxRetryAfter is not slept through: RateLimitError at once, with its retryAfter", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([json(429, { error: { message: "later" } }, { "retry-after": "3600" })])
      const error = aiFailure(yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(
        Effect.provide(model(server.baseUrl, { maxRetryAfter: "10 seconds" })),
        Effect.exit
      ))
      assert.strictEqual(error.reason._tag, "RateLimitError")
      assert.strictEqual(Duration.toSeconds(error.retryAfter!), 3600)
      assert.strictEqual(server.seen.length, 1)
    }).pipe(Effect.scoped))

  it.live("a 429 insufficient_quota is QuotaExhaustedError and is not retried", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([json(429, { error: { message: "no money", code: "insufficient_quota" } })])
      const error = aiFailure(yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(
        Effect.provide(model(server.baseUrl)),
        Effect.exit
      ))
      assert.strictEqual(error.reason._tag, "QuotaExhaustedError")
      assert.strictEqual(server.seen.length, 1)
    }).pipe(Effect.scoped))

  it.live("a 500 is retried, then succeeds; a stream's 503 too", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([
        json(500, { error: { message: "boom" } }),
        completion({ content: "recovered" }, "stop"),
        json(503, { error: { message: "overloaded" } }),
        sse(sseText([chunk({ content: "streamed" }, "stop")]))
      ])
      const layer = model(server.baseUrl)
      const response = yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.provide(layer))
      assert.strictEqual(response.text, "recovered")
      const parts = yield* streamParts(LanguageModel.streamText({ prompt: "Hi" })).pipe(Effect.provide(layer))
      assert.strictEqual(textOf(parts), "streamed")
      assert.strictEqual(server.seen.length, 4)
    }).pipe(Effect.scoped))

  it.live("retries exhausted: the last error reaches the caller as a typed AiError", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([
        json(500, { error: { message: "down 1" } }),
        json(502, { error: { message: "down 2" } }),
        json(500, { error: { message: "down 3" } })
      ])
      const exit = yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(
        Effect.provide(model(server.baseUrl, { maxRetries: 2 })),
        Effect.exit
      )
      const error = aiFailure(exit)
      assert.strictEqual(error.reason._tag, "InternalProviderError")
      assert.include(error.message, "down 3")
      assert.strictEqual(server.seen.length, 3)
    }).pipe(Effect.scoped))

  it.live("a 401 is not retried and fails with AuthenticationError", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([json(401, { error: { message: "bad key", code: "invalid_api_key" } })])
      const exit = yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(
        Effect.provide(model(server.baseUrl, { apiKey: "wrong" })),
        Effect.exit
      )
      assert.strictEqual(aiFailure(exit).reason._tag, "AuthenticationError")
      assert.strictEqual(server.seen.length, 1)
    }).pipe(Effect.scoped))

  it.live("a connection refused is retried, then fails with NetworkError", () =>
    Effect.gen(function*() {
      // a port that was just free: nothing listens on it
      const server = yield* chatServer([])
      const closed = server.baseUrl.replace(/:\d+\//, ":1/")
      const exit = yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(
        Effect.provide(model(closed, { maxRetries: 1 })),
        Effect.exit
      )
      const error = aiFailure(exit)
      assert.strictEqual(error.reason._tag, "NetworkError")
    }).pipe(Effect.scoped))

  it.live("a stream that stalls fails with a timeout error, and the connection is closed", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([(res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(`data: ${JSON.stringify(chunk({ content: "then nothing" }))}\n\n`)
        // never ends
      }])
      const exit = yield* streamParts(LanguageModel.streamText({ prompt: "Hi" })).pipe(
        Effect.provide(model(server.baseUrl, { streamIdleTimeout: "300 millis" })),
        Effect.exit
      )
      const error = aiFailure(exit)
      assert.strictEqual(error.reason._tag, "NetworkError")
      assert.include(error.message, "stalled")
      // the client hung up rather than leaving the request open
      yield* Effect.promise(async () => {
        for (let i = 0; i < 400 && server.closedByClient() === 0; i++) await new Promise((r) => setTimeout(r, 25))
      })
      assert.strictEqual(server.closedByClient(), 1)
    }).pipe(Effect.scoped))

  it.live("a server that never answers fails with a timeout error", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([() => {
        // holds the request open without a status line
      }])
      const exit = yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(
        Effect.provide(model(server.baseUrl, { requestTimeout: "300 millis", maxRetries: 0 })),
        Effect.exit
      )
      const error = aiFailure(exit)
      assert.strictEqual(error.reason._tag, "NetworkError")
      assert.include(error.message, "no complete answer within")
    }).pipe(Effect.scoped))

  it.live("malformed JSON fails with InvalidResponseError, without retrying", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([(res) => {
        res.writeHead(200, { "content-type": "application/json" }).end("{\"id\": \"x\", \"choices\": [")
      }])
      const exit = yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(
        Effect.provide(model(server.baseUrl)),
        Effect.exit
      )
      const error = aiFailure(exit)
      assert.strictEqual(error.reason._tag, "InvalidResponseError")
      assert.include(error.message, "not JSON")
      assert.strictEqual(server.seen.length, 1)
    }).pipe(Effect.scoped))

  it.live("JSON of the wrong shape, and a malformed stream event, fail with InvalidResponseError", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([
        json(200, { choices: "no" }),
        sse(`data: ${JSON.stringify(chunk({ content: "ok" }))}\n\ndata: {not json}\n\n`)
      ])
      const layer = model(server.baseUrl)
      const first = aiFailure(yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.provide(layer), Effect.exit))
      assert.strictEqual(first.reason._tag, "InvalidResponseError")
      const second = aiFailure(yield* streamParts(LanguageModel.streamText({ prompt: "Hi" })).pipe(Effect.provide(layer), Effect.exit))
      assert.strictEqual(second.reason._tag, "InvalidResponseError")
    }).pipe(Effect.scoped))

  it.live("an oversized response body, an oversized event, and too many events fail with InvalidResponseError", () =>
    Effect.gen(function*() {
      const big = "x".repeat(64 * 1024)
      const server = yield* chatServer([
        // chunked, so no Content-Length warns the client in advance
        (res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.write(`{"choices":[{"message":{"content":"`)
          res.end(`${big}"},"finish_reason":"stop"}]}`)
        },
        sse(`data: ${JSON.stringify(chunk({ content: big }))}\n\n`, [4096]),
        sse(sseText(Array.from({ length: 50 }, () => chunk({ content: "." }))))
      ])
      const layer = model(server.baseUrl, { maxResponseBytes: 16 * 1024, maxEventBytes: 16 * 1024, maxStreamEvents: 20 })
      const body = aiFailure(yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.provide(layer), Effect.exit))
      assert.strictEqual(body.reason._tag, "InvalidResponseError")
      assert.include(body.message, "exceeds 16384 bytes")
      const event = aiFailure(yield* streamParts(LanguageModel.streamText({ prompt: "Hi" })).pipe(Effect.provide(layer), Effect.exit))
      assert.include(event.message, "server-sent event exceeds")
      const count = aiFailure(yield* streamParts(LanguageModel.streamText({ prompt: "Hi" })).pipe(Effect.provide(layer), Effect.exit))
      assert.include(count.message, "exceeds 20 events")
      assert.strictEqual(server.seen.length, 3)
    }).pipe(Effect.scoped))

  it.live("an error event inside a stream fails it with a typed error", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([
        sse(`data: ${JSON.stringify(chunk({ content: "par" }))}\n\ndata: {"error":{"message":"model crashed"}}\n\n`)
      ])
      const error = aiFailure(yield* streamParts(LanguageModel.streamText({ prompt: "Hi" })).pipe(
        Effect.provide(model(server.baseUrl)),
        Effect.exit
      ))
      assert.strictEqual(error.reason._tag, "InternalProviderError")
      assert.include(error.message, "model crashed")
    }).pipe(Effect.scoped))

  it.live("layerConfig reads the base URL, model and key through Config", () =>
    Effect.gen(function*() {
      const server = yield* chatServer([completion({ content: "configured" }, "stop")])
      const layer = OpenAiCompatible.layerConfig({ prefix: "LOCAL" }).pipe(
        Layer.provide(FetchHttpClient.layer),
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
          LOCAL_BASE_URL: server.baseUrl,
          LOCAL_MODEL: "local-model",
          LOCAL_API_KEY: "sk-local",
          LOCAL_MAX_RETRIES: "0"
        })))
      )
      const [text, name] = yield* Effect.all([
        LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.map((r) => r.text)),
        Effect.service(Model.ModelName)
      ]).pipe(Effect.provide(layer))
      assert.strictEqual(text, "configured")
      assert.strictEqual(name, "local-model")
      assert.strictEqual(server.seen[0].body.model, "local-model")
      assert.strictEqual(server.seen[0].headers.authorization, "Bearer sk-local")
    }).pipe(Effect.scoped))

  it.live("a missing model name fails the layer with a ConfigError", () =>
    Effect.gen(function*() {
      const exit = yield* Layer.build(
        OpenAiCompatible.layerConfig().pipe(
          Layer.provide(FetchHttpClient.layer),
          Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({})))
        )
      ).pipe(Effect.scoped, Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
    }))
})

describe("Retry-After", () => {
  it("reads seconds, an HTTP date, and OpenAI's retry-after-ms", () => {
    const now = Date.parse("2026-01-01T00:00:00Z")
    assert.strictEqual(Duration.toMillis(HttpTransport.parseRetryAfter({ "retry-after": "2" }, now)!), 2000)
    assert.strictEqual(
      Duration.toMillis(HttpTransport.parseRetryAfter({ "retry-after": "Thu, 01 Jan 2026 00:00:30 GMT" }, now)!),
      30_000
    )
    assert.strictEqual(Duration.toMillis(HttpTransport.parseRetryAfter({ "retry-after-ms": "250", "retry-after": "9" }, now)!), 250)
    assert.isUndefined(HttpTransport.parseRetryAfter({ "retry-after": "soon" }, now))
    assert.isUndefined(HttpTransport.parseRetryAfter({}, now))
  })
})
