/**
 * A `LanguageModel` that plays a script instead of calling a provider: for
 * tests, demos and offline runs of everything built on `effect/ai`. Each
 * request (to `generateText`, `generateObject` or `streamText`) takes the
 * next step of the script; a step is a text answer, tool calls, raw parts,
 * stream parts, a scripted failure, or a function of the request. Every
 * request is recorded (prompt, tools, tool choice, response format) so a
 * test can check what the model was asked; when the script runs out, the
 * request fails with an `AiError` that `isExhausted` recognises.
 *
 * ```ts
 * const model = ReplayModel.layer([
 *   ReplayModel.toolCalls([{ name: "add", params: { a: 1, b: 2 } }]),
 *   ReplayModel.text("It is 3.")
 * ])
 * ```
 *
 * A step written as whole parts is served as stream parts to `streamText`
 * (text in one delta), and stream parts are joined for `generateText`, so
 * one script serves both. `ReplayModel.Recorder` (in the same layer) reads
 * the requests.
 */
import { Context, Effect, Layer, Ref, Stream } from "effect"
import { AiError, LanguageModel, type Prompt, type Response, type Tool } from "effect/ai"

// ---------------------------------------------------------------------------
// the script
// ---------------------------------------------------------------------------

/** What the model was asked, as the replay model saw it. */
export interface Request {
  /** Which method of `LanguageModel` was called (`generateObject` arrives as `generateText` with a JSON format). */
  readonly method: "generateText" | "streamText"
  readonly prompt: Prompt.Prompt
  /** The tools offered to the model, in the toolkit's order. */
  readonly tools: ReadonlyArray<Tool.Any>
  readonly toolChoice: LanguageModel.ProviderOptions["toolChoice"]
  readonly responseFormat: LanguageModel.ProviderOptions["responseFormat"]
}

/** Token counts of a scripted answer (the replay model's `finish` part carries them as `Response.Usage`). */
export interface UsageInput {
  readonly inputTokens?: number | undefined
  readonly outputTokens?: number | undefined
}

/** One step of a script. */
export type Step =
  | { readonly _tag: "Parts"; readonly parts: ReadonlyArray<Response.PartEncoded> }
  | { readonly _tag: "Stream"; readonly parts: ReadonlyArray<Response.StreamPartEncoded> }
  | { readonly _tag: "Fail"; readonly reason: AiError.AiErrorReason }
  | {
    readonly _tag: "Respond"
    readonly respond: (request: Request) => Step | Effect.Effect<Step, AiError.AiError>
  }

/** Options of a scripted answer. */
export interface AnswerOptions {
  readonly usage?: UsageInput | undefined
  /** Defaults to `stop` for text and `tool-calls` for tool calls. */
  readonly finishReason?: Response.FinishReason | undefined
}

/** A tool call in a script; `id` defaults to `call_<step>_<n>` (the step's place in the script, the call's in the step). */
export interface ToolCallInput {
  readonly name: string
  readonly params: unknown
  readonly id?: string | undefined
}

const usagePart = (usage: UsageInput | undefined): Response.FinishPartEncoded["usage"] => ({
  inputTokens: { total: usage?.inputTokens, uncached: undefined, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: usage?.outputTokens, text: undefined, reasoning: undefined }
})

const finishPart = (reason: Response.FinishReason, usage: UsageInput | undefined): Response.FinishPartEncoded => ({
  type: "finish",
  reason,
  usage: usagePart(usage)
})

/** A final text answer. */
export const text = (answer: string, options?: AnswerOptions): Step => ({
  _tag: "Parts",
  parts: [{ type: "text", text: answer }, finishPart(options?.finishReason ?? "stop", options?.usage)]
})

/**
 * An answer that calls tools (several at once when given several), with an
 * optional text before the calls.
 */
export const toolCalls = (
  calls: ReadonlyArray<ToolCallInput>,
  options?: AnswerOptions & { readonly text?: string | undefined }
): Step => ({
  _tag: "Parts",
  parts: [
    ...(options?.text === undefined ? [] : [{ type: "text" as const, text: options.text }]),
    ...calls.map((call): Response.ToolCallPartEncoded => ({
      type: "tool-call",
      id: call.id ?? "",
      name: call.name,
      params: call.params
    })),
    finishPart(options?.finishReason ?? "tool-calls", options?.usage)
  ]
})

/** An answer given as raw `effect/ai` response parts (a `finish` part is not added). */
export const parts = (content: ReadonlyArray<Response.PartEncoded>): Step => ({ _tag: "Parts", parts: content })

/**
 * An answer given as stream parts, as a provider would stream it (served
 * joined to `generateText`). A text answer in chunks: `streamOf(["Hel", "lo"])`.
 */
export const stream = (content: ReadonlyArray<Response.StreamPartEncoded>): Step => ({ _tag: "Stream", parts: content })

/** A text answer streamed in the given chunks. */
export const streamOf = (chunks: ReadonlyArray<string>, options?: AnswerOptions): Step =>
  stream([
    { type: "text-start", id: "t0" },
    ...chunks.map((delta): Response.StreamPartEncoded => ({ type: "text-delta", id: "t0", delta })),
    { type: "text-end", id: "t0" },
    finishPart(options?.finishReason ?? "stop", options?.usage)
  ])

/** A request that fails with this reason (a rate limit, a content filter...), as a provider would. */
export const fail = (reason: AiError.AiErrorReason): Step => ({ _tag: "Fail", reason })

/** A step computed from the request: answer from what is in the prompt, or check it. */
export const respond = (f: (request: Request) => Step | Effect.Effect<Step, AiError.AiError>): Step => ({
  _tag: "Respond",
  respond: f
})

