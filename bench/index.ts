/**
 * npm run bench — throughput of the runtimes beside the raw Effect floor.
 *
 * Each section is a list of rows: a case, the Effect primitive it is compared
 * with (measured in the same run, same process) and an optional reference
 * figure. To add a section (distributed runtime, ...), write a module that
 * exports `Row`s and add a `runSection(...)` call below.
 *
 *   npm run bench                 # everything
 *   npm run bench -- request      # only rows whose case name contains "request"
 *   BENCH_RUNS=7 BENCH_RUN_MS=500 npm run bench
 */
import { writeFileSync } from "node:fs"
import { Effect } from "effect"
import * as Cluster from "./cluster.ts"
import * as Floor from "./floor.ts"
import { defaults, measure, type Options, type Row } from "./harness.ts"
import { type Line, table } from "./report.ts"
import * as Distributed from "./distributed.ts"
import * as Latency from "./latency.ts"
import * as Passivation from "./passivation.ts"
import * as Scale from "./scale.ts"
import * as Standalone from "./standalone.ts"
import * as Streaming from "./streaming.ts"
import * as Telemetry from "./telemetry.ts"

const options: Options = {
  warmupMillis: Number(process.env.BENCH_WARMUP_MS ?? defaults.warmupMillis),
  runMillis: Number(process.env.BENCH_RUN_MS ?? defaults.runMillis),
  runs: Number(process.env.BENCH_RUNS ?? defaults.runs)
}
const filter = process.argv[2]

/** AutoGen (Python) core runtime on this machine class, for scale. */
const autogen = { label: "AutoGen py", requestReply: 7_300, publish: 10_300, fanOut: 30_000 }

/** Every measured line, by section, for the JSON report. */
const report: Array<{ readonly section: string; readonly lines: ReadonlyArray<Line> }> = []

export const runSection = (title: string, rows: ReadonlyArray<Row>) =>
  Effect.gen(function*() {
    const lines: Array<Line> = []
    report.push({ section: title, lines })
    for (const row of rows) {
      if (filter !== undefined && !row.case.name.includes(filter)) continue
      // floor first, then ours, back to back, so both see the same machine state
      const floor = row.floor === undefined ? undefined : yield* measure(row.floor, options)
      const result = yield* measure(row.case, options)
      lines.push({ result, floor, reference: row.reference, referenceLabel: row.reference ? row.referenceLabel ?? autogen.label : undefined })
      process.stderr.write(`  measured ${row.case.name}\n`)
    }
    if (lines.length > 0) console.log(table(title, lines))
  })

const standalone: ReadonlyArray<Row> = [
  { case: Standalone.requestReply(), floor: Floor.pingPong, reference: autogen.requestReply },
  // the same without the 30 s default deadline: what the deadline costs per send
  { case: Standalone.requestReply({ sendTimeout: Infinity }, " (sendTimeout: Infinity)"), floor: Floor.pingPong, reference: autogen.requestReply },
  { case: Standalone.publishOne, floor: Floor.queueOneConsumer, reference: autogen.publish },
  { case: Standalone.fanOut(100), floor: Floor.pubSubFanOut(100), reference: autogen.fanOut }
]

/** AutoGen's gRPC host with two workers on this machine class, for scale. */
const autogenGrpc = { label: "AutoGen gRPC", requestReply: 1_300, publish: 3_000 }

const distributed: ReadonlyArray<Row> = [
  { case: Distributed.requestReply(1), floor: Distributed.rpcFloor(1), reference: autogenGrpc.requestReply, referenceLabel: autogenGrpc.label },
  { case: Distributed.requestReply(64), floor: Distributed.rpcFloor(64) },
  { case: Distributed.publishOne, floor: Distributed.rpcFloor(64), reference: autogenGrpc.publish, referenceLabel: autogenGrpc.label },
  { case: Distributed.fanOut, floor: Distributed.rpcFloor(64) }
]

const started = performance.now()
/** Memory per instance and after a million agents (a child process with --expose-gc); only when no filter is given, or "memory". */
let memory: Passivation.Figures | undefined
let memoryBySize: ReadonlyArray<Scale.MemoryLine> = []
let latency: ReadonlyArray<Latency.LatencyLine> = []
await Effect.runPromise(Effect.gen(function*() {
  console.log(`effect-agents bench — node ${process.version}, median of ${options.runs} runs of ~${options.runMillis} ms after ${options.warmupMillis} ms warm-up`)
  yield* runSection("standalone runtime (StandaloneRuntime.layer(), default options)", standalone)
  yield* runSection("distributed runtime (host and worker B as processes, this process as worker A; WebSocket)", distributed)
  yield* runSection("cluster runtime (one runner process, this process client-only, PostgreSQL; floor: bare effect/cluster entity call)", Cluster.rows)
  yield* runSection("streaming replies (chunks per second; writer on worker B as a process for the host row)", Streaming.rows)
  yield* runSection("telemetry (floor: the same case with telemetry off)", Telemetry.rows)
  yield* runSection("scale (floor: the same case at its smallest size; 50% = 2x growth)", Scale.rows)
  if (filter === undefined || "memory".includes(filter)) {
    memory = yield* Effect.promise(Passivation.run)
    console.log(Passivation.table(memory))
    memoryBySize = yield* Effect.promise(() => Scale.memory())
    console.log(Scale.memoryTable(memoryBySize))
  }
  if (filter === undefined || "latency".includes(filter)) {
    latency = yield* Latency.measureAll()
    console.log(Latency.table(latency))
  }
}))
console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(1)} s`)

// the same figures as JSON, so runs can be compared (BENCH_JSON picks the file)
const jsonPath = process.env.BENCH_JSON ?? "bench/results.json"
const json = {
  date: new Date().toISOString(),
  node: process.version,
  options,
  memory: memory ?? null,
  memoryBySize,
  latency: Latency.toJson(latency),
  sections: report.filter((s) => s.lines.length > 0).map((s) => ({
    section: s.section,
    rows: s.lines.map((l) => ({
      case: l.result.name,
      unit: l.result.unit,
      opsPerSec: Math.round(l.result.opsPerSec),
      samples: l.result.samples.map(Math.round),
      cpuMicrosPerOp: l.result.cpuMicrosPerOp === undefined ? null : Number(l.result.cpuMicrosPerOp.toFixed(1)),
      floor: l.floor === undefined ? null : {
        case: l.floor.name,
        opsPerSec: Math.round(l.floor.opsPerSec),
        cpuMicrosPerOp: l.floor.cpuMicrosPerOp === undefined ? null : Number(l.floor.cpuMicrosPerOp.toFixed(1))
      },
      ratio: l.floor === undefined ? null : Number((l.result.opsPerSec / l.floor.opsPerSec).toFixed(4)),
      reference: l.reference === undefined ? null : { label: l.referenceLabel ?? null, opsPerSec: l.reference }
    }))
  }))
}
writeFileSync(jsonPath, JSON.stringify(json, null, 2) + "\n")
console.log(`figures written to ${jsonPath}`)
