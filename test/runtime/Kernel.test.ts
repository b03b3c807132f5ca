import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import { Agent, AgentError, AgentId, Intervention, RuntimeConfig, Subscription, TopicId } from "../../src/index.ts"
import type { Spec } from "../../src/core/Agent.ts"
import { Current } from "../../src/runtime/Current.ts"
import * as Kernel from "../../src/runtime/Kernel.ts"
import type { Registration } from "../../src/runtime/Registration.ts"

class Greet extends Schema.TaggedClass<Greet>()("Greet", { name: Schema.String }) {}
class Noted extends Schema.TaggedClass<Noted>()("Noted", { n: Schema.Number }) {}

const greet = Agent.rpc(Greet, { success: Schema.String })
const greeter = AgentId.make("greeter", "alice")

interface Calls {
  readonly log: Array<string>
  readonly sends: Array<Kernel.SendRequest>
  readonly publishes: Array<Kernel.PublishRequest>
  readonly controls: Array<readonly [Kernel.ControlOp, string, unknown]>
  /** Who asked, for each runtime operation (the agent whose handler the calling fiber runs). */
  readonly callers: Array<readonly [string, string | undefined]>
  readonly announced: Array<string>
}

/** A transport that records what the kernel hands it and answers as told. */
const fakeTransport = (options: {
  readonly contract?: Kernel.Transport["contract"]
  readonly reply?: (request: Kernel.SendRequest) => Effect.Effect<unknown, AgentError.AgentError>
} = {}) => {
  const calls: Calls = { log: [], sends: [], publishes: [], controls: [], callers: [], announced: [] }
  const asked = (what: string, caller: AgentId.AgentId | undefined) => void calls.callers.push([what, caller?.toString()])
  const transport: Kernel.Transport = {
    contract: options.contract ?? ((_recipient, tag) => tag === "Greet" ? greet : new AgentError.CantHandleError({ recipient: "x", messageType: tag })),
    send: (request) =>
      Effect.suspend(() => {
        calls.log.push("transport")
        calls.sends.push(request)
        return options.reply?.(request) ?? Effect.succeed(`hello ${(request.message as Greet).name}`)
      }),
    publish: (request) => Effect.sync(() => void calls.publishes.push(request)),
    addSubscription: (_, caller) => Effect.sync(() => asked("addSubscription", caller)),
    removeSubscription: (_, caller) => Effect.sync(() => (asked("removeSubscription", caller), false)),
    subscriptions: (caller) => Effect.sync(() => (asked("subscriptions", caller), [])),
    announce: (registration) => Effect.sync(() => void calls.announced.push(registration.name)),
    control: (op, id, caller, state) =>
      Effect.sync(() => {
        asked(op, caller)
        calls.controls.push([op, id.toString(), state])
        return undefined
      }),
    saveAll: (caller) => Effect.sync(() => (asked("saveAll", caller), {})),
    awaitIdle: Effect.sync(() => void calls.log.push("awaitIdle elsewhere"))
  }
  return { calls, transport }
}

const runtimeWith = (transport: Kernel.Transport, options: Partial<Kernel.Options> = {}) =>
  Effect.gen(function*() {
    const kernelOptions: Kernel.Options = { emitLocalDeadLetters: true, ...options }
    const kernel = yield* Kernel.make(kernelOptions)
    return yield* Kernel.runtime(kernel, transport, kernelOptions)
  })

const recorder = (log: Array<string>) =>
  Intervention.make({
    onSend: (m) => Effect.sync(() => (log.push("onSend"), new Greet({ name: `${(m as Greet).name}!` }))),
    onReply: (r) => Effect.sync(() => (log.push("onReply"), `${r as string} (checked)`))
  })

