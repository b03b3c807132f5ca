/**
 * Checks the semantics a mailbox/send optimisation must keep, against any
 * copy of the sources (to try a change in a scratch copy before proposing it):
 *
 *   node bench/check-semantics.ts                      # ../src
 *   SRC=/tmp/scratch/src node bench/check-semantics.ts # another copy
 *
 * mailbox order and one-at-a-time, `concurrency` slots, concurrent handlers
 * not stuck behind a busy one, cancellation of a running or queued handler
 * when its caller is interrupted (also from inside the handler's synchronous
 * part), send deadline, deadlock detection, idle tracking, handler errors.
 */
import { Deferred, Effect, Exit, Fiber, Layer, Schema } from "effect"
import { pathToFileURL } from "node:url"
import { resolve } from "node:path"

type Src = typeof import("../src/index.ts")
const src: Src = await import(process.env.SRC ? pathToFileURL(resolve(process.env.SRC, "index.ts")).href : "../src/index.ts")
const { Agent, AgentRuntime, StandaloneRuntime, Subscription, TopicId } = src

class Note extends Schema.TaggedClass<Note>()("Note", { i: Schema.Number }) {}
class Slow extends Schema.TaggedClass<Slow>()("Slow", { id: Schema.String }) {}
class Quick extends Schema.TaggedClass<Quick>()("Quick", { id: Schema.String }) {}
class Query extends Schema.TaggedClass<Query>()("Query", {}) {}
class Loop extends Schema.TaggedClass<Loop>()("Loop", {}) {}
class Boom extends Schema.TaggedClass<Boom>()("Boom", {}) {}
class SyncCancel extends Schema.TaggedClass<SyncCancel>()("SyncCancel", {}) {}

// shared observations, reset per check
const log: Array<string> = []
let active = 0
let maxActive = 0
const started = new Map<string, Deferred.Deferred<void>>()
const release = new Map<string, Deferred.Deferred<void>>()
const gate = (m: Map<string, Deferred.Deferred<void>>, id: string) => {
  let d = m.get(id)
  if (d === undefined) m.set(id, d = Deferred.makeUnsafe<void>())
  return d
}
let syncCaller: Fiber.Fiber<unknown, unknown> | undefined

const Worker = Agent.make("worker", {
  Note: Agent.event(Note),
  Slow: Agent.rpc(Slow, { success: Schema.String }),
  Quick: Agent.rpc(Quick, { success: Schema.String }),
  Query: Agent.rpc(Query, { success: Schema.Number, concurrent: true }),
  Loop: Agent.rpc(Loop, { success: Schema.String }),
  Boom: Agent.rpc(Boom),
  SyncCancel: Agent.rpc(SyncCancel)
})
const behaviour = Effect.gen(function*() {
  const self = (yield* Worker.client)
  return Worker.of({
    Note: ({ i }) =>
      Effect.gen(function*() {
        active++
        maxActive = Math.max(maxActive, active)
        yield* Effect.yieldNow
        log.push(`note ${i}`)
        active--
      }),
    Slow: ({ id }) =>
      Effect.gen(function*() {
        active++
        maxActive = Math.max(maxActive, active)
        log.push(`start ${id}`)
        yield* Deferred.succeed(gate(started, id), undefined)
        yield* Deferred.await(gate(release, id))
        log.push(`end ${id}`)
        return id
      }).pipe(Effect.onInterrupt(() => Effect.sync(() => log.push(`interrupted ${id}`))), Effect.ensuring(Effect.sync(() => active--))),
    Quick: ({ id }) => Effect.sync(() => (log.push(`quick ${id}`), id)),
    Query: () => Effect.succeed(42),
    Loop: (_, ctx) => self(ctx.self.key).Loop({}).pipe(Effect.as("no deadlock?"), Effect.catch((e) => Effect.succeed((e as { _tag: string })._tag))),
    Boom: () => Effect.fail(new Error("boom")),
    SyncCancel: () =>
      Effect.sync(() => syncCaller!.interruptUnsafe()).pipe(
        Effect.andThen(Effect.sleep("2 seconds")),
        Effect.onInterrupt(() => Effect.sync(() => log.push("sync-cancel interrupted")))
      )
  })
})
const WorkerLive = Worker.toLayer(behaviour, { subscriptions: [Subscription.type("notes")] })
const Pair = Agent.make("pair", { Slow: Agent.rpc(Slow, { success: Schema.String }) })
const PairLive = Pair.toLayer(Effect.succeed(Pair.of({
  Slow: ({ id }) =>
    Effect.gen(function*() {
      active++
      maxActive = Math.max(maxActive, active)
      log.push(`start ${id}`)
      yield* Deferred.await(gate(release, id))
      active--
      return id
    })
})), { concurrency: 2 })

const env = Layer.provideMerge(Layer.mergeAll(WorkerLive, PairLive), StandaloneRuntime.layer())

const checks: Array<[string, Effect.Effect<void, unknown, AgentRuntime.AgentRuntime>]> = []
const check = (name: string, body: Effect.Effect<void, unknown, AgentRuntime.AgentRuntime>) => checks.push([name, body])
const expect = (cond: boolean, what: string) => cond ? Effect.void : Effect.die(new Error(`expected ${what}; log: ${log.join(", ")}`))
const w = Effect.map(Worker.client, (c) => c("w"))

