/**
 * Memory of agent instances, beside its floor measured in the same run:
 *
 * - bytes per idle live instance: heap after N distinct agents each handled
 *   one message and went idle, per agent; the floor is the least a runtime
 *   could keep per agent: a bare `Map` from key to its handler closure and a
 *   `Ref` (the stateful case) or the closure alone.
 * - heap after 1,000,000 distinct agents were touched with passivation on
 *   (`maxIdleTime`): bounded by the live set, not by the number touched. The
 *   floor is the bare `Map` holding all of them (what never evicting costs
 *   at the least); the baseline is the heap before the first agent.
 *
 * Heap figures need a garbage collection before each reading, so this runs
 * in a child process with `--expose-gc` (and away from other benchmarks'
 * garbage):
 *
 *   npx node --expose-gc bench/passivation.ts           # table, then one JSON line
 *   PASSIVATION_TOUCHED=200000 npx node --expose-gc bench/passivation.ts
 *
 * `run()` does that from another script (the bench index) and returns the
 * figures.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Duration, Effect, Layer, Ref, Schema } from "effect"
import { Agent, AgentRuntime, StandaloneRuntime } from "../src/index.ts"
import * as SqliteStateStore from "../src/node/SqliteStateStore.ts"

class Touch extends Schema.TaggedClass<Touch>()("Touch", {}) {}

const Touched = Agent.make("touched", { Touch: Agent.rpc(Touch, { success: Schema.Number }) })

/** One agent type: with one `Agent.state` cell or none, passivating after `maxIdleTime` or never. */
const touchedLayer = (stateful: boolean, maxIdleTime?: Duration.Duration) => {
  const options = maxIdleTime === undefined ? {} : { maxIdleTime }
  return stateful
    ? Touched.toLayer(Effect.map(Agent.state(Schema.Number, 0, { name: "n" }), (n) => Touched.of({ Touch: () => Ref.updateAndGet(n, (x) => x + 1) })), options)
    : Touched.toLayer(Effect.succeed(Touched.of({ Touch: () => Effect.succeed(1) })), options)
}

const gc = (globalThis as { readonly gc?: () => void }).gc

/** Heap in use after a full collection. */
const heap = () => {
  gc!()
  gc!()
  return process.memoryUsage().heapUsed
}

const mib = (bytes: number) => bytes / 1024 / 1024

export interface PerInstance {
  readonly case: string
  readonly instances: number
  readonly bytesPerInstance: number
  readonly floor: string
  readonly floorBytesPerInstance: number
  /** ours / floor */
  readonly ratio: number
}

export interface Touched {
  readonly case: string
  readonly touched: number
  readonly maxIdleTime: string
  readonly baselineMiB: number
  /** Highest heap (after collection) seen while touching. */
  readonly peakMiB: number
  /** After the last agent passivated. */
  readonly afterMiB: number
  readonly floor: string
  readonly floorMiB: number
  /** What the touched agents left in the heap: after - baseline. */
  readonly keptMiB: number
  /** after / floor: the heap after, as a share of the never-evicting floor's heap */
  readonly ratio: number
  /** Sends to distinct agents per second while touching (each builds an instance, later passivated). */
  readonly touchesPerSec: number
}

export interface Figures {
  readonly node: string
  readonly perInstance: ReadonlyArray<PerInstance>
  readonly touched: ReadonlyArray<Touched>
}

/** Runs `f` with a standalone runtime and `agents`, closed afterwards. */
const withRuntime = <A, E>(
  agents: Layer.Layer<never, unknown, AgentRuntime.AgentRuntime>,
  f: (touch: (key: string) => Effect.Effect<number, unknown>, runtime: AgentRuntime.AgentRuntime["Service"]) => Effect.Effect<A, E>,
  store?: Layer.Layer<never, unknown> | Layer.Layer<any, unknown>
) => {
  const runtime = store === undefined ? StandaloneRuntime.layer({ sendTimeout: Infinity }) : StandaloneRuntime.layer({ sendTimeout: Infinity }).pipe(Layer.provide(store))
  return Effect.gen(function*() {
    const client = yield* Touched.client
    return yield* f((key) => client(key).Touch({}), yield* AgentRuntime.AgentRuntime)
  }).pipe(Effect.provide(agents.pipe(Layer.provideMerge(runtime))), Effect.scoped)
}

/** Touches `n` keys one after the other. */
const touchAll = (touch: (key: string) => Effect.Effect<number, unknown>, n: number, prefix: string, every?: () => void) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      yield* touch(`${prefix}${i}`)
      if (every !== undefined && i % 50_000 === 0) every()
    }
  })

/** Bytes per idle live instance (no passivation), N instances. */
const perInstance = (stateful: boolean, n: number): Effect.Effect<PerInstance, unknown> =>
  withRuntime(touchedLayer(stateful), (touch, runtime) =>
    Effect.gen(function*() {
      yield* touch("warm")
      yield* runtime.awaitIdle
      const before = heap()
      yield* touchAll(touch, n, "k")
      yield* runtime.awaitIdle
      const bytes = (heap() - before) / n
      const floor = floorPerKey(stateful, n)
      return {
        case: `idle live instance${stateful ? ", one Agent.state cell" : ", no state"}`,
        instances: n,
        bytesPerInstance: Math.round(bytes),
        floor: stateful ? "Map key -> { handler closure, Ref }" : "Map key -> handler closure",
        floorBytesPerInstance: Math.round(floor),
        ratio: Number((bytes / floor).toFixed(2))
      }
    }))

