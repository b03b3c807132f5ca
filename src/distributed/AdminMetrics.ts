/**
 * Metrics in the Prometheus text exposition format (version 0.0.4), what
 * the admin endpoint `/metrics` answers: every metric in Effect's metric
 * registry (the runtime's `effect_agents_*` when telemetry is on, and any
 * the program defines), then the host's own gauges and counters, computed
 * from its status at the time of the scrape (`effect_agents_host_*`, always
 * there, telemetry or not).
 *
 * Names are made valid for Prometheus (anything outside `[a-zA-Z0-9_:]`
 * becomes `_`), label values are escaped; a histogram gives cumulative
 * `_bucket{le}` series with `_sum` and `_count`, a summary its quantiles,
 * a frequency one counter series per value.
 */
import type { Metric } from "effect"
import type * as AdminStatus from "./AdminStatus.ts"

/** The content type of the text exposition format. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** A metric name valid for Prometheus. */
export const metricName = (name: string): string => {
  const valid = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(valid) ? valid : `_${valid}`
}

const labelName = (name: string): string => {
  const valid = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(valid) ? valid : `_${valid}`
}

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const number = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Infinity) return "+Inf"
  if (value === -Infinity) return "-Inf"
  return String(value)
}

type Labels = Readonly<Record<string, string>>

const labels = (set: Labels | undefined, extra?: Labels): string => {
  const all = { ...set, ...extra }
  const keys = Object.keys(all)
  if (keys.length === 0) return ""
  return `{${keys.map((k) => `${labelName(k)}="${escapeLabel(all[k]!)}"`).join(",")}}`
}

/** One metric family: its type, help and sample lines. */
interface Family {
  type: "counter" | "gauge" | "histogram" | "summary"
  help: string | undefined
  readonly lines: Array<string>
}

/** Builds the text; families keep the order of their first appearance. */
class Exposition {
  readonly families = new Map<string, Family>()
  family(name: string, type: Family["type"], help: string | undefined): Family {
    let family = this.families.get(name)
    if (family === undefined) this.families.set(name, family = { type, help, lines: [] })
    return family
  }
  sample(family: Family, name: string, value: number | bigint, set?: Labels, extra?: Labels) {
    family.lines.push(`${name}${labels(set, extra)} ${number(value)}`)
  }
  toString(): string {
    let out = ""
    for (const [name, family] of this.families) {
      if (family.help !== undefined && family.help !== "") out += `# HELP ${name} ${escapeHelp(family.help)}\n`
      out += `# TYPE ${name} ${family.type}\n`
      for (const line of family.lines) out += `${line}\n`
    }
    return out
  }
}

const addSnapshot = (out: Exposition, snapshot: Metric.Metric.Snapshot) => {
  const name = metricName(snapshot.id)
  const attributes = snapshot.attributes
  switch (snapshot.type) {
    case "Counter":
      return out.sample(out.family(name, "counter", snapshot.description), name, snapshot.state.count, attributes)
    case "Gauge":
      return out.sample(out.family(name, "gauge", snapshot.description), name, snapshot.state.value, attributes)
    case "Frequency": {
      const family = out.family(name, "counter", snapshot.description)
      for (const [value, count] of snapshot.state.occurrences) out.sample(family, name, count, attributes, { value })
      return
    }
    case "Histogram": {
      const family = out.family(name, "histogram", snapshot.description)
      let sawInfinity = false
      // the registry's buckets are cumulative already, the last one at +Inf
      for (const [boundary, count] of snapshot.state.buckets) {
        if (boundary === Infinity) sawInfinity = true
        out.sample(family, `${name}_bucket`, count, attributes, { le: number(boundary) })
      }
      if (!sawInfinity) out.sample(family, `${name}_bucket`, snapshot.state.count, attributes, { le: "+Inf" })
      out.sample(family, `${name}_sum`, snapshot.state.sum, attributes)
      out.sample(family, `${name}_count`, snapshot.state.count, attributes)
      return
    }
    case "Summary": {
      const family = out.family(name, "summary", snapshot.description)
      for (const [quantile, value] of snapshot.state.quantiles) {
        out.sample(family, name, value ?? NaN, attributes, { quantile: String(quantile) })
      }
      out.sample(family, `${name}_sum`, snapshot.state.sum, attributes)
      out.sample(family, `${name}_count`, snapshot.state.count, attributes)
      return
    }
  }
}

const addHost = (out: Exposition, status: AdminStatus.Status) => {
  const gauge = (name: string, help: string, value: number) =>
    out.sample(out.family(name, "gauge", help), name, value)
  gauge("effect_agents_host_up", "1 while the host listens for workers", 1)
  gauge("effect_agents_host_uptime_seconds", "Seconds since the host started", Math.max(0, (status.now - status.startedAt) / 1000))
  gauge("effect_agents_host_recovering", "1 during the window after a start in which workers re-declare", status.recovering ? 1 : 0)
  gauge("effect_agents_host_workers", "Workers joined to the host", status.totals.workers)
  gauge("effect_agents_host_agent_types", "Agent types some worker runs", status.totals.agentTypes)
  gauge("effect_agents_host_placements", "Agents placed on a worker", status.totals.placements)
  gauge("effect_agents_host_subscriptions", "Subscriptions in force", status.totals.subscriptions)
  gauge("effect_agents_host_pending_requests", "Requests pushed to workers and not answered yet", status.totals.pendingRequests)
  gauge("effect_agents_host_pending_bytes", "Payload bytes of those requests", status.totals.pendingBytes)
  const letters = out.family("effect_agents_host_dead_letters_total", "counter", "Dead letters the host saw since it started")
  out.sample(letters, "effect_agents_host_dead_letters_total", status.totals.deadLetters)
  const messages = out.family("effect_agents_host_messages_total", "counter", "Messages the host routed since it started, by kind (sent, published, failed) and message type")
  for (const type of status.rates.types) {
    for (const kind of ["sent", "published", "failed"] as const) {
      out.sample(messages, "effect_agents_host_messages_total", type.totals[kind], { kind, message_type: type.messageType })
    }
  }
  const inFlight = out.family("effect_agents_host_worker_in_flight", "gauge", "Requests in flight to a worker")
  const queue = out.family("effect_agents_host_worker_queue_depth", "gauge", "Messages queued for a worker and not read yet")
  for (const worker of status.workers) {
    out.sample(inFlight, "effect_agents_host_worker_in_flight", worker.inFlight, { worker: worker.workerId })
    out.sample(queue, "effect_agents_host_worker_queue_depth", worker.queueDepth, { worker: worker.workerId })
  }
}

/** The registry's metrics and, when given, the host's, as Prometheus text. */
export const render = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>, host: AdminStatus.Status | undefined): string => {
  const out = new Exposition()
  for (const snapshot of snapshots) addSnapshot(out, snapshot)
  if (host !== undefined) addHost(out, host)
  return out.toString()
}
