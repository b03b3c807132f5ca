import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type * as Gateway from "../../../src/distributed/internal/Gateway.ts"
import * as Inbox from "../../../src/distributed/internal/Inbox.ts"
import { maxRepliesPerCall } from "../../../src/distributed/Protocol.ts"
import { AgentError } from "../../../src/index.ts"

/** A gateway whose Reply call records the size of each batch, and the batches (as JSON: what crosses). */
const recording = () => {
  const calls: Array<number> = []
  const sent: Array<unknown> = []
  const gateway = {
    client: {
      Reply: ({ replies }: { readonly replies: ReadonlyArray<unknown> }) =>
        Effect.sync(() => {
          calls.push(replies.length)
          sent.push(JSON.parse(JSON.stringify(replies)))
        })
    }
  }
  return { calls, sent, gateway: gateway as unknown as Pick<Gateway.Gateway, "client"> }
}

const nextTick = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))

describe("Inbox replies", () => {
  it.effect("replies that finish in one tick go in one call", () =>
    Effect.gen(function*() {
      const { calls, gateway } = recording()
      const { reply } = Inbox.replies(gateway, Effect.runFork)
      for (let i = 0; i < 10; i++) reply(`r${i}`, { _tag: "Success", value: i })
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))
      assert.deepStrictEqual(calls, [10])
    }))

  it.effect("more than maxRepliesPerCall in one tick are split into calls the protocol accepts", () =>
    Effect.gen(function*() {
      const { calls, gateway } = recording()
      const { reply } = Inbox.replies(gateway, Effect.runFork)
      const n = 2 * maxRepliesPerCall + 5
      for (let i = 0; i < n; i++) reply(`r${i}`, { _tag: "Success", value: i })
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))
      assert.deepStrictEqual(calls, [maxRepliesPerCall, maxRepliesPerCall, 5])
    }))

  it.effect("the successes of one DeliverMany share an entry naming their recipients; a failure is its own, its error encoded", () =>
    Effect.gen(function*() {
      const { sent, gateway } = recording()
      const { reply, replyPart } = Inbox.replies(gateway, Effect.runFork)
      replyPart("m1", 0, { _tag: "Success", value: "ignored" })
      replyPart("m1", 2, { _tag: "Success", value: null })
      replyPart("m1", 1, { _tag: "Failure", error: new AgentError.CantHandleError({ recipient: "sink/s", messageType: "Tick" }) })
      reply("r1", { _tag: "Success", value: 7 })
      replyPart("m2", 0, { _tag: "Success", value: null })
      replyPart("m1", 3, { _tag: "Success", value: null })
      yield* nextTick
      assert.deepStrictEqual(sent, [[
        { requestId: "m1", outcome: { _tag: "Success", value: null }, recipients: [0, 2, 3] },
        { requestId: "m1", outcome: { _tag: "Failure", error: { _tag: "CantHandleError", recipient: "sink/s", messageType: "Tick" } }, recipients: [1] },
        { requestId: "r1", outcome: { _tag: "Success", value: 7 } },
        { requestId: "m2", outcome: { _tag: "Success", value: null }, recipients: [0] }
      ]])
      // a later tick starts a new entry: the one sent is not changed after the fact
      replyPart("m1", 4, { _tag: "Success", value: null })
      yield* nextTick
      assert.deepStrictEqual(sent[1], [{ requestId: "m1", outcome: { _tag: "Success", value: null }, recipients: [4] }])
      assert.deepStrictEqual((sent[0] as Array<{ readonly recipients?: Array<number> }>)[0]!.recipients, [0, 2, 3])
    }))

  it.effect("a batch sent because it was full takes no later success into its entries", () =>
    Effect.gen(function*() {
      const { sent, gateway } = recording()
      const { reply, replyPart } = Inbox.replies(gateway, Effect.runFork)
      replyPart("m1", 0, { _tag: "Success", value: null })
      for (let i = 1; i < maxRepliesPerCall; i++) reply(`r${i}`, { _tag: "Success", value: i })
      replyPart("m1", 1, { _tag: "Success", value: null })
      yield* nextTick
      assert.strictEqual(sent.length, 2)
      assert.deepStrictEqual((sent[0] as Array<unknown>)[0], { requestId: "m1", outcome: { _tag: "Success", value: null }, recipients: [0] })
      assert.deepStrictEqual(sent[1], [{ requestId: "m1", outcome: { _tag: "Success", value: null }, recipients: [1] }])
    }))
})
