/**
 * The assistants' models. With `OPENAI_MODEL` set (and `OPENAI_BASE_URL`,
 * `OPENAI_API_KEY` as the server needs: OpenAI, Ollama, vLLM, llama.cpp),
 * all three use that OpenAI-compatible endpoint. Without it, each plays a
 * replay script, offline: the coder's first program has an off-by-one bug,
 * the reviewer (whose verdict is computed from what the code really printed
 * in the sandbox) asks for a change, and the second program passes.
 */
import { Layer } from "effect"
import type { LanguageModel, Prompt } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import * as OpenAiCompatible from "../../src/ai/model/OpenAiCompatible.ts"
import * as ReplayModel from "../../src/ai/model/ReplayModel.ts"

/** The task the example solves unless the command line gives another. */
export const defaultTask = "Print the first 10 Fibonacci numbers, starting from 0, on one line separated by spaces."

const fibonacci = (count: number) =>
  [
    "a, b = 0, 1",
    "numbers = []",
    `for _ in range(${count}):`,
    "    numbers.append(a)",
    "    a, b = b, a + b",
    "print(\" \".join(str(n) for n in numbers))"
  ].join("\n")

/** The output of the last tool result in a prompt. */
const lastOutput = (prompt: Prompt.Prompt): string => {
  for (const message of [...prompt.content].reverse()) {
    if (message.role !== "tool") continue
    for (const part of message.content) {
      if (part.type === "tool-result") return String((part.result as { readonly output?: unknown }).output ?? "")
    }
  }
  return ""
}

/** The text of the last user message in a prompt. */
const lastUserText = (prompt: Prompt.Prompt): string => {
  for (const message of [...prompt.content].reverse()) {
    if (message.role === "user") return message.content.map((part) => part.type === "text" ? part.text : "").join("")
  }
  return ""
}

// the coder reports what its run really printed
const report = ReplayModel.respond((request) => ReplayModel.text(`It prints: ${lastOutput(request.prompt).trim()}`))

// the reviewer checks the output that came back from the sandbox
const review = ReplayModel.respond((request) => {
  const output = lastUserText(request.prompt).split("Output:\n")[1] ?? ""
  const numbers = output.trim().split(/\s+/).filter((word) => /^\d+$/.test(word))
  const last = numbers[numbers.length - 1]
  return numbers.length === 10 && last === "34"
    ? ReplayModel.text("APPROVED: it prints the first 10 Fibonacci numbers, 0 to 34.")
    : ReplayModel.text(`CHANGES: expected 10 numbers ending in 34, but it printed ${numbers.length}${last ? ` ending in ${last}` : ""}.`)
})

/** Offline scripts, one per assistant. */
export const replay = () => ({
  planner: ReplayModel.layer([
    ReplayModel.text("1. Start from 0 and 1.\n2. Generate the first 10 Fibonacci numbers.\n3. Print them on one line, separated by spaces.")
  ]),
  coder: ReplayModel.layer([
    ReplayModel.toolCalls([{ name: "execute_code", params: { language: "python", code: fibonacci(9) } }]),
    report,
    ReplayModel.toolCalls([{ name: "execute_code", params: { language: "python", code: fibonacci(10) } }]),
    report
  ]),
  reviewer: ReplayModel.layer([review, review])
})

/** The models: the endpoint `OPENAI_MODEL` names, or the replay scripts. */
export const fromEnvironment = (): {
  readonly source: string
  readonly planner: Layer.Layer<LanguageModel.LanguageModel, unknown>
  readonly coder: Layer.Layer<LanguageModel.LanguageModel, unknown>
  readonly reviewer: Layer.Layer<LanguageModel.LanguageModel, unknown>
} => {
  if (process.env.OPENAI_MODEL === undefined || process.env.OPENAI_MODEL === "") return { source: "replay scripts (offline)", ...replay() }
  const shared = OpenAiCompatible.layerConfig().pipe(Layer.provide(FetchHttpClient.layer))
  return { source: `${process.env.OPENAI_MODEL} at ${process.env.OPENAI_BASE_URL ?? "https://api.openai.com/v1"}`, planner: shared, coder: shared, reviewer: shared }
}