// ---------------------------------------------------------------------------
// what happened
// ---------------------------------------------------------------------------

/** The replay model's record: every request it got, and how much of the script is left. */
export class Recorder extends Context.Service<Recorder, {
  /** The requests in arrival order, including the first one that found the script exhausted. */
  readonly requests: Effect.Effect<ReadonlyArray<Request>>
  /** How many steps have not been played yet. */
  readonly remaining: Effect.Effect<number>
}>()("effect-agents/ai/ReplayModel/Recorder") {}

const exhaustedDescription = "replay script exhausted"

/** Whether `error` is the one a replay model fails with when its script has run out. */
export const isExhausted = (error: unknown): boolean =>
  AiError.isAiError(error) && error.module === "ReplayModel" && error.reason._tag === "InvalidRequestError" &&
  (error.reason.description ?? "").startsWith(exhaustedDescription)

// ---------------------------------------------------------------------------
// the model
// ---------------------------------------------------------------------------

const toStreamParts = (content: ReadonlyArray<Response.PartEncoded>): Array<Response.StreamPartEncoded> => {
  const out: Array<Response.StreamPartEncoded> = []
  content.forEach((part, i) => {
    if (part.type === "text") {
      const id = `t${i}`
      out.push({ type: "text-start", id }, { type: "text-delta", id, delta: part.text }, { type: "text-end", id })
    } else if (part.type === "reasoning") {
      const id = `r${i}`
      out.push({ type: "reasoning-start", id }, { type: "reasoning-delta", id, delta: part.text }, {
        type: "reasoning-end",
        id
      })
    } else if (part.type !== "reasoning-delta" && part.type !== "reasoning-end") {
      out.push(part)
    }
  })
  return out
}

const toParts = (content: ReadonlyArray<Response.StreamPartEncoded>): Array<Response.PartEncoded> => {
  const out: Array<Response.PartEncoded> = []
  const open = new Map<string, { readonly index: number; readonly kind: "text" | "reasoning"; text: string }>()
  for (const part of content) {
    switch (part.type) {
      case "text-start":
      case "reasoning-start":
        open.set(part.id, { index: out.length, kind: part.type === "text-start" ? "text" : "reasoning", text: "" })
        out.push({ type: "text", text: "" })
        break
      case "text-delta":
      case "reasoning-delta": {
        const block = open.get(part.id)
        if (block !== undefined) block.text += part.delta
        break
      }
      case "text-end":
      case "reasoning-end":
      case "tool-params-start":
      case "tool-params-delta":
      case "tool-params-end":
      case "error":
        break
      default:
        out.push(part)
    }
  }
  for (const block of open.values()) out[block.index] = { type: block.kind, text: block.text }
  return out
}

// tool calls scripted without an id get one from their place, so a replay is the same every time
const withCallIds = <S extends Extract<Step, { readonly parts: unknown }>>(step: S, index: number): S => {
  let n = 0
  const parts = step.parts.map((part) =>
    part.type === "tool-call" && part.id === "" ? { ...part, id: `call_${index}_${n++}` } : part
  )
  return { ...step, parts }
}

/** Builds a replay model over `script`, with its recorder. */
export const make = Effect.fnUntraced(function*(script: ReadonlyArray<Step>) {
  const cursor = yield* Ref.make(0)
  const requests = yield* Ref.make<ReadonlyArray<Request>>([])
  // at most one request past the end is kept: the script bounds the record
  const recordLimit = script.length + 1

  const next = (method: Request["method"], options: LanguageModel.ProviderOptions) =>
    Effect.gen(function*() {
      const request: Request = {
        method,
        prompt: options.prompt,
        tools: options.tools,
        toolChoice: options.toolChoice,
        responseFormat: options.responseFormat
      }
      yield* Ref.update(requests, (all) => all.length < recordLimit ? [...all, request] : all)
      const index = yield* Ref.getAndUpdate(cursor, (n) => Math.min(n + 1, script.length))
      let step = script[index]
      if (step === undefined) {
        return yield* AiError.make({
          module: "ReplayModel",
          method,
          reason: new AiError.InvalidRequestError({
            description: `${exhaustedDescription}: all ${script.length} scripted responses were served`
          })
        })
      }
      while (step._tag === "Respond") {
        const produced: Step | Effect.Effect<Step, AiError.AiError> = step.respond(request)
        step = Effect.isEffect(produced) ? yield* produced : produced
      }
      if (step._tag === "Fail") return yield* AiError.make({ module: "ReplayModel", method, reason: step.reason })
      return withCallIds(step, index)
    })

  const model = yield* LanguageModel.make({
    generateText: (options) =>
      next("generateText", options).pipe(
        Effect.map((step) => step._tag === "Parts" ? [...step.parts] : toParts(step.parts))
      ),
    streamText: (options) =>
      Stream.unwrap(next("streamText", options).pipe(
        Effect.map((step) => Stream.fromIterable(step._tag === "Stream" ? step.parts : toStreamParts(step.parts)))
      ))
  })

  const recorder = Recorder.of({
    requests: Ref.get(requests),
    remaining: Effect.map(Ref.get(cursor), (n) => script.length - n)
  })
  return { model, recorder }
})

/**
 * A `LanguageModel` playing `script`, and its `Recorder`. Each build of the
 * layer starts the script from its first step.
 */
export const layer = (script: ReadonlyArray<Step>): Layer.Layer<LanguageModel.LanguageModel | Recorder> =>
  Layer.effectContext(Effect.map(make(script), ({ model, recorder }) =>
    Context.make(LanguageModel.LanguageModel, model).pipe(Context.add(Recorder, recorder))))
