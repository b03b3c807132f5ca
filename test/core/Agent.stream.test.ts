/**
 * `Agent.stream` in the types: a streaming handler must return a `Stream`
 * of its chunk schema (with only its declared error), and the typed
 * client's method returns a `Stream` of chunks failing with the declared
 * error or an `AgentError`. Each `@ts-expect-error` line must fail to
 * compile; the runtime test checks that the well-typed program runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import { Agent, type AgentError, StandaloneRuntime } from "../../src/index.ts"

class Prompt extends Schema.TaggedClass<Prompt>()("Prompt", { text: Schema.String }) {}
class Token extends Schema.TaggedClass<Token>()("Token", { text: Schema.String }) {}
class ModelDown extends Schema.TaggedError<ModelDown>()("ModelDown", {}) {}

const Writer = Agent.make("writer", {
  Tokens: Agent.stream(Prompt, { success: Token, error: ModelDown })
})

const WriterLive = Writer.toLayer(Effect.succeed(Writer.of({
  Tokens: ({ text }) =>
    text === "" ? Stream.fail(new ModelDown()) : Stream.fromIterable(text.split(" ").map((word) => new Token({ text: word })))
})))

export const wellTyped = Effect.gen(function*() {
  const writer = yield* Writer.client
  const tokens: Stream.Stream<Token, ModelDown | AgentError.AgentError> = writer("w").Tokens({ text: "a b c" }, { buffer: 4, idleTimeout: "1 second" })
  return yield* Stream.runCollect(tokens)
})

export const illTyped = Effect.gen(function*() {
  const writer = yield* Writer.client
  // @ts-expect-error the payload's text must be a string
  writer("w").Tokens({ text: 1 })
  // @ts-expect-error a streaming method returns a Stream, not an Effect
  yield* writer("w").Tokens({ text: "a" })
  // @ts-expect-error the chunks are Tokens
  const wrong: Stream.Stream<Prompt, unknown> = writer("w").Tokens({ text: "a" })
  return wrong
})

export const badHandlers = [
  // @ts-expect-error a streaming handler returns a Stream
  Writer.of({ Tokens: () => Effect.succeed(new Token({ text: "a" })) }),
  // @ts-expect-error its chunks must be of the chunk schema
  Writer.of({ Tokens: () => Stream.make(new Prompt({ text: "a" })) }),
  // @ts-expect-error it may fail only with its declared error
  Writer.of({ Tokens: () => Stream.fail("no") })
]

describe("Agent.stream types", () => {
  it.effect("the well-typed program runs", () =>
    Effect.gen(function*() {
      const tokens = yield* wellTyped
      assert.deepStrictEqual(tokens.map((t) => t.text), ["a", "b", "c"])
      const writer = yield* Writer.client
      const error = yield* Stream.runDrain(writer("w").Tokens({ text: "" })).pipe(Effect.flip)
      assert.instanceOf(error, ModelDown)
    }).pipe(Effect.provide(WriterLive), Effect.provide(StandaloneRuntime.layer())))
})
