/**
 * The wire shapes of the OpenAI chat-completions API, as far as this client
 * reads and writes them. Responses are decoded leniently (every field a server
 * may leave out is optional or nullable) because Ollama, vLLM and llama.cpp's
 * server each omit different ones; unknown fields are ignored.
 */
import { Schema } from "effect"

const OptionalString = Schema.optional(Schema.NullOr(Schema.String))
const OptionalNumber = Schema.optional(Schema.NullOr(Schema.Number))

/** Token counts, with the detail objects OpenAI adds and others omit. */
export const WireUsage = Schema.Struct({
  prompt_tokens: OptionalNumber,
  completion_tokens: OptionalNumber,
  total_tokens: OptionalNumber,
  prompt_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ cached_tokens: OptionalNumber }))),
  completion_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ reasoning_tokens: OptionalNumber })))
})
export type WireUsage = typeof WireUsage.Type

/** A complete tool call in a non-streamed message. */
export const WireToolCall = Schema.Struct({
  id: OptionalString,
  type: OptionalString,
  function: Schema.Struct({
    name: Schema.String,
    // a JSON string per the API; some servers send the object itself
    arguments: Schema.optional(Schema.NullOr(Schema.Union([Schema.String, Schema.Record(Schema.String, Schema.Unknown)])))
  })
})

/** The assistant message of a non-streamed choice. */
export const WireMessage = Schema.Struct({
  role: OptionalString,
  content: OptionalString,
  refusal: OptionalString,
  // vLLM and llama.cpp name the reasoning trace differently
  reasoning_content: OptionalString,
  reasoning: OptionalString,
  tool_calls: Schema.optional(Schema.NullOr(Schema.Array(WireToolCall)))
})

/** A non-streamed completion (`POST /chat/completions`). */
export const ChatCompletion = Schema.Struct({
  id: OptionalString,
  model: OptionalString,
  created: OptionalNumber,
  choices: Schema.Array(Schema.Struct({
    index: OptionalNumber,
    message: WireMessage,
    finish_reason: OptionalString
  })),
  usage: Schema.optional(Schema.NullOr(WireUsage))
})
export type ChatCompletion = typeof ChatCompletion.Type

/** A fragment of a tool call in a streamed delta: `index` ties the fragments of one call together. */
export const WireToolCallDelta = Schema.Struct({
  index: OptionalNumber,
  id: OptionalString,
  type: OptionalString,
  function: Schema.optional(Schema.NullOr(Schema.Struct({
    name: OptionalString,
    arguments: OptionalString
  })))
})
export type WireToolCallDelta = typeof WireToolCallDelta.Type

/** One streamed event's payload (`data: {...}` with `stream: true`). */
export const ChatCompletionChunk = Schema.Struct({
  id: OptionalString,
  model: OptionalString,
  created: OptionalNumber,
  choices: Schema.optional(Schema.NullOr(Schema.Array(Schema.Struct({
    index: OptionalNumber,
    delta: Schema.optional(Schema.NullOr(Schema.Struct({
      role: OptionalString,
      content: OptionalString,
      refusal: OptionalString,
      reasoning_content: OptionalString,
      reasoning: OptionalString,
      tool_calls: Schema.optional(Schema.NullOr(Schema.Array(WireToolCallDelta)))
    }))),
    finish_reason: OptionalString
  })))),
  usage: Schema.optional(Schema.NullOr(WireUsage))
})
export type ChatCompletionChunk = typeof ChatCompletionChunk.Type

/** An error body (`{ "error": { "message": ... } }`), as OpenAI and most compatible servers send it. */
export const WireError = Schema.Struct({
  error: Schema.Struct({
    message: OptionalString,
    type: OptionalString,
    code: Schema.optional(Schema.NullOr(Schema.Union([Schema.String, Schema.Number])))
  })
})

/** A response of `POST /embeddings`. */
export const EmbeddingList = Schema.Struct({
  data: Schema.Array(Schema.Struct({
    index: OptionalNumber,
    embedding: Schema.Array(Schema.Number)
  })),
  model: OptionalString,
  usage: Schema.optional(Schema.NullOr(Schema.Struct({
    prompt_tokens: OptionalNumber,
    total_tokens: OptionalNumber
  })))
})
export type EmbeddingList = typeof EmbeddingList.Type

/** A message as the request sends it. */
export type WireRequestMessage =
  | { readonly role: "system" | "developer"; readonly content: string }
  | { readonly role: "user"; readonly content: string | ReadonlyArray<WireContentPart> }
  | {
    readonly role: "assistant"
    readonly content: string | null
    readonly tool_calls?: ReadonlyArray<{
      readonly id: string
      readonly type: "function"
      readonly function: { readonly name: string; readonly arguments: string }
    }>
  }
  | { readonly role: "tool"; readonly tool_call_id: string; readonly content: string }

/** A part of a multi-part user message. */
export type WireContentPart =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "image_url"; readonly image_url: { readonly url: string } }
