/**
 * Turns chat-completions responses into `effect/ai` response parts: a whole
 * completion into parts at once, a stream of chunks into stream parts through
 * a small state machine that joins the argument fragments of each tool call
 * (parallel calls are told apart by their `index`) and emits the finish part,
 * with the usage of the last chunk, when the stream ends.
 */
import { Effect } from "effect"
import { AiError, type Response, Tool } from "effect/ai"
import type { ChatCompletion, ChatCompletionChunk, WireUsage } from "./chatWire.ts"

const fail = (method: string, reason: AiError.AiErrorReason) =>
  Effect.fail(AiError.make({ module: "OpenAiCompatible", method, reason }))

const int = (n: number | null | undefined): number | undefined =>
  typeof n === "number" && Number.isInteger(n) && n >= 0 ? n : undefined

/** `Response.Usage` (encoded) from the wire's token counts. */
export const usage = (wire: WireUsage | null | undefined): typeof Response.Usage.Encoded => {
  const input = int(wire?.prompt_tokens)
  const output = int(wire?.completion_tokens)
  const cached = int(wire?.prompt_tokens_details?.cached_tokens)
  const reasoning = int(wire?.completion_tokens_details?.reasoning_tokens)
  return {
    inputTokens: {
      total: input,
      cacheRead: cached,
      uncached: input !== undefined && cached !== undefined ? Math.max(0, input - cached) : input,
      cacheWrite: undefined
    },
    outputTokens: {
      total: output,
      reasoning,
      text: output !== undefined && reasoning !== undefined ? Math.max(0, output - reasoning) : output
    }
  }
}

/**
 * The wire's finish reason as `Response.FinishReason`. Some servers (Ollama)
 * say `stop` after tool calls; the calls decide it then.
 */
export const finishReason = (wire: string | null | undefined, hasToolCalls: boolean): Response.FinishReason => {
  switch (wire) {
    case "stop":
      return hasToolCalls ? "tool-calls" : "stop"
    case "length":
      return "length"
    case "content_filter":
      return "content-filter"
    case "tool_calls":
    case "function_call":
      return "tool-calls"
    case null:
    case undefined:
      return hasToolCalls ? "tool-calls" : "unknown"
    default:
      return "other"
  }
}

const metadataPart = (
  id: string | null | undefined,
  model: string | null | undefined,
  created: number | null | undefined
): Response.ResponseMetadataPartEncoded => ({
  type: "response-metadata",
  ...(id ? { id } : {}),
  ...(model ? { modelId: model } : {}),
  ...(typeof created === "number" && Number.isFinite(created)
    ? { timestamp: new Date(created * 1000).toISOString() }
    : {})
})

const parseArguments = (name: string, text: string, method: string) =>
  Effect.try({
    try: () => Tool.unsafeSecureJsonParse(text.trim().length > 0 ? text : "{}"),
    catch: (cause) =>
      AiError.make({
        module: "OpenAiCompatible",
        method,
        reason: new AiError.ToolParameterValidationError({
          toolName: name,
          description: `the arguments of the call are not JSON: ${String(cause)}`
        })
      })
  })

/** The parts of a whole completion (its first choice). */
export const fromCompletion = (completion: ChatCompletion) =>
  Effect.gen(function*() {
    const parts: Array<Response.PartEncoded> = [metadataPart(completion.id, completion.model, completion.created)]
    const choice = completion.choices[0]
    if (choice === undefined) {
      return yield* fail(
        "generateText",
        new AiError.InvalidResponseError({ description: "the completion has no choices" })
      )
    }
    const message = choice.message
    const reasoning = message.reasoning_content ?? message.reasoning
    if (reasoning) parts.push({ type: "reasoning", text: reasoning })
    const text = message.content ?? message.refusal
    if (text) parts.push({ type: "text", text })
    const calls = message.tool_calls ?? []
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]
      parts.push({
        type: "tool-call",
        id: call.id ?? `${completion.id ?? "call"}_${i}`,
        name: call.function.name,
        params: typeof call.function.arguments === "object" && call.function.arguments !== null
          ? call.function.arguments
          : yield* parseArguments(call.function.name, call.function.arguments ?? "", "generateText")
      })
    }
    parts.push({
      type: "finish",
      reason: finishReason(choice.finish_reason, calls.length > 0),
      usage: usage(completion.usage)
    })
    return parts
  })

