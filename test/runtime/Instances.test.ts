import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Ref, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import { Agent, AgentId } from "../../src/index.ts"
import type { AnyHandler, InstanceState, Self, Spec } from "../../src/core/Agent.ts"
import type { AgentError } from "../../src/core/AgentError.ts"
import { Current } from "../../src/runtime/Current.ts"
import * as Idle from "../../src/runtime/Idle.ts"
import * as Instances from "../../src/runtime/Instances.ts"
import type { Registration } from "../../src/runtime/Registration.ts"

class Work extends Schema.TaggedClass<Work>()("Work", { n: Schema.Number }) {}
class Query extends Schema.TaggedClass<Query>()("Query", {}) {}
class Noted extends Schema.TaggedClass<Noted>()("Noted", {}) {}

const specs = new Map<string, Spec>([
  ["Work", Agent.rpc(Work, { success: Schema.Unknown })],
  ["Query", Agent.rpc(Query, { success: Schema.Unknown, concurrent: true })],
  ["Noted", Agent.event(Noted)]
])

type Build = Effect.Effect<Record<string, AnyHandler>, unknown, Self | InstanceState | Scope.Scope>

/** A registration built by hand, running in the test's context (so `TestClock` drives its handlers). */
const registration = (name: string, build: Build, options?: Partial<Omit<Registration, "name" | "build">>) =>
  Effect.map(Effect.context<never>(), (context): Registration => ({
    name,
    description: `the ${name} type`,
    specs,
    // each handler is named after its message's tag
    routes: new Map([...(options?.specs ?? specs)].map(([tag, spec]) => [tag, [{ spec, handler: tag }]])),
    concurrency: 1,
    subscriptions: [],
    keys: undefined,
    context,
    build,
    ...options
  }))

/** Lets forked fibers run until they wait again. */
const flush = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

interface Sent {
  readonly cancel: Instances.Cancel
  /** Resolved by `onDone`. */
  readonly done: Deferred.Deferred<Exit.Exit<unknown, AgentError>>
  readonly doneCalls: () => number
  readonly delivery: Instances.Delivery
}

let ids = 0
const deliver = (
  instances: Instances.Instances,
  recipient: AgentId.AgentId,
  message: Work | Query | Noted,
  options?: { readonly rpc?: boolean; readonly chain?: ReadonlyArray<string>; readonly sender?: AgentId.AgentId; readonly messageId?: string }
): Sent => {
  const done = Deferred.makeUnsafe<Exit.Exit<unknown, AgentError>>()
  let calls = 0
  const delivery: Instances.Delivery = {
    messageId: options?.messageId ?? `m${ids++}`,
    recipient,
    tag: message._tag,
    message,
    sender: options?.sender,
    topic: undefined,
    rpc: options?.rpc ?? true,
    chain: options?.chain ?? [],
    onDone: (exit) => {
      calls++
      Deferred.doneUnsafe(done, Effect.succeed(exit))
    }
  }
  return { cancel: instances.deliver(delivery), done, doneCalls: () => calls, delivery }
}

const outcome = (sent: Sent) => Deferred.await(sent.done)

const errorOf = (exit: Exit.Exit<unknown, AgentError>): AgentError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(error, "expected a typed failure")
  return (error as { readonly error: AgentError }).error
}

const engine = Effect.gen(function*() {
  const idle = Idle.make()
  const letters: Array<{ readonly delivery: Instances.Delivery; readonly error: AgentError }> = []
  const instances: Instances.Instances = yield* Instances.make({ idle, deadLetter: (delivery, error) => letters.push({ delivery, error }) })
  return { instances, idle, letters }
})

const id = (type: string, key = "k") => AgentId.make(type, key)

