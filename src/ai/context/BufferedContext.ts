/**
 * The context that shows the last `size` messages (after the leading
 * system messages, which it always keeps), as AutoGen's
 * `BufferedChatCompletionContext`, except that it counts in whole units: an
 * assistant's tool calls and their results are kept or dropped together,
 * so the window may hold fewer than `size` messages, and the latest unit is
 * kept even when it alone holds more. Older messages are dropped on `add`,
 * so the state holds about `size` messages.
 */
import { Effect, type Ref } from "effect"
import * as ModelContext from "./ModelContext.ts"
import { flatten, lastWithin, size, split, trimOrphans } from "./internal/Units.ts"

/** Options of a buffered context. */
export interface Options {
  /** How many messages (besides leading system messages) the model is shown; a whole number of at least 1. */
  readonly size: number
  /** Where the state lives (an `Agent.state` cell, to be saved with the agent); a fresh `Ref` if not given. */
  readonly state?: Ref.Ref<ModelContext.State> | undefined
}

/** The policy of a buffered context of `limit` messages. */
export const policy = (limit: number): ModelContext.Policy => ({
  compact: (state) => {
    const { pinned, units } = split(state.messages)
    const kept = trimOrphans(lastWithin(units, limit))
    const dropped = size(units) - size(kept)
    return Effect.succeed(dropped === 0 ? state : {
      messages: [...pinned, ...flatten(kept)],
      dropped: state.dropped + dropped,
      droppedAt: pinned.length
    })
  },
  view: (state) => state.messages
})

/** A context showing the last `size` messages, in whole tool-call units. */
export const make = (options: Options): Effect.Effect<ModelContext.ModelContext, ModelContext.InvalidOptionsError> =>
  ModelContext.wholeNumber("BufferedContext", "size", options.size, 1).pipe(
    Effect.flatMap((size) => ModelContext.make(policy(size), options.state))
  )
