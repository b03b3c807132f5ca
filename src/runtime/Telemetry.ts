/**
 * Spans and metrics of the kernel, on Effect's own `Tracer` and `Metric`
 * (exported to OpenTelemetry by `effect-agents/telemetry`). Off unless the
 * runtime's context says `TelemetryEnabled`: a kernel built without it gets
 * no `Telemetry` at all, so the message paths test one `undefined` and
 * create nothing.
 *
 * What a span carries: agent ids, message type, topic, message id and the
 * outcome (the span's status), never a payload.
 *
 * Across processes the trace context travels in the envelope as a W3C
 * `traceparent` (`00-<trace id>-<span id>-<flags>`), so that one trace
 * shows caller -> host -> handler -> nested sends on other workers. A host
 * or worker without telemetry forwards the context it was given unchanged.
 */
import { Clock, Context, Effect, Metric, Option, Tracer } from "effect"
import type { AgentId } from "../core/AgentId.ts"

/** Turns the runtime's spans and metrics on (what `Telemetry.layer` provides). */
export const TelemetryEnabled = Context.Reference<boolean>("effect-agents/TelemetryEnabled", { defaultValue: () => false })

/** A kernel's telemetry: the context its spans and metrics go to, and its instruments. */
export interface Telemetry {
  /** The runtime's context: its `Tracer` and `MetricRegistry` are where spans and metrics go. */
  readonly context: Context.Context<never>
  readonly tracer: Tracer.Tracer
  /** Ends spans (the runtime's clock, as the tracer's own spans use). */
  readonly clock: Clock.Clock
  /** Counts a message by what happened to it (`sent`, `published`, `delivered`, `failed`). */
  readonly count: (what: "sent" | "published" | "delivered" | "failed", messageType: string, error?: string) => void
  /** Records a handler's run time. */
  readonly handled: (messageType: string, millis: number) => void
  /** Sets a gauge (`instances`, `mailbox_depth`, `connected_workers`, `worker_pending`). */
  readonly gauge: (name: GaugeName, value: number, attributes?: Readonly<Record<string, string>>) => void
}

export type GaugeName = "instances" | "mailbox_depth" | "connected_workers" | "worker_pending"

const messages = Metric.counter("effect_agents_messages_total", {
  description: "Messages by what happened to them (sent, published, delivered, failed), message type and error",
  incremental: true
})
const handlerDuration = Metric.histogram("effect_agents_handler_duration_ms", {
  description: "How long handlers ran, in milliseconds, by message type",
  boundaries: Metric.boundariesFromIterable([0.1, 0.5, 1, 5, 10, 50, 100, 500, 1000, 5000, 30000])
})
const gauges: Record<GaugeName, Metric.Gauge<number>> = {
  instances: Metric.gauge("effect_agents_instances", { description: "Live agent instances of this runtime" }),
  mailbox_depth: Metric.gauge("effect_agents_mailbox_depth", { description: "Messages waiting in this runtime's mailboxes" }),
  connected_workers: Metric.gauge("effect_agents_connected_workers", { description: "Workers joined to this host" }),
  worker_pending: Metric.gauge("effect_agents_worker_pending", { description: "Requests the host has in flight to a worker" })
}

/** A kernel's telemetry, if its context turns it on. */
export const make: Effect.Effect<Telemetry | undefined> = Effect.map(Effect.context<never>(), (context): Telemetry | undefined => {
  if (!Context.get(context, TelemetryEnabled)) return undefined
  // one series per attribute set, built once: the hot path looks a string key up
  const series = new Map<string, Metric.Metric<number, unknown>>()
  const of = <M extends Metric.Metric<number, any>>(key: string, metric: M, attributes: () => Readonly<Record<string, string>>): M => {
    let found = series.get(key)
    if (found === undefined) {
      // bounded: message types and error tags are few; past this, new series share one
      if (series.size >= maxSeries) return (series.get("overflow") ?? Metric.withAttributes(metric, { overflow: "true" })) as M
      series.set(key, found = Metric.withAttributes(metric, attributes()))
    }
    return found as M
  }
  return {
    context,
    tracer: Context.get(context, Tracer.Tracer),
    clock: Context.get(context, Clock.Clock),
    count: (what, messageType, error) =>
      of(`m\u0000${what}\u0000${messageType}\u0000${error ?? ""}`, messages, () =>
        error === undefined ? { what, message_type: messageType } : { what, message_type: messageType, error }).updateUnsafe(1, context),
    handled: (messageType, millis) => of(`h\u0000${messageType}`, handlerDuration, () => ({ message_type: messageType })).updateUnsafe(millis, context),
    gauge: (name, value, attributes) =>
      (attributes === undefined
        ? gauges[name]
        : of(`g\u0000${name}\u0000${Object.values(attributes).join("\u0000")}`, gauges[name], () => attributes)).updateUnsafe(value, context)
  }
})

