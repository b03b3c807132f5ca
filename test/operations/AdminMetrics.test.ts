/**
 * The Prometheus rendering of every kind of Effect metric, read back by a
 * strict parser: names made valid, label values escaped, histograms
 * cumulative up to +Inf with their sum and count, summaries with quantiles,
 * frequencies one series per value.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import * as AdminMetrics from "../../src/distributed/AdminMetrics.ts"
import * as Prometheus from "./prometheus.ts"

describe("AdminMetrics", () => {
  it.effect("renders counters, gauges, histograms, summaries and frequencies", () =>
    Effect.gen(function*() {
      const counter = Metric.counter("requests.total", { description: "Requests\nby route" })
      yield* Metric.update(Metric.withAttributes(counter, { route: "a\"b\\c\nd" }), 2)
      yield* Metric.update(Metric.withAttributes(counter, { route: "plain" }), 5)
      yield* Metric.update(Metric.gauge("depth"), 7)
      const histogram = Metric.histogram("latency_ms", { boundaries: Metric.boundariesFromIterable([1, 10, 100]) })
      for (const v of [0.5, 5, 5, 50, 500]) yield* Metric.update(histogram, v)
      const summary = Metric.summary("size", { maxAge: "1 minute", maxSize: 100, quantiles: [0.5, 0.9] })
      for (const v of [1, 2, 3]) yield* Metric.update(summary, v)
      yield* Metric.update(Metric.frequency("status"), "ok")
      yield* Metric.update(Metric.frequency("status"), "ok")
      yield* Metric.update(Metric.frequency("status"), "bad")

      const text = AdminMetrics.render(yield* Metric.snapshot, undefined)
      const families = Prometheus.parse(text)
      assert.strictEqual(families.get("requests_total")?.type, "counter")
      assert.strictEqual(families.get("requests_total")?.help, "Requests\\nby route")
      assert.strictEqual(Prometheus.value(families, "requests_total", "requests_total", { route: "a\"b\\c\nd" }), 2)
      assert.strictEqual(Prometheus.value(families, "requests_total", "requests_total", { route: "plain" }), 5)
      assert.strictEqual(Prometheus.value(families, "depth", "depth"), 7)
      assert.strictEqual(families.get("latency_ms")?.type, "histogram")
      const buckets = families.get("latency_ms")!.samples.filter((s) => s.name === "latency_ms_bucket").map((s) => [s.labels["le"], s.value])
      assert.deepStrictEqual(buckets, [["1", 1], ["10", 3], ["100", 4], ["+Inf", 5]])
      assert.strictEqual(Prometheus.value(families, "latency_ms", "latency_ms_sum"), 560.5)
      assert.strictEqual(Prometheus.value(families, "latency_ms", "latency_ms_count"), 5)
      assert.strictEqual(families.get("size")?.type, "summary")
      assert.strictEqual(Prometheus.value(families, "size", "size_count"), 3)
      assert.strictEqual(Prometheus.value(families, "size", "size_sum"), 6)
      assert.isDefined(Prometheus.value(families, "size", "size", { quantile: "0.5" }))
      assert.strictEqual(Prometheus.value(families, "status", "status", { value: "ok" }), 2)
      assert.strictEqual(Prometheus.value(families, "status", "status", { value: "bad" }), 1)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it("names and label names are made valid", () => {
    assert.strictEqual(AdminMetrics.metricName("effect.agents/messages-total"), "effect_agents_messages_total")
    assert.strictEqual(AdminMetrics.metricName("9lives"), "_9lives")
    assert.strictEqual(AdminMetrics.metricName("ok_name:sub"), "ok_name:sub")
  })
})
