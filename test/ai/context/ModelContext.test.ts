import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref, Schema } from "effect"
import { Prompt, Tokenizer } from "effect/ai"
import * as BufferedContext from "../../../src/ai/context/BufferedContext.ts"
import * as HeadAndTailContext from "../../../src/ai/context/HeadAndTailContext.ts"
import * as ModelContext from "../../../src/ai/context/ModelContext.ts"
import * as TokenLimitedContext from "../../../src/ai/context/TokenLimitedContext.ts"
import * as UnboundedContext from "../../../src/ai/context/UnboundedContext.ts"
import { assertWhole, assistant, conversation, exchange, labels, system, user } from "./conversation.ts"

/** One token per word of text, per tool call and per tool result: easy to count by hand. */
const wordTokenizer = Tokenizer.make({
  tokenize: (prompt) =>
    Effect.succeed(prompt.content.flatMap((message) => {
      if (typeof message.content === "string") return message.content.split(/\s+/).filter(Boolean)
      return message.content.flatMap((part) =>
        part.type === "text" ? part.text.split(/\s+/).filter(Boolean) : part.type === "tool-call" || part.type === "tool-result" ? [part.id] : []
      )
    }).map((_, i) => i))
})

const withTokenizer = Effect.provideService(Tokenizer.Tokenizer, wordTokenizer)

const addAll = (context: ModelContext.ModelContext, units: ReadonlyArray<ReadonlyArray<Prompt.Message>>) =>
  Effect.forEach(units, (unit) => context.add(unit), { discard: true })

const roundTrip = (state: ModelContext.State): ModelContext.State => {
  const codec = Schema.toCodecJson(ModelContext.State)
  return Schema.decodeUnknownSync(codec)(JSON.parse(JSON.stringify(Schema.encodeUnknownSync(codec)(state))))
}