const maxSeries = 4096

/** The attributes of a message's span: ids and types, never the payload. */
export const attributes = (fields: {
  readonly messageType: string
  readonly messageId?: string | undefined
  readonly recipient?: AgentId | string | undefined
  readonly sender?: AgentId | undefined
  readonly topic?: { readonly type: string; readonly source: string } | undefined
}): Record<string, string> => {
  const out: Record<string, string> = { "message.type": fields.messageType }
  if (fields.messageId !== undefined) out["message.id"] = fields.messageId
  if (fields.recipient !== undefined) out["agent.recipient"] = fields.recipient.toString()
  if (fields.sender !== undefined) out["agent.sender"] = fields.sender.toString()
  if (fields.topic !== undefined) out["topic"] = `${fields.topic.type}/${fields.topic.source}`
  return out
}

/**
 * Runs `f` inside a span of the kernel's tracer, handing it the span (to
 * carry to another fiber or process); without telemetry, runs `f` with
 * `undefined` and creates nothing.
 */
const noStackTrace = { captureStackTrace: false } as const

export const spanned = <A, E, R>(
  telemetry: Telemetry | undefined,
  name: string,
  options: { readonly kind: Tracer.SpanKind; readonly attributes: Record<string, string>; readonly parent?: Tracer.AnySpan | undefined },
  f: (span: Tracer.AnySpan | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  if (telemetry === undefined) return f(undefined)
  const spanOptions = {
    kind: options.kind,
    attributes: options.attributes,
    ...(options.parent ? { parent: options.parent } : {}),
    // read by makeSpan though its type leaves it out: no stack trace per span
    captureStackTrace: false
  } as Tracer.SpanOptions
  return Effect.flatMap(Effect.makeSpan(name, spanOptions), (span) =>
    Effect.withParentSpan(f(span), span, noStackTrace).pipe(
      Effect.onExit((exit) => Effect.sync(() => span.end(telemetry.clock.currentTimeNanosUnsafe(), exit)))
    )).pipe(Effect.withTracer(telemetry.tracer))
}

/** The span the calling fiber runs in, if any (what a message it sends is a child of). */
export const currentSpan: Effect.Effect<Tracer.AnySpan | undefined> = Effect.map(Effect.option(Effect.currentParentSpan), Option.getOrUndefined)

// W3C trace context: version 00, 16-byte trace id, 8-byte parent id, flags
const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** A span as a W3C `traceparent` header value. */
export const toTraceparent = (span: Tracer.AnySpan): string | undefined => {
  const { spanId, traceId } = span
  // Effect's native tracer makes ids of the W3C sizes; any other tracer's ids cross only if they fit
  if (!/^[0-9a-f]{32}$/.test(traceId) || !/^[0-9a-f]{16}$/.test(spanId)) return undefined
  return `00-${traceId}-${spanId}-${span.sampled ? "01" : "00"}`
}

/** The remote parent a `traceparent` names, or `undefined` if it is absent or malformed (never an error: tracing must not refuse a message). */
export const fromTraceparent = (traceparent: string | undefined): Tracer.ExternalSpan | undefined => {
  if (traceparent === undefined) return undefined
  const match = traceparentPattern.exec(traceparent)
  if (match === null || match[1] === "0".repeat(32) || match[2] === "0".repeat(16)) return undefined
  return Tracer.externalSpan({ traceId: match[1]!, spanId: match[2]!, sampled: (parseInt(match[3]!, 16) & 1) === 1 })
}

/** The longest `traceparent` the wire accepts. */
export const maxTraceparentLength = 55

/**
 * A hop that passes a message on (the host): with telemetry, a span that is
 * the child of the incoming `traceparent` and whose own context is passed
 * on; without, the incoming context is passed on unchanged, so a trace
 * stays whole across a host that does not trace.
 */
export const relayed = <A, E, R>(
  telemetry: Telemetry | undefined,
  name: string,
  attributes: Record<string, string>,
  traceparent: string | undefined,
  f: (traceparent: string | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  if (telemetry === undefined) return f(traceparent)
  const parent = fromTraceparent(traceparent)
  return spanned(telemetry, name, { kind: "server", attributes, parent }, (span) => f(span === undefined ? traceparent : toTraceparent(span) ?? traceparent))
}
