import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { AgentId, Intervention } from "../../src/index.ts"

class Ping extends Schema.TaggedClass<Ping>()("Ping", { n: Schema.Number }) {}

const info: Intervention.SendInfo = { sender: undefined, recipient: AgentId.make("a", "k") }

describe("Intervention", () => {
  it.effect("with no hooks the message goes on unchanged", () =>
    Effect.gen(function*() {
      const message = new Ping({ n: 1 })
      assert.strictEqual(yield* Intervention.runHooks([], "send", message, info), message)
    }))

  it.effect("hooks run in order, each seeing what the previous one let through", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const bump: Intervention.Hook<Intervention.SendInfo> = (m) =>
        Effect.sync(() => {
          seen.push((m as Ping).n)
          return new Ping({ n: (m as Ping).n * 10 })
        })
      const out = yield* Intervention.runHooks([bump, bump], "send", new Ping({ n: 1 }), info)
      assert.deepStrictEqual(seen, [1, 10])
      assert.strictEqual((out as Ping).n, 100)
    }))

  it.effect("a hook sees the info of the message", () =>
    Effect.gen(function*() {
      let recipient = ""
      yield* Intervention.runHooks([(m, i) => Effect.sync(() => {
        recipient = AgentId.toString(i.recipient)
        return m
      })], "send", new Ping({ n: 1 }), info)
      assert.strictEqual(recipient, "a/k")
    }))

  it.effect("drop fails with MessageDroppedError naming the message type and stage, and stops the chain", () =>
    Effect.gen(function*() {
      let after = false
      const error = yield* Intervention.runHooks(
        [(m) => Intervention.drop(m, "publish", "not today"), (m) => Effect.sync(() => (after = true, m))],
        "publish",
        new Ping({ n: 1 }),
        info
      ).pipe(Effect.flip)
      assert.strictEqual(error._tag, "MessageDroppedError")
      assert.strictEqual(error.messageType, "Ping")
      assert.strictEqual(error.stage, "publish")
      assert.strictEqual(error.reason, "not today")
      assert.isFalse(after)
    }))

  it.effect("a hook that throws drops the message instead of dying", () =>
    Effect.gen(function*() {
      const error = yield* Intervention.runHooks(
        [() => Effect.sync(() => { throw new Error("bug in hook") })],
        "reply",
        new Ping({ n: 1 }),
        info
      ).pipe(Effect.flip)
      assert.strictEqual(error.stage, "reply")
      assert.include(error.reason, "bug in hook")
    }))

  it.effect("dropping a value without a tag names its type 'unknown'", () =>
    Effect.gen(function*() {
      const error = yield* Intervention.drop(42, "send", "no").pipe(Effect.flip)
      assert.strictEqual(error.messageType, "unknown")
    }))

  it.effect("make keeps the hooks it is given", () =>
    Effect.sync(() => {
      const onSend: Intervention.Hook<Intervention.SendInfo> = (m) => Effect.succeed(m)
      const intervention = Intervention.make({ onSend })
      assert.strictEqual(intervention.onSend, onSend)
      assert.isUndefined(intervention.onPublish)
    }))
})
