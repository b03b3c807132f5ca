/**
 * A model context as agent state: the runtime saves and loads it with the
 * agent (`Agent.state`, through `ModelContext.agentState`), as JSON, on the
 * standalone runtime and across workers of the distributed runtime.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, Schedule, Schema } from "effect"
import { Agent, AgentRuntime, HostServicer, StandaloneRuntime, WorkerRuntime } from "../../../src/index.ts"
import * as BufferedContext from "../../../src/ai/context/BufferedContext.ts"
import * as ModelContext from "../../../src/ai/context/ModelContext.ts"
import { assertWhole, assistant, exchange, labels, user } from "./conversation.ts"

class Say extends Schema.TaggedClass<Say>()("Say", { text: Schema.String }) {}
class Show extends Schema.TaggedClass<Show>()("Show", {}) {}
class Shown extends Schema.TaggedClass<Shown>()("Shown", { worker: Schema.String, labels: Schema.Array(Schema.String) }) {}

const Chatter = Agent.make("chatter", {
  Say: Agent.rpc(Say),
  Show: Agent.rpc(Show, { success: Shown })
})

/** A chatter that keeps a buffered context in its agent state; `worker` tells where it runs. */
const chatterLayer = (worker: string, options?: Agent.LayerOptions, onBuild: Effect.Effect<void> = Effect.void) =>
  Chatter.toLayer(Effect.gen(function*() {
    yield* onBuild
    const context = yield* BufferedContext.make({ size: 5, state: yield* ModelContext.agentState() }).pipe(Effect.orDie)
    return Chatter.of({
      Say: ({ text }) =>
        context.add([user(text), ...exchange([`${text}-call`]), assistant(`done ${text}`)]).pipe(Effect.orDie),
      Show: () =>
        context.messages.pipe(
          Effect.orDie,
          Effect.map((messages) => {
            assertWhole(messages)
            return new Shown({ worker, labels: labels(messages) })
          })
        )
    })
  }), options)

const talk = (key: string, texts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const chatter = (yield* Chatter.client)(key)
    for (const text of texts) yield* chatter.Say({ text })
    return yield* chatter.Show({})
  })

describe("a model context as agent state", () => {
  it.effect("survives saveState and loadState on the standalone runtime, as JSON", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.AgentRuntime
      const before = yield* talk("a", ["one", "two", "three"])
      assert.deepStrictEqual(before.labels, ["a:done two", "u:three", "call:three-call", "result:three-call", "a:done three"])
      const saved = JSON.parse(JSON.stringify(yield* runtime.saveState(Chatter.id("a"))))
      assert.deepStrictEqual(Object.keys(saved), ["context"])
      yield* runtime.loadState(Chatter.id("b"), saved)
      const after = yield* (yield* Chatter.client)("b").Show({})
      assert.deepStrictEqual(after.labels, before.labels)
    }).pipe(Effect.provide(chatterLayer("standalone").pipe(Layer.provideMerge(StandaloneRuntime.layer())))))

  it.effect("a state that is not a context's is refused by loadState with a typed error, and the context is unchanged", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.AgentRuntime
      yield* talk("a", ["one"])
      const error = yield* runtime.loadState(Chatter.id("a"), { context: { messages: "nope" } }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "InvalidMessageError")
      const shown = yield* (yield* Chatter.client)("a").Show({})
      assert.deepStrictEqual(shown.labels, ["u:one", "call:one-call", "result:one-call", "a:done one"])
    }).pipe(Effect.provide(chatterLayer("standalone").pipe(Layer.provideMerge(StandaloneRuntime.layer())))))

  it.live("survives passivation: an idle chatter is dropped and built again with its conversation", () =>
    Effect.gen(function*() {
      const builds = yield* Ref.make(0)
      yield* Effect.gen(function*() {
        const runtime = yield* AgentRuntime.AgentRuntime
        const before = yield* talk("p", ["one", "two"])
        // passivated: it leaves the live instances (polled, within a generous deadline)
        yield* runtime.saveAll.pipe(
          Effect.flatMap((all) => Object.keys(all).includes("chatter/p") ? Effect.fail("still live" as const) : Effect.void),
          Effect.retry(Schedule.spaced("20 millis")),
          Effect.timeout("15 seconds")
        )
        const after = yield* (yield* Chatter.client)("p").Show({})
        assert.deepStrictEqual(after.labels, before.labels)
        assert.strictEqual(yield* Ref.get(builds), 2)
      }).pipe(Effect.provide(
        chatterLayer("standalone", { maxIdleTime: "100 millis" }, Ref.update(builds, (n) => n + 1)).pipe(
          Layer.provideMerge(StandaloneRuntime.layer())
        )
      ))
    }), 30_000)

  it.live("moves to an agent on another worker of the distributed runtime", () =>
    Effect.gen(function*() {
      const runtime = yield* AgentRuntime.AgentRuntime
      // keys are placed by hashing: find one on each worker
      const placed = new Map<string, string>()
      for (let i = 0; i < 64 && placed.size < 2; i++) {
        const shown = yield* (yield* Chatter.client)(`k${i}`).Show({})
        if (!placed.has(shown.worker)) placed.set(shown.worker, `k${i}`)
      }
      assert.strictEqual(placed.size, 2, "both workers run chatters")
      const from = placed.get("a")!
      const to = placed.get("b")!
      const before = yield* talk(from, ["one", "two", "three"])
      assert.strictEqual(before.worker, "a")
      yield* runtime.loadState(Chatter.id(to), yield* runtime.saveState(Chatter.id(from)))
      const after = yield* (yield* Chatter.client)(to).Show({})
      assert.strictEqual(after.worker, "b")
      assert.deepStrictEqual(after.labels, before.labels)
      // the moved conversation goes on where it was
      const later = yield* talk(to, ["four"])
      assert.deepStrictEqual(later.labels, ["a:done three", "u:four", "call:four-call", "result:four-call", "a:done four"])
    }).pipe(Effect.provide(Layer.unwrap(Effect.gen(function*() {
      const host = yield* HostServicer.HostServicer
      const worker = (id: string) => WorkerRuntime.layer({ url: host.url, workerId: id, reconnectInterval: "100 millis" })
      const workerB = chatterLayer("b").pipe(Layer.provide(worker("b")))
      const workerA = chatterLayer("a").pipe(Layer.provideMerge(worker("a")))
      return Layer.merge(workerA, workerB)
    })).pipe(Layer.provide(HostServicer.layer({ port: 0 }))))), 30_000)
})
