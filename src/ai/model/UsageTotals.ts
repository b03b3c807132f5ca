/**
 * Token accounting across a program: every answer of a tracked
 * `LanguageModel` (generated, structured or streamed) adds its
 * `Response.Usage` to running totals, overall and per model name, that any
 * part of the program can read, reset, or save (the totals are Schema data).
 *
 * `UsageTotals.layer` holds the totals; `UsageTotals.tracked` wraps the
 * `LanguageModel` below it so that its answers are counted, under the model's
 * `Model.ModelName`. Several tracked models can share one store:
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { LanguageModel } from "effect/ai"
 * import { FetchHttpClient } from "effect/http"
 * import { OpenAiCompatible, UsageTotals } from "effect-agents/ai"
 *
 * const Model = UsageTotals.tracked.pipe(
 *   Layer.provide(OpenAiCompatible.layer({ baseUrl: "http://127.0.0.1:11434/v1", model: "llama3.2" })),
 *   Layer.provide(FetchHttpClient.layer)
 * )
 *
 * const program = Effect.gen(function*() {
 *   yield* LanguageModel.generateText({ prompt: "Say hi" })
 *   const totals = yield* UsageTotals.totals
 *   console.log(totals.inputTokens, totals.outputTokens)
 * }).pipe(Effect.provide(Model), Effect.provide(UsageTotals.layer))
 * ```
 */
import { Context, Effect, Layer, Option, Ref, Schema, Stream } from "effect"
import { LanguageModel, Model, type Response } from "effect/ai"

/** Counts of one model (or of all). */
export class Counts extends Schema.Class<Counts>("effect-agents/ai/UsageTotals/Counts")({
  /** Answers counted. */
  requests: Schema.Int,
  inputTokens: Schema.Int,
  outputTokens: Schema.Int,
  /** Input plus output. */
  totalTokens: Schema.Int,
  /** Input tokens the provider served from its prompt cache (when it says). */
  cachedInputTokens: Schema.Int,
  /** Output tokens spent on reasoning (when the provider says). */
  reasoningTokens: Schema.Int
}) {
  /** No usage yet. */
  static readonly zero = new Counts({
    requests: 0,
    inputTokens: 0,
    outputTokens: 0,
    totalTokens: 0,
    cachedInputTokens: 0,
    reasoningTokens: 0
  })

  /** These counts with one more answer's usage. */
  add(usage: Response.Usage): Counts {
    const input = usage.inputTokens.total ?? 0
    const output = usage.outputTokens.total ?? 0
    return new Counts({
      requests: this.requests + 1,
      inputTokens: this.inputTokens + input,
      outputTokens: this.outputTokens + output,
      totalTokens: this.totalTokens + input + output,
      cachedInputTokens: this.cachedInputTokens + (usage.inputTokens.cacheRead ?? 0),
      reasoningTokens: this.reasoningTokens + (usage.outputTokens.reasoning ?? 0)
    })
  }
}

/** Totals overall and per model name. */
export class Totals extends Schema.Class<Totals>("effect-agents/ai/UsageTotals/Totals")({
  all: Counts,
  byModel: Schema.Record(Schema.String, Counts)
}) {
  /** Nothing counted yet. */
  static readonly empty = new Totals({ all: Counts.zero, byModel: {} })

  get requests(): number {
    return this.all.requests
  }
  get inputTokens(): number {
    return this.all.inputTokens
  }
  get outputTokens(): number {
    return this.all.outputTokens
  }
  get totalTokens(): number {
    return this.all.totalTokens
  }
}

/** Most model names counted apart; further names are counted under `OTHER_MODELS`. */
export const MAX_MODELS = 256
/** The bucket of models past `MAX_MODELS`, and of models without a `Model.ModelName`. */
export const OTHER_MODELS = "(other)"

/** The store of totals. */
export class UsageTotals extends Context.Service<UsageTotals, {
  /** The totals so far. */
  readonly totals: Effect.Effect<Totals>
  /** Adds one answer's usage under a model name. */
  readonly record: (model: string, usage: Response.Usage) => Effect.Effect<void>
  /** Starts again from zero. */
  readonly reset: Effect.Effect<void>
}>()("effect-agents/ai/UsageTotals") {}

/** A store of totals, starting from `initial` (a saved `Totals`) or zero. */
export const make = (initial: Totals = Totals.empty) =>
  Effect.map(Ref.make(initial), (ref) =>
    UsageTotals.of({
      totals: Ref.get(ref),
      record: (model, usage) =>
        Ref.update(ref, (totals) => {
          const key = Object.hasOwn(totals.byModel, model) || Object.keys(totals.byModel).length < MAX_MODELS
            ? model
            : OTHER_MODELS
          return new Totals({
            all: totals.all.add(usage),
            byModel: { ...totals.byModel, [key]: (totals.byModel[key] ?? Counts.zero).add(usage) }
          })
        }),
      reset: Ref.set(ref, Totals.empty)
    }))

/** Provides a store of totals. */
export const layer: Layer.Layer<UsageTotals> = Layer.effect(UsageTotals)(make())

/** Provides a store of totals that starts from saved ones. */
export const layerFrom = (initial: Totals): Layer.Layer<UsageTotals> => Layer.effect(UsageTotals)(make(initial))

/** The totals so far. */
export const totals: Effect.Effect<Totals, never, UsageTotals> = Effect.flatMap(Effect.service(UsageTotals), (s) => s.totals)

/** Starts the totals again from zero. */
export const reset: Effect.Effect<void, never, UsageTotals> = Effect.flatMap(Effect.service(UsageTotals), (s) => s.reset)

/**
 * Wraps the `LanguageModel` below so that every answer's usage is recorded in
 * `UsageTotals`, under the model's `Model.ModelName` when the provider layer
 * gives one. A stream counts when its finish part goes by; a failed call
 * counts nothing (its usage is unknown).
 */
export const tracked: Layer.Layer<LanguageModel.LanguageModel, never, LanguageModel.LanguageModel | UsageTotals> =
  Layer.effect(LanguageModel.LanguageModel)(Effect.gen(function*() {
    const inner = yield* LanguageModel.LanguageModel
    const store = yield* UsageTotals
    const name = Option.getOrElse(yield* Effect.serviceOption(Model.ModelName), () => OTHER_MODELS)
    const record = (usage: Response.Usage) => store.record(name, usage)
    const generateText = ((options: any) =>
      Effect.tap(inner.generateText(options), (response) => record(response.usage))) as LanguageModel.LanguageModel["generateText"]
    const generateObject = ((options: any) =>
      Effect.tap(inner.generateObject(options), (response) => record(response.usage))) as LanguageModel.LanguageModel["generateObject"]
    const streamText = ((options: any) =>
      inner.streamText(options).pipe(
        Stream.tap((part: Response.StreamPart<any>) => part.type === "finish" ? record(part.usage) : Effect.void)
      )) as LanguageModel.LanguageModel["streamText"]
    return { ...inner, generateText, generateObject, streamText }
  }))
