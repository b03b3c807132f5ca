import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Ref, Schema, Stream } from "effect"
import { type Prompt, Tokenizer, Tool, Toolkit } from "effect/ai"
import * as BufferedContext from "../../../src/ai/context/BufferedContext.ts"
import * as TokenLimitedContext from "../../../src/ai/context/TokenLimitedContext.ts"
import * as UnboundedContext from "../../../src/ai/context/UnboundedContext.ts"
import * as ReplayModel from "../../../src/ai/model/ReplayModel.ts"
import * as ToolLoop from "../../../src/ai/tools/ToolLoop.ts"
import { MathTools, mathHandlers } from "../fixtures.ts"

const toolResults = (prompt: Prompt.Prompt) =>
  prompt.content.flatMap((message) =>
    message.role === "tool" ? message.content.flatMap((part) => part.type === "tool-result" ? [part] : []) : []
  )

/** Runs `body` with a replay model of `script` and the math toolkit's handlers, recording tool runs in `calls`. */
const withScript = <A, E, R>(
  script: ReadonlyArray<ReplayModel.Step>,
  body: (calls: Ref.Ref<ReadonlyArray<string>>) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const calls = yield* Ref.make<ReadonlyArray<string>>([])
    return yield* body(calls).pipe(Effect.provide(Layer.merge(ReplayModel.layer(script), mathHandlers(calls))))
  })

const requests = ReplayModel.Recorder.use((recorder) => recorder.requests)

