import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"
import { Agent, AgentError } from "../../../src/index.ts"
import * as WireCodec from "../../../src/distributed/internal/WireCodec.ts"

class Stamp extends Schema.TaggedClass<Stamp>()("Stamp", { at: Schema.Date }) {}
class Stamped extends Schema.TaggedClass<Stamped>()("Stamped", { at: Schema.Date }) {}
class Late extends Schema.TaggedError<Late>()("Late", { since: Schema.Date }) {}
class Ping extends Schema.TaggedClass<Ping>()("Ping", {}) {}

const stamp = Agent.rpc(Stamp, { success: Stamped, error: Late })
const ping = Agent.rpc(Ping)

const epoch = "1970-01-01T00:00:00.000Z"
const limits: WireCodec.Limits = { maxBytes: 1000, maxDepth: 8 }

const failure = <A>(exit: Exit.Exit<A, AgentError.AgentError>): AgentError.AgentError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
  assert.strictEqual(error?._tag, "Some")
  return (error as { readonly value: AgentError.AgentError }).value
}

describe("WireCodec", () => {
  it.effect("toWire gives the message's tag and its JSON encoding", () =>
    Effect.sync(() => {
      const wire = WireCodec.toWire(stamp, new Stamp({ at: new Date(0) }), limits)
      assert.deepStrictEqual(wire, Exit.succeed({ type: "Stamp", data: { _tag: "Stamp", at: epoch } }))
    }))

  it.effect("toWire refuses a message over the size limit, or one its schema cannot encode", () =>
    Effect.sync(() => {
      const big = failure(WireCodec.toWire(stamp, new Stamp({ at: new Date(0) }), { maxBytes: 10, maxDepth: 8 }))
      assert.strictEqual(big._tag, "InvalidMessageError")
      assert.include(big._tag === "InvalidMessageError" ? big.issue : "", "exceeds this worker's limit of 10")
      const bad = failure(WireCodec.toWire(stamp, { _tag: "Stamp", at: "not a date" }, limits))
      assert.strictEqual(bad._tag === "InvalidMessageError" && bad.messageType, "Stamp")
    }))

  it.effect("byteSize measures JSON in bytes, and checkPayload refuses what is not JSON or too big", () =>
    Effect.sync(() => {
      assert.strictEqual(WireCodec.byteSize({ a: "é" }), Buffer.byteLength(`{"a":"é"}`))
      assert.isUndefined(WireCodec.byteSize({ n: 1n }))
      assert.strictEqual(WireCodec.sizeOf({ n: 1n }), 0)
      assert.strictEqual(WireCodec.sizeOf([1]), 3)
      assert.strictEqual(WireCodec.checkPayload("M", { n: 1n }, limits, "the host's")?.issue, "not JSON")
      assert.isUndefined(WireCodec.checkPayload("M", { a: 1 }, { maxBytes: 7, maxDepth: 8 }, "the host's"))
      assert.include(WireCodec.checkPayload("M", { a: 1 }, { maxBytes: 6, maxDepth: 8 }, "the host's")?.issue ?? "", "the host's limit of 6")
    }))

  it.effect("depthWithin counts nesting of arrays and objects, and stops at a cycle's depth instead of looping", () =>
    Effect.sync(() => {
      assert.isTrue(WireCodec.depthWithin(1, 0))
      assert.isTrue(WireCodec.depthWithin(null, 0))
      assert.isFalse(WireCodec.depthWithin({}, 0))
      assert.isTrue(WireCodec.depthWithin({ a: [1, { b: 2 }] }, 3))
      assert.isFalse(WireCodec.depthWithin({ a: [1, { b: {} }] }, 3))
      // deep enough to overflow a recursive walk
      let deep: unknown = 0
      for (let i = 0; i < 100_000; i++) deep = [deep]
      assert.isFalse(WireCodec.depthWithin(deep, 64))
      const circular: Record<string, unknown> = {}
      circular.self = circular
      assert.isFalse(WireCodec.depthWithin(circular, 64))
      const refused = WireCodec.checkPayload("M", circular, limits, "the host's")
      assert.include(refused?.issue ?? "", "nested deeper than the host's limit of 8")
    }))

  it.effect("a reply is decoded with the contract's success schema", () =>
    Effect.sync(() => {
      const reply = WireCodec.fromReply(stamp, { _tag: "Stamped", at: epoch })
      assert.isTrue(Exit.isSuccess(reply))
      const value = Exit.isSuccess(reply) ? reply.value : undefined
      assert.instanceOf(value, Stamped)
      assert.strictEqual((value as Stamped).at.getTime(), 0)
      const bad = failure(WireCodec.fromReply(stamp, { _tag: "Stamped", at: 5 }))
      assert.strictEqual(bad._tag === "InvalidMessageError" && bad.messageType, "reply to Stamp")
      // a void reply is nothing, whatever came
      assert.deepStrictEqual(WireCodec.fromReply(ping, null), Exit.void)
    }))

  it.effect("a declared error arrives encoded and is decoded with the contract's error schema; other errors pass", () =>
    Effect.sync(() => {
      const wire = new AgentError.HandlerError({ recipient: "a/k", messageType: "Stamp", reason: "Late", error: { _tag: "Late", since: epoch } })
      const decoded = WireCodec.fromError(stamp, wire)
      assert.strictEqual(decoded._tag, "HandlerError")
      const inner = decoded._tag === "HandlerError" ? decoded.error : undefined
      assert.instanceOf(inner, Late)
      assert.strictEqual((inner as Late).since.getTime(), 0)
      const timeout = new AgentError.TimeoutError({ recipient: "a/k", messageType: "Stamp", timeoutMillis: 1 })
      assert.strictEqual(WireCodec.fromError(stamp, timeout), timeout)
    }))

  it.effect("toOutcome encodes the reply, and a void reply as null", () =>
    Effect.sync(() => {
      assert.deepStrictEqual(WireCodec.toOutcome(stamp, Exit.succeed(new Stamped({ at: new Date(0) })), limits), {
        _tag: "Success",
        value: { _tag: "Stamped", at: epoch }
      })
      assert.deepStrictEqual(WireCodec.toOutcome(ping, Exit.void, limits), { _tag: "Success", value: null })
      const bad = WireCodec.toOutcome(stamp, Exit.succeed("not a Stamped"), limits)
      assert.strictEqual(bad._tag === "Failure" && bad.error._tag, "InvalidMessageError")
      const tooBig = WireCodec.toOutcome(stamp, Exit.succeed(new Stamped({ at: new Date(0) })), { maxBytes: 5, maxDepth: 8 })
      assert.strictEqual(tooBig._tag === "Failure" && tooBig.error._tag === "InvalidMessageError" && tooBig.error.messageType, "reply to Stamp")
    }))

  it.effect("toOutcome encodes a declared error inside HandlerError, and keeps other errors as they are", () =>
    Effect.sync(() => {
      const handlerError = new AgentError.HandlerError({ recipient: "a/k", messageType: "Stamp", reason: "Late", error: new Late({ since: new Date(0) }) })
      const outcome = WireCodec.toOutcome(stamp, Exit.fail(handlerError), limits)
      assert.strictEqual(outcome._tag, "Failure")
      const error = outcome._tag === "Failure" ? outcome.error : undefined
      assert.deepStrictEqual(error?._tag === "HandlerError" ? error.error : undefined, { _tag: "Late", since: epoch })
      // and back
      const back = WireCodec.fromError(stamp, error!)
      assert.instanceOf(back._tag === "HandlerError" ? back.error : undefined, Late)
      const deadlock = new AgentError.DeadlockError({ recipient: "a/k", messageType: "Stamp" })
      assert.deepStrictEqual(WireCodec.toOutcome(stamp, Exit.fail(deadlock), limits), { _tag: "Failure", error: deadlock })
    }))

  it.effect("an interrupted outcome is UndeliverableError Interrupted", () =>
    Effect.sync(() => {
      const outcome = WireCodec.toOutcome(stamp, Exit.failCause(Cause.interrupt()), limits)
      assert.strictEqual(outcome._tag === "Failure" && outcome.error._tag === "UndeliverableError" && outcome.error.reason._tag, "Interrupted")
      const control = WireCodec.controlOutcome("saveState", Exit.failCause(Cause.interrupt()), limits)
      assert.strictEqual(control._tag === "Failure" && control.error._tag === "UndeliverableError" && control.error.reason._tag, "Interrupted")
    }))

  it.effect("a control outcome's value is already JSON, within the limits; fromOutcome turns an outcome back into an exit", () =>
    Effect.sync(() => {
      assert.deepStrictEqual(WireCodec.controlOutcome("saveState", Exit.succeed({ s0: 1 }), limits), { _tag: "Success", value: { s0: 1 } })
      assert.deepStrictEqual(WireCodec.controlOutcome("ensure", Exit.void, limits), { _tag: "Success", value: null })
      const tooBig = WireCodec.controlOutcome("saveState", Exit.succeed({ s0: "x".repeat(2000) }), limits)
      assert.strictEqual(tooBig._tag === "Failure" && tooBig.error._tag === "InvalidMessageError" && tooBig.error.messageType, "saveState")
      assert.deepStrictEqual(WireCodec.fromOutcome({ _tag: "Success", value: 3 }), Exit.succeed(3))
      const error = new AgentError.CantHandleError({ recipient: "a/k", messageType: "M" })
      assert.deepStrictEqual(WireCodec.fromOutcome({ _tag: "Failure", error }), Exit.fail(error))
    }))

  it.effect("contractOfValue: a Schema class value carries its schema, a plain object crosses as it is, anything else cannot", () =>
    Effect.sync(() => {
      const ofClass = WireCodec.contractOfValue("Stamp", new Stamp({ at: new Date(0) }))
      assert.strictEqual(ofClass?.message as unknown, Stamp)
      assert.strictEqual(ofClass?.tag, "Stamp")
      const plain = WireCodec.contractOfValue("Stamp", { _tag: "Stamp", at: epoch })
      assert.isDefined(plain)
      assert.deepStrictEqual(WireCodec.toWire(plain!, { _tag: "Stamp", at: epoch }, limits), Exit.succeed({ type: "Stamp", data: { _tag: "Stamp", at: epoch } }))
      class NotASchema {
        readonly _tag = "X"
      }
      assert.isUndefined(WireCodec.contractOfValue("X", new NotASchema()))
      assert.isUndefined(WireCodec.contractOfValue("X", [1, 2]))
    }))
})
