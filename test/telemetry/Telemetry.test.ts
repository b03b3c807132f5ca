/**
 * Tracing across processes' boundaries: a host and two workers over real
 * loopback WebSockets, each exporting to one in-memory exporter. The spans
 * of one call chain (caller -> host -> handler -> nested send on the other
 * worker) form one trace whose parent links cross the wire only through the
 * envelope's `traceparent`.
 */
import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Metric, Schema } from "effect"
import { Agent, AgentRuntime, HostServicer, StandaloneRuntime, Subscription, TopicId, WorkerRuntime } from "../../src/index.ts"
import { Telemetry } from "../../src/telemetry/index.ts"

class Shout extends Schema.TaggedClass<Shout>()("Shout", { text: Schema.String }) {}
class Echoed extends Schema.TaggedClass<Echoed>()("Echoed", { text: Schema.String }) {}
class Heard extends Schema.TaggedClass<Heard>()("Heard", { text: Schema.String }) {}

const Echo = Agent.make("echo", {
  Shout: Agent.rpc(Shout, { success: Echoed }),
  Heard: Agent.event(Heard)
})
const EchoLive = Echo.toLayer(Effect.succeed(Echo.of({
  Shout: ({ text }) => Effect.succeed(new Echoed({ text: text.toUpperCase() })),
  Heard: () => Effect.void
})), { subscriptions: [Subscription.type("heard")] })

/** Forwards a shout to the echo of the same key: a nested send from inside a handler. */
const Relay = Agent.make("relay", { Shout: Agent.rpc(Shout, { success: Echoed }) })
const RelayLive = Relay.toLayer(Effect.gen(function*() {
  const echo = yield* Echo.client
  const self = yield* Agent.Self
  return Relay.of({ Shout: (shout) => Effect.orDie(echo(self.key).Shout(shout)) })
}))

const secret = "a payload nobody may see in a span"

const spansOf = (exporter: InMemorySpanExporter) => exporter.getFinishedSpans()
const byName = (spans: ReadonlyArray<ReadableSpan>, name: string) => {
  const found = spans.filter((s) => s.name === name)
  assert.strictEqual(found.length, 1, `one span named ${name}, got ${spans.map((s) => s.name).join(", ")}`)
  return found[0]!
}
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId

const telemetry = (exporter: InMemorySpanExporter) =>
  Telemetry.layer({ resource: { serviceName: "effect-agents-test" }, spanProcessor: new SimpleSpanProcessor(exporter) })

const noPayloadIn = (spans: ReadonlyArray<ReadableSpan>) => {
  for (const span of spans) {
    for (const value of Object.values(span.attributes)) assert.notInclude(String(value), secret, `span ${span.name} carries a payload`)
  }
}

