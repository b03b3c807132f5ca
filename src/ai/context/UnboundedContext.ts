/**
 * The context that keeps everything and shows everything: for short
 * conversations, and tests. It grows with the conversation, without a
 * bound; a long-lived agent wants `BufferedContext`, `HeadAndTailContext`
 * or `TokenLimitedContext` instead.
 */
import { Effect, type Ref } from "effect"
import * as ModelContext from "./ModelContext.ts"
import { flatten, split, trimOrphans } from "./internal/Units.ts"

/** Options of an unbounded context. */
export interface Options {
  /** Where the state lives (an `Agent.state` cell, to be saved with the agent); a fresh `Ref` if not given. */
  readonly state?: Ref.Ref<ModelContext.State> | undefined
}

const policy: ModelContext.Policy = {
  compact: Effect.succeed,
  view: (state) => {
    const { pinned, units } = split(state.messages)
    return [...pinned, ...flatten(trimOrphans(units))]
  }
}

/** A context that keeps every message. */
export const make = (options?: Options): Effect.Effect<ModelContext.ModelContext> =>
  ModelContext.make(policy, options?.state)