describe("model contexts", () => {
  it.effect("unbounded keeps and shows everything", () =>
    Effect.gen(function*() {
      const context = yield* UnboundedContext.make()
      yield* context.add("hi")
      yield* context.add(exchange(["c1"]))
      yield* context.add([{ role: "assistant", content: "done" }])
      assert.deepStrictEqual(labels(yield* context.messages), ["u:hi", "call:c1", "result:c1", "a:done"])
      yield* context.clear
      assert.deepStrictEqual(yield* context.messages, [])
    }))

  it.effect("bad encoded messages are an InvalidUserInputError, and nothing is added", () =>
    Effect.gen(function*() {
      const context = yield* UnboundedContext.make()
      const error = yield* context.add([{ role: "wizard", content: 1 }] as never).pipe(Effect.flip)
      assert.strictEqual(error._tag, "AiError")
      if (error._tag === "AiError") assert.strictEqual(error.reason._tag, "InvalidUserInputError")
      assert.deepStrictEqual(yield* context.messages, [])
    }))

  it.effect("buffered shows the last n messages in whole units, pins the system message, and drops the rest from its state", () =>
    Effect.gen(function*() {
      const context = yield* BufferedContext.make({ size: 3 })
      yield* context.add(system("be brief"))
      yield* addAll(context, [[user("q1")], exchange(["c1", "c2"], true), [assistant("a1")]])
      // last 3 messages would be result:c1, result:c2, a:a1 (AutoGen's window): the call is cut off from its results
      assert.deepStrictEqual(labels(yield* context.messages), ["s:be brief", "a:a1"])
      yield* context.add(user("q2"))
      assert.deepStrictEqual(labels(yield* context.messages), ["s:be brief", "a:a1", "u:q2"])
      const state = yield* Ref.get(context.state)
      assert.strictEqual(state.messages.length, 3)
      assert.strictEqual(state.dropped, 4)
    }))

  it.effect("buffered keeps the latest unit even when it alone is larger than the buffer", () =>
    Effect.gen(function*() {
      const context = yield* BufferedContext.make({ size: 1 })
      yield* addAll(context, [[user("q")], exchange(["c1"])])
      assert.deepStrictEqual(labels(yield* context.messages), ["call:c1", "result:c1"])
    }))

  it.effect("head-and-tail keeps the first and last messages, with a note of how many it skipped", () =>
    Effect.gen(function*() {
      const context = yield* HeadAndTailContext.make({ head: 1, tail: 2 })
      yield* addAll(context, [[user("task")], [assistant("a0")], [user("q1")], exchange(["c1"]), [assistant("a1")]])
      // tail 2 from the end: a:a1 then result:c1 would split the exchange, so the tail is a:a1 alone
      assert.deepStrictEqual(labels(yield* context.messages), ["u:task", "u:Skipped 4 messages.", "a:a1"])
      yield* context.add(user("q2"))
      assert.deepStrictEqual(labels(yield* context.messages), ["u:task", "u:Skipped 4 messages.", "a:a1", "u:q2"])
      yield* context.add(assistant("a2"))
      assert.deepStrictEqual(labels(yield* context.messages), ["u:task", "u:Skipped 5 messages.", "u:q2", "a:a2"])
      assert.strictEqual((yield* Ref.get(context.state)).messages.length, 3)
    }))

  it.effect("head-and-tail's note can be changed or left out", () =>
    Effect.gen(function*() {
      const silent = yield* HeadAndTailContext.make({ head: 1, tail: 1, note: false })
      const custom = yield* HeadAndTailContext.make({ head: 1, tail: 1, note: (n) => `(${n} elided)` })
      for (const context of [silent, custom]) yield* addAll(context, [[user("a")], [user("b")], [user("c")]])
      assert.deepStrictEqual(labels(yield* silent.messages), ["u:a", "u:c"])
      assert.deepStrictEqual(labels(yield* custom.messages), ["u:a", "u:(1 elided)", "u:c"])
    }))

  it.effect("token-limited shows the latest whole units that fit, counting the pinned system message", () =>
    Effect.gen(function*() {
      const context = yield* TokenLimitedContext.make({ maxTokens: 6 })
      yield* context.add(system("two words"))
      yield* addAll(context, [[user("one two three")], exchange(["c1"]), [assistant("four")]])
      // 2 (system) + 2 (call, result) + 1 = 5; adding "one two three" would make 8
      assert.deepStrictEqual(labels(yield* context.messages), ["s:two words", "call:c1", "result:c1", "a:four"])
      yield* context.add(user("five six"))
      // 2 + 1 + 2 = 5; the exchange (2 more) would make 7
      assert.deepStrictEqual(labels(yield* context.messages), ["s:two words", "a:four", "u:five six"])
    }).pipe(withTokenizer))

  it.effect("token-limited fails with ContextOverflowError when the latest unit cannot fit, and keeps its state", () =>
    Effect.gen(function*() {
      const context = yield* TokenLimitedContext.make({ maxTokens: 3 })
      yield* context.add(user("short"))
      const error = yield* context.add(user("this one is far too long")).pipe(Effect.flip)
      assert.strictEqual(error._tag, "ContextOverflowError")
      if (error._tag === "ContextOverflowError") {
        assert.strictEqual(error.limit, 3)
        assert.strictEqual(error.needed, 6)
      }
      assert.deepStrictEqual(labels(yield* context.messages), ["u:short"])
    }).pipe(withTokenizer))

  it.effect("options that cannot work are an InvalidOptionsError", () =>
    Effect.gen(function*() {
      const errors = [
        yield* BufferedContext.make({ size: 0 }).pipe(Effect.flip),
        yield* HeadAndTailContext.make({ head: -1, tail: 2 }).pipe(Effect.flip),
        yield* HeadAndTailContext.make({ head: 1, tail: 0 }).pipe(Effect.flip),
        yield* TokenLimitedContext.make({ maxTokens: Number.NaN }).pipe(Effect.flip, withTokenizer)
      ]
      assert.deepStrictEqual(errors.map((e) => e._tag), Array(4).fill("InvalidOptionsError"))
    }))

  it.effect("no store ever splits a call from its results or opens on an orphaned result, over a long conversation", () =>
    Effect.gen(function*() {
      const units = conversation(40)
      const stores: Array<[string, Effect.Effect<ModelContext.ModelContext, unknown, Tokenizer.Tokenizer>]> = []
      for (const n of [1, 2, 3, 4, 5, 7]) {
        stores.push([`buffered ${n}`, BufferedContext.make({ size: n })])
        stores.push([`head-and-tail ${n}/${n}`, HeadAndTailContext.make({ head: n, tail: n, note: false })])
        stores.push([`head-and-tail ${n - 1}/1`, HeadAndTailContext.make({ head: n - 1, tail: 1, note: false })])
        stores.push([`token-limited ${n * 3}`, TokenLimitedContext.make({ maxTokens: n * 3 })])
      }
      for (const [name, make] of stores) {
        const context = yield* make
        yield* context.add(system("sys"))
        for (const unit of units) {
          yield* context.add(unit).pipe(Effect.catchTag("ContextOverflowError", () => Effect.void))
          const shown = yield* context.messages
          assertWhole(shown)
          assert.strictEqual(shown[0]!.role, "system", name)
        }
      }
    }).pipe(withTokenizer))

  it.effect("a state survives JSON through its Schema, and a context made on it shows the same window", () =>
    Effect.gen(function*() {
      const original = yield* HeadAndTailContext.make({ head: 2, tail: 3 })
      yield* addAll(original, conversation(6))
      const restored = yield* Ref.make(roundTrip(yield* Ref.get(original.state)))
      const copy = yield* HeadAndTailContext.make({ head: 2, tail: 3, state: restored })
      assert.deepStrictEqual(labels(yield* copy.messages), labels(yield* original.messages))
      yield* copy.add(user("later"))
      assertWhole(yield* copy.messages)
      assert.deepStrictEqual(labels(yield* copy.messages).slice(-1), ["u:later"])
    }))

  it.effect("a state loaded from elsewhere is shown by the store's policy", () =>
    Effect.gen(function*() {
      const big = yield* UnboundedContext.make()
      yield* addAll(big, conversation(5))
      const state = yield* Ref.make(yield* Ref.get(big.state))
      const small = yield* BufferedContext.make({ size: 2, state })
      const shown = yield* small.messages
      assert.isAtMost(shown.length, 2)
      assertWhole(shown)
    }))

  it.effect("contexts work with Prompt values", () =>
    Effect.gen(function*() {
      const context = yield* UnboundedContext.make()
      yield* context.add(Prompt.make([{ role: "user", content: "x" }]))
      const prompt = yield* context.prompt
      assert.isTrue(Prompt.isPrompt(prompt))
      assert.deepStrictEqual(labels(prompt.content), ["u:x"])
    }))
})