/** Bytes per key of the floor: a Map from key to a handler closure (over a Ref when stateful). */
const floorPerKey = (stateful: boolean, n: number): number => {
  const before = heap()
  const table = new Map<string, unknown>()
  for (let i = 0; i < n; i++) {
    if (stateful) {
      const ref = Ref.makeUnsafe(0)
      table.set(`k${i}`, { handle: () => Ref.updateAndGet(ref, (x) => x + 1), ref })
    } else {
      const key = i
      table.set(`k${i}`, () => Effect.succeed(key))
    }
  }
  const bytes = (heap() - before) / n
  if (table.size !== n) throw new Error("floor table lost keys")
  return bytes
}

/** Heap after `n` distinct agents were touched with passivation on. */
const touched = (stateful: boolean, n: number, maxIdleTime: Duration.Duration, file: string | undefined): Effect.Effect<Touched, unknown> =>
  withRuntime(touchedLayer(stateful, maxIdleTime), (touch, runtime) =>
    Effect.gen(function*() {
      yield* touch("warm")
      yield* runtime.awaitIdle
      const baseline = heap()
      let peak = baseline
      const t0 = performance.now()
      yield* touchAll(touch, n, "t", () => {
        peak = Math.max(peak, heap())
      })
      const touchesPerSec = Math.round(n / ((performance.now() - t0) / 1000))
      // everything touched has been idle for maxIdleTime: passivated
      yield* Effect.sleep(maxIdleTime)
      yield* Effect.sleep("200 millis")
      yield* runtime.awaitIdle
      const after = heap()
      const live = Object.keys(yield* runtime.saveAll).length
      if (live > 1) throw new Error(`${live} instances still live after ${maxIdleTime} idle`)
      const floorBefore = heap()
      const floor = floorPerKey(stateful, n) * n + floorBefore
      return {
        case: `${n.toLocaleString("en")} distinct agents touched, passivation on${stateful ? ", one cell each, SQLite file store" : ", no state"}`,
        touched: n,
        maxIdleTime: Duration.format(maxIdleTime),
        baselineMiB: Number(mib(baseline).toFixed(1)),
        peakMiB: Number(mib(peak).toFixed(1)),
        afterMiB: Number(mib(after).toFixed(1)),
        floor: `Map of all ${n.toLocaleString("en")} keys (never evicting)`,
        floorMiB: Number(mib(floor).toFixed(1)),
        keptMiB: Number(mib(after - baseline).toFixed(1)),
        ratio: Number((after / floor).toFixed(3)),
        touchesPerSec
      }
    }), file === undefined ? undefined : SqliteStateStore.layer({ filename: file }))

const measure = Effect.gen(function*() {
  const n = Number(process.env.PASSIVATION_INSTANCES ?? 100_000)
  const touchedCount = Number(process.env.PASSIVATION_TOUCHED ?? 1_000_000)
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-agents-bench-"))
  try {
    const per = [yield* perInstance(false, n), yield* perInstance(true, n)]
    const many = [
      yield* touched(false, touchedCount, Duration.seconds(1), undefined),
      yield* touched(true, touchedCount, Duration.seconds(1), Path.join(dir, "state.db"))
    ]
    return { node: process.version, perInstance: per, touched: many } satisfies Figures
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
})

const pad = (rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const line = (r: ReadonlyArray<string>) => `| ${r.map((c, i) => i === 0 || i === 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join(" | ")} |`
  return [line(rows[0]!), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.slice(1).map(line)].join("\n")
}

/** The figures as text tables. */
export const table = (figures: Figures): string =>
  [
    "\n## agent instance memory (standalone runtime; heap after full GC)\n",
    pad([
      ["case", "instances", "bytes/instance", "floor", "floor bytes", "ratio"],
      ...figures.perInstance.map((r) => [r.case, String(r.instances), String(r.bytesPerInstance), r.floor, String(r.floorBytesPerInstance), `${r.ratio}x`])
    ]),
    "",
    pad([
      ["case", "maxIdleTime", "baseline MiB", "floor", "peak MiB", "after MiB", "kept MiB", "floor MiB", "after/floor", "touches/s"],
      ...figures.touched.map((r) => [
        r.case,
        r.maxIdleTime,
        String(r.baselineMiB),
        r.floor,
        String(r.peakMiB),
        String(r.afterMiB),
        String(r.keptMiB),
        String(r.floorMiB),
        `${(r.ratio * 100).toFixed(1)}%`,
        String(r.touchesPerSec)
      ])
    ])
  ].join("\n")

/** Measures in a child process with `--expose-gc`; resolves with its figures. */
export const run = (): Promise<Figures> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--no-warnings", fileURLToPath(import.meta.url), "--json"], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.on("error", reject)
    child.on("exit", (code) => {
      const last = out.trim().split("\n").at(-1) ?? ""
      if (code !== 0) return reject(new Error(`bench/passivation.ts exited with ${code}:\n${out}`))
      try {
        resolve(JSON.parse(last) as Figures)
      } catch (e) {
        reject(e)
      }
    })
  })

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (gc === undefined) {
    console.error("run with --expose-gc: npx node --expose-gc bench/passivation.ts")
    process.exit(2)
  }
  const figures = await Effect.runPromise(measure)
  if (!process.argv.includes("--json")) console.log(table(figures))
  console.log(JSON.stringify(figures))
}
