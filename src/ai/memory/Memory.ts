/**
 * Memory is what an agent knows beyond its conversation: facts, preferences,
 * past results, added once and brought back into a model context when they
 * are relevant, as AutoGen's `Memory` protocol. `Memory` is the service;
 * `ListMemory` (everything, in order) and `EmbeddingMemory` (the entries
 * nearest to the conversation by an `EmbeddingModel`) implement it.
 *
 * Like model contexts, a memory's entries are a `Schema` value in a `Ref`:
 * give it an `Agent.state` cell and the runtime saves and loads it with the
 * agent. Every memory holds at most `maxEntries` entries (the oldest go
 * first), so it stays bounded.
 *
 * ```ts
 * const memory = yield* ListMemory.make()
 * yield* memory.add("The user prefers metric units.")
 * yield* memory.updateContext(context)   // adds the entries as a system message
 * ```
 */
import { Context, type Effect, Schema } from "effect"
import { type AiError, Prompt } from "effect/ai"
import type * as ModelContext from "../context/ModelContext.ts"

/** One entry: its text, and optional JSON metadata (a source, a time, a kind...). */
export const MemoryContent = Schema.Struct({
  content: Schema.String,
  metadata: Schema.optional(Schema.Record(Schema.String, Schema.Json))
})

/** One entry. */
export type MemoryContent = typeof MemoryContent.Type

/** An entry a query found, with its similarity to the query when the memory measures one (-1 to 1). */
export interface QueryResult {
  readonly content: MemoryContent
  readonly score?: number | undefined
}

/** Options of a query. */
export interface QueryOptions {
  /** The most entries to return (the memory's default if not given). */
  readonly limit?: number | undefined
}

/** What a memory does. */
export interface Service {
  /** Remembers an entry (the oldest is forgotten when the memory is full). */
  readonly add: (content: string | MemoryContent) => Effect.Effect<void, AiError.AiError>
  /** The entries relevant to `query`, most relevant first. */
  readonly query: (query: string, options?: QueryOptions) => Effect.Effect<ReadonlyArray<QueryResult>, AiError.AiError>
  /**
   * Adds the entries relevant to the context's latest user message to the
   * context, as one system message; returns them (none: nothing is added).
   */
  readonly updateContext: (
    context: ModelContext.ModelContext
  ) => Effect.Effect<ReadonlyArray<QueryResult>, AiError.AiError | ModelContext.ModelContextError>
  /** Forgets everything. */
  readonly clear: Effect.Effect<void>
}

/** The memory an agent uses, as a service. */
export class Memory extends Context.Service<Memory, Service>()("effect-agents/ai/Memory") {}

/** An entry from a string or an entry. */
export const toContent = (content: string | MemoryContent): MemoryContent =>
  typeof content === "string" ? { content } : content

/** The text of the latest user message of some messages (`""` if there is none): what memories look up. */
export const latestUserText = (messages: ReadonlyArray<Prompt.Message>): string => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!
    if (message.role === "user") return message.content.flatMap((part) => part.type === "text" ? [part.text] : []).join("\n")
  }
  return ""
}

/** The system message a memory adds to a context: its entries, numbered. */
export const contextMessage = (results: ReadonlyArray<QueryResult>): Prompt.Message =>
  Prompt.makeMessage("system", {
    content: `Relevant memory content:\n${results.map((result, i) => `${i + 1}. ${result.content.content}`).join("\n")}`
  })
