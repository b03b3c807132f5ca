/**
 * A bounded tool-calling loop over `effect/ai`: ask the model, run the tools
 * it calls (in parallel), give it the results, and again, until it answers
 * without calling a tool or `maxSteps` model calls have been made.
 * `LanguageModel.generateText` resolves one round of tool calls per call;
 * AutoGen's loop repeats without a cap. Here every way out is typed:
 *
 * - the answer: `ToolLoop.Result` (text, steps, usage summed over steps,
 *   and the messages of the run);
 * - `UnknownToolError`, `InvalidToolArgumentsError`, `ToolFailedError`
 *   when a call cannot be answered, unless `toolErrors: "return"` gives
 *   them back to the model as failed results (so it can correct itself);
 * - `StepLimitReachedError` with the transcript so far when the model still
 *   calls tools at the last step;
 * - the model's own `AiError`.
 *
 * With a `ModelContext` the conversation is kept there (each step's tool
 * calls are added together with their results, so no store can split
 * them); without one, the run starts from `prompt` alone.
 *
 * ```ts
 * const result = yield* ToolLoop.run({ toolkit: MathTools, context, prompt: "What is 2 + 3?", maxSteps: 5 })
 * ```
 *
 * `ToolLoop.stream` runs the same loop on `streamText`, for a user who
 * watches: the model's parts as they come, each tool result, then the result.
 */
import { Effect, Queue, Schema, Stream } from "effect"
import { type AiError, LanguageModel, Prompt, Response, type Tool, type Toolkit } from "effect/ai"
import * as ModelContext from "../context/ModelContext.ts"
import * as UnboundedContext from "../context/UnboundedContext.ts"
import { fromHandleFailure, type ToolCallError } from "./ToolError.ts"

export { InvalidToolArgumentsError, ToolFailedError, UnknownToolError } from "./ToolError.ts"

/** The model still called tools at its last allowed step. */
export class StepLimitReachedError extends Schema.TaggedError<StepLimitReachedError>(
  "effect-agents/ai/ToolLoop/StepLimitReachedError"
)("StepLimitReachedError", {
  maxSteps: Schema.Number,
  /** The messages of the run up to the limit, ending with the assistant's unanswered calls. */
  transcript: Schema.Array(Prompt.Message),
  /** Usage summed over the steps made. */
  usage: Response.Usage
}) {
  override get message(): string {
    return `the model was still calling tools after ${this.maxSteps} steps`
  }
}

/** How a run can fail (besides the model's `AiError` and the context's errors). */
export type ToolLoopError = ToolCallError | StepLimitReachedError

/** What a run ends with. */
export interface Result {
  /** The final answer's text. */
  readonly text: string
  readonly finishReason: Response.FinishReason
  /** How many model calls were made. */
  readonly steps: number
  /** Usage summed over every step (a count stays `undefined` only if no step reported it). */
  readonly usage: Response.Usage
  /** The messages this run added to the conversation (its input first, if any), ending with the answer. */
  readonly transcript: ReadonlyArray<Prompt.Message>
}

/** Options of a run. */
export interface Options<Tools extends Record<string, Tool.Any>, E, R> {
  /** The tools, with handlers: a `Toolkit` (its handlers come from the environment) or its resolved `WithHandler`. */
  readonly toolkit: Toolkit.WithHandler<Tools> | Effect.Effect<Toolkit.WithHandler<Tools>, E, R>
  /** Input for this run (a user's text, or messages); added to the context first. */
  readonly prompt?: ModelContext.Input | undefined
  /** Where the conversation is kept; an unbounded context of this run alone if not given. */
  readonly context?: ModelContext.ModelContext | undefined
  /** The most model calls in this run (default 10); a whole number of at least 1. */
  readonly maxSteps?: number | undefined
  /**
   * What an unknown tool, invalid arguments or a failed handler does:
   * `"fail"` (the default) ends the run with the typed error; `"return"`
   * gives the model a failed result saying what went wrong, and goes on.
   * (A tool declared with `failureMode: "return"` always returns its own
   * failures to the model.)
   */
  readonly toolErrors?: "fail" | "return" | undefined
  /** How many calls of one step run at once (default 8). */
  readonly concurrency?: number | undefined
  readonly toolChoice?: LanguageModel.ToolChoice<Tools[keyof Tools]["name"]> | undefined
}

