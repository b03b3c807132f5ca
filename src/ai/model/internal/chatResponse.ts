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

/** What a streamed response has opened so far. */
interface StreamState {
  readonly limits: StreamLimits
  metadataSent: boolean
  textOpen: boolean
  reasoningOpen: boolean
  responseId: string
  lastFinish: string | null | undefined
  lastUsage: WireUsage | null | undefined
  readonly calls: Map<number, PendingCall>
}

type Parts = Array<Response.StreamPartEncoded>

const closeReasoning = (state: StreamState, out: Parts) => {
  if (state.reasoningOpen) {
    state.reasoningOpen = false
    out.push({ type: "reasoning-end", id: `${state.responseId}_reasoning` })
  }
}

const invalid = (description: string) => fail("streamText", new AiError.InvalidResponseError({ description }))

type Delta = NonNullable<NonNullable<ChatCompletionChunk["choices"]>[number]["delta"]>

/** Reasoning and text deltas: each opens its part on its first delta; text closes reasoning. */
const pushContent = (state: StreamState, delta: Delta, out: Parts) => {
  const reasoning = delta.reasoning_content ?? delta.reasoning
  if (reasoning) {
    if (!state.reasoningOpen) {
      state.reasoningOpen = true
      out.push({ type: "reasoning-start", id: `${state.responseId}_reasoning` })
    }
    out.push({ type: "reasoning-delta", id: `${state.responseId}_reasoning`, delta: reasoning })
  }
  const text = delta.content ?? delta.refusal
  if (text) {
    closeReasoning(state, out)
    if (!state.textOpen) {
      state.textOpen = true
      out.push({ type: "text-start", id: `${state.responseId}_text` })
    }
    out.push({ type: "text-delta", id: `${state.responseId}_text`, delta: text })
  }
}

/** Tool-call fragments: a call starts with its name and grows by argument deltas, within the limits. */
const pushToolCalls = (state: StreamState, delta: Delta, out: Parts) =>
  Effect.gen(function*() {
    const { calls, limits } = state
    const fragments = delta.tool_calls ?? []
    for (let i = 0; i < fragments.length; i++) {
      const fragment = fragments[i]
      const index = fragment.index ?? i
      const argumentsDelta = fragment.function?.arguments ?? ""
      let call = calls.get(index)
      if (call === undefined) {
        const name = fragment.function?.name
        if (!name) return yield* invalid(`tool call ${index} starts without a name`)
        if (calls.size >= limits.maxToolCalls) return yield* invalid(`more than ${limits.maxToolCalls} tool calls in one response`)
        call = { id: fragment.id ?? `${state.responseId}_call_${index}`, name, arguments: "" }
        calls.set(index, call)
        closeReasoning(state, out)
        out.push({ type: "tool-params-start", id: call.id, name })
      }
      if (argumentsDelta.length > 0) {
        if (call.arguments.length + argumentsDelta.length > limits.maxToolArgumentChars) {
          return yield* invalid(`the arguments of tool call ${call.name} exceed ${limits.maxToolArgumentChars} characters`)
        }
        call.arguments += argumentsDelta
        out.push({ type: "tool-params-delta", id: call.id, delta: argumentsDelta })
      }
    }
    return out
  })

/** The stream parts one chunk completes. */
const pushChunk = (state: StreamState, chunk: ChatCompletionChunk) => {
  const out: Parts = []
  if (!state.metadataSent) {
    state.metadataSent = true
    if (chunk.id) state.responseId = chunk.id
    out.push(metadataPart(chunk.id, chunk.model, chunk.created))
  }
  if (chunk.usage) state.lastUsage = chunk.usage
  const choice = chunk.choices?.[0]
  if (choice === undefined) return Effect.succeed(out)
  if (choice.finish_reason) state.lastFinish = choice.finish_reason
  const delta = choice.delta
  if (!delta) return Effect.succeed(out)
  pushContent(state, delta, out)
  return pushToolCalls(state, delta, out)
}

/** What is still open when the stream ends, closed; the tool calls parsed; the finish. */
const endStream = (state: StreamState) =>
  Effect.gen(function*() {
    const out: Parts = []
    if (!state.metadataSent) return yield* invalid("the stream ended before its first chunk")
    closeReasoning(state, out)
    if (state.textOpen) {
      state.textOpen = false
      out.push({ type: "text-end", id: `${state.responseId}_text` })
    }
    for (const call of state.calls.values()) {
      out.push({ type: "tool-params-end", id: call.id })
      out.push({ type: "tool-call", id: call.id, name: call.name, params: yield* parseArguments(call.name, call.arguments, "streamText") })
    }
    out.push({ type: "finish", reason: finishReason(state.lastFinish, state.calls.size > 0), usage: usage(state.lastUsage) })
    return out
  })

/**
 * The state of one streamed response. `push` turns a chunk into the stream
 * parts it completes; `end` flushes what is open when the server says `[DONE]`
 * or closes the body.
 */
export const makeStreamState = (limits: StreamLimits) => {
  const state: StreamState = {
    limits,
    metadataSent: false,
    textOpen: false,
    reasoningOpen: false,
    responseId: "response",
    lastFinish: undefined,
    lastUsage: undefined,
    calls: new Map()
  }
  return {
    push: (chunk: ChatCompletionChunk) => Effect.suspend(() => pushChunk(state, chunk)),
    end: Effect.suspend(() => endStream(state))
  }
}
