/**
 * The standalone runtime under `TestClock`: deadlines, the configured
 * defaults and shutdown run on Effect's clock, so a test drives them
 * without waiting.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Ref, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import { Agent, AgentRuntime, RuntimeConfig, StandaloneRuntime } from "../../src/index.ts"

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
