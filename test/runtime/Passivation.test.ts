/**
 * Passivation of idle instances and their reactivation, on the standalone
 * runtime under `TestClock` (no real waiting): what is saved, when, what
 * runs, what a message that arrives meanwhile gets, and how state that
 * cannot be loaded reaches the sender as a typed error.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, type Duration, Effect, Exit, Fiber, Layer, Ref, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Agent, AgentId, AgentRuntime, StandaloneRuntime, TestRuntime } from "../../src/index.ts"
import * as StateStore from "../../src/core/StateStore.ts"
import * as Passivation from "../../src/runtime/Passivation.ts"

class Add extends Schema.TaggedClass<Add>()("Add", { by: Schema.Number }) {}
class Get extends Schema.TaggedClass<Get>()("Get", {}) {}
class Hold extends Schema.TaggedClass<Hold>()("Hold", {}) {}

const Tally = Agent.make("tally", {
  Add: Agent.rpc(Add, { success: Schema.Number }),
  Get: Agent.rpc(Get, { success: Schema.Number }),
  Hold: Agent.rpc(Hold)
})

/** What the test sees of the instances' lives. */
interface Life {
  readonly built: Ref.Ref<number>
  readonly finalized: Ref.Ref<number>
  readonly gate: Deferred.Deferred<void>
}

const makeLife = Effect.gen(function*() {
  return { built: yield* Ref.make(0), finalized: yield* Ref.make(0), gate: yield* Deferred.make<void>() } satisfies Life
})

const tallyLayer = (life: Life, options: Agent.LayerOptions = { maxIdleTime: "1 minute" }) =>
  Tally.toLayer(Effect.gen(function*() {
    yield* Ref.update(life.built, (n) => n + 1)
    yield* Effect.addFinalizer(() => Ref.update(life.finalized, (n) => n + 1))
    const total = yield* Agent.state(Schema.Number, 0, { name: "total" })
    return Tally.of({
      Add: ({ by }) => Ref.updateAndGet(total, (n) => n + by),
      Get: () => Ref.get(total),
      Hold: () => Deferred.await(life.gate)
    })
  }), options)

/** Runs `effect` on a standalone runtime with `agents`, on `store` if given (else the runtime's own in memory). */
const on = (agents: Layer.Layer<never, any, AgentRuntime.AgentRuntime>, store?: StateStore.Service) =>
<A, E, R>(effect: Effect.Effect<A, E, R>) => {
  const runtime = StandaloneRuntime.layer({ sendTimeout: "10 minutes" })
  const withStore = store === undefined ? runtime : runtime.pipe(Layer.provide(Layer.succeed(StateStore.StateStore, store)))
  return Effect.provide(effect, agents.pipe(Layer.provideMerge(withStore)))
}

/** Moves the clock and lets what it woke (timers, passivations) finish. */
const advance = (duration: Duration.Input) =>
  Effect.gen(function*() {
    yield* TestClock.adjust(duration)
    for (let i = 0; i < 10; i++) yield* Effect.yieldNow
    yield* AgentRuntime.AgentRuntime.use((runtime) => runtime.awaitIdle)
  })

const live = AgentRuntime.AgentRuntime.use((runtime) => runtime.saveAll).pipe(Effect.map((all) => Object.keys(all).sort()))