check("mailbox order, one at a time", Effect.gen(function*() {
  const topic = TopicId.make("notes", "w")
  for (let i = 0; i < 50; i++) yield* AgentRuntime.publish(topic, new Note({ i }))
  yield* AgentRuntime.awaitIdle
  yield* expect(log.join() === Array.from({ length: 50 }, (_, i) => `note ${i}`).join(), "notes in order")
  yield* expect(maxActive === 1, "one at a time")
}))

check("interrupting the caller cancels the running handler; the mailbox goes on", Effect.gen(function*() {
  const worker = yield* w
  const caller = yield* Effect.forkChild(worker.Slow({ id: "a" }))
  yield* Deferred.await(gate(started, "a"))
  yield* Fiber.interrupt(caller)
  // the cancel is a signal: the handler's fiber stops on its own turn
  yield* AgentRuntime.awaitIdle.pipe(Effect.timeout("1 second"))
  yield* expect(log.includes("interrupted a"), "handler interrupted")
  const r = yield* worker.Quick({ id: "b" })
  yield* expect(r === "b", "next message handled")
}))

check("interrupting a queued message's caller removes it from the mailbox", Effect.gen(function*() {
  const worker = yield* w
  const first = yield* Effect.forkChild(worker.Slow({ id: "c" }))
  yield* Deferred.await(gate(started, "c"))
  const queued = yield* Effect.forkChild(worker.Quick({ id: "d" }))
  yield* Effect.yieldNow
  yield* Fiber.interrupt(queued)
  yield* Deferred.succeed(gate(release, "c"), undefined)
  yield* Fiber.join(first)
  yield* worker.Quick({ id: "e" })
  yield* expect(!log.includes("quick d") && log.includes("quick e"), "d never ran, e did")
}))

check("a cancel during the handler's synchronous part interrupts it", Effect.gen(function*() {
  const worker = yield* w
  const caller = yield* Effect.forkChild(worker.SyncCancel({}))
  syncCaller = caller
  const exit = yield* Fiber.await(caller)
  yield* AgentRuntime.awaitIdle.pipe(Effect.timeout("1 second"))
  yield* expect(Exit.isFailure(exit) && log.includes("sync-cancel interrupted"), "handler interrupted, runtime idle")
}))

check("send deadline: TimeoutError, handler cancelled", Effect.gen(function*() {
  const worker = yield* w
  const exit = yield* Effect.exit(worker.Slow({ id: "f" }, { timeout: "50 millis" }))
  const tag = Exit.isFailure(exit) ? JSON.stringify(exit.cause) : "success"
  yield* expect(tag.includes("TimeoutError"), `TimeoutError, got ${tag.slice(0, 200)}`)
  yield* expect(log.includes("interrupted f"), "handler interrupted")
  yield* AgentRuntime.awaitIdle.pipe(Effect.timeout("1 second"))
}))

check("deadlock detection (send to self)", Effect.gen(function*() {
  const r = yield* (yield* w).Loop({})
  yield* expect(r === "DeadlockError", `DeadlockError, got ${r}`)
}))

check("a concurrent handler is not stuck behind a busy one", Effect.gen(function*() {
  const worker = yield* w
  const busy = yield* Effect.forkChild(worker.Slow({ id: "g" }))
  yield* Deferred.await(gate(started, "g"))
  const n = yield* worker.Query({}).pipe(Effect.timeout("1 second"))
  yield* expect(n === 42, "query answered")
  yield* Deferred.succeed(gate(release, "g"), undefined)
  yield* Fiber.join(busy)
}))

check("idle tracking", Effect.gen(function*() {
  const worker = yield* w
  const busy = yield* Effect.forkChild(worker.Slow({ id: "h" }))
  yield* Deferred.await(gate(started, "h"))
  const early = yield* Effect.exit(AgentRuntime.awaitIdle.pipe(Effect.timeout("50 millis")))
  yield* expect(Exit.isFailure(early), "not idle while a handler runs")
  yield* Deferred.succeed(gate(release, "h"), undefined)
  yield* Fiber.join(busy)
  yield* AgentRuntime.awaitIdle.pipe(Effect.timeout("1 second"))
}))

check("concurrency 2: two slots, starts in arrival order", Effect.gen(function*() {
  const pair = (yield* Pair.client)("p")
  const fibers = []
  for (const id of ["p1", "p2", "p3", "p4"]) {
    fibers.push(yield* Effect.forkChild(pair.Slow({ id })))
    yield* Effect.yieldNow
  }
  yield* Effect.sleep("20 millis")
  yield* expect(log.join() === "start p1,start p2", "two started")
  for (const id of ["p1", "p2", "p3", "p4"]) yield* Deferred.succeed(gate(release, id), undefined)
  yield* Fiber.joinAll(fibers)
  yield* expect(log.join() === "start p1,start p2,start p3,start p4" && maxActive === 2, "order kept, max 2")
}))

check("a failing handler gives the caller HandlerError", Effect.gen(function*() {
  const exit = yield* Effect.exit((yield* w).Boom({}))
  yield* expect(Exit.isFailure(exit) && JSON.stringify(exit.cause).includes("HandlerError"), "HandlerError")
}))

let failed = 0
for (const [name, body] of checks) {
  log.length = 0
  active = maxActive = 0
  started.clear()
  release.clear()
  const exit = await Effect.runPromiseExit(body.pipe(Effect.provide(env), Effect.timeout("5 seconds")))
  if (Exit.isSuccess(exit)) console.log(`ok    ${name}`)
  else {
    failed++
    console.log(`FAIL  ${name}\n      ${String(exit.cause).split("\n").slice(0, 3).join("\n      ")}`)
  }
}
console.log(failed === 0 ? "all semantics checks passed" : `${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
