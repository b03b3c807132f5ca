/**
 * A memory that finds the entries nearest to a question: each entry is
 * embedded once, when added, by the environment's `EmbeddingModel`, and a
 * query is embedded and compared with every entry by cosine similarity, in
 * process (AutoGen's vector memories delegate this to ChromaDB or Redis).
 * `updateContext` looks up the context's latest user message.
 *
 * Bounded: at most `maxEntries` entries (default 1000; the oldest go
 * first), a query costs one embedding and `entries x dimensions`
 * multiplications, and returns at most `limit` entries scoring at least
 * `minScore`. Vectors are stored with the entries (so loading a saved
 * memory embeds nothing); an entry whose vector has another length than
 * the query's (the model was changed) scores 0.
 */
import { Effect, Layer, Ref, Schema } from "effect"
import { type AiError, EmbeddingModel } from "effect/ai"
import * as Agent from "../../core/Agent.ts"
import * as ModelContext from "../context/ModelContext.ts"
import * as Memory from "./Memory.ts"

/** One stored entry: its content and its embedding. */
export const Entry = Schema.Struct({
  content: Memory.MemoryContent,
  vector: Schema.Array(Schema.Finite)
})

/** What an embedding memory stores: its entries, oldest first. */
export const State = Schema.Array(Entry)

/** What an embedding memory stores. */
export type State = typeof State.Type

/** Options of an embedding memory. */
export interface Options {
  /** The most entries kept (default 1000); the oldest is forgotten first. */
  readonly maxEntries?: number | undefined
  /** The most entries a query returns (default 3). */
  readonly limit?: number | undefined
  /** The least cosine similarity an entry needs to be returned (default 0: anything not unrelated). */
  readonly minScore?: number | undefined
  /** Where the entries live (an `Agent.state` cell, to be saved with the agent); a fresh `Ref` if not given. */
  readonly state?: Ref.Ref<State> | undefined
}

/** A cell of agent state holding an embedding memory's entries (call it in an agent's factory). */
export const agentState = (name = "memory"): Effect.Effect<Ref.Ref<State>, never, Agent.InstanceState> =>
  Agent.state(State, [], { name })

/** The cosine similarity of two vectors: 0 when either is all zeros or their lengths differ. */
export const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  if (a.length !== b.length) return 0
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!
    na += a[i]! * a[i]!
    nb += b[i]! * b[i]!
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}

/** An embedding memory over the environment's `EmbeddingModel`. */
export const make = (
  options?: Options
): Effect.Effect<Memory.Service, ModelContext.InvalidOptionsError, EmbeddingModel.EmbeddingModel> =>
  Effect.gen(function*() {
    const maxEntries = yield* ModelContext.wholeNumber("EmbeddingMemory", "maxEntries", options?.maxEntries ?? 1000, 1)
    const defaultLimit = yield* ModelContext.wholeNumber("EmbeddingMemory", "limit", options?.limit ?? 3, 1)
    const minScore = options?.minScore ?? 0
    if (!Number.isFinite(minScore)) {
      return yield* new ModelContext.InvalidOptionsError({ component: "EmbeddingMemory", issue: `minScore must be a number, got ${minScore}` })
    }
    const model = yield* EmbeddingModel.EmbeddingModel
    const ref = options?.state ?? (yield* Ref.make<State>([]))

    const query = (text: string, queryOptions?: Memory.QueryOptions): Effect.Effect<ReadonlyArray<Memory.QueryResult>, AiError.AiError> =>
      Effect.gen(function*() {
        const entries = yield* Ref.get(ref)
        if (entries.length === 0) return []
        const { vector } = yield* model.embed(text)
        const limit = Math.max(1, queryOptions?.limit ?? defaultLimit)
        return entries
          .map((entry) => ({ content: entry.content, score: cosine(vector, entry.vector) }))
          .filter((result) => result.score >= minScore && result.score > 0)
          .sort((x, y) => y.score - x.score)
          .slice(0, limit)
      })

    return Memory.Memory.of({
      add: (input) =>
        Effect.gen(function*() {
          const content = Memory.toContent(input)
          const { vector } = yield* model.embed(content.content)
          yield* Ref.update(ref, (entries) => [...entries, { content, vector }].slice(-maxEntries))
        }),
      query,
      updateContext: (context) =>
        Effect.gen(function*() {
          const text = Memory.latestUserText(yield* context.messages)
          if (text === "") return []
          const results = yield* query(text)
          if (results.length > 0) yield* context.add(Memory.contextMessage(results))
          return results
        }),
      clear: Ref.set(ref, [])
    })
  })

/** An embedding memory as the `Memory` service, for the life of the layer (not saved with any agent). */
export const layer = (
  options?: Omit<Options, "state">
): Layer.Layer<Memory.Memory, ModelContext.InvalidOptionsError, EmbeddingModel.EmbeddingModel> =>
  Layer.effect(Memory.Memory, make(options))
