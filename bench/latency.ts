/**
 * The latency view of distributed send/reply: p50, p99, p99.9 and max of
 * each round trip (agent A -> host -> agent B -> host -> agent A, host and
 * worker B as processes, WebSocket) at 1 and 64 in flight, so a fast median
 * cannot hide a slow tail. Beside each, the floor: a bare effect/rpc
 * request/reply over the same transport at the same concurrency, measured
 * in the same run.
 *
 * Each case warms up, then records every round trip of `runs` runs of about
 * `runMillis` each; a run's percentiles are over its own round trips, and the
 * table shows the median run (with the spread of p99 over the runs).
 *
 *   npx node bench/latency.ts        # table, JSON to bench/latency-results.json (BENCH_JSON)
 *
 * `measureAll` and `table` do the same from the bench index.
 */
import { writeFileSync } from "node:fs"
import { Effect, Layer, Schema } from "effect"
import { Agent, WorkerRuntime } from "../src/index.ts"
import * as Processes from "../test/support/processes.ts"
import { Ponger } from "./distributed-agents.ts"
import * as RpcFloor from "./rpc-floor.ts"

class Timed extends Schema.TaggedClass<Timed>()("Timed", { times: Schema.Number, inFlight: Schema.Number }) {}

/** Drives pings like the throughput driver, recording each round trip's milliseconds (in this process). */
const Timer = Agent.make("latency-timer", { Timed: Agent.rpc(Timed) })

let recorded: Array<number> = []

const TimerLive = Timer.toLayer(Effect.gen(function*() {
  const ponger = yield* Ponger.client
  return Timer.of({
    Timed: ({ inFlight, times }) =>
      lanes(inFlight, times, (lane, i) => ponger(`lane-${lane}`).Ping({ n: i })).pipe(Effect.orDie)
  })
}))

/** `times` round trips over `inFlight` sequential lanes, each recorded. */
const lanes = <E>(inFlight: number, times: number, roundTrip: (lane: number, i: number) => Effect.Effect<unknown, E>) =>
  Effect.forEach(
    Array.from({ length: inFlight }, (_, lane) => lane),
    (lane) =>
      Effect.gen(function*() {
        for (let i = lane; i < times; i += inFlight) {
          const t0 = performance.now()
          yield* roundTrip(lane, i)
          recorded.push(performance.now() - t0)
        }
      }),
    { concurrency: "unbounded", discard: true }
  )

export interface Percentiles {
  readonly roundTrips: number
  readonly perSec: number
  readonly p50: number
  readonly p99: number
  readonly p999: number
  readonly max: number
}

export interface LatencyLine {
  readonly case: string
  readonly inFlight: number
  /** The median run (by p99). */
  readonly median: Percentiles
  /** Every run, sorted by p99. */
  readonly runs: ReadonlyArray<Percentiles>
  readonly floor: { readonly case: string; readonly median: Percentiles; readonly runs: ReadonlyArray<Percentiles> }
}

const percentiles = (samples: Array<number>, millis: number): Percentiles => {
  samples.sort((a, b) => a - b)
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!
  return { roundTrips: samples.length, perSec: samples.length / (millis / 1000), p50: at(0.5), p99: at(0.99), p999: at(0.999), max: samples.at(-1)! }
}

export interface Options {
  readonly warmupMillis: number
  readonly runMillis: number
  readonly runs: number
}

export const defaults: Options = { warmupMillis: 1000, runMillis: 1500, runs: 5 }

/** Runs `batch` round trips at a time until `millis` have passed; every round trip recorded. */
const timedRuns = (drive: (times: number) => Effect.Effect<unknown, unknown>, inFlight: number, options: Options) =>
  Effect.gen(function*() {
    const batch = inFlight * 32
    const until = (millis: number) =>
      Effect.gen(function*() {
        recorded = []
        const t0 = performance.now()
        while (performance.now() - t0 < millis) yield* drive(batch)
        return percentiles(recorded, performance.now() - t0)
      })
    yield* until(options.warmupMillis)
    const runs: Array<Percentiles> = []
    for (let i = 0; i < options.runs; i++) runs.push(yield* until(options.runMillis))
    runs.sort((a, b) => a.p99 - b.p99)
    return { median: runs[runs.length >> 1]!, runs }
  })