describe("ToolLoop", () => {
  it.effect("calls the model, runs its tool calls, feeds the results back, and returns the final answer", () =>
    withScript([
      ReplayModel.toolCalls([{ name: "add", params: { a: 2, b: 3 } }], { usage: { inputTokens: 10, outputTokens: 4 } }),
      ReplayModel.text("2 + 3 = 5", { usage: { inputTokens: 20, outputTokens: 6 } })
    ], (calls) =>
      Effect.gen(function*() {
        const result = yield* ToolLoop.run({ toolkit: MathTools, prompt: "What is 2 + 3?" })
        assert.strictEqual(result.text, "2 + 3 = 5")
        assert.strictEqual(result.steps, 2)
        assert.strictEqual(result.finishReason, "stop")
        assert.strictEqual(result.usage.inputTokens.total, 30)
        assert.strictEqual(result.usage.outputTokens.total, 10)
        assert.deepStrictEqual(yield* Ref.get(calls), ["add"])
        // user, assistant(call), tool(result), assistant(answer)
        assert.deepStrictEqual(result.transcript.map((m) => m.role), ["user", "assistant", "tool", "assistant"])
        const [, second] = yield* requests
        const [fed] = toolResults(second!.prompt)
        assert.strictEqual(fed!.id, "call_0_0")
        assert.strictEqual(fed!.result, 5)
        assert.isFalse(fed!.isFailure)
      })))

  it.effect("the calls of one step run in parallel", () => {
    // each call waits until both have started: run one after the other, they would never finish
    const Meet = Tool.make("meet", { parameters: Schema.Struct({ who: Schema.String }), success: Schema.String })
    const Meeting = Toolkit.make(Meet)
    return Effect.gen(function*() {
      const started = yield* Ref.make(0)
      const both = yield* Deferred.make<void>()
      const handlers = Meeting.toLayer({
        meet: ({ who }) =>
          Ref.updateAndGet(started, (n) => n + 1).pipe(
            Effect.tap((n) => n === 2 ? Deferred.succeed(both, undefined) : Effect.void),
            Effect.andThen(Deferred.await(both)),
            Effect.as(`met ${who}`)
          )
      })
      const result = yield* ToolLoop.run({ toolkit: Meeting, prompt: "meet them" }).pipe(
        Effect.timeout("10 seconds"),
        Effect.provide(Layer.merge(handlers, ReplayModel.layer([
          ReplayModel.toolCalls([{ name: "meet", params: { who: "ann" } }, { name: "meet", params: { who: "bob" } }]),
          ReplayModel.text("done")
        ])))
      )
      assert.strictEqual(result.text, "done")
      const toolMessage = result.transcript[2]!
      assert.strictEqual(toolMessage.role, "tool")
      assert.deepStrictEqual(toolResults({ content: [toolMessage] } as unknown as Prompt.Prompt).map((r) => r.result), [
        "met ann",
        "met bob"
      ])
    })
  })

  it.effect("an unknown tool fails the run with UnknownToolError", () =>
    withScript([ReplayModel.toolCalls([{ name: "multiply", params: { a: 2, b: 3 } }])], () =>
      Effect.gen(function*() {
        const error = yield* ToolLoop.run({ toolkit: MathTools, prompt: "2*3?" }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "UnknownToolError")
        if (error._tag !== "UnknownToolError") return
        assert.strictEqual(error.toolName, "multiply")
        assert.deepStrictEqual(error.available, ["add", "divide", "safe_divide"])
      })))

  it.effect("invalid arguments fail the run with InvalidToolArgumentsError, and the tool does not run", () =>
    withScript([ReplayModel.toolCalls([{ name: "add", params: { a: "two", b: 3 } }])], (calls) =>
      Effect.gen(function*() {
        const error = yield* ToolLoop.run({ toolkit: MathTools, prompt: "2+3?" }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "InvalidToolArgumentsError")
        if (error._tag !== "InvalidToolArgumentsError") return
        assert.strictEqual(error.toolName, "add")
        assert.include(error.issue, "a")
        assert.deepStrictEqual(yield* Ref.get(calls), [])
      })))

  it.effect("a failing handler fails the run with ToolFailedError carrying the tool's error", () =>
    withScript([ReplayModel.toolCalls([{ name: "divide", params: { a: 1, b: 0 } }])], () =>
      Effect.gen(function*() {
        const error = yield* ToolLoop.run({ toolkit: MathTools, prompt: "1/0?" }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "ToolFailedError")
        if (error._tag !== "ToolFailedError") return
        assert.strictEqual((error.error as { readonly _tag: string })._tag, "DivisionByZero")
      })))

  it.effect("with toolErrors: \"return\", unknown tools, bad arguments and failures go back to the model, which goes on", () =>
    withScript([
      ReplayModel.toolCalls([
        { name: "multiply", params: { a: 2, b: 3 } },
        { name: "add", params: { a: "two" } },
        { name: "divide", params: { a: 1, b: 0 } }
      ]),
      ReplayModel.text("I could not compute that")
    ], () =>
      Effect.gen(function*() {
        const result = yield* ToolLoop.run({ toolkit: MathTools, prompt: "go", toolErrors: "return" })
        assert.strictEqual(result.text, "I could not compute that")
        const [, second] = yield* requests
        const fed = toolResults(second!.prompt)
        assert.deepStrictEqual(fed.map((r) => r.isFailure), [true, true, true])
        assert.deepStrictEqual(fed.map((r) => (r.result as { readonly error: string }).error), [
          "UnknownToolError",
          "InvalidToolArgumentsError",
          "ToolFailedError"
        ])
        // the model reads what went wrong, a declared failure by its tag and fields
        assert.include((fed[2]!.result as { readonly message: string }).message, `"_tag":"DivisionByZero"`)
        assert.include((fed[0]!.result as { readonly message: string }).message, "no tool multiply")
      })))

  it.effect("a tool declared with failureMode \"return\" gives its failure to the model even when toolErrors is \"fail\"", () =>
    withScript([
      ReplayModel.toolCalls([{ name: "safe_divide", params: { a: 1, b: 0 } }]),
      ReplayModel.text("cannot divide by zero")
    ], () =>
      Effect.gen(function*() {
        const result = yield* ToolLoop.run({ toolkit: MathTools, prompt: "1/0?" })
        assert.strictEqual(result.text, "cannot divide by zero")
        const [, second] = yield* requests
        const [fed] = toolResults(second!.prompt)
        assert.isTrue(fed!.isFailure)
        assert.strictEqual((fed!.result as { readonly _tag: string })._tag, "DivisionByZero")
      })))

  it.effect("at maxSteps it stops with StepLimitReachedError, the transcript so far and the usage, without running the last calls", () =>
    withScript([
      ReplayModel.toolCalls([{ name: "add", params: { a: 1, b: 1 } }], { usage: { outputTokens: 1 } }),
      ReplayModel.toolCalls([{ name: "add", params: { a: 2, b: 2 } }], { usage: { outputTokens: 1 } }),
      ReplayModel.toolCalls([{ name: "add", params: { a: 3, b: 3 } }], { usage: { outputTokens: 1 } }),
      ReplayModel.text("never reached")
    ], (calls) =>
      Effect.gen(function*() {
        const context = yield* UnboundedContext.make()
        const error = yield* ToolLoop.run({ toolkit: MathTools, context, prompt: "count", maxSteps: 3 }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "StepLimitReachedError")
        if (error._tag !== "StepLimitReachedError") return
        assert.strictEqual(error.maxSteps, 3)
        assert.strictEqual(error.usage.outputTokens.total, 3)
        assert.deepStrictEqual(error.transcript.map((m) => m.role), ["user", "assistant", "tool", "assistant", "tool", "assistant"])
        assert.deepStrictEqual(yield* Ref.get(calls), ["add", "add"])
        // the context ends on a whole exchange: the unanswered calls are not in it
        const kept = yield* context.messages
        assert.deepStrictEqual(kept.map((m) => m.role), ["user", "assistant", "tool", "assistant", "tool"])
        assert.strictEqual(yield* (yield* ReplayModel.Recorder).remaining, 1)
      })))

  it.effect("a context keeps the conversation across runs", () =>
    withScript([ReplayModel.text("Hello Ann"), ReplayModel.text("Your name is Ann")], () =>
      Effect.gen(function*() {
        const context = yield* UnboundedContext.make()
        yield* context.add([{ role: "system", content: "You are terse." }])
        yield* ToolLoop.run({ toolkit: MathTools, context, prompt: "I am Ann" })
        const second = yield* ToolLoop.run({ toolkit: MathTools, context, prompt: "What is my name?" })
        assert.strictEqual(second.text, "Your name is Ann")
        assert.deepStrictEqual(second.transcript.map((m) => m.role), ["user", "assistant"])
        const [, request] = yield* requests
        assert.deepStrictEqual(request!.prompt.content.map((m) => m.role), ["system", "user", "assistant", "user"])
      })))

  it.effect("on a small buffered context, no request ever opens on a tool result or splits a call from its result", () =>
    withScript([
      ReplayModel.toolCalls([{ name: "add", params: { a: 1, b: 1 } }]),
      ReplayModel.toolCalls([{ name: "add", params: { a: 2, b: 2 } }, { name: "add", params: { a: 3, b: 3 } }]),
      ReplayModel.toolCalls([{ name: "add", params: { a: 4, b: 4 } }]),
      ReplayModel.text("done")
    ], () =>
      Effect.gen(function*() {
        const context = yield* BufferedContext.make({ size: 3 })
        yield* ToolLoop.run({ toolkit: MathTools, context, prompt: "add things" })
        for (const request of yield* requests) {
          const roles = request.prompt.content.map((m) => m.role)
          assert.notStrictEqual(roles[0], "tool", roles.join(","))
          // every tool result's call is in the same prompt
          const callIds = new Set(request.prompt.content.flatMap((m) =>
            m.role === "assistant" ? m.content.flatMap((p) => p.type === "tool-call" ? [p.id] : []) : []
          ))
          for (const result of toolResults(request.prompt)) assert.isTrue(callIds.has(result.id), result.id)
        }
      })))

  it.effect("a token-limited context that cannot hold the input fails the run with ContextOverflowError, before any model call", () =>
    withScript([ReplayModel.text("unused")], () =>
      Effect.gen(function*() {
        const context = yield* TokenLimitedContext.make({ maxTokens: 3 })
        const error = yield* ToolLoop.run({ toolkit: MathTools, context, prompt: "this question is far too long" }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "ContextOverflowError")
        assert.strictEqual((yield* requests).length, 0)
      }).pipe(Effect.provideService(Tokenizer.Tokenizer, Tokenizer.make({
        tokenize: (prompt) =>
          Effect.succeed(prompt.content.flatMap((m) =>
            typeof m.content === "string" ? [m.content] : m.content.flatMap((p) => p.type === "text" ? p.text.split(" ") : [p.type])
          ).map((_, i) => i))
      })))))

  it.effect("stream emits the model's parts as they stream, each tool result, and the result last", () =>
    withScript([
      ReplayModel.toolCalls([{ name: "add", params: { a: 2, b: 3 } }, { name: "add", params: { a: 1, b: 1 } }], {
        usage: { outputTokens: 3 }
      }),
      ReplayModel.streamOf(["2 + 3 ", "= 5, ", "1 + 1 = 2"], { usage: { outputTokens: 9 } })
    ], () =>
      Effect.gen(function*() {
        const context = yield* UnboundedContext.make()
        const events = yield* Stream.runCollect(ToolLoop.stream({ toolkit: MathTools, context, prompt: "sums?" }))
        const summary = events.map((event) =>
          event._tag === "Part"
            ? `${event.step}:${event.part.type}${event.part.type === "text-delta" ? `(${event.part.delta})` : ""}`
            : event._tag === "ToolResult"
            ? `${event.step}:result(${event.result.result})`
            : `done(${event.result.text})`
        )
        // both tool results come after step 1's parts and before step 2's, in whatever order the calls finish
        assert.deepStrictEqual(summary.slice(0, 3), ["1:tool-call", "1:tool-call", "1:finish"])
        assert.deepStrictEqual(summary.slice(3, 5).sort(), ["1:result(2)", "1:result(5)"])
        assert.deepStrictEqual(summary.slice(5), [
          "2:text-start",
          "2:text-delta(2 + 3 )",
          "2:text-delta(= 5, )",
          "2:text-delta(1 + 1 = 2)",
          "2:text-end",
          "2:finish",
          "done(2 + 3 = 5, 1 + 1 = 2)"
        ])
        const done = events[events.length - 1]!
        if (done._tag !== "Done") return assert.fail("the last event is Done")
        assert.strictEqual(done.result.usage.outputTokens.total, 12)
        assert.strictEqual(done.result.steps, 2)
        assert.deepStrictEqual((yield* context.messages).map((m) => m.role), ["user", "assistant", "tool", "assistant"])
        assert.deepStrictEqual((yield* requests).map((r) => r.method), ["streamText", "streamText"])
      })))

  it.effect("stream fails as run does: an unknown tool ends it with UnknownToolError after the parts it streamed", () =>
    withScript([ReplayModel.toolCalls([{ name: "nope", params: {} }])], () =>
      Effect.gen(function*() {
        const seen: Array<string> = []
        const error = yield* ToolLoop.stream({ toolkit: MathTools, prompt: "x" }).pipe(
          Stream.runForEach((event) => Effect.sync(() => seen.push(event._tag))),
          Effect.flip
        )
        assert.strictEqual(error._tag, "UnknownToolError")
        assert.deepStrictEqual(seen, ["Part", "Part"])
      })))

  it.effect("a maxSteps that is not a whole number of at least 1 is an InvalidOptionsError", () =>
    withScript([], () =>
      Effect.gen(function*() {
        const error = yield* ToolLoop.run({ toolkit: MathTools, prompt: "x", maxSteps: 0 }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "InvalidOptionsError")
      })))

  it.effect("the model's own failure ends the run with its AiError", () =>
    withScript([], () =>
      Effect.gen(function*() {
        const error = yield* ToolLoop.run({ toolkit: MathTools, prompt: "x" }).pipe(Effect.flip)
        assert.isTrue(ReplayModel.isExhausted(error))
      })))
})