describe("Passivation", () => {
  it.effect("an instance idle for maxIdleTime is saved, finalized and dropped; its next message reactivates it with its state", () =>
    Effect.gen(function*() {
      const life = yield* makeLife
      const store = StateStore.makeMemory()
      yield* Effect.gen(function*() {
        const tally = yield* Tally.client
        assert.strictEqual(yield* tally("a").Add({ by: 2 }), 2)
        assert.strictEqual(yield* tally("a").Add({ by: 3 }), 5)
        yield* advance("59 seconds")
        assert.deepStrictEqual(yield* live, ["tally/a"])
        assert.strictEqual(yield* Ref.get(life.finalized), 0)
        yield* advance("2 seconds")
        assert.deepStrictEqual(yield* live, [])
        assert.strictEqual(yield* Ref.get(life.finalized), 1)
        assert.deepStrictEqual(yield* store.load(Tally.id("a")), { version: 1, state: { total: 5 } })
        // reactivated: a new factory run, the state it had
        assert.strictEqual(yield* tally("a").Add({ by: 1 }), 6)
        assert.strictEqual(yield* Ref.get(life.built), 2)
        assert.deepStrictEqual(yield* live, ["tally/a"])
      }).pipe(on(tallyLayer(life), store))
    }))

  it.effect("every message restarts the idle time; a handler still running is never passivated", () =>
    Effect.gen(function*() {
      const life = yield* makeLife
      yield* Effect.gen(function*() {
        const tally = yield* Tally.client
        yield* tally("a").Add({ by: 1 })
        yield* advance("40 seconds")
        yield* tally("a").Add({ by: 1 })
        yield* advance("40 seconds")
        assert.deepStrictEqual(yield* live, ["tally/a"], "40 s after its last message")
        yield* advance("21 seconds")
        assert.deepStrictEqual(yield* live, [])
        // a handler that runs for longer than maxIdleTime keeps its instance
        const held = yield* Effect.forkChild(tally("b").Hold({}))
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        yield* TestClock.adjust("5 minutes")
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        assert.strictEqual(yield* Ref.get(life.finalized), 1, "only a was finalized")
        yield* Deferred.succeed(life.gate, undefined)
        yield* Fiber.join(held)
        yield* advance("61 seconds")
        assert.strictEqual(yield* Ref.get(life.finalized), 2)
      }).pipe(on(tallyLayer(life)))
    }))

  it.effect("without maxIdleTime, an idle instance lives as long as the runtime", () =>
    Effect.gen(function*() {
      const life = yield* makeLife
      yield* Effect.gen(function*() {
        const tally = yield* Tally.client
        yield* tally("a").Add({ by: 1 })
        yield* advance("1 day")
        assert.deepStrictEqual(yield* live, ["tally/a"])
        assert.strictEqual(yield* Ref.get(life.finalized), 0)
      }).pipe(on(tallyLayer(life, {})))
    }))

  it.effect("saveState of a passivated instance is its stored state, and does not reactivate it; loadState does", () =>
    Effect.gen(function*() {
      const life = yield* makeLife
      yield* Effect.gen(function*() {
        const runtime = yield* AgentRuntime.AgentRuntime
        const tally = yield* Tally.client
        yield* tally("a").Add({ by: 4 })
        yield* advance("61 seconds")
        assert.deepStrictEqual(yield* runtime.saveState(Tally.id("a")), { total: 4 })
        assert.strictEqual(yield* Ref.get(life.built), 1)
        assert.deepStrictEqual(yield* live, [])
        yield* runtime.loadState(Tally.id("a"), { total: 10 })
        assert.deepStrictEqual(yield* live, ["tally/a"])
        assert.strictEqual(yield* tally("a").Get({}), 10)
      }).pipe(on(tallyLayer(life)))
    }))

  it.effect("a message that arrives while the instance passivates waits, and the next instance answers it with the saved state", () =>
    Effect.gen(function*() {
      const life = yield* makeLife
      const memory = StateStore.makeMemory()
      const saving = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      // a store whose save waits until the test lets it go on
      const slow: StateStore.Service = {
        ...memory,
        save: (id, stored) => Deferred.succeed(saving, undefined).pipe(Effect.andThen(Deferred.await(release)), Effect.andThen(memory.save(id, stored)))
      }
      yield* Effect.gen(function*() {
        const tally = yield* Tally.client
        yield* tally("a").Add({ by: 7 })
        yield* TestClock.adjust("61 seconds")
        yield* Deferred.await(saving)
        const reply = yield* Effect.forkChild(tally("a").Add({ by: 1 }))
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        assert.strictEqual(yield* Ref.get(life.built), 1, "nothing is built while it passivates")
        yield* Deferred.succeed(release, undefined)
        assert.strictEqual(yield* Fiber.join(reply), 8)
        assert.strictEqual(yield* Ref.get(life.built), 2)
        assert.strictEqual(yield* Ref.get(life.finalized), 1)
      }).pipe(on(tallyLayer(life), slow))
    }))

  it.effect("a stored state that does not decode is a typed error for that agent's sender; other agents go on; removing it starts afresh", () =>
    Effect.gen(function*() {
      const life = yield* makeLife
      const store = StateStore.makeMemory()
      yield* store.save(Tally.id("bad"), { version: 1, state: { total: "not a number" } })
      yield* Effect.gen(function*() {
        const tally = yield* Tally.client
        const error = yield* Effect.flip(tally("bad").Add({ by: 1 }))
        assert.strictEqual(error._tag, "HandlerError")
        assert.include(error.message, "stored state could not be loaded")
        assert.isTrue(error._tag === "HandlerError" && error.cause instanceof StateStore.StateStoreError)
        assert.strictEqual(yield* tally("good").Add({ by: 1 }), 1)
        // the factory's scope was closed, and no instance is left behind
        assert.strictEqual(yield* Ref.get(life.finalized), 1)
        assert.deepStrictEqual(yield* live, ["tally/good"])
        yield* store.remove(Tally.id("bad"))
        assert.strictEqual(yield* tally("bad").Add({ by: 1 }), 1)
      }).pipe(on(tallyLayer(life), store))
    }))

  it.effect("state stored by another version is an error unless the type migrates it", () =>
    Effect.gen(function*() {
      const life = yield* makeLife
      const store = StateStore.makeMemory()
      yield* store.save(Tally.id("a"), { version: 1, state: { total: 3 } })
      yield* Effect.gen(function*() {
        const error = yield* Effect.flip((yield* Tally.client)("a").Get({}))
        assert.strictEqual(error._tag, "HandlerError")
        assert.include(error.message, "state version 1")
      }).pipe(on(tallyLayer(life, { maxIdleTime: "1 minute", stateVersion: 2 }), store))
      yield* Effect.gen(function*() {
        assert.strictEqual(yield* (yield* Tally.client)("a").Get({}), 30)
        yield* advance("61 seconds")
        assert.deepStrictEqual(yield* store.load(Tally.id("a")), { version: 2, state: { total: 30 } })
      }).pipe(on(
        tallyLayer(life, {
          maxIdleTime: "1 minute",
          stateVersion: 2,
          migrateState: (state, from) => Effect.succeed(from === 1 ? { total: (state.total as number) * 10 } : state)
        }),
        store
      ))
    }))

  it.effect("closing the runtime saves the live instances of a passivating type: the next runtime on the store finds them", () =>
    Effect.gen(function*() {
      const life = yield* makeLife
      const store = StateStore.makeMemory()
      yield* Effect.gen(function*() {
        yield* (yield* Tally.client)("a").Add({ by: 9 })
      }).pipe(on(tallyLayer(life), store))
      assert.strictEqual(yield* Ref.get(life.finalized), 1)
      yield* Effect.gen(function*() {
        assert.strictEqual(yield* (yield* Tally.client)("a").Get({}), 9)
      }).pipe(on(tallyLayer(life), store))
    }))

  it.effect("many idle instances are passivated by one timer, and the live set is what was touched since", () =>
    Effect.gen(function*() {
      const life = yield* makeLife
      const store = StateStore.makeMemory()
      yield* Effect.gen(function*() {
        const tally = yield* Tally.client
        yield* Effect.forEach(Array.from({ length: 500 }, (_, i) => i), (i) => tally(`k${i}`).Add({ by: i }), { discard: true })
        yield* advance("30 seconds")
        yield* tally("k0").Add({ by: 100 })
        yield* advance("31 seconds")
        assert.deepStrictEqual(yield* live, ["tally/k0"])
        assert.strictEqual(yield* Ref.get(life.finalized), 499)
        assert.deepStrictEqual(yield* store.load(Tally.id("k499")), { version: 1, state: { total: 499 } })
        assert.strictEqual(yield* tally("k499").Get({}), 499)
      }).pipe(on(tallyLayer(life), store))
    }))

  it.effect("TestRuntime drives passivation with TestClock (no real waiting)", () =>
    Effect.gen(function*() {
      const life = yield* makeLife
      yield* Effect.gen(function*() {
        const tally = yield* Tally.client
        yield* tally("t").Add({ by: 3 })
        yield* advance("2 minutes")
        assert.strictEqual(yield* Ref.get(life.finalized), 1)
        assert.deepStrictEqual(yield* live, [])
        assert.strictEqual(yield* tally("t").Get({}), 3)
        assert.strictEqual(yield* Ref.get(life.built), 2)
      }).pipe(Effect.provide(tallyLayer(life).pipe(Layer.provideMerge(TestRuntime.layer()))))
    }))

  it.effect("a maxIdleTime that is no duration, or a state version that is no whole number, is an AgentDefinitionError", () =>
    Effect.gen(function*() {
      const life = yield* makeLife
      for (const options of [{ maxIdleTime: "soon" as never }, { stateVersion: 1.5 }] satisfies Array<Agent.LayerOptions>) {
        const exit = yield* Effect.exit(Effect.void.pipe(on(tallyLayer(life, options))))
        assert.isTrue(Exit.isFailure(exit))
        assert.include(String(Exit.isFailure(exit) && exit.cause), "AgentDefinitionError")
      }
      assert.strictEqual(String(AgentId.make("tally", "a")), "tally/a")
    }))
})