/** Host and worker B as processes, this process as worker A with the timer. */
const agents = (inFlight: number, options: Options) =>
  Effect.scoped(Effect.gen(function*() {
    const host = yield* Processes.host([], 0, { EFFECT_AGENTS_RECOVERY_WINDOW: "0 millis" })
    yield* Processes.worker(host.url, "bench-b", "bench/distributed-agents.ts", ["Pongers"])
    const a = yield* Layer.build(TimerLive.pipe(Layer.provideMerge(WorkerRuntime.layer({ url: host.url, workerId: "bench-a" }))))
    const timer = (yield* Effect.provideContext(Timer.client, a))("t")
    return yield* timedRuns((times) => timer.Timed({ times, inFlight }, { timeout: "1 hour" }), inFlight, options)
  }))

/** The floor: bare effect/rpc over WebSocket, server in its own process. */
const floor = (inFlight: number, options: Options) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* Processes.start("bench/rpc-floor.ts", [], {}, /listening on (\S+)/)
    const client = yield* RpcFloor.client(server.match[1]!)
    return yield* timedRuns((times) => lanes(inFlight, times, (_, i) => client.Echo({ n: i })), inFlight, options)
  }))

/** Floor first, then ours, back to back, at each concurrency. */
export const measureAll = (options: Options = defaults): Effect.Effect<ReadonlyArray<LatencyLine>, unknown> =>
  Effect.forEach([1, 64], (inFlight) =>
    Effect.gen(function*() {
      const bare = yield* floor(inFlight, options)
      const ours = yield* agents(inFlight, options)
      process.stderr.write(`  measured latency, ${inFlight} in flight\n`)
      return {
        case: `agent A -> host -> agent B send/reply, ${inFlight} in flight`,
        inFlight,
        ...ours,
        floor: { case: `bare effect/rpc request/reply (ws), ${inFlight} in flight`, ...bare }
      }
    }))

const ms = (x: number) => x >= 10 ? x.toFixed(1) : x.toFixed(2)
const spread = (runs: ReadonlyArray<Percentiles>) => `${ms(runs[0]!.p99)}-${ms(runs.at(-1)!.p99)}`

/** The lines as an aligned text table (milliseconds). */
export const table = (lines: ReadonlyArray<LatencyLine>): string => {
  const header = ["case", "round trips/s", "p50 ms", "p99 ms", "p99 over runs", "p99.9 ms", "max ms", "floor p50", "floor p99", "floor max", "p99 / floor p99"]
  const rows = lines.map((l) => [
    l.case,
    l.median.perSec.toFixed(0),
    ms(l.median.p50),
    ms(l.median.p99),
    spread(l.runs),
    ms(l.median.p999),
    ms(l.median.max),
    ms(l.floor.median.p50),
    ms(l.floor.median.p99),
    ms(l.floor.median.max),
    `${(l.median.p99 / l.floor.median.p99).toFixed(1)}x`
  ])
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)))
  const render = (r: ReadonlyArray<string>) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`
  return [
    "\n## latency of distributed send/reply (median run; floor: bare effect/rpc over WebSocket, same concurrency)\n",
    render(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map(render)
  ].join("\n")
}

/** The lines as JSON (milliseconds, rounded to microseconds). */
export const toJson = (lines: ReadonlyArray<LatencyLine>) => {
  const round = (p: Percentiles) => ({
    roundTrips: p.roundTrips,
    perSec: Math.round(p.perSec),
    p50: Number(p.p50.toFixed(3)),
    p99: Number(p.p99.toFixed(3)),
    p999: Number(p.p999.toFixed(3)),
    max: Number(p.max.toFixed(3))
  })
  return lines.map((l) => ({
    case: l.case,
    inFlight: l.inFlight,
    unit: "milliseconds",
    median: round(l.median),
    runs: l.runs.map(round),
    floor: { case: l.floor.case, median: round(l.floor.median), runs: l.floor.runs.map(round) }
  }))
}

if (import.meta.main) {
  const options: Options = {
    warmupMillis: Number(process.env.BENCH_WARMUP_MS ?? defaults.warmupMillis),
    runMillis: Number(process.env.BENCH_RUN_MS ?? defaults.runMillis),
    runs: Number(process.env.BENCH_RUNS ?? defaults.runs)
  }
  const lines = await Effect.runPromise(measureAll(options))
  console.log(table(lines))
  const jsonPath = process.env.BENCH_JSON ?? "bench/latency-results.json"
  writeFileSync(jsonPath, JSON.stringify({ date: new Date().toISOString(), node: process.version, options, latency: toJson(lines) }, null, 2) + "\n")
  console.log(`figures written to ${jsonPath}`)
}
