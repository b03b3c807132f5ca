/**
 * Builds a chat-completions request body from the provider options that
 * `LanguageModel.make` hands a provider: the prompt becomes `messages`, the
 * toolkit `tools`, the tool choice `tool_choice`, a structured-output request
 * `response_format` with the JSON Schema of its `Schema`. What the protocol
 * cannot carry (a provider-defined tool, a non-image file) is refused with a
 * typed `AiError` instead of being dropped silently.
 */
import { Effect } from "effect"
import { AiError, type LanguageModel, Prompt, Tool } from "effect/ai"
import { Base64 } from "effect/encoding"
import type { WireContentPart, WireRequestMessage } from "./chatWire.ts"

/** How a request asks for JSON: `json_schema` (OpenAI, vLLM, Ollama, llama.cpp) or the older `json_object`. */
export type JsonMode = "json_schema" | "json_object"

/** What the request builder needs besides the provider options. */
export interface RequestSettings {
  readonly model: string
  readonly jsonMode: JsonMode
  readonly strictJsonSchema: boolean
  readonly codecTransformer: LanguageModel.CodecTransformer
  /** Extra body fields (temperature, max_tokens, seed...), sent as they are. */
  readonly body: Readonly<Record<string, unknown>>
}

const refuse = (method: string, reason: AiError.AiErrorReason) =>
  AiError.make({ module: "OpenAiCompatible", method, reason })

const invalidInput = (description: string) =>
  refuse("buildRequest", new AiError.InvalidUserInputError({ description }))

const toJsonText = (value: unknown): string => typeof value === "string" ? value : JSON.stringify(value) ?? "null"

const fileUrl = (part: Prompt.FilePart): string =>
  part.data instanceof URL
    ? part.data.toString()
    : `data:${part.mediaType};base64,${typeof part.data === "string" ? part.data : Base64.encode(part.data)}`

const userContent = (parts: ReadonlyArray<Prompt.UserMessagePart>) =>
  Effect.gen(function*() {
    const out: Array<WireContentPart> = []
    for (const part of parts) {
      if (part.type === "text") {
        out.push({ type: "text", text: part.text })
      } else if (part.mediaType.startsWith("image/")) {
        out.push({ type: "image_url", image_url: { url: fileUrl(part) } })
      } else {
        return yield* invalidInput(`chat completions accept image files only, not ${part.mediaType}`)
      }
    }
    // A text-only message goes as a plain string: every server understands that form
    return out.every((p) => p.type === "text")
      ? out.map((p) => (p as { readonly text: string }).text).join("\n")
      : out
  })

const toolResultContent = (part: Prompt.ToolResultPart): string =>
  part.modelOutput !== undefined && part.modelOutput.length > 0
    ? Prompt.toolModelOutputToText(part.modelOutput)
    : toJsonText(part.result)

/** The prompt as chat messages. */
export const messages = (prompt: Prompt.Prompt) =>
  Effect.gen(function*() {
    const out: Array<WireRequestMessage> = []
    for (const message of prompt.content) {
      switch (message.role) {
        case "system": {
          out.push({ role: "system", content: message.content })
          break
        }
        case "user": {
          out.push({ role: "user", content: yield* userContent(message.content) })
          break
        }
        case "assistant": {
          let text = ""
          const toolCalls: Array<{ id: string; type: "function"; function: { name: string; arguments: string } }> = []
          const results: Array<WireRequestMessage> = []
          for (const part of message.content) {
            if (part.type === "text") text += part.text
            else if (part.type === "tool-call" && !part.providerExecuted) {
              toolCalls.push({
                id: part.id,
                type: "function",
                function: { name: part.name, arguments: toJsonText(part.params ?? {}) }
              })
            } else if (part.type === "tool-result" && !part.providerExecuted) {
              results.push({ role: "tool", tool_call_id: part.id, content: toolResultContent(part) })
            }
            // reasoning is not sent back: chat completions has no field for it
          }
          out.push(
            toolCalls.length > 0
              ? { role: "assistant", content: text.length > 0 ? text : null, tool_calls: toolCalls }
              : { role: "assistant", content: text }
          )
          out.push(...results)
          break
        }
        case "tool": {
          for (const part of message.content) {
            if (part.type === "tool-result") {
              out.push({ role: "tool", tool_call_id: part.id, content: toolResultContent(part) })
            }
          }
          break
        }
      }
    }
    return out
  })

const jsonSchemaOf = <A>(transform: () => A, method: string) =>
  Effect.try({
    try: transform,
    catch: (error) =>
      refuse(
        method,
        new AiError.UnsupportedSchemaError({ description: error instanceof Error ? error.message : String(error) })
      )
  })

/** The toolkit's tools as `tools` entries; provider-defined tools have no chat-completions form. */
export const tools = (list: ReadonlyArray<Tool.Any>, settings: RequestSettings) =>
  Effect.forEach(list, (tool) =>
    Effect.gen(function*() {
      if (Tool.isProviderDefined(tool)) {
        return yield* invalidInput(`provider-defined tool ${tool.name} has no chat-completions form`)
      }
      const strict = Tool.getStrictMode(tool) === true
      const parameters = yield* jsonSchemaOf(
        () => Tool.getJsonSchema(tool, strict ? { transformer: settings.codecTransformer } : undefined),
        "buildRequest"
      )
      const description = Tool.getDescription(tool)
      return {
        type: "function" as const,
        function: {
          name: tool.name,
          ...(description !== undefined ? { description } : {}),
          parameters,
          ...(strict ? { strict: true } : {})
        }
      }
    }))

/** `tool_choice`, and the subset of tools a `oneOf` choice allows. */
export const toolChoice = (
  choice: LanguageModel.ToolChoice<string>,
  available: ReadonlyArray<Tool.Any>
): { readonly choice: unknown; readonly tools: ReadonlyArray<Tool.Any> } => {
  if (choice === "auto" || choice === "none" || choice === "required") return { choice, tools: available }
  if ("tool" in choice) {
    return { choice: { type: "function", function: { name: choice.tool } }, tools: available }
  }
  const allowed = new Set(choice.oneOf)
  return { choice: choice.mode ?? "auto", tools: available.filter((tool) => allowed.has(tool.name)) }
}

/** The whole request body (without the stream flags). */
export const body = (options: LanguageModel.ProviderOptions, settings: RequestSettings) =>
  Effect.gen(function*() {
    const chosen = toolChoice(options.toolChoice, options.tools)
    const wireTools = chosen.tools.length > 0 ? yield* tools(chosen.tools, settings) : []
    const format = options.responseFormat
    let responseFormat: unknown = undefined
    if (format.type === "json") {
      if (settings.jsonMode === "json_object") {
        responseFormat = { type: "json_object" }
      } else {
        const { jsonSchema } = yield* jsonSchemaOf(() => settings.codecTransformer(format.schema as never), "buildRequest")
        responseFormat = {
          type: "json_schema",
          json_schema: { name: format.objectName, schema: jsonSchema, strict: settings.strictJsonSchema }
        }
      }
    }
    return {
      ...settings.body,
      model: settings.model,
      messages: yield* messages(options.prompt),
      ...(wireTools.length > 0 ? { tools: wireTools, tool_choice: chosen.choice } : {}),
      ...(responseFormat !== undefined ? { response_format: responseFormat } : {})
    }
  })
