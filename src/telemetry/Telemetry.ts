/**
 * Turning the runtime's telemetry on, and exporting it to OpenTelemetry.
 *
 * - `layer(config)`: the OpenTelemetry Node SDK (`@effect/opentelemetry`'s
 *   `NodeSdk`: tracer provider, metric readers, resource) and the runtime's
 *   spans and metrics turned on. Provide it to the runtime layer and to the
 *   agent layers (`Layer.provideMerge` beneath them, or `Effect.provide` on
 *   the whole program), and to a host servicer, so every process of a trace
 *   exports its part.
 * - `enabled`: only turns the runtime's spans and metrics on, for a program
 *   that installs its own tracer (Effect's native tracer in a test, say).
 *
 * Spans: `send <type>` (client), `publish <type>` (producer),
 * `route <type>` at the host, `handle <type>` (server for a send, consumer
 * for a publish), with `message.type`, `message.id`, `agent.recipient`,
 * `agent.sender` and `topic` attributes; the span's status is the outcome.
 * Payloads are never recorded.
 *
 * Metrics: `effect_agents_messages_total` (by `what`: sent, published,
 * delivered, failed; `message_type`; `error`), `effect_agents_handler_duration_ms`
 * (histogram by message type), `effect_agents_instances`,
 * `effect_agents_connected_workers`, `effect_agents_worker_pending` (by worker).
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { Layer } from "effect"
import { TelemetryEnabled } from "../runtime/Telemetry.ts"

export { TelemetryEnabled } from "../runtime/Telemetry.ts"

/** Turns the runtime's spans and metrics on, with whatever tracer and metric registry the program has. */
export const enabled: Layer.Layer<never> = Layer.succeed(TelemetryEnabled, true) as Layer.Layer<never>

/** The OpenTelemetry Node SDK from `config`, and the runtime's telemetry on. */
export const layer = (config: NodeSdk.Configuration): Layer.Layer<never> =>
  Layer.merge(NodeSdk.layer(() => config), enabled) as Layer.Layer<never>
