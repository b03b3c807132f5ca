/**
 * The agent of the streaming benchmarks: a writer that answers one message
 * with `n` small chunks (token-sized), as fast as its consumer takes them.
 * Shared by the bench process (standalone, and the caller through the host)
 * and the worker process that produces through the host.
 */
import { Effect, Schema, Stream } from "effect"
import { Agent } from "../src/index.ts"

export class Write extends Schema.TaggedClass<Write>()("Write", { n: Schema.Number }) {}
export class Token extends Schema.TaggedClass<Token>()("Token", { i: Schema.Number }) {}

export const Writer = Agent.make("bench-writer", {
  Write: Agent.stream(Write, { success: Token })
})

/** `n` tokens, produced in batches as the stream is pulled (Stream.range's chunks). */
export const WriterLive = Writer.toLayer(Effect.succeed(Writer.of({
  Write: ({ n }) => Stream.map(Stream.range(0, n - 1), (i) => new Token({ i }))
})))
