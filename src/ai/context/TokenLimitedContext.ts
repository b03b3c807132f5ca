/**
 * The context that shows as many of the latest messages as fit in a number
 * of tokens, counted by the environment's `effect/ai` `Tokenizer` (the
 * model's own, for exact counts). Leading system messages are always kept
 * and count against the limit; the rest is kept in whole units (an
 * assistant's tool calls with their results), from the latest back, and
 * never opens on an orphaned result. AutoGen's
 * `TokenLimitedChatCompletionContext` drops messages from the middle, one at
 * a time, and `Tokenizer.truncate` cuts message by message: either can keep
 * a call without its result.
 *
 * When the system messages and the latest unit together exceed the limit,
 * showing less would lose the turn the model must answer, so `messages` (and
 * `add`) fail with `ContextOverflowError`. Older messages are dropped on
 * `add`, so the state stays within the limit.
 */
import { Effect, type Ref } from "effect"
import { Prompt, Tokenizer } from "effect/ai"
import * as ModelContext from "./ModelContext.ts"
import { flatten, size, split, trimOrphans, type Unit } from "./internal/Units.ts"

/** Options of a token-limited context. */
export interface Options {
  /** The most tokens the model is shown (a whole number of at least 1). */
  readonly maxTokens: number
  /** Where the state lives (an `Agent.state` cell, to be saved with the agent); a fresh `Ref` if not given. */
  readonly state?: Ref.Ref<ModelContext.State> | undefined
}

const count = (tokenizer: Tokenizer.Service, messages: ReadonlyArray<Prompt.Message>) =>
  messages.length === 0
    ? Effect.succeed(0)
    : Effect.map(tokenizer.tokenize(Prompt.fromMessages(messages)), (tokens) => tokens.length)

/** The policy of a context of `maxTokens`, counted by `tokenizer`. */
export const policy = (maxTokens: number, tokenizer: Tokenizer.Service): ModelContext.Policy => ({
  compact: Effect.fnUntraced(function*(state) {
    const { pinned, units } = split(state.messages)
    const whole = yield* count(tokenizer, state.messages)
    if (whole <= maxTokens && (units.length === 0 || !units[0]!.orphan)) return state
    // each unit's count, summed from the latest back, finds the cut without tokenizing every candidate
    const pinnedTokens = yield* count(tokenizer, pinned)
    const unitTokens = yield* Effect.forEach(units, (unit) => count(tokenizer, unit.messages))
    let start = units.length
    let total = pinnedTokens
    while (start > 0 && total + unitTokens[start - 1]! <= maxTokens) {
      total += unitTokens[start - 1]!
      start--
    }
    let kept: Array<Unit> = trimOrphans(units.slice(start))
    // a prompt may count more than its messages apart (framing tokens): drop more until the whole fits
    while (kept.length > 0 && (yield* count(tokenizer, [...pinned, ...flatten(kept)])) > maxTokens) {
      kept = trimOrphans(kept.slice(1))
    }
    const latest = units[units.length - 1]
    if (latest === undefined && pinnedTokens > maxTokens) {
      return yield* new ModelContext.ContextOverflowError({ limit: maxTokens, needed: pinnedTokens })
    }
    if (latest !== undefined && !kept.includes(latest)) {
      return yield* new ModelContext.ContextOverflowError({
        limit: maxTokens,
        needed: yield* count(tokenizer, [...pinned, ...latest.messages])
      })
    }
    return {
      messages: [...pinned, ...flatten(kept)],
      dropped: state.dropped + size(units) - size(kept),
      droppedAt: pinned.length
    }
  }),
  view: (state) => state.messages
})

/**
 * A context showing the latest messages that fit in `maxTokens`, in whole
 * tool-call units, counted by the `Tokenizer` of the environment.
 */
export const make = (
  options: Options
): Effect.Effect<ModelContext.ModelContext, ModelContext.InvalidOptionsError, Tokenizer.Tokenizer> =>
  Effect.gen(function*() {
    const maxTokens = yield* ModelContext.wholeNumber("TokenLimitedContext", "maxTokens", options.maxTokens, 1)
    const tokenizer = yield* Tokenizer.Tokenizer
    return yield* ModelContext.make(policy(maxTokens, tokenizer), options.state)
  })