describe("Kernel.runtime", () => {
  it.effect("an error the transport's contract gives surfaces as the send's error, and nothing is carried", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport({
        contract: (recipient) => AgentError.undeliverable(recipient, new AgentError.NoSuchAgentType({ agentType: recipient.type }))
      })
      const runtime = yield* runtimeWith(transport)
      const error = yield* runtime.send(greeter, new Greet({ name: "Bob" })).pipe(Effect.flip)
      assert.strictEqual(error._tag, "UndeliverableError")
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "NoSuchAgentType")
      const cant = yield* runtime.send(greeter, new Noted({ n: 1 }), { contract: undefined }).pipe(Effect.flip)
      assert.strictEqual(cant._tag, "UndeliverableError")
      assert.deepStrictEqual(calls.sends, [])
    }))

  it.effect("a message that does not fit its contract fails with InvalidMessageError before the transport", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport()
      const runtime = yield* runtimeWith(transport)
      const invalid = yield* runtime.send(greeter, { _tag: "Greet", name: 7 }).pipe(Effect.flip)
      assert.strictEqual(invalid._tag, "InvalidMessageError")
      const untagged = yield* runtime.send(greeter, { name: "Bob" }).pipe(Effect.flip)
      assert.strictEqual(untagged._tag, "InvalidMessageError")
      assert.deepStrictEqual(calls.sends, [])
      // a plain object that fits is decoded before it is carried
      assert.strictEqual(yield* runtime.send(greeter, { _tag: "Greet", name: "Bob" }), "hello Bob")
      assert.instanceOf(calls.sends[0]!.message, Greet)
    }))

  it.effect("without hooks the transport keeps the deadline: it gets the send's timeout", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport()
      const runtime = yield* runtimeWith(transport, { sendTimeout: "3 seconds" })
      yield* runtime.send(greeter, new Greet({ name: "a" }))
      yield* runtime.send(greeter, new Greet({ name: "b" }), { timeout: "250 millis" })
      assert.deepStrictEqual(calls.sends.map((s) => s.timeoutMillis), [3000, 250])
    }))

  it.effect("a send's request carries sender and call chain from the message the fiber handles, and a fresh id", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport()
      const runtime = yield* runtimeWith(transport)
      yield* runtime.send(greeter, new Greet({ name: "a" }))
      yield* runtime.send(greeter, new Greet({ name: "b" })).pipe(Effect.provideService(Current, { self: AgentId.make("caller", "k"), chain: ["m0", "m1"] }))
      const [outside, inside] = calls.sends
      assert.isUndefined(outside!.sender)
      assert.deepStrictEqual(outside!.chain, [])
      assert.strictEqual(inside!.sender?.toString(), "caller/k")
      assert.deepStrictEqual(inside!.chain, ["m0", "m1"])
      assert.strictEqual(inside!.spec, greet as Spec)
      assert.notStrictEqual(outside!.messageId, inside!.messageId)
    }))

  it.effect("hooks run in order: onSend, the transport, then onReply, each seeing what the previous let through", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport()
      const runtime = yield* runtimeWith(transport, { interventions: [recorder(calls.log)] })
      const reply = yield* runtime.send(greeter, new Greet({ name: "Bob" }))
      assert.deepStrictEqual(calls.log, ["onSend", "transport", "onReply"])
      assert.strictEqual((calls.sends[0]!.message as Greet).name, "Bob!")
      assert.strictEqual(reply, "hello Bob! (checked)")
      // with hooks the kernel keeps the deadline: the transport is told there is none
      assert.strictEqual(calls.sends[0]!.timeoutMillis, Infinity)
    }))

  it.effect("a hook that drops the message stops it before the transport", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport()
      const runtime = yield* runtimeWith(transport, { interventions: [Intervention.make({ onSend: (m) => Intervention.drop(m, "send", "no") })] })
      const error = yield* runtime.send(greeter, new Greet({ name: "Bob" })).pipe(Effect.flip)
      assert.strictEqual(error._tag, "MessageDroppedError")
      assert.deepStrictEqual(calls.sends, [])
    }))

  it.effect("the deadline applies when hooks exist, even though the transport keeps none", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport({ reply: () => Effect.never })
      const runtime = yield* runtimeWith(transport, { interventions: [recorder([])], sendTimeout: "2 seconds" })
      const fiber = yield* Effect.forkChild(runtime.send(greeter, new Greet({ name: "Bob" })))
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber).pipe(Effect.flip)
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual(error._tag === "TimeoutError" && error.timeoutMillis, 2000)
      assert.strictEqual(calls.sends[0]!.timeoutMillis, Infinity)
    }))

  it.effect("only a reply hook still makes the kernel keep the deadline", () =>
    Effect.gen(function*() {
      const { transport } = fakeTransport({ reply: () => Effect.never })
      const runtime = yield* runtimeWith(transport, { interventions: [Intervention.make({ onReply: Effect.succeed })] })
      const fiber = yield* Effect.forkChild(runtime.send(greeter, new Greet({ name: "Bob" }), { timeout: "1 second" }))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber).pipe(Effect.flip)
      assert.strictEqual(error._tag, "TimeoutError")
    }))

  it.effect("publish runs the onPublish hooks and hands the result to the transport with sender and a fresh id", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport()
      const runtime = yield* runtimeWith(transport, {
        interventions: [Intervention.make({ onPublish: (m) => Effect.succeed(new Noted({ n: (m as Noted).n + 1 })) })]
      })
      const topic = TopicId.make("news", "today")
      yield* runtime.publish(topic, new Noted({ n: 1 })).pipe(Effect.provideService(Current, { self: AgentId.make("pub", "k"), chain: [] }))
      assert.strictEqual(calls.publishes.length, 1)
      const request = calls.publishes[0]!
      assert.strictEqual((request.message as Noted).n, 2)
      assert.strictEqual(request.tag, "Noted")
      assert.strictEqual(request.sender?.toString(), "pub/k")
      assert.strictEqual(request.topic, topic)
      assert.isFalse(request.ack)
      yield* runtime.publish(topic, new Noted({ n: 1 }), { ack: true })
      assert.isTrue(calls.publishes[1]!.ack)
      const error = yield* runtime.publish(topic, { n: 1 }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "InvalidMessageError")
    }))

  it.effect("agentId with a bad type name is UndeliverableError NoSuchAgentType; a bad key is InvalidMessageError", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport()
      const runtime = yield* runtimeWith(transport)
      const badType = yield* runtime.agentId("not a type!", "k").pipe(Effect.flip)
      assert.strictEqual(badType._tag, "UndeliverableError")
      assert.strictEqual(badType._tag === "UndeliverableError" && badType.reason._tag, "NoSuchAgentType")
      assert.strictEqual(badType._tag === "UndeliverableError" && badType.recipient, "not a type!/k")
      const badKey = yield* runtime.agentId("greeter", "").pipe(Effect.flip)
      assert.strictEqual(badKey._tag, "InvalidMessageError")
      assert.deepStrictEqual(calls.controls, [])
    }))

  it.effect("agentId asks the transport for metadata, or to ensure the instance when not lazy", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport()
      const runtime = yield* runtimeWith(transport)
      const lazy = yield* runtime.agentId("greeter")
      const eager = yield* runtime.agentId("greeter", "bob", { lazy: false })
      assert.deepStrictEqual([lazy.toString(), eager.toString()], ["greeter/default", "greeter/bob"])
      assert.deepStrictEqual(calls.controls, [["metadata", "greeter/default", undefined], ["ensure", "greeter/bob", undefined]])
    }))

  it.effect("loadAll loads each agent through the transport, and refuses an id that is not type/key", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport()
      const runtime = yield* runtimeWith(transport)
      yield* runtime.loadAll({ "greeter/a": { s0: 1 }, "greeter/b/c": { s0: 2 } })
      assert.deepStrictEqual(calls.controls, [["loadState", "greeter/a", { s0: 1 }], ["loadState", "greeter/b/c", { s0: 2 }]])
      const error = yield* runtime.loadAll({ nokey: {} }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "InvalidMessageError")
    }))

  it.effect("runtime operations tell the transport who asks: the agent whose handler the calling fiber runs", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport()
      const runtime = yield* runtimeWith(transport)
      const asAgent = Effect.provideService(Current, { self: AgentId.make("admin", "k"), chain: ["m0"] })
      yield* runtime.saveAll
      yield* runtime.saveAll.pipe(asAgent)
      yield* runtime.addSubscription(Subscription.type("chat", "greeter")).pipe(asAgent)
      yield* runtime.removeSubscription("x").pipe(asAgent)
      yield* runtime.subscriptions.pipe(asAgent)
      yield* runtime.saveState(greeter).pipe(asAgent)
      yield* runtime.loadState(greeter, { s0: 1 })
      assert.deepStrictEqual(calls.callers, [
        ["saveAll", undefined],
        ["saveAll", "admin/k"],
        ["addSubscription", "admin/k"],
        ["removeSubscription", "admin/k"],
        ["subscriptions", "admin/k"],
        ["saveState", "admin/k"],
        ["loadState", undefined]
      ])
      assert.deepStrictEqual(calls.controls.at(-1), ["loadState", "greeter/alice", { s0: 1 }])
    }))

  it.effect("register registers with the instances and announces through the transport; awaitIdle asks elsewhere too", () =>
    Effect.gen(function*() {
      const { calls, transport } = fakeTransport()
      const runtime = yield* runtimeWith(transport)
      const registration: Registration = {
        name: "greeter",
        description: "",
        specs: new Map([["Greet", greet as Spec]]),
        routes: new Map([["Greet", [{ spec: greet as Spec, handler: "Greet" }]]]),
        concurrency: 1,
        subscriptions: [Subscription.type("chat", "greeter")],
        context: yield* Effect.context<never>(),
        build: Effect.succeed({})
      }
      yield* runtime.register(registration)
      assert.deepStrictEqual(calls.announced, ["greeter"])
      const duplicate = yield* runtime.register(registration).pipe(Effect.flip)
      assert.strictEqual(duplicate._tag, "DuplicateAgentTypeError")
      assert.deepStrictEqual(calls.announced, ["greeter"])
      yield* runtime.awaitIdle
      assert.deepStrictEqual(calls.log, ["awaitIdle elsewhere"])
    }))

  it.effect("the default deadline comes from RuntimeConfig unless the options set one", () =>
    Effect.gen(function*() {
      const kernel = yield* Kernel.make({ emitLocalDeadLetters: true }).pipe(Effect.provide(RuntimeConfig.layer({ sendTimeout: Duration.seconds(7) })))
      assert.strictEqual(kernel.sendTimeoutMillis, 7000)
      const overridden = yield* Kernel.make({ emitLocalDeadLetters: true, sendTimeout: "1 second" })
      assert.strictEqual(overridden.sendTimeoutMillis, 1000)
    }))

  it.effect("closing the runtime's scope closes its instances: nothing more is delivered", () =>
    Effect.gen(function*() {
      const { transport } = fakeTransport()
      const scope = yield* Scope.make()
      const kernelOptions: Kernel.Options = { emitLocalDeadLetters: true, shutdownTimeout: 0 }
      const kernel = yield* Kernel.make(kernelOptions).pipe(Scope.provide(scope))
      yield* Kernel.runtime(kernel, transport, kernelOptions).pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
      const error = yield* kernel.instances.ensure(greeter).pipe(Effect.flip)
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "RuntimeStopping")
    }))
})
