/**
 * What telemetry costs on the hottest path (standalone agent -> agent
 * send/reply, sequential): off (the default), on with Effect's native
 * tracer, and on with the OpenTelemetry SDK (spans to a no-op processor).
 * The floor of each row is the same case with telemetry off, measured in
 * the same run: the ratio is the cost.
 */
import { NoopSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Metric } from "effect"
import { type AgentRuntime, StandaloneRuntime } from "../src/index.ts"
import { Telemetry } from "../src/telemetry/index.ts"
import type { Case, Row } from "./harness.ts"
import { Driver, DriverLive, PongerLive } from "./standalone.ts"

const sendReply = (label: string, telemetry: Layer.Layer<never>): Case => ({
  name: `agent -> agent send/reply, telemetry ${label}`,
  unit: "round trips",
  make: Effect.gen(function*() {
    const agents: Layer.Layer<never, unknown, AgentRuntime.AgentRuntime> = Layer.mergeAll(PongerLive, DriverLive)
    const context = yield* Layer.build(agents.pipe(Layer.provideMerge(StandaloneRuntime.layer()), Layer.provide(telemetry)))
    const driver = (yield* Effect.provideContext(Driver.client, context))("d")
    return (n: number) => driver.Drive({ times: n }, { timeout: "1 hour" })
  }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
})

const off = sendReply("off (default)", Layer.empty)

export const rows: ReadonlyArray<Row> = [
  { case: sendReply("on (native tracer)", Telemetry.enabled), floor: off },
  { case: sendReply("on (OpenTelemetry SDK, no-op processor)", Telemetry.layer({ resource: { serviceName: "bench" }, spanProcessor: new NoopSpanProcessor() })), floor: off }
]