/** Adds two usages, field by field; a field neither reported stays `undefined`. */
export const addUsage = (a: Response.Usage, b: Response.Usage): Response.Usage => {
  const plus = (x: number | undefined, y: number | undefined) => x === undefined && y === undefined ? undefined : (x ?? 0) + (y ?? 0)
  return new Response.Usage({
    inputTokens: {
      uncached: plus(a.inputTokens.uncached, b.inputTokens.uncached),
      total: plus(a.inputTokens.total, b.inputTokens.total),
      cacheRead: plus(a.inputTokens.cacheRead, b.inputTokens.cacheRead),
      cacheWrite: plus(a.inputTokens.cacheWrite, b.inputTokens.cacheWrite)
    },
    outputTokens: {
      total: plus(a.outputTokens.total, b.outputTokens.total),
      text: plus(a.outputTokens.text, b.outputTokens.text),
      reasoning: plus(a.outputTokens.reasoning, b.outputTokens.reasoning)
    }
  })
}

const noUsage = new Response.Usage({
  inputTokens: { uncached: undefined, total: undefined, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: undefined, text: undefined, reasoning: undefined }
})

interface Call {
  readonly id: string
  readonly name: string
  readonly params: unknown
}

/** What `stream` emits while a run goes on. */
export type Event =
  /** A part of the model's answer at `step`, as it streams (text deltas, tool calls, the finish with its usage). */
  | { readonly _tag: "Part"; readonly step: number; readonly part: Response.StreamPart<any, "deferred"> }
  /** The result of one tool call of `step`, as the model will read it. */
  | { readonly _tag: "ToolResult"; readonly step: number; readonly result: Prompt.ToolResultPart }
  /** The run is over: the same `Result` as `run` gives. */
  | { readonly _tag: "Done"; readonly result: Result }

/** What a run can fail with, given its toolkit's error. */
export type RunError<E> = ToolLoopError | AiError.AiError | ModelContext.ModelContextError | ModelContext.InvalidOptionsError | E

/** What a run needs, given its toolkit. */
export type RunServices<Tools extends Record<string, Tool.Any>, R> = LanguageModel.LanguageModel | R | Tool.HandlerServices<Tools[keyof Tools]>

/** One model call as the loop uses it: the answer's parts, however they came. */
interface Answer {
  readonly parts: ReadonlyArray<Response.AnyPart>
  readonly text: string
  readonly finishReason: Response.FinishReason
  readonly usage: Response.Usage
}

const textOf = (messages: ReadonlyArray<Prompt.Message>): string =>
  messages.flatMap((message) =>
    message.role === "assistant" ? message.content.flatMap((part) => part.type === "text" ? [part.text] : []) : []
  ).join("")

