/**
 * The standalone runtime under `TestClock`: deadlines, the configured
 * defaults and shutdown run on Effect's clock, so a test drives them
 * without waiting.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Ref, Schema, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Agent, AgentRuntime, RuntimeConfig, StandaloneRuntime, Subscription, TopicId } from "../../src/index.ts"

class Wait extends Schema.TaggedClass<Wait>()("Wait", {}) {}
class Ping extends Schema.TaggedClass<Ping>()("Ping", {}) {}

const Sleeper = Agent.make("sleeper", {
  Wait: Agent.rpc(Wait),
  Ping: Agent.rpc(Ping, { success: Schema.String })
})

/** An agent whose `Wait` never returns; records when its handlers and its instance end. */
const sleeperLayer = (log: Ref.Ref<ReadonlyArray<string>>, started: Deferred.Deferred<void>) =>
  Sleeper.toLayer(Effect.gen(function*() {
    yield* Effect.addFinalizer(() => Ref.update(log, (l) => [...l, "instance finalized"]))
    return Sleeper.of({
      Wait: () =>
        Deferred.succeed(started, undefined).pipe(
          Effect.andThen(Effect.never),
          Effect.onInterrupt(() => Ref.update(log, (l) => [...l, "handler interrupted"]))
        ),
      Ping: () => Effect.succeed("pong")
    })
  }))

describe("StandaloneRuntime on the test clock", () => {
  it.effect("a send's deadline fires when the clock passes it, and cancels the handler", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const started = yield* Deferred.make<void>()
      const context = yield* Layer.build(sleeperLayer(log, started).pipe(Layer.provideMerge(StandaloneRuntime.layer())))
      const sleeper = yield* Effect.provideContext(Sleeper.client, context)
      const call = yield* Effect.forkChild(sleeper("a").Wait({}, { timeout: "10 minutes" }))
      yield* Deferred.await(started)
      yield* TestClock.adjust("9 minutes")
      assert.isUndefined(call.pollUnsafe())
      yield* TestClock.adjust("1 minute")
      const exit = yield* Fiber.await(call)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
      assert.strictEqual(error?._tag === "Some" ? error.value._tag : undefined, "TimeoutError")
      assert.deepStrictEqual(yield* Ref.get(log), ["handler interrupted"])
      // the instance is still there and answers
      assert.strictEqual(yield* sleeper("a").Ping({}), "pong")
    }))

  it.effect("the default deadline comes from RuntimeConfig", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const started = yield* Deferred.make<void>()
      const context = yield* Layer.build(sleeperLayer(log, started).pipe(
        Layer.provideMerge(StandaloneRuntime.layer()),
        Layer.provide(RuntimeConfig.layer({ sendTimeout: Duration.seconds(3) }))
      ))
      const call = yield* Effect.forkChild(Effect.provideContext(AgentRuntime.send(Sleeper.id("a"), new Wait()), context))
      yield* Deferred.await(started)
      yield* TestClock.adjust("2999 millis")
      assert.isUndefined(call.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(call))
      assert.strictEqual(error._tag, "TimeoutError")
      assert.strictEqual(error._tag === "TimeoutError" && error.timeoutMillis, 3000)
    }))

  it.effect("closing waits shutdownTimeout on the clock for running work, then interrupts it and runs finalizers", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const started = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        sleeperLayer(log, started).pipe(Layer.provideMerge(StandaloneRuntime.layer({ shutdownTimeout: "5 seconds", sendTimeout: Infinity }))),
        scope
      )
      const call = yield* Effect.forkChild(Effect.provideContext(AgentRuntime.send(Sleeper.id("a"), new Wait()), context))
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("4 seconds")
      assert.isUndefined(closing.pollUnsafe())
      assert.deepStrictEqual(yield* Ref.get(log), [])
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(closing)
      assert.deepStrictEqual(yield* Ref.get(log), ["handler interrupted", "instance finalized"])
      const error = yield* Effect.flip(Fiber.join(call))
      assert.strictEqual(error._tag, "UndeliverableError")
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "RuntimeStopping")
    }))
})

