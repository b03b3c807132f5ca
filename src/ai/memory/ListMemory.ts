/**
 * The simplest memory: a list of entries in the order they were added, as
 * AutoGen's `ListMemory`. A query returns the latest entries whatever it
 * asks (there is no relevance to measure), and `updateContext` adds them
 * all (up to `limit`), oldest first. For a handful of standing facts or
 * instructions; for many entries, `EmbeddingMemory` picks the relevant ones.
 */
import { Effect, Layer, Ref, Schema } from "effect"
import type { AiError } from "effect/ai"
import * as Agent from "../../core/Agent.ts"
import * as ModelContext from "../context/ModelContext.ts"
import * as Memory from "./Memory.ts"

/** What a list memory stores: its entries, oldest first. */
export const State = Schema.Array(Memory.MemoryContent)

/** What a list memory stores. */
export type State = typeof State.Type

/** Options of a list memory. */
export interface Options {
  /** The most entries kept (default 1000); the oldest is forgotten first. */
  readonly maxEntries?: number | undefined
  /** The most entries a query returns, and `updateContext` adds (default 50). */
  readonly limit?: number | undefined
  /** Where the entries live (an `Agent.state` cell, to be saved with the agent); a fresh `Ref` if not given. */
  readonly state?: Ref.Ref<State> | undefined
}

/** A cell of agent state holding a list memory's entries (call it in an agent's factory). */
export const agentState = (name = "memory"): Effect.Effect<Ref.Ref<State>, never, Agent.InstanceState> =>
  Agent.state(State, [], { name })

/** A list memory. */
export const make = (options?: Options): Effect.Effect<Memory.Service, ModelContext.InvalidOptionsError> =>
  Effect.gen(function*() {
    const maxEntries = yield* ModelContext.wholeNumber("ListMemory", "maxEntries", options?.maxEntries ?? 1000, 1)
    const defaultLimit = yield* ModelContext.wholeNumber("ListMemory", "limit", options?.limit ?? 50, 1)
    const ref = options?.state ?? (yield* Ref.make<State>([]))
    const query = (_query: string, queryOptions?: Memory.QueryOptions): Effect.Effect<ReadonlyArray<Memory.QueryResult>, AiError.AiError> =>
      Effect.map(Ref.get(ref), (entries) => entries.slice(-Math.max(1, queryOptions?.limit ?? defaultLimit)).map((content) => ({ content })))
    return Memory.Memory.of({
      add: (content) => Ref.update(ref, (entries) => [...entries, Memory.toContent(content)].slice(-maxEntries)),
      query,
      updateContext: (context) =>
        Effect.gen(function*() {
          const results = yield* query("")
          if (results.length > 0) yield* context.add(Memory.contextMessage(results))
          return results
        }),
      clear: Ref.set(ref, [])
    })
  })

/** A list memory as the `Memory` service, for the life of the layer (not saved with any agent). */
export const layer = (options?: Omit<Options, "state">): Layer.Layer<Memory.Memory, ModelContext.InvalidOptionsError> =>
  Layer.effect(Memory.Memory, make(options))