const loop = Effect.fnUntraced(function*<Tools extends Record<string, Tool.Any>, E, R>(
  options: Options<Tools, E, R>,
  emit: ((event: Event) => Effect.Effect<void>) | undefined
) {
  const maxSteps = yield* ModelContext.wholeNumber("ToolLoop", "maxSteps", options.maxSteps ?? 10, 1)
  const concurrency = yield* ModelContext.wholeNumber("ToolLoop", "concurrency", options.concurrency ?? 8, 1)
  const toolkit: Toolkit.WithHandler<Tools> = Effect.isEffect(options.toolkit) ? yield* options.toolkit : options.toolkit
  const available = Object.keys(toolkit.tools)
  const model = yield* LanguageModel.LanguageModel
  const context = options.context ?? (yield* UnboundedContext.make())
  const transcript: Array<Prompt.Message> = []
  const record = (messages: ReadonlyArray<Prompt.Message>) =>
    Effect.tap(context.add(messages), () => Effect.sync(() => transcript.push(...messages)))

  if (options.prompt !== undefined) yield* record(yield* ModelContext.toMessages(options.prompt, "run"))

  // one call's result part; with toolErrors "return", a failure becomes a result the model reads
  const resolve = (call: Call): Effect.Effect<Prompt.ToolResultPart, ToolCallError, any> =>
    toolkit.handle(call.name, call.params as never, call.id).pipe(
      Effect.flatMap((results) => Stream.runLast(Stream.filter(results, (result) => !result.preliminary))),
      Effect.flatMap((last) =>
        last._tag === "Some"
          ? Effect.succeed(Prompt.makePart("tool-result", {
            id: call.id,
            name: call.name,
            isFailure: last.value.isFailure,
            result: last.value.encodedResult,
            ...(last.value.modelOutput === undefined ? {} : { modelOutput: last.value.modelOutput }),
            providerExecuted: false
          }))
          : Effect.fail(new Error("the handler ended without a result"))
      ),
      Effect.mapError((error) => fromHandleFailure(call.name, call.id, available, error)),
      Effect.catch((error) =>
        options.toolErrors === "return"
          ? Effect.succeed(Prompt.makePart("tool-result", {
            id: call.id,
            name: call.name,
            isFailure: true,
            result: { error: error._tag, message: error.message },
            providerExecuted: false
          }))
          : Effect.fail(error)
      )
    )

  const request = (prompt: Prompt.Prompt) => ({
    prompt,
    toolkit,
    toolChoice: options.toolChoice,
    // calls are resolved here, not by the model call: an unknown tool must reach the loop as a call, not a decoding error
    disableToolCallResolution: true,
    toolCallValidation: "deferred"
  })

  const ask = (step: number, prompt: Prompt.Prompt): Effect.Effect<Answer, AiError.AiError, any> => {
    if (emit === undefined) {
      return Effect.map(
        (model.generateText as any)(request(prompt)) as Effect.Effect<LanguageModel.GenerateTextResponse<any, "deferred">, AiError.AiError>,
        (response) => ({ parts: response.content, text: response.text, finishReason: response.finishReason, usage: response.usage })
      )
    }
    const parts: Array<Response.StreamPart<any, "deferred">> = []
    return ((model.streamText as any)(request(prompt)) as Stream.Stream<Response.StreamPart<any, "deferred">, AiError.AiError>).pipe(
      Stream.runForEach((part) => {
        parts.push(part)
        return emit({ _tag: "Part", step, part })
      }),
      Effect.map(() => {
        const finish = parts.find((part) => part.type === "finish")
        return {
          parts,
          text: textOf(Prompt.fromResponseParts(parts).content),
          finishReason: finish?.reason ?? "unknown",
          usage: finish?.usage ?? noUsage
        }
      })
    )
  }

  let usage = noUsage
  for (let step = 1;; step++) {
    const response = yield* ask(step, yield* context.prompt)
    usage = addUsage(usage, response.usage)
    const calls: Array<Call> = response.parts.flatMap((part) =>
      part.type === "tool-call" && part.providerExecuted !== true ? [{ id: part.id, name: part.name, params: part.params }] : []
    )
    const answer = Prompt.fromResponseParts(response.parts).content
    if (calls.length === 0) {
      yield* record(answer)
      return { text: response.text, finishReason: response.finishReason, steps: step, usage, transcript } satisfies Result
    }
    if (step >= maxSteps) {
      // the calls are not run: their results would never be read; the context keeps its last whole exchange
      return yield* new StepLimitReachedError({ maxSteps, transcript: [...transcript, ...answer], usage })
    }
    const results = yield* Effect.forEach(
      calls,
      (call) => emit === undefined ? resolve(call) : Effect.tap(resolve(call), (result) => emit({ _tag: "ToolResult", step, result })),
      { concurrency }
    )
    yield* record([...answer, Prompt.makeMessage("tool", { content: results })])
  }
})

/** Runs the loop on `LanguageModel.generateText`, to its end. */
export const run: <Tools extends Record<string, Tool.Any>, E = never, R = never>(
  options: Options<Tools, E, R>
) => Effect.Effect<Result, RunError<E>, RunServices<Tools, R>> = Effect.fn("ToolLoop.run")(function*(options: Options<any, any, any>) {
  return yield* loop(options, undefined)
}) as any

/**
 * Runs the loop on `LanguageModel.streamText`, emitting the model's parts as
 * they stream, each tool result as it is ready, and the `Result` last (then
 * the stream ends). It fails as `run` does. The consumer sets the pace: a
 * slow reader holds the model back instead of being buffered for (at most
 * 64 events wait).
 */
export const stream = <Tools extends Record<string, Tool.Any>, E = never, R = never>(
  options: Options<Tools, E, R>
): Stream.Stream<Event, RunError<E>, RunServices<Tools, R>> =>
  Stream.callback<Event, RunError<E>, RunServices<Tools, R>>((queue) =>
    (loop(options, (event) => Effect.asVoid(Queue.offer(queue, event))) as Effect.Effect<Result, RunError<E>, RunServices<Tools, R>>).pipe(
      Effect.flatMap((result) => Queue.offer(queue, { _tag: "Done", result })),
      Effect.andThen(Queue.end(queue))
    ), { bufferSize: 64, strategy: "suspend" }).pipe(Stream.withSpan("ToolLoop.stream"))
