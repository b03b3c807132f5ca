/**
 * Tools on an agent: the model side's toolkit forwards calls to a tool agent
 * through the runtime, on the standalone runtime and from one worker to
 * another of the distributed runtime (a host and two workers on loopback).
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Ref, Schema } from "effect"
import { type Prompt, Tool, Toolkit } from "effect/ai"
import { AgentRuntime, HostServicer, StandaloneRuntime, WorkerRuntime } from "../../../src/index.ts"
import * as ReplayModel from "../../../src/ai/model/ReplayModel.ts"
import * as ToolAgent from "../../../src/ai/tools/ToolAgent.ts"
import * as ToolLoop from "../../../src/ai/tools/ToolLoop.ts"
import { DivisionByZero, MathTools, mathHandlers } from "../fixtures.ts"

const MathAgent = ToolAgent.make("math-tools", MathTools)

const toolResults = (prompt: Prompt.Prompt) =>
  prompt.content.flatMap((message) =>
    message.role === "tool" ? message.content.flatMap((part) => part.type === "tool-result" ? [part] : []) : []
  )

/** The results a tool message carries. */
const resultsOf = (message: Prompt.Message | undefined) =>
  message?.role === "tool" ? message.content.flatMap((part) => part.type === "tool-result" ? [part.result] : []) : []

const requests = ReplayModel.Recorder.use((recorder) => recorder.requests)

/** A standalone runtime with the math tool agent, the model side's forwarding handlers, and a replay model. */
const standalone = (calls: Ref.Ref<ReadonlyArray<string>>, script: ReadonlyArray<ReplayModel.Step>) =>
  Layer.mergeAll(
    MathAgent.layer().pipe(Layer.provide(mathHandlers(calls))),
    MathAgent.remote("default"),
    ReplayModel.layer(script)
  ).pipe(Layer.provideMerge(StandaloneRuntime.layer()))