/** Bounds on what one stream may accumulate. */
export interface StreamLimits {
  /** Largest arguments text of one tool call, in UTF-16 code units. */
  readonly maxToolArgumentChars: number
  /** Most tool calls in one response. */
  readonly maxToolCalls: number
}

interface PendingCall {
  readonly id: string
  readonly name: string
  arguments: string
}

/**
 * The state of one streamed response. `push` turns a chunk into the stream
 * parts it completes; `end` flushes what is open when the server says `[DONE]`
 * or closes the body.
 */
export const makeStreamState = (limits: StreamLimits) => {
  let metadataSent = false
  let textOpen = false
  let reasoningOpen = false
  let responseId = "response"
  let lastFinish: string | null | undefined = undefined
  let lastUsage: WireUsage | null | undefined = undefined
  const calls = new Map<number, PendingCall>()

  const closeReasoning = (out: Array<Response.StreamPartEncoded>) => {
    if (reasoningOpen) {
      reasoningOpen = false
      out.push({ type: "reasoning-end", id: `${responseId}_reasoning` })
    }
  }

  const push = (chunk: ChatCompletionChunk) =>
    Effect.gen(function*() {
      const out: Array<Response.StreamPartEncoded> = []
      if (!metadataSent) {
        metadataSent = true
        if (chunk.id) responseId = chunk.id
        out.push(metadataPart(chunk.id, chunk.model, chunk.created))
      }
      if (chunk.usage) lastUsage = chunk.usage
      const choice = chunk.choices?.[0]
      if (choice === undefined) return out
      if (choice.finish_reason) lastFinish = choice.finish_reason
      const delta = choice.delta
      if (!delta) return out

      const reasoning = delta.reasoning_content ?? delta.reasoning
      if (reasoning) {
        if (!reasoningOpen) {
          reasoningOpen = true
          out.push({ type: "reasoning-start", id: `${responseId}_reasoning` })
        }
        out.push({ type: "reasoning-delta", id: `${responseId}_reasoning`, delta: reasoning })
      }
      const text = delta.content ?? delta.refusal
      if (text) {
        closeReasoning(out)
        if (!textOpen) {
          textOpen = true
          out.push({ type: "text-start", id: `${responseId}_text` })
        }
        out.push({ type: "text-delta", id: `${responseId}_text`, delta: text })
      }
      const fragments = delta.tool_calls ?? []
      for (let i = 0; i < fragments.length; i++) {
        const fragment = fragments[i]
        const index = fragment.index ?? i
        const argumentsDelta = fragment.function?.arguments ?? ""
        let call = calls.get(index)
        if (call === undefined) {
          const name = fragment.function?.name
          if (!name) {
            return yield* fail(
              "streamText",
              new AiError.InvalidResponseError({ description: `tool call ${index} starts without a name` })
            )
          }
          if (calls.size >= limits.maxToolCalls) {
            return yield* fail(
              "streamText",
              new AiError.InvalidResponseError({ description: `more than ${limits.maxToolCalls} tool calls in one response` })
            )
          }
          call = { id: fragment.id ?? `${responseId}_call_${index}`, name, arguments: "" }
          calls.set(index, call)
          closeReasoning(out)
          out.push({ type: "tool-params-start", id: call.id, name })
        }
        if (argumentsDelta.length > 0) {
          if (call.arguments.length + argumentsDelta.length > limits.maxToolArgumentChars) {
            return yield* fail(
              "streamText",
              new AiError.InvalidResponseError({
                description: `the arguments of tool call ${call.name} exceed ${limits.maxToolArgumentChars} characters`
              })
            )
          }
          call.arguments += argumentsDelta
          out.push({ type: "tool-params-delta", id: call.id, delta: argumentsDelta })
        }
      }
      return out
    })

  const end = Effect.gen(function*() {
    const out: Array<Response.StreamPartEncoded> = []
    if (!metadataSent) {
      return yield* fail(
        "streamText",
        new AiError.InvalidResponseError({ description: "the stream ended before its first chunk" })
      )
    }
    closeReasoning(out)
    if (textOpen) {
      textOpen = false
      out.push({ type: "text-end", id: `${responseId}_text` })
    }
    for (const call of calls.values()) {
      out.push({ type: "tool-params-end", id: call.id })
      out.push({
        type: "tool-call",
        id: call.id,
        name: call.name,
        params: yield* parseArguments(call.name, call.arguments, "streamText")
      })
    }
    out.push({ type: "finish", reason: finishReason(lastFinish, calls.size > 0), usage: usage(lastUsage) })
    return out
  })

  return { push, end }
}