describe("Telemetry", () => {
  it.live("one trace runs caller -> host -> handler -> nested send on the other worker -> its handler", () => {
    const exporter = new InMemorySpanExporter()
    const distributed = Layer.unwrap(Effect.gen(function*() {
      const host = yield* HostServicer.HostServicer
      const workerB = RelayLive.pipe(Layer.provide(WorkerRuntime.layer({ url: host.url, workerId: "b" })))
      const workerA = EchoLive.pipe(Layer.provideMerge(WorkerRuntime.layer({ url: host.url, workerId: "a" })))
      return Layer.merge(workerA, workerB)
    })).pipe(Layer.provide(HostServicer.layer({ port: 0 })), Layer.provide(telemetry(exporter)))
    return Effect.gen(function*() {
      const relay = yield* Relay.client
      const reply = yield* relay("k").Shout({ text: secret })
      assert.strictEqual(reply.text, secret.toUpperCase())
      const spans = spansOf(exporter)
      const sendRelay = spans.find((s) => s.name === "send Shout" && s.attributes["agent.recipient"] === "relay/k")!
      const sendEcho = spans.find((s) => s.name === "send Shout" && s.attributes["agent.recipient"] === "echo/k")!
      const routes = spans.filter((s) => s.name === "route Shout")
      const handles = spans.filter((s) => s.name === "handle Shout")
      assert.isDefined(sendRelay)
      assert.isDefined(sendEcho)
      assert.strictEqual(routes.length, 2)
      assert.strictEqual(handles.length, 2)
      const traceId = sendRelay.spanContext().traceId
      for (const span of [sendEcho, ...routes, ...handles]) assert.strictEqual(span.spanContext().traceId, traceId, `${span.name} is in the caller's trace`)
      const routeRelay = routes.find((s) => parentOf(s) === sendRelay.spanContext().spanId)!
      const handleRelay = handles.find((s) => parentOf(s) === routeRelay.spanContext().spanId)!
      assert.isDefined(routeRelay, "the host's route span is the child of the caller's send")
      assert.isDefined(handleRelay, "worker b's handler span is the child of the host's route span")
      assert.strictEqual(handleRelay.attributes["agent.recipient"], "relay/k")
      assert.strictEqual(parentOf(sendEcho), handleRelay.spanContext().spanId, "the nested send is the child of the handler")
      const routeEcho = routes.find((s) => parentOf(s) === sendEcho.spanContext().spanId)!
      assert.isDefined(routeEcho)
      const handleEcho = handles.find((s) => parentOf(s) === routeEcho.spanContext().spanId)!
      assert.strictEqual(handleEcho.attributes["agent.recipient"], "echo/k")
      assert.strictEqual(handleEcho.attributes["agent.sender"], "relay/k")
      noPayloadIn(spans)
    }).pipe(Effect.provide(distributed))
  })

  it.live("a host and a worker without telemetry pass the trace context on: the trace stays whole", () => {
    const exporter = new InMemorySpanExporter()
    // only worker a traces; the host and worker b (the relay) do not
    const distributed = Layer.unwrap(Effect.gen(function*() {
      const host = yield* HostServicer.HostServicer
      const workerB = RelayLive.pipe(Layer.provide(WorkerRuntime.layer({ url: host.url, workerId: "b" })))
      const workerA = EchoLive.pipe(Layer.provideMerge(WorkerRuntime.layer({ url: host.url, workerId: "a" })), Layer.provide(telemetry(exporter)))
      return Layer.merge(workerA, workerB)
    })).pipe(Layer.provide(HostServicer.layer({ port: 0 })))
    return Effect.gen(function*() {
      const relay = yield* Relay.client
      yield* relay("k").Shout({ text: "through" })
      const spans = spansOf(exporter)
      const send = byName(spans, "send Shout")
      const handle = byName(spans, "handle Shout")
      assert.strictEqual(handle.attributes["agent.recipient"], "echo/k")
      assert.strictEqual(handle.spanContext().traceId, send.spanContext().traceId)
      // b's nested send carried the context b was given: a's send is the parent of a's handler
      assert.strictEqual(parentOf(handle), send.spanContext().spanId)
      assert.isUndefined(spans.find((s) => s.name.startsWith("route")), "the host does not trace")
    }).pipe(Effect.provide(distributed))
  })

  it.live("a publish and its deliveries are one trace; a failing handler's span records the failure", () => {
    const exporter = new InMemorySpanExporter()
    const runtime = EchoLive.pipe(Layer.provideMerge(StandaloneRuntime.layer()), Layer.provide(telemetry(exporter)))
    return Effect.gen(function*() {
      yield* AgentRuntime.publish(TopicId.make("heard", "k"), new Heard({ text: secret }))
      yield* AgentRuntime.awaitIdle
      const failed = yield* AgentRuntime.send(Echo.id("k"), new Heard({ text: "sent, not published" })).pipe(Effect.flip)
      assert.strictEqual(failed._tag, "CantHandleError")
      const spans = spansOf(exporter)
      const publish = byName(spans, "publish Heard")
      const handle = byName(spans, "handle Heard")
      assert.strictEqual(parentOf(handle), publish.spanContext().spanId)
      assert.strictEqual(handle.attributes["topic"], "heard/k")
      const send = byName(spans, "send Heard")
      assert.strictEqual(send.status.code, 2, "a failed send is an error span")
      noPayloadIn(spans)
    }).pipe(Effect.provide(runtime))
  })

  it.live("metrics count messages by what happened to them, and time handlers, by message type", () =>
    Effect.gen(function*() {
      const echo = yield* Echo.client
      yield* echo("k").Shout({ text: "x" })
      yield* echo("k").Shout({ text: "y" })
      yield* AgentRuntime.send(Echo.id("k"), new Heard({ text: "z" })).pipe(Effect.flip)
      const snapshot = yield* Metric.snapshot
      const count = (what: string, type: string) =>
        snapshot.filter((m) => m.id === "effect_agents_messages_total" && m.attributes?.["what"] === what && m.attributes?.["message_type"] === type)
          .reduce((n, m) => n + Number((m.state as { readonly count: number }).count), 0)
      assert.strictEqual(count("sent", "Shout"), 2)
      assert.strictEqual(count("delivered", "Shout"), 2)
      assert.strictEqual(count("sent", "Heard"), 1)
      const durations = snapshot.filter((m) => m.id === "effect_agents_handler_duration_ms" && m.attributes?.["message_type"] === "Shout")
      assert.strictEqual(durations.length, 1)
      assert.strictEqual((durations[0]!.state as { readonly count: number }).count, 2)
    }).pipe(
      Effect.provide(EchoLive.pipe(Layer.provideMerge(StandaloneRuntime.layer()), Layer.provide(Telemetry.enabled))),
      // a registry of its own: the default one is shared by every test in this process
      Effect.provideService(Metric.MetricRegistry, new Map())
    ))

  it.live("without the telemetry layer the runtime creates no span", () => {
    const exporter = new InMemorySpanExporter()
    return Effect.gen(function*() {
      const echo = yield* Echo.client
      yield* echo("k").Shout({ text: "x" })
      assert.deepStrictEqual(spansOf(exporter), [])
    }).pipe(Effect.provide(EchoLive.pipe(Layer.provideMerge(StandaloneRuntime.layer()))))
  })
})