describe("ToolAgent", () => {
  it.effect("a tool loop uses tools that run on a tool agent", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make<ReadonlyArray<string>>([])
      const result = yield* ToolLoop.run({ toolkit: MathTools, prompt: "2+3, 8/2?" }).pipe(
        Effect.provide(standalone(calls, [
          ReplayModel.toolCalls([{ name: "add", params: { a: 2, b: 3 } }, { name: "divide", params: { a: 8, b: 2 } }]),
          ReplayModel.text("5 and 4")
        ]))
      )
      assert.strictEqual(result.text, "5 and 4")
      assert.deepStrictEqual([...(yield* Ref.get(calls))].sort(), ["add", "divide"])
      assert.deepStrictEqual(resultsOf(result.transcript[2]), [5, 4])
    }))

  it.effect("a tool's declared failure crosses as itself: ToolFailedError carries the DivisionByZero instance", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make<ReadonlyArray<string>>([])
      const error = yield* ToolLoop.run({ toolkit: MathTools, prompt: "1/0" }).pipe(
        Effect.flip,
        Effect.provide(standalone(calls, [ReplayModel.toolCalls([{ name: "divide", params: { a: 1, b: 0 } }])]))
      )
      assert.strictEqual(error._tag, "ToolFailedError")
      if (error._tag !== "ToolFailedError") return
      assert.instanceOf(error.error, DivisionByZero)
      assert.strictEqual((error.error as DivisionByZero).dividend, 1)
    }))

  it.effect("a failureMode \"return\" tool's failure reaches the model as a failed result", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function*() {
        const result = yield* ToolLoop.run({ toolkit: MathTools, prompt: "1/0" })
        assert.strictEqual(result.text, "cannot")
        const [, second] = yield* requests
        const [fed] = toolResults(second!.prompt)
        assert.isTrue(fed!.isFailure)
        assert.strictEqual((fed!.result as { readonly _tag: string })._tag, "DivisionByZero")
      }).pipe(Effect.provide(standalone(calls, [
        ReplayModel.toolCalls([{ name: "safe_divide", params: { a: 1, b: 0 } }]),
        ReplayModel.text("cannot")
      ])))
    }))

  it.effect("the agent checks what it is sent: an unknown tool or bad arguments get typed errors, and nothing runs", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make<ReadonlyArray<string>>([])
      yield* Effect.gen(function*() {
        const agent = (yield* MathAgent.agent.client)("default")
        const unknown = yield* agent.CallTool({ tool: "rm", params: {}, callId: "x1" }).pipe(Effect.flip)
        assert.strictEqual(unknown._tag, "UnknownToolError")
        const invalid = yield* agent.CallTool({ tool: "add", params: { a: "one" }, callId: "x2" }).pipe(Effect.flip)
        assert.strictEqual(invalid._tag, "InvalidToolArgumentsError")
        if (invalid._tag === "InvalidToolArgumentsError") assert.strictEqual(invalid.callId, "x2")
        const reply = yield* agent.CallTool({ tool: "add", params: { a: 1, b: 2 }, callId: "x3" })
        assert.deepStrictEqual({ ...reply }, { _tag: "ToolReply", isFailure: false, result: 3 })
        assert.deepStrictEqual(yield* Ref.get(calls), ["add"])
      }).pipe(Effect.provide(standalone(calls, [])))
    }))

  it.effect("the model side maps an unreachable tool agent to the tool's failure", () =>
    Effect.gen(function*() {
      const error = yield* ToolLoop.run({ toolkit: MathTools, prompt: "2+3" }).pipe(
        Effect.flip,
        Effect.provide(Layer.merge(
          MathAgent.remote("default"),
          ReplayModel.layer([ReplayModel.toolCalls([{ name: "add", params: { a: 2, b: 3 } }])])
        ).pipe(Layer.provideMerge(StandaloneRuntime.layer())))
      )
      assert.strictEqual(error._tag, "ToolFailedError")
      if (error._tag === "ToolFailedError") assert.include(String((error.error as Error).message), "math-tools")
    }))

  it.live("a model on worker A uses tools on worker B, in parallel, through the host", () => {
    // `where` answers with the worker it runs on; `meet` calls wait for each other, so they must run at once
    const Where = Tool.make("where", { parameters: Schema.Struct({ who: Schema.String }), success: Schema.String })
    const Remote = Toolkit.make(Where)
    const RemoteAgent = ToolAgent.make("remote-tools", Remote)
    return Effect.gen(function*() {
      const arrived = yield* Ref.make(0)
      const both = yield* Deferred.make<void>()
      const handlersOn = (worker: string) =>
        Remote.toLayer({
          where: ({ who }) =>
            Ref.updateAndGet(arrived, (n) => n + 1).pipe(
              Effect.tap((n) => n === 2 ? Deferred.succeed(both, undefined) : Effect.void),
              Effect.andThen(Deferred.await(both)),
              Effect.as(`${who} on ${worker}`)
            )
        })
      const result = yield* Effect.gen(function*() {
        yield* AgentRuntime.AgentRuntime
        return yield* ToolLoop.run({ toolkit: Remote, prompt: "where?" })
      }).pipe(
        Effect.timeout("20 seconds"),
        Effect.provide(Layer.unwrap(Effect.gen(function*() {
          const host = yield* HostServicer.HostServicer
          const worker = (id: string) => WorkerRuntime.layer({ url: host.url, workerId: id, reconnectInterval: "100 millis" })
          const workerB = RemoteAgent.layer().pipe(Layer.provide(handlersOn("b")), Layer.provide(worker("b")))
          const workerA = Layer.merge(
            RemoteAgent.remote("shared"),
            ReplayModel.layer([
              ReplayModel.toolCalls([{ name: "where", params: { who: "x" } }, { name: "where", params: { who: "y" } }]),
              ReplayModel.text("found")
            ])
          ).pipe(Layer.provideMerge(worker("a")))
          return Layer.merge(workerA, workerB)
        })).pipe(Layer.provide(HostServicer.layer({ port: 0 }))))
      )
      assert.strictEqual(result.text, "found")
      assert.deepStrictEqual(resultsOf(result.transcript[2]), ["x on b", "y on b"])
    })
  }, 30_000)
})
