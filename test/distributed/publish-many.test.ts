/**
 * Several plain publishes in one call (`PublishMany`, docs/protocol.md):
 * each handled as its own `Publish`, in order, each answered on its own; and
 * the worker side that gathers one tick's publishes into it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber } from "effect"
import { AgentError } from "../../src/index.ts"
import type * as Gateway from "../../src/distributed/internal/Gateway.ts"
import * as Publishes from "../../src/distributed/internal/Publishes.ts"
import { maxPublishesPerCall } from "../../src/distributed/Protocol.ts"
import * as Harness from "../support/harness.ts"
import * as Raw from "./raw-client.ts"

const said = (text: string) => ({ type: "Said", data: { _tag: "Said", text } })
const chat = { type: "chat", source: "r1" }

describe("PublishMany", () => {
  it.live("each publish is handled in order as if it came alone; one's failure is its own answer", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ maxMessageBytes: 1000, config: { recoveryWindow: Duration.zero } })
      const sub = yield* Raw.worker(host.service.url, "sub", "w-sub", "logger")
      yield* sub.call("AddSubscription", { subscription: { _tag: "TypeSubscription", topicType: "chat", agentType: "logger" } })
      const pub = yield* Raw.open(host.service.url, "pub")
      const welcome = yield* pub.join({ workerId: "w-pub" })
      assert.include(welcome.features, "PublishMany")
      const exit = yield* pub.call("PublishMany", {
        publishes: [
          { topic: chat, messageId: "p-1", message: said("one") },
          // the sender must run on the calling worker
          { topic: chat, sender: { type: "logger", key: "r1" }, messageId: "p-2", message: said("two") },
          { topic: chat, messageId: "p-3", message: said("x".repeat(2000)) },
          { topic: chat, messageId: "p-4", message: said("four") }
        ]
      })
      assert.strictEqual(exit._tag, "Success")
      const answers = exit.value as Array<any>
      assert.strictEqual(answers.length, 4)
      assert.strictEqual(answers[0], null)
      assert.strictEqual(answers[1]._tag, "NotAccessibleError")
      assert.strictEqual(answers[2]._tag, "InvalidMessageError")
      assert.strictEqual(answers[3], null)
      const first = yield* sub.item((p) => p._tag === "Deliver" && p.messageId === "p-1:logger")
      const last = yield* sub.item((p) => p._tag === "Deliver" && p.messageId === "p-4:logger")
      assert.isBelow(sub.pushed.indexOf(first), sub.pushed.indexOf(last), "delivered in the order published")
      assert.deepStrictEqual(sub.pushed.filter((p) => p._tag === "Deliver").map((p) => p.messageId), ["p-1:logger", "p-4:logger"])
    }).pipe(Effect.scoped))

  it.live("an empty call, or more than maxPublishesPerCall, is refused whole; a call before Connect fails NotJoined", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ config: { recoveryWindow: Duration.zero } })
      const early = yield* Raw.open(host.service.url, "early")
      const notJoined = yield* early.call("PublishMany", { publishes: [{ topic: chat, messageId: "p-0", message: said("x") }] })
      assert.strictEqual(notJoined.cause[0].error.reason._tag, "NotJoined")
      const pub = yield* Raw.open(host.service.url, "pub")
      yield* pub.join({ workerId: "w-pub" })
      for (const count of [0, maxPublishesPerCall + 1]) {
        const exit = yield* pub.call("PublishMany", { publishes: Array.from({ length: count }, (_, i) => ({ topic: chat, messageId: `p-${i}`, message: said("x") })) })
        assert.strictEqual(exit._tag, "Failure")
        assert.strictEqual(exit.cause[0]._tag, "Die", `${count} publishes`)
      }
    }).pipe(Effect.scoped))
})

/** A gateway whose PublishMany answers with `answer` (or fails with it), recording each call's size. */
const fakeGateway = (answer: (count: number) => Effect.Effect<ReadonlyArray<AgentError.AgentError | null>, AgentError.AgentError>) => {
  const calls: Array<number> = []
  const gateway = {
    call: (_: string, effect: Effect.Effect<unknown, unknown>) => effect,
    client: {
      PublishMany: ({ publishes }: { readonly publishes: ReadonlyArray<unknown> }) =>
        Effect.suspend(() => {
          calls.push(publishes.length)
          return answer(publishes.length)
        })
    }
  }
  return { calls, gateway: gateway as unknown as Pick<Gateway.Gateway, "client" | "call"> }
}

const item = (i: number) => ({ topic: { type: "t", source: "s" }, messageId: `m-${i}`, message: { type: "T", data: {} } })
const refused = new AgentError.InvalidMessageError({ messageType: "T", issue: "too large" })

describe("Publishes (a worker's side of PublishMany)", () => {
  it.effect("the publishes of one tick go in one call, of at most maxPublishesPerCall; each caller gets its own answer", () =>
    Effect.gen(function*() {
      const { calls, gateway } = fakeGateway((count) => Effect.succeed(Array.from({ length: count }, (_, i) => i === 1 ? refused : null)))
      const publishes = yield* Publishes.make(gateway)
      const n = maxPublishesPerCall + 3
      const exits = yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => Effect.exit(publishes.publish(item(i))), { concurrency: "unbounded" })
      assert.deepStrictEqual(calls, [maxPublishesPerCall, 3])
      // index 1 of each call was refused
      const failed = exits.flatMap((exit, i) => Exit.isFailure(exit) ? [i] : [])
      assert.deepStrictEqual(failed, [1, maxPublishesPerCall + 1])
    }).pipe(Effect.scoped))

  it.effect("a call that fails fails each of its publishes; an answer short of a publish is a defect for it", () =>
    Effect.gen(function*() {
      const gone = AgentError.undeliverable("host", new AgentError.Interrupted())
      const failing = fakeGateway(() => Effect.fail(gone))
      const publishes = yield* Publishes.make(failing.gateway)
      const exits = yield* Effect.forEach([0, 1], (i) => Effect.exit(publishes.publish(item(i))), { concurrency: "unbounded" })
      // each names its own topic, as a Publish's failure would
      const asTopic = AgentError.undeliverable("t/s", new AgentError.Interrupted())
      assert.deepStrictEqual(exits, [Exit.fail(asTopic), Exit.fail(asTopic)])
      const short = fakeGateway(() => Effect.succeed([null]))
      const shortPublishes = yield* Publishes.make(short.gateway)
      const both = yield* Effect.forEach([0, 1], (i) => Effect.exit(shortPublishes.publish(item(i))), { concurrency: "unbounded" })
      assert.isTrue(Exit.isSuccess(both[0]!))
      assert.isTrue(Exit.isFailure(both[1]!) && both[1].cause.reasons.some((r) => r._tag === "Die"))
    }).pipe(Effect.scoped))

  it.effect("flush sends what waits at once", () =>
    Effect.gen(function*() {
      const { calls, gateway } = fakeGateway((count) => Effect.succeed(Array.from({ length: count }, () => null)))
      const publishes = yield* Publishes.make(gateway)
      const waiting = yield* Effect.forkChild(publishes.publish(item(0)), { startImmediately: true })
      publishes.flush()
      assert.deepStrictEqual(calls, [1])
      yield* Fiber.join(waiting)
    }).pipe(Effect.scoped))
})
