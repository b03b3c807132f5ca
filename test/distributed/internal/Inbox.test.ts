import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type * as Gateway from "../../../src/distributed/internal/Gateway.ts"
import * as Inbox from "../../../src/distributed/internal/Inbox.ts"
import { maxRepliesPerCall } from "../../../src/distributed/Protocol.ts"

/** A gateway whose Reply call records the size of each batch. */
const recording = () => {
  const calls: Array<number> = []
  const gateway = { client: { Reply: ({ replies }: { readonly replies: ReadonlyArray<unknown> }) => Effect.sync(() => void calls.push(replies.length)) } }
  return { calls, gateway: gateway as unknown as Pick<Gateway.Gateway, "client"> }
}

describe("Inbox replies", () => {
  it.effect("replies that finish in one tick go in one call", () =>
    Effect.gen(function*() {
      const { calls, gateway } = recording()
      const reply = Inbox.replies(gateway, Effect.runFork)
      for (let i = 0; i < 10; i++) reply(`r${i}`, { _tag: "Success", value: i })
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))
      assert.deepStrictEqual(calls, [10])
    }))

  it.effect("more than maxRepliesPerCall in one tick are split into calls the protocol accepts", () =>
    Effect.gen(function*() {
      const { calls, gateway } = recording()
      const reply = Inbox.replies(gateway, Effect.runFork)
      const n = 2 * maxRepliesPerCall + 5
      for (let i = 0; i < n; i++) reply(`r${i}`, { _tag: "Success", value: i })
      yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))
      assert.deepStrictEqual(calls, [maxRepliesPerCall, maxRepliesPerCall, 5])
    }))
})
