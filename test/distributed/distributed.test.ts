/**
 * Behaviour only the distributed runtime has: placement across workers,
 * workers and hosts that go away, sizes, tokens, transports. Host and workers
 * run in this process over real loopback sockets.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Deferred, Effect, Exit, Fiber, Layer, Schedule, Schema, Stream } from "effect"
import { RpcClient, RpcSerialization } from "effect/rpc"
import { Agent, AgentError, AgentRuntime, Protocol, Subscription, TopicId } from "../../src/index.ts"
import { Echo, Note, Probe, probeLive, Refused, Where } from "./agents.ts"
import * as Harness from "../support/harness.ts"

const count = (key: string) => Effect.flatMap(Probe.client, (probe) => probe(key).Count({}))

describe("distributed runtime", () => {
  it.live("two workers serving one agent type split the keys between them, and each key stays put", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      yield* Harness.worker(host.service.url, "a", probeLive("a"))
      yield* Harness.worker(host.service.url, "b", probeLive("b"))
      const client = yield* Harness.worker(host.service.url, "client")
      const keys = Array.from({ length: 24 }, (_, i) => `k${i}`)
      const where = (key: string) => Effect.map(Effect.flatMap(Probe.client, (probe) => probe(key).Where({})), (p) => p.worker)
      const first = yield* Harness.on(client, Effect.forEach(keys, where))
      const again = yield* Harness.on(client, Effect.forEach(keys, where))
      assert.deepStrictEqual(new Set(first), new Set(["a", "b"]))
      assert.deepStrictEqual(again, first)
    }).pipe(Effect.scoped))

  it.live("a worker removes only the subscriptions it added; the owner's removal stops delivery", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const a = yield* Harness.worker(host.service.url, "a", probeLive("a"))
      const client = yield* Harness.worker(host.service.url, "client")
      const id = Subscription.id(Subscription.type("notes", "probe"))
      yield* Harness.on(client, Effect.gen(function*() {
        yield* AgentRuntime.publish(TopicId.make("notes", "n1"), new Note({ text: "one" }))
        yield* AgentRuntime.awaitIdle
        assert.strictEqual(yield* count("n1"), 1)
        // a stranger's removal changes nothing
        assert.isFalse(yield* AgentRuntime.removeSubscription(id))
        yield* AgentRuntime.publish(TopicId.make("notes", "n1"), new Note({ text: "two" }))
        yield* AgentRuntime.awaitIdle
        assert.strictEqual(yield* count("n1"), 2)
      }))
      assert.isTrue(yield* Harness.on(a, AgentRuntime.removeSubscription(id)))
      yield* Harness.on(client, Effect.gen(function*() {
        yield* AgentRuntime.publish(TopicId.make("notes", "n1"), new Note({ text: "three" }))
        yield* AgentRuntime.awaitIdle
        assert.strictEqual(yield* count("n1"), 2)
      }))
    }).pipe(Effect.scoped))

  it.live("a worker that leaves fails the sends waiting on it at once, and its agent types disappear", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const a = yield* Harness.worker(host.service.url, "a", probeLive("a"))
      const client = yield* Harness.worker(host.service.url, "client")
      const pending = yield* Harness.on(client, Effect.flatMap(Probe.client, (probe) => probe("x").Slow({ millis: 60_000 }))).pipe(
        Effect.forkChild
      )
      // the request has reached worker a once the host shows it in flight
      yield* Effect.sleep("200 millis")
      yield* a.stop
      const exit = yield* Fiber.await(pending)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.toString() : ""
      assert.include(error, "UndeliverableError")
      const workers = yield* host.service.workers
      assert.deepStrictEqual(workers.map((w) => w.workerId), ["client"])
      const after = yield* Harness.on(client, Effect.flatMap(Probe.client, (probe) => probe("x").Where({})).pipe(Effect.flip))
      assert.strictEqual(after._tag, "UndeliverableError")
    }).pipe(Effect.scoped))

  it.live("a host restart is survived: workers rejoin and re-register types and subscriptions", () =>
    Effect.gen(function*() {
      const first = yield* Harness.host()
      const port = first.service.port
      yield* Harness.worker(first.service.url, "a", probeLive("a"))
      const client = yield* Harness.worker(first.service.url, "client")
      const echo = Harness.on(client, Effect.flatMap(Probe.client, (probe) => probe("r").Echo({ text: "hi" })))
      assert.strictEqual(yield* echo, "a:hi")
      yield* first.stop
      // while the host is down a send fails at once with a typed error
      const down = yield* Effect.flip(echo)
      assert.strictEqual(down._tag, "UndeliverableError")
      yield* Harness.host({ port })
      const back = yield* echo.pipe(Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 }))
      assert.strictEqual(back, "a:hi")
      yield* Harness.on(client, Effect.gen(function*() {
        yield* AgentRuntime.publish(TopicId.make("notes", "r"), new Note({ text: "after restart" }))
        yield* AgentRuntime.awaitIdle
        assert.strictEqual(yield* count("r"), 1)
      }))
    }).pipe(Effect.scoped))

  it.live("an oversized message gets a typed error from the worker, and from the host, and nothing else breaks", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ maxMessageBytes: 1_000 })
      yield* Harness.worker(host.service.url, "a", probeLive("a"))
      const strict = yield* Harness.worker(host.service.url, "strict", Layer.empty, { maxMessageBytes: 500 })
      const loose = yield* Harness.worker(host.service.url, "loose", Layer.empty, { maxMessageBytes: 10_000 })
      const echo = (text: string) => Effect.flatMap(Probe.client, (probe) => probe("big").Echo({ text }))
      const local = yield* Harness.on(strict, Effect.flip(echo("x".repeat(800))))
      assert.strictEqual(local._tag, "InvalidMessageError")
      const remote = yield* Harness.on(loose, Effect.flip(echo("x".repeat(2_000))))
      assert.strictEqual(remote._tag, "InvalidMessageError")
      assert.include((remote as AgentError.InvalidMessageError).issue, "limit")
      assert.strictEqual(yield* Harness.on(loose, echo("small")), "a:small")
    }).pipe(Effect.scoped))

  it.live("interrupting a send cancels the handler on the remote worker", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const cancelled = yield* Deferred.make<void>()
      class Wait extends Schema.TaggedClass<Wait>()("Wait", {}) {}
      const Waiter = Agent.make("waiter", { Wait: Agent.rpc(Wait) })
      const WaiterLive = Waiter.toLayer(Effect.succeed(Waiter.of({
        Wait: () =>
          Deferred.succeed(started, undefined).pipe(
            Effect.andThen(Effect.never),
            Effect.onInterrupt(() => Deferred.succeed(cancelled, undefined))
          )
      })))
      const host = yield* Harness.host()
      yield* Harness.worker(host.service.url, "a", WaiterLive)
      const client = yield* Harness.worker(host.service.url, "client")
      const call = yield* Harness.on(client, Effect.flatMap(Waiter.client, (waiter) => waiter("w").Wait({}))).pipe(Effect.forkChild)
      yield* Deferred.await(started)
      yield* Fiber.interrupt(call)
      yield* Deferred.await(cancelled).pipe(Effect.timeout("5 seconds"))
    }).pipe(Effect.scoped))

  it.live("a declared error keeps its type across processes", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      yield* Harness.worker(host.service.url, "a", probeLive("a"))
      const client = yield* Harness.worker(host.service.url, "client")
      const error = yield* Harness.on(client, Effect.flatMap(Probe.client, (probe) => probe("e").Risky({ fail: true }))).pipe(Effect.flip)
      assert.instanceOf(error, Refused)
      assert.strictEqual((error as Refused).why, "asked to")
    }).pipe(Effect.scoped))

  it.live("the host enforces the access policy for every worker", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ policy: ({ messageType }) => messageType !== "Echo" })
      yield* Harness.worker(host.service.url, "a", probeLive("a"))
      const client = yield* Harness.worker(host.service.url, "client")
      const denied = yield* Harness.on(client, Effect.flatMap(Probe.client, (probe) => probe("p").Echo({ text: "no" }))).pipe(Effect.flip)
      assert.strictEqual(denied._tag, "NotAccessibleError")
      const allowed = yield* Harness.on(client, Effect.flatMap(Probe.client, (probe) => probe("p").Where({})))
      assert.strictEqual(allowed.worker, "a")
    }).pipe(Effect.scoped))

  it.live("a worker with a wrong token is refused", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ token: "secret" })
      const refused = yield* Effect.flip(Harness.worker(host.service.url, "intruder", Layer.empty, { token: "guess", connectTimeout: "1 second" }))
      assert.strictEqual((refused as { _tag?: string })._tag, "NotAccessibleError")
      const ok = yield* Harness.worker(host.service.url, "a", probeLive("a"), { token: "secret" })
      const place = yield* Harness.on(ok, Effect.flatMap(Probe.client, (probe) => probe("t").Where({})))
      assert.strictEqual(place.worker, "a")
    }).pipe(Effect.scoped))

  it.live("workers speak to a host over TCP (ndjson) as well", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ transport: "tcp" })
      assert.match(host.service.url, /^tcp:\/\//)
      yield* Harness.worker(host.service.url, "a", probeLive("a"))
      const client = yield* Harness.worker(host.service.url, "client")
      assert.strictEqual(yield* Harness.on(client, Effect.flatMap(Probe.client, (probe) => probe("t").Echo({ text: "tcp" }))), "a:tcp")
      const where = yield* Harness.on(client, AgentRuntime.send(Probe.id("t"), new Where()))
      assert.strictEqual((where as { worker: string }).worker, "a")
      const bad = yield* Harness.on(client, AgentRuntime.send(Probe.id("t"), { _tag: "Slow", millis: "soon" })).pipe(Effect.flip)
      assert.strictEqual(bad._tag, "InvalidMessageError")
      assert.strictEqual(yield* Harness.on(client, Effect.flatMap(Probe.client, (probe) => probe("t").Echo({ text: "still" }))), "a:still")
    }).pipe(Effect.scoped))

  it.live("an untyped send of an Echo value reaches its agent", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      yield* Harness.worker(host.service.url, "a", probeLive("a"))
      const client = yield* Harness.worker(host.service.url, "client")
      assert.strictEqual(yield* Harness.on(client, AgentRuntime.send(Probe.id("u"), new Echo({ text: "raw" }))), "a:raw")
    }).pipe(Effect.scoped))
})

describe("the host, spoken to by a bare protocol client", () => {
  it.live("a connection joins once: a second Connect on it is refused, and the first keeps working", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const protocol = yield* Layer.build(RpcClient.layerProtocolSocket().pipe(
        Layer.provide(NodeSocket.layerWebSocket(host.service.url)),
        Layer.provide(RpcSerialization.layerJson)
      ))
      const client = yield* RpcClient.make(Protocol.Protocol, { disableTracing: true }).pipe(Effect.provideContext(protocol))
      const welcome = yield* Deferred.make<void>()
      yield* client.Connect({ workerId: "raw" }).pipe(
        Stream.runForEach((message) => message._tag === "Welcome" ? Deferred.succeed(welcome, undefined) : Effect.void),
        Effect.forkScoped
      )
      yield* Deferred.await(welcome)
      const second = yield* client.Connect({ workerId: "impostor" }).pipe(Stream.runDrain, Effect.flip)
      assert.strictEqual((second as { _tag?: string })._tag, "UndeliverableError")
      yield* client.RegisterAgentType({ name: "raw-type", description: "" })
      const workers = yield* host.service.workers
      assert.deepStrictEqual((workers).map((w) => ({ workerId: w.workerId, agentTypes: w.agentTypes })), [{ workerId: "raw", agentTypes: ["raw-type"] }])
    }).pipe(Effect.scoped))
})