describe("StandaloneRuntime mailboxes are bounded", () => {
  it.effect("closing the runtime while a handler is stuck does not wait for a test clock nobody advances", () =>
    Effect.gen(function*() {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const started = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(sleeperLayer(log, started).pipe(Layer.provideMerge(StandaloneRuntime.layer({ shutdownTimeout: "50 millis" }))), scope)
      yield* Effect.forkChild(Effect.provideContext(AgentRuntime.send(Sleeper.id("a"), new Wait()), context))
      yield* Deferred.await(started)
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* Ref.get(log), ["handler interrupted", "instance finalized"])
    }))

  it.effect("a stuck agent's mailbox stays at its capacity: publishes past it are dead letters, memory does not grow with the load", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const Stuck = Agent.make("stuck", { Wait: Agent.event(Wait) })
      const context = yield* Layer.build(Stuck.toLayer(Effect.succeed(Stuck.of({
        Wait: () => Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never))
      })), { subscriptions: [Subscription.type("jam")] }).pipe(Layer.provideMerge(StandaloneRuntime.layer({ mailboxCapacity: 100, shutdownTimeout: "10 millis" }))))
      const letters = yield* Effect.provideContext(AgentRuntime.AgentRuntime.use((r) => r.deadLetters), context)
      const collected = yield* Effect.forkChild(Stream.runCollect(Stream.take(letters, 2_000)))
      const runtime = Context.get(context, AgentRuntime.AgentRuntime)
      yield* runtime.publish(TopicId.make("jam", "a"), new Wait())
      yield* Deferred.await(started)
      for (let i = 0; i < 2_100; i++) {
        yield* runtime.publish(TopicId.make("jam", "a"), new Wait())
        // let the observer keep up (the dead-letter stream slides past 4096 unread letters)
        if (i % 100 === 0) yield* Effect.yieldNow
      }
      const dead = yield* Fiber.join(collected)
      // one running, 100 waiting, everything past that refused as it came
      assert.strictEqual(dead.length, 2_000)
      assert.isTrue(dead.every((l) => l.error._tag === "UndeliverableError" && l.error.reason._tag === "Overloaded"))
    }))

  it.effect("a send to a full mailbox waits for room within its deadline, then is handled in order", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const order: Array<string> = []
      const Gate = Agent.make("gate", { Ping: Agent.rpc(Ping, { success: Schema.String }), Wait: Agent.rpc(Wait) })
      const context = yield* Layer.build(Gate.toLayer(Effect.succeed(Gate.of({
        Wait: () => Deferred.await(gate),
        Ping: () => Effect.sync(() => order.push("ping")).pipe(Effect.as("pong"))
      }))).pipe(Layer.provideMerge(StandaloneRuntime.layer({ mailboxCapacity: 1, sendTimeout: "10 seconds" }))))
      const gateClient = (yield* Effect.provideContext(Gate.client, context))("g")
      const blocker = yield* Effect.forkChild(gateClient.Wait({}))
      yield* Effect.yieldNow
      const queued = yield* Effect.forkChild(gateClient.Ping({}))
      yield* Effect.yieldNow
      // the mailbox (capacity 1) holds `queued`: this one waits outside it
      const parked = yield* Effect.forkChild(gateClient.Ping({}))
      const timedOut = yield* Effect.forkChild(gateClient.Ping({}, { timeout: "1 second" }))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Effect.flip(Fiber.join(timedOut)))._tag, "TimeoutError")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(blocker)
      assert.strictEqual(yield* Fiber.join(queued), "pong")
      assert.strictEqual(yield* Fiber.join(parked), "pong")
      assert.deepStrictEqual(order, ["ping", "ping"])
    }))
})
