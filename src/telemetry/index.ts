/**
 * OpenTelemetry for effect-agents (`effect-agents/telemetry`): spans of
 * every send, publish and handler run, with the trace context carried
 * across processes, and the runtime's metrics, exported through
 * `@effect/opentelemetry`.
 *
 * ```ts
 * import { Layer } from "effect"
 * import { StandaloneRuntime } from "effect-agents"
 * import { Telemetry } from "effect-agents/telemetry"
 * import { BatchSpanProcessor, ConsoleSpanExporter } from "@opentelemetry/sdk-trace-base"
 *
 * // provide it below everything that should be traced: the runtime and the agent layers
 * const Traced = StandaloneRuntime.layer().pipe(
 *   Layer.provideMerge(Telemetry.layer({
 *     resource: { serviceName: "my-agents" },
 *     spanProcessor: new BatchSpanProcessor(new ConsoleSpanExporter())
 *   }))
 * )
 * ```
 *
 * Off (without this layer) the runtime creates no span and updates no
 * metric. The peer packages (`@effect/opentelemetry`, the OpenTelemetry SDK)
 * are needed only by this entry point.
 */
export * as Telemetry from "./Telemetry.ts"