describe("Instances", () => {
  it.effect("creates an instance on its first delivery, once per key, with Self set to its id", () =>
    Effect.gen(function*() {
      const { instances } = yield* engine
      const built: Array<string> = []
      yield* instances.register(yield* registration("lazy", Effect.gen(function*() {
        const self = yield* Agent.Self
        built.push(self.toString())
        return { Work: (m: Work) => Effect.succeed(`${self}:${m.n}`) }
      })))
      yield* flush
      assert.deepStrictEqual(built, [])
      const first = yield* outcome(deliver(instances, id("lazy", "a"), new Work({ n: 1 })))
      const second = yield* outcome(deliver(instances, id("lazy", "a"), new Work({ n: 2 })))
      const other = yield* outcome(deliver(instances, id("lazy", "b"), new Work({ n: 3 })))
      assert.deepStrictEqual([first, second, other], [Exit.succeed("lazy/a:1"), Exit.succeed("lazy/a:2"), Exit.succeed("lazy/b:3")])
      assert.deepStrictEqual(built, ["lazy/a", "lazy/b"])
    }))

  it.effect("a handler gets its message context, and Current carries the call chain", () =>
    Effect.gen(function*() {
      const { instances } = yield* engine
      const seen: Array<unknown> = []
      yield* instances.register(yield* registration("ctx", Effect.succeed({
        Work: (_: Work, context: Agent.MessageContext) =>
          Effect.withFiber((fiber) => {
            seen.push({ ...context, self: context.self.toString(), sender: context.sender?.toString(), chain: fiber.getRef(Current)?.chain })
            return Effect.void
          }),
        Noted: (_: Noted, context: Agent.MessageContext) =>
          Effect.withFiber((fiber) => {
            seen.push({ isRpc: context.isRpc, chain: fiber.getRef(Current)?.chain })
            return Effect.void
          })
      })))
      yield* outcome(deliver(instances, id("ctx"), new Work({ n: 1 }), { messageId: "m-2", chain: ["m-0", "m-1"], sender: id("caller") }))
      yield* outcome(deliver(instances, id("ctx"), new Noted(), { messageId: "e-1", rpc: false, chain: ["m-9"] }))
      assert.deepStrictEqual(seen, [
        { self: "ctx/k", sender: "caller/k", topic: undefined, messageId: "m-2", isRpc: true, chain: ["m-0", "m-1", "m-2"] },
        // a publisher is not waiting: an event starts a new chain
        { isRpc: false, chain: ["e-1"] }
      ])
    }))

  it.effect("an unknown type is UndeliverableError NoSuchAgentType, reported at once", () =>
    Effect.gen(function*() {
      const { instances } = yield* engine
      const sent = deliver(instances, id("nobody"), new Work({ n: 1 }))
      assert.strictEqual(sent.doneCalls(), 1)
      const error = errorOf(yield* outcome(sent))
      assert.strictEqual(error._tag, "UndeliverableError")
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "NoSuchAgentType")
      assert.strictEqual(error._tag === "UndeliverableError" && error.recipient, "nobody/k")
    }))

  it.effect("explicit keys are built at registration, and any other key is UndeliverableError NoSuchAgentKey", () =>
    Effect.gen(function*() {
      const { instances } = yield* engine
      const built: Array<string> = []
      yield* instances.register(yield* registration("fixed", Effect.map(Agent.Self, (self) => {
        built.push(self.key)
        return { Work: () => Effect.succeed("ok") }
      }), { keys: ["one", "two"] }))
      yield* flush
      assert.deepStrictEqual(built, ["one", "two"])
      assert.deepStrictEqual(yield* outcome(deliver(instances, id("fixed", "one"), new Work({ n: 1 }))), Exit.succeed("ok"))
      const error = errorOf(yield* outcome(deliver(instances, id("fixed", "three"), new Work({ n: 1 }))))
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "NoSuchAgentKey")
      assert.deepStrictEqual(built, ["one", "two"])
    }))

  it.effect("a message type the agent has no handler for is CantHandleError", () =>
    Effect.gen(function*() {
      const { instances } = yield* engine
      yield* instances.register(yield* registration("narrow", Effect.succeed({}), { specs: new Map([["Query", specs.get("Query")!]]) }))
      const error = errorOf(yield* outcome(deliver(instances, id("narrow"), new Work({ n: 1 }))))
      assert.strictEqual(error._tag, "CantHandleError")
      assert.strictEqual(error._tag === "CantHandleError" && error.messageType, "Work")
    }))

  it.effect("registering a type twice fails with DuplicateAgentTypeError, and closing its scope unregisters it", () =>
    Effect.gen(function*() {
      const { instances } = yield* engine
      const scope = yield* Scope.make()
      yield* instances.register(yield* registration("dup", Effect.succeed({}))).pipe(Scope.provide(scope))
      const error = yield* instances.register(yield* registration("dup", Effect.succeed({}))).pipe(Effect.flip)
      assert.strictEqual(error._tag, "DuplicateAgentTypeError")
      assert.isDefined(instances.type("dup"))
      yield* Scope.close(scope, Exit.void)
      assert.isUndefined(instances.type("dup"))
    }))

  it.effect("a call whose chain holds the message running in the recipient is DeadlockError; others wait their turn", () =>
    Effect.gen(function*() {
      const { instances } = yield* engine
      const started = Deferred.makeUnsafe<void>()
      const gate = Deferred.makeUnsafe<void>()
      yield* instances.register(yield* registration("loop", Effect.succeed({
        Work: (m: Work) => m.n === 0 ? Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(gate)), Effect.as("first")) : Effect.succeed(m.n),
        Query: () => Effect.succeed("query")
      })))
      const first = deliver(instances, id("loop"), new Work({ n: 0 }), { messageId: "outer" })
      yield* Deferred.await(started)
      const cycle = deliver(instances, id("loop"), new Work({ n: 1 }), { chain: ["root", "outer"] })
      assert.strictEqual(cycle.doneCalls(), 1)
      const error = errorOf(yield* outcome(cycle))
      assert.strictEqual(error._tag, "DeadlockError")
      // a concurrent handler holds no slot: it can run during the chain
      assert.deepStrictEqual(yield* outcome(deliver(instances, id("loop"), new Query(), { chain: ["outer"] })), Exit.succeed("query"))
      // a chain the running handler is not on just waits
      const unrelated = deliver(instances, id("loop"), new Work({ n: 2 }), { chain: ["elsewhere"] })
      yield* flush
      assert.strictEqual(unrelated.doneCalls(), 0)
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* outcome(first), Exit.succeed("first"))
      assert.deepStrictEqual(yield* outcome(unrelated), Exit.succeed(2))
    }))

  it.effect("with a free slot, a call on the running message's chain is not a deadlock", () =>
    Effect.gen(function*() {
      const { instances } = yield* engine
      const gate = Deferred.makeUnsafe<void>()
      yield* instances.register(yield* registration("wide", Effect.succeed({
        Work: (m: Work) => m.n === 0 ? Effect.as(Deferred.await(gate), "first") : Effect.succeed(m.n)
      }), { concurrency: 2 }))
      deliver(instances, id("wide"), new Work({ n: 0 }), { messageId: "outer" })
      yield* flush
      assert.deepStrictEqual(yield* outcome(deliver(instances, id("wide"), new Work({ n: 1 }), { chain: ["outer"] })), Exit.succeed(1))
      yield* Deferred.succeed(gate, undefined)
    }))

  it.effect("a delivery cancelled before it starts is removed: its handler never runs and nobody is answered", () =>
    Effect.gen(function*() {
      const { idle, instances } = yield* engine
      const gate = Deferred.makeUnsafe<void>()
      const ran: Array<number> = []
      yield* instances.register(yield* registration("cancel", Effect.succeed({
        Work: (m: Work) => Effect.sync(() => ran.push(m.n)).pipe(Effect.andThen(m.n === 0 ? Deferred.await(gate) : Effect.void))
      })))
      const first = deliver(instances, id("cancel"), new Work({ n: 0 }))
      const second = deliver(instances, id("cancel"), new Work({ n: 1 }))
      yield* flush
      assert.strictEqual(idle.pending(), 2)
      second.cancel()
      assert.strictEqual(idle.pending(), 1)
      yield* Deferred.succeed(gate, undefined)
      yield* outcome(first)
      yield* flush
      assert.deepStrictEqual(ran, [0])
      assert.strictEqual(second.doneCalls(), 0)
      assert.strictEqual(idle.pending(), 0)
    }))

  it.effect("a delivery cancelled after it started has its handler interrupted", () =>
    Effect.gen(function*() {
      const { idle, instances } = yield* engine
      const started = Deferred.makeUnsafe<void>()
      let interrupted = false
      yield* instances.register(yield* registration("stop", Effect.succeed({
        Work: (m: Work) =>
          m.n === 0
            ? Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never), Effect.onInterrupt(() => Effect.sync(() => (interrupted = true))))
            : Effect.succeed("next")
      })))
      const sent = deliver(instances, id("stop"), new Work({ n: 0 }))
      yield* Deferred.await(started)
      sent.cancel()
      yield* flush
      assert.isTrue(interrupted)
      assert.strictEqual(sent.doneCalls(), 0)
      assert.strictEqual(idle.pending(), 0)
      // its slot is free again
      assert.deepStrictEqual(yield* outcome(deliver(instances, id("stop"), new Work({ n: 1 }))), Exit.succeed("next"))
    }))

  it.effect("a failing factory answers everything queued with HandlerError, and the next delivery builds again", () =>
    Effect.gen(function*() {
      const { idle, instances } = yield* engine
      let builds = 0
      yield* instances.register(yield* registration("flaky", Effect.suspend(() => {
        builds++
        return builds === 1 ? Effect.fail("no database") : Effect.succeed({ Work: (m: Work) => Effect.succeed(m.n) })
      })))
      const a = deliver(instances, id("flaky"), new Work({ n: 1 }))
      const b = deliver(instances, id("flaky"), new Work({ n: 2 }))
      const save = yield* Effect.forkChild(instances.saveState(id("flaky")), { startImmediately: true })
      for (const sent of [a, b]) {
        const error = errorOf(yield* outcome(sent))
        assert.strictEqual(error._tag, "HandlerError")
        assert.include(error._tag === "HandlerError" ? error.reason : "", "the agent factory failed")
        assert.include(error._tag === "HandlerError" ? error.reason : "", "no database")
      }
      const saveError = yield* Fiber.join(save).pipe(Effect.flip)
      assert.strictEqual(saveError._tag, "HandlerError")
      assert.strictEqual(saveError._tag === "HandlerError" && saveError.messageType, "state or lifecycle operation")
      assert.strictEqual(idle.pending(), 0)
      assert.deepStrictEqual(yield* outcome(deliver(instances, id("flaky"), new Work({ n: 3 }))), Exit.succeed(3))
      assert.strictEqual(builds, 2)
    }))

  it.effect("saveState and loadState take their turn in the mailbox, after the messages before them", () =>
    Effect.gen(function*() {
      const { instances } = yield* engine
      const gate = Deferred.makeUnsafe<void>()
      yield* instances.register(yield* registration("cells", Effect.gen(function*() {
        const count = yield* Agent.state(Schema.Number, 0)
        const when = yield* Agent.state(Schema.Date, new Date(0), { name: "when" })
        return {
          Work: (m: Work) =>
            m.n < 0 ? Effect.map(Effect.all([Ref.get(count), Ref.get(when)]), ([n, d]) => `${n}@${d.toISOString()}`)
            : Deferred.await(gate).pipe(Effect.andThen(Ref.set(count, m.n)), Effect.andThen(Ref.set(when, new Date(1000))))
        }
      })))
      const target = id("cells")
      const set = deliver(instances, target, new Work({ n: 5 }))
      const save = yield* Effect.forkChild(instances.saveState(target), { startImmediately: true })
      yield* flush
      assert.isUndefined(save.pollUnsafe(), "a save queued behind a running message waits for it")
      yield* Deferred.succeed(gate, undefined)
      yield* outcome(set)
      assert.deepStrictEqual(yield* Fiber.join(save), { s0: 5, when: "1970-01-01T00:00:01.000Z" })
      yield* instances.loadState(target, { s0: 9 })
      assert.deepStrictEqual(yield* outcome(deliver(instances, target, new Work({ n: -1 }))), Exit.succeed("9@1970-01-01T00:00:01.000Z"))
      assert.deepStrictEqual(yield* instances.saveAll, { "cells/k": { s0: 9, when: "1970-01-01T00:00:01.000Z" } })
    }))

  it.effect("loading a state with one bad cell changes no cell", () =>
    Effect.gen(function*() {
      const { instances } = yield* engine
      yield* instances.register(yield* registration("strict", Effect.gen(function*() {
        yield* Agent.state(Schema.Number, 1)
        yield* Agent.state(Schema.String, "one")
        return {}
      })))
      const target = id("strict")
      const error = yield* instances.loadState(target, { s0: 2, s1: 2 }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "InvalidMessageError")
      assert.deepStrictEqual(yield* instances.saveState(target), { s0: 1, s1: "one" })
    }))

  it.effect("ensure builds the instance now, metadata describes it, and both refuse an unknown type", () =>
    Effect.gen(function*() {
      const { instances } = yield* engine
      let built = 0
      yield* instances.register(yield* registration("meta", Effect.sync(() => (built++, {}))))
      yield* instances.operate("ensure", id("meta"))
      assert.strictEqual(built, 1)
      assert.deepStrictEqual(yield* instances.metadata(id("meta", "x")), { type: "meta", key: "x", description: "the meta type" })
      assert.strictEqual(built, 1, "metadata does not build")
      const error = yield* instances.ensure(id("ghost")).pipe(Effect.flip)
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "NoSuchAgentType")
    }))

  it.effect("close waits for in-flight work, then runs the instances' finalizers", () =>
    Effect.gen(function*() {
      const { instances } = yield* engine
      const log: Array<string> = []
      yield* instances.register(yield* registration("slow", Effect.gen(function*() {
        yield* Effect.addFinalizer(() => Effect.sync(() => log.push("finalized")))
        return { Work: () => Effect.sleep("1 second").pipe(Effect.andThen(Effect.sync(() => log.push("handled"))), Effect.as("done")) }
      })))
      const sent = deliver(instances, id("slow"), new Work({ n: 1 }))
      yield* flush
      const closing = yield* Effect.forkChild(instances.close("5 seconds"))
      yield* flush
      // intake stopped for outside callers; agents may still send among themselves
      const outside = errorOf(yield* outcome(deliver(instances, id("slow"), new Work({ n: 2 }))))
      assert.strictEqual(outside._tag === "UndeliverableError" && outside.reason._tag, "RuntimeStopping")
      const inside = deliver(instances, id("slow"), new Work({ n: 3 }), { sender: id("peer") })
      assert.strictEqual(inside.doneCalls(), 0)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(closing)
      assert.deepStrictEqual(yield* outcome(sent), Exit.succeed("done"))
      assert.deepStrictEqual(yield* outcome(inside), Exit.succeed("done"))
      assert.deepStrictEqual(log, ["handled", "handled", "finalized"])
      const after = errorOf(yield* outcome(deliver(instances, id("slow"), new Work({ n: 4 }), { sender: id("peer") })))
      assert.strictEqual(after._tag === "UndeliverableError" && after.reason._tag, "RuntimeStopping")
    }))

  it.effect("close interrupts what is still running after the drain timeout and refuses what was queued", () =>
    Effect.gen(function*() {
      const { idle, instances } = yield* engine
      const log: Array<string> = []
      const started = Deferred.makeUnsafe<void>()
      yield* instances.register(yield* registration("stuck", Effect.gen(function*() {
        yield* Effect.addFinalizer(() => Effect.sync(() => log.push("finalized")))
        return {
          Work: () => Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never), Effect.onInterrupt(() => Effect.sync(() => log.push("interrupted"))))
        }
      })))
      const running = deliver(instances, id("stuck"), new Work({ n: 1 }))
      const queued = deliver(instances, id("stuck"), new Work({ n: 2 }))
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(instances.close("100 millis"))
      yield* TestClock.adjust("99 millis")
      assert.deepStrictEqual(log, [])
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(closing)
      assert.deepStrictEqual(log, ["interrupted", "finalized"])
      // the interrupted handler's caller still waits: its message was stopped with the runtime
      const interrupted = errorOf(yield* outcome(running))
      assert.strictEqual(interrupted._tag === "UndeliverableError" && interrupted.reason._tag, "RuntimeStopping")
      const refused = errorOf(yield* outcome(queued))
      assert.strictEqual(refused._tag === "UndeliverableError" && refused.reason._tag, "RuntimeStopping")
      assert.strictEqual(idle.pending(), 0)
      const error = yield* instances.saveState(id("stuck")).pipe(Effect.flip)
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "RuntimeStopping")
    }))

  it.effect("an event handler's failure goes to the deadLetter callback; an rpc failure goes to its caller only", () =>
    Effect.gen(function*() {
      const { instances, letters } = yield* engine
      yield* instances.register(yield* registration("fails", Effect.succeed({
        Work: () => Effect.fail("rpc failed"),
        Noted: () => Effect.fail("event failed")
      })))
      const rpc = errorOf(yield* outcome(deliver(instances, id("fails"), new Work({ n: 1 }))))
      assert.strictEqual(rpc._tag, "HandlerError")
      assert.deepStrictEqual(letters, [])
      const event = deliver(instances, id("fails"), new Noted(), { rpc: false })
      const error = errorOf(yield* outcome(event))
      assert.strictEqual(letters.length, 1)
      assert.strictEqual(letters[0]!.delivery, event.delivery)
      assert.strictEqual(letters[0]!.error, error)
      assert.strictEqual(error._tag === "HandlerError" && error.reason, "event failed")
    }))

  it.effect("an event that cannot be delivered goes to the deadLetter callback", () =>
    Effect.gen(function*() {
      const { instances, letters } = yield* engine
      yield* instances.register(yield* registration("deaf", Effect.succeed({}), { specs: new Map() }))
      deliver(instances, id("ghost"), new Noted(), { rpc: false })
      deliver(instances, id("deaf"), new Noted(), { rpc: false })
      assert.deepStrictEqual(letters.map((l) => l.error._tag), ["UndeliverableError", "CantHandleError"])
    }))

  it.effect("the registration's context is the one factories and handlers run in", () =>
    Effect.gen(function*() {
      class Greeting extends Context.Service<Greeting, string>()("test/Greeting") {}
      const { instances } = yield* engine
      const base = yield* registration("ctxsvc", Effect.map(Greeting, (greeting) => ({
        Work: () => Effect.map(Greeting, (again) => `${greeting}/${again}`)
      })) as unknown as Build)
      yield* instances.register({ ...base, context: Context.add(base.context, Greeting, "hi") })
      assert.deepStrictEqual(yield* outcome(deliver(instances, id("ctxsvc"), new Work({ n: 1 }))), Exit.succeed("hi/hi"))
    }))
})
