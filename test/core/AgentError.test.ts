import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { AgentError } from "../../src/index.ts"

const examples: ReadonlyArray<AgentError.AgentError> = [
  new AgentError.UndeliverableError({ recipient: "a/k", reason: new AgentError.NoSuchAgentType({ agentType: "a" }) }),
  new AgentError.UndeliverableError({ recipient: "a/k", reason: new AgentError.NoSuchAgentKey({ agentType: "a", key: "k" }) }),
  new AgentError.UndeliverableError({ recipient: "a/k", reason: new AgentError.NoWorker({ agentType: "a" }) }),
  new AgentError.UndeliverableError({ recipient: "a/k", reason: new AgentError.WorkerLeft({ workerId: "w", detail: "disconnected" }) }),
  new AgentError.UndeliverableError({ recipient: "a/k", reason: new AgentError.HostUnreachable({ url: "ws://h/", detail: "closed" }) }),
  new AgentError.UndeliverableError({ recipient: "a/k", reason: new AgentError.RuntimeStopping() }),
  new AgentError.UndeliverableError({ recipient: "a/k", reason: new AgentError.Interrupted() }),
  new AgentError.UndeliverableError({ recipient: "host", reason: new AgentError.NotJoined({ detail: "call Connect first" }) }),
  new AgentError.CantHandleError({ recipient: "a/k", messageType: "Ping" }),
  new AgentError.HandlerError({ recipient: "a/k", messageType: "Ping", reason: "boom" }),
  new AgentError.HandlerError({ recipient: "a/k", messageType: "Ping", reason: "declared", error: { _tag: "Boom", reason: "x" } }),
  new AgentError.MessageDroppedError({ messageType: "Ping", stage: "reply", reason: "dropped" }),
  new AgentError.TimeoutError({ recipient: "a/k", messageType: "Ping", timeoutMillis: 150 }),
  new AgentError.DeadlockError({ recipient: "a/k", messageType: "Ping" }),
  new AgentError.NotAccessibleError({ recipient: "a/k", messageType: "Ping" }),
  new AgentError.NotAccessibleError({ sender: "b/k", recipient: "a/k", messageType: "Ping" }),
  new AgentError.InvalidMessageError({ messageType: "Ping", issue: "Expected string" })
]

describe("AgentError", () => {
  const codec = Schema.toCodecJson(AgentError.AgentError)

  it.effect("every error round-trips through JSON as the same class with the same fields", () =>
    Effect.gen(function*() {
      for (const error of examples) {
        const wire = JSON.stringify(yield* Schema.encodeEffect(codec)(error))
        const back = yield* Schema.decodeUnknownEffect(codec)(JSON.parse(wire))
        assert.strictEqual(back.constructor, error.constructor, error._tag)
        assert.strictEqual(back._tag, error._tag)
        assert.deepStrictEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(error)))
        assert.strictEqual(back.message, error.message)
      }
    }))

  it.effect("the wire form is plain JSON carrying the tag", () =>
    Effect.gen(function*() {
      const json = yield* Schema.encodeEffect(codec)(new AgentError.DeadlockError({ recipient: "a/k", messageType: "Ping" }))
      assert.deepStrictEqual(json, { _tag: "DeadlockError", recipient: "a/k", messageType: "Ping" })
    }))

  it.effect("an unknown tag or a missing field does not decode", () =>
    Effect.gen(function*() {
      const decode = Schema.decodeUnknownEffect(codec)
      assert.strictEqual((yield* Effect.exit(decode({ _tag: "NoSuchError" })))._tag, "Failure")
      assert.strictEqual((yield* Effect.exit(decode({ _tag: "TimeoutError", recipient: "a/k", messageType: "Ping" })))._tag, "Failure")
      assert.strictEqual((yield* Effect.exit(decode({ _tag: "MessageDroppedError", messageType: "P", stage: "elsewhere", reason: "" })))._tag, "Failure")
    }))

  it.effect("errors are failures with readable messages", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.gen(function*() {
        return yield* new AgentError.UndeliverableError({ recipient: "a/k", reason: new AgentError.WorkerLeft({ workerId: "w1", detail: "disconnected" }) })
      }))
      assert.instanceOf(error, Error)
      assert.strictEqual(error.message, "cannot deliver to a/k: worker w1 left (disconnected)")
      assert.strictEqual(new AgentError.NotAccessibleError({ recipient: "a/k", messageType: "P" }).message, "an outside caller may not send P to a/k")
      assert.strictEqual(new AgentError.DuplicateAgentTypeError({ agentType: "a" }).message, "agent type a is already registered")
    }))

  it.effect("a cause travels as a defect: message kept, across JSON", () =>
    Effect.gen(function*() {
      const error = new AgentError.HandlerError({ recipient: "a/k", messageType: "Ping", reason: "boom", cause: new Error("boom") })
      const back = yield* Schema.decodeUnknownEffect(codec)(JSON.parse(JSON.stringify(yield* Schema.encodeEffect(codec)(error))))
      assert.strictEqual(back._tag, "HandlerError")
      assert.instanceOf(back._tag === "HandlerError" ? back.cause : undefined, Error)
      assert.strictEqual(((back as AgentError.HandlerError).cause as Error).message, "boom")
    }))

  it.effect("each error has a guard that tells it from the others and from look-alikes", () =>
    Effect.sync(() => {
      for (const error of examples) {
        assert.isTrue(AgentError.isAgentError(error))
        const guards = [
          AgentError.UndeliverableError.is,
          AgentError.CantHandleError.is,
          AgentError.HandlerError.is,
          AgentError.MessageDroppedError.is,
          AgentError.TimeoutError.is,
          AgentError.DeadlockError.is,
          AgentError.NotAccessibleError.is,
          AgentError.InvalidMessageError.is
        ]
        assert.strictEqual(guards.filter((is) => is(error)).length, 1, error._tag)
      }
      assert.isFalse(AgentError.TimeoutError.is({ _tag: "TimeoutError", recipient: "a/k", messageType: "P", timeoutMillis: 1 }))
      assert.isFalse(AgentError.isAgentError(new Error("x")))
    }))

  it.effect("DuplicateAgentTypeError round-trips through its own JSON codec", () =>
    Effect.gen(function*() {
      const codec = Schema.toCodecJson(AgentError.DuplicateAgentTypeError)
      const back = yield* Schema.decodeUnknownEffect(codec)(JSON.parse(JSON.stringify(
        yield* Schema.encodeEffect(codec)(new AgentError.DuplicateAgentTypeError({ agentType: "a" }))
      )))
      assert.instanceOf(back, AgentError.DuplicateAgentTypeError)
      assert.strictEqual(back.agentType, "a")
    }))
})