describe("Passivation timers", () => {
  const node = (): Passivation.Node => ({ idleSince: 0, idlePrev: undefined, idleNext: undefined, idleList: undefined })

  it.effect("idle nodes expire in the order they went idle, after the list's time; a busy one does not, and may go idle again", () =>
    Effect.gen(function*() {
      const timers = yield* Passivation.make
      const expired: Array<string> = []
      const names = new Map<Passivation.Node, string>()
      const list = timers.list(1_000, (n) => void expired.push(names.get(n)!))
      const [a, b, c] = [node(), node(), node()]
      names.set(a, "a").set(b, "b").set(c, "c")
      timers.idle(list, a)
      yield* TestClock.adjust("400 millis")
      timers.idle(list, b)
      timers.idle(list, c)
      timers.busy(b)
      yield* TestClock.adjust("599 millis")
      assert.deepStrictEqual(expired, [])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(expired, ["a"])
      // b went idle again later: it is behind c now
      timers.idle(list, b)
      yield* TestClock.adjust("400 millis")
      assert.deepStrictEqual(expired, ["a", "c"])
      yield* TestClock.adjust("600 millis")
      assert.deepStrictEqual(expired, ["a", "c", "b"])
      assert.isUndefined(list.head)
      assert.isUndefined(b.idleList)
    }).pipe(Effect.scoped))

  it.effect("closing the scope stops the timers: nothing expires after", () =>
    Effect.gen(function*() {
      const expired: Array<Passivation.Node> = []
      const n = node()
      yield* Effect.scoped(Effect.gen(function*() {
        const timers = yield* Passivation.make
        timers.idle(timers.list(1_000, (x) => void expired.push(x)), n)
      }))
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(expired, [])
    }))
})
