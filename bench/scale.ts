/**
 * Scale cases: cost per operation at several sizes, each row beside the
 * same case at its smallest size as the floor (measured in the same run,
 * just before), so growth shows as a ratio below 100% (the target: at least
 * 50%, i.e. within 2x from the smallest size to the largest).
 *
 * - routing alone (`Router.recipients`) and a standalone publish, with 10,
 *   1k and 100k subscriptions in force, without and with a subscription
 *   change every 100 publishes;
 * - standalone send/reply to 1, 10k and 1M distinct live agents (lookup),
 *   to a new agent every time (creation) with 1 and 1M live before, and to
 *   1M distinct agents with passivation on (`maxIdleTime`: each send
 *   creates what passivated; its floor is the lookup of one live agent);
 * - distributed send/reply, 64 in flight, with 1, 4 and 16 worker processes
 *   on one host serving the pongers;
 * - memory per idle agent instance with 1k, 100k and 1M live (`memory()`:
 *   heap after full collections, in a child process with `--expose-gc`;
 *   bench/passivation.ts has the same beside a bare-Map floor, and what
 *   passivation gives back).
 *
 *   npx node bench/index.ts scale        # through the bench index (rows named "scale: ...")
 *   npx node bench/scale.ts [filter]     # this section alone, same table and JSON (BENCH_JSON)
 */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Context, Deferred, type Duration, Effect, Layer, Schema } from "effect"
import { Agent, AgentRuntime, StandaloneRuntime, Subscription, TopicId, WorkerRuntime } from "../src/index.ts"
import * as Router from "../src/runtime/Router.ts"
import * as Processes from "../test/support/processes.ts"
import { Driver, DriverLive } from "./distributed-agents.ts"
import { type Case, defaults, measure, type Row } from "./harness.ts"
import { type Line, table } from "./report.ts"

/** The topic every publish case publishes on: long enough that each prefix length in use is looked up. */
const published = TopicId.make("orders.created.eu-west", "s")

/**
 * `size` subscriptions, one of them (the last) to `published` for agent
 * type `sink`; the others never match it: nine in ten on their own topic
 * type, one in ten on its own prefix (of several lengths).
 */
const population = (size: number): ReadonlyArray<Subscription.Subscription> =>
  Array.from({ length: size }, (_, i) =>
    i === size - 1
      ? Subscription.type(published.type, "sink")
      : i % 10 === 0
      ? Subscription.typePrefix(`pre-${i}.`, `agent-${i % 1000}`)
      : Subscription.type(`topic-${i}`, `agent-${i % 1000}`))

/**
 * What changes every `churnEvery` publishes, in turn: a type subscription
 * elsewhere, a prefix subscription elsewhere, and a prefix subscription that
 * matches the published topic for the agent that already gets it (the
 * recipients stay the same, but what routing caches for the topic cannot).
 */
const churners = [
  Subscription.type("topic-churn", "agent-churn"),
  Subscription.typePrefix("pre-churn.", "agent-churn"),
  Subscription.typePrefix("orders.", "sink")
]
const churnEvery = 100

const sizes = [10, 1_000, 100_000] as const
const count = (n: number) => n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : `${n}`

/** `Router.recipients` alone, `size` subscriptions in force. */
const routing = (size: number, churn: boolean): Case => ({
  name: `scale: Router.recipients, ${count(size)} subscriptions${churn ? `, a change every ${churnEvery}` : ""}`,
  unit: "publishes",
  make: Effect.sync(() => {
    const router = Router.make()
    for (const s of population(size)) router.add(s)
    let step = 0
    return (n) =>
      Effect.sync(() => {
        let reached = 0
        for (let i = 0; i < n; i++) {
          if (churn && ++step % churnEvery === 0) {
            const s = churners[(step / churnEvery) % churners.length]!
            if (!router.add(s)) router.remove(Subscription.id(s))
          }
          reached += router.recipients(published).length
        }
        if (reached < n) throw new Error(`${n - reached} publishes reached nobody`)
      })
  })
})

class Tick extends Schema.TaggedClass<Tick>()("Tick", { n: Schema.Number }) {}

/** How many publishes go out before the publisher waits for its subscriber (below the mailbox capacity). */
const window = 1024

/** A standalone publish on `published`, one subscriber, `size` subscriptions in force; counted at the subscriber. */
const publishing = (size: number, churn: boolean): Case => ({
  name: `scale: standalone publish -> 1 subscriber, ${count(size)} subscriptions${churn ? `, a change every ${churnEvery}` : ""}`,
  unit: "publishes",
  make: Effect.gen(function*() {
    let delivered = 0
    let expected = Infinity
    let done: Deferred.Deferred<void> | undefined
    const Sink = Agent.fromFunction("sink", [Tick], () =>
      Effect.sync(() => {
        if (++delivered >= expected && done !== undefined) Deferred.doneUnsafe(done, Effect.void)
      }))
    const context = yield* Layer.build(Layer.provideMerge(Sink, StandaloneRuntime.layer()))
    const runtime = Context.get(context, AgentRuntime.AgentRuntime)
    for (const s of population(size)) yield* runtime.addSubscription(s)
    const tick = new Tick({ n: 0 })
    let step = 0
    return (n) =>
      Effect.gen(function*() {
        delivered = 0
        expected = n
        done = yield* Deferred.make<void>()
        for (let i = 0; i < n; i++) {
          if (churn && ++step % churnEvery === 0) {
            const s = churners[(step / churnEvery) % churners.length]!
            const removed = yield* runtime.removeSubscription(Subscription.id(s))
            if (!removed) yield* runtime.addSubscription(s)
          }
          yield* runtime.publish(published, tick)
          // mailboxes are bounded: a publisher this fast lets its subscriber catch up, or its publishes are dead letters
          if (i % window === window - 1) yield* runtime.awaitIdle
        }
        yield* Deferred.await(done)
      })
  })
})

class Ping extends Schema.TaggedClass<Ping>()("Ping", {}) {}
class Warm extends Schema.TaggedClass<Warm>()("Warm", { from: Schema.Number, to: Schema.Number }) {}
class Drive extends Schema.TaggedClass<Drive>()("Drive", { times: Schema.Number }) {}

const Ponger = Agent.make("ponger", { Ping: Agent.rpc(Ping, { success: Schema.Number }) })
const Sender = Agent.make("sender", { Drive: Agent.rpc(Drive), Warm: Agent.rpc(Warm) })

/**
 * A sender that sends one Ping at a time to pongers among `agents` keys, in
 * a scrambled order (a stride prime to the count), so consecutive sends do
 * not find the same instance; `fresh` sends each to a key never used before.
 */
const senderLive = (agents: number, fresh: boolean) =>
  Sender.toLayer(Effect.gen(function*() {
    const ponger = yield* Ponger.client
    const keys = Array.from({ length: agents }, (_, i) => `k-${i}`)
    const stride = 7_919 // prime, and no factor of 10^k
    let at = 0
    let next = 0
    return Sender.of({
      Warm: ({ from, to }) =>
        Effect.forEach(Array.from({ length: to - from }, (_, i) => from + i), (i) => ponger(keys[i]!).Ping({}), { concurrency: 16, discard: true })
          .pipe(Effect.orDie),
      Drive: ({ times }) =>
        Effect.gen(function*() {
          for (let i = 0; i < times; i++) {
            if (fresh) yield* ponger(`new-${next++}`).Ping({})
            else {
              at = (at + stride) % agents
              yield* ponger(keys[at]!).Ping({})
            }
          }
        }).pipe(Effect.orDie)
    })
  }))

/** Send/reply from one agent to pongers; `agents` instances are created (and idle) before measuring. */
const sending = (agents: number, options: { readonly fresh?: boolean; readonly maxIdleTime?: Duration.Input & string } = {}): Case => ({
  name: options.fresh === true
    ? `scale: standalone send/reply, each to a new agent (${count(agents)} live before)`
    : options.maxIdleTime !== undefined
    ? `scale: standalone send/reply to ${count(agents)} distinct agents, maxIdleTime ${options.maxIdleTime}`
    : `scale: standalone send/reply to ${count(agents)} distinct live agents`,
  unit: "round trips",
  make: Effect.gen(function*() {
    const PongerLive = Ponger.toLayer(
      Effect.succeed(Ponger.of({ Ping: () => Effect.succeed(1) })),
      options.maxIdleTime === undefined ? {} : { maxIdleTime: options.maxIdleTime }
    )
    const context = yield* Layer.build(Layer.provideMerge(Layer.mergeAll(PongerLive, senderLive(agents, options.fresh === true)), StandaloneRuntime.layer()))
    const sender = (yield* Effect.provideContext(Sender.client, context))("driver")
    if (options.maxIdleTime === undefined) {
      for (let from = 0; from < agents; from += 50_000) yield* sender.Warm({ from, to: Math.min(agents, from + 50_000) }, { timeout: "1 hour" })
    }
    return (n) => sender.Drive({ times: n }, { timeout: "1 hour" })
  })
})

/** Host as a process, `workers` worker processes serving pongers, this process as worker A with the driver. */
const workersCase = (workers: number): Case => ({
  name: `scale: distributed send/reply, 64 in flight, ${workers} worker process${workers === 1 ? "" : "es"} serving`,
  unit: "round trips",
  make: Effect.gen(function*() {
    const host = yield* Processes.host([], 0, { EFFECT_AGENTS_RECOVERY_WINDOW: "0 millis" })
    yield* Effect.forEach(Array.from({ length: workers }, (_, i) => i), (i) =>
      Processes.worker(host.url, `bench-w${i}`, "bench/distributed-agents.ts", ["Pongers"]), { concurrency: 4, discard: true })
    const a = yield* Layer.build(DriverLive.pipe(Layer.provideMerge(WorkerRuntime.layer({ url: host.url, workerId: "bench-a" }))))
    const driver = (yield* Effect.provideContext(Driver.client, a))("d")
    return (n) => driver.Drive({ times: n, inFlight: 64 }, { timeout: "1 hour" })
  })
})

/** Rows of `sizes`, each beside the smallest size as its floor. */
const grown = (make: (size: number) => Case, all: ReadonlyArray<number>): ReadonlyArray<Row> => {
  const floor = make(all[0]!)
  return all.map((size) => ({ case: make(size), floor }))
}

export const rows: ReadonlyArray<Row> = [
  ...grown((size) => routing(size, false), sizes),
  ...grown((size) => routing(size, true), sizes),
  ...grown((size) => publishing(size, false), sizes),
  ...grown((size) => publishing(size, true), sizes),
  ...grown((agents) => sending(agents), [1, 10_000, 1_000_000]),
  { case: sending(1_000_000, { maxIdleTime: "1 second" }), floor: sending(1) },
  ...grown((live) => sending(live, { fresh: true }), [1, 1_000_000]),
  ...grown(workersCase, [1, 4, 16])
]

export interface MemoryLine {
  readonly instances: number
  readonly bytesPerInstance: number
  /** bytes per instance here / at the smallest size (growth: at most 2x is the target) */
  readonly ratio: number
}

const gc = (globalThis as { readonly gc?: () => void }).gc

/** Heap in use after full collections. */
const heap = () => {
  gc!()
  gc!()
  return process.memoryUsage().heapUsed
}

/**
 * Bytes per idle live instance (one message handled each), `agents`
 * instances, in this process (needs `--expose-gc`). The keys are allocated
 * before the first reading: what is counted is what the runtime keeps.
 */
const perInstance = (agents: number) =>
  Effect.scoped(Effect.gen(function*() {
    const PongerLive = Ponger.toLayer(Effect.succeed(Ponger.of({ Ping: () => Effect.succeed(1) })))
    const context = yield* Layer.build(Layer.provideMerge(Layer.mergeAll(PongerLive, senderLive(agents, false)), StandaloneRuntime.layer()))
    const sender = (yield* Effect.provideContext(Sender.client, context))("driver")
    const runtime = Context.get(context, AgentRuntime.AgentRuntime)
    yield* sender.Warm({ from: 0, to: 1 }, { timeout: "1 hour" })
    yield* runtime.awaitIdle
    const before = heap()
    for (let from = 1; from < agents; from += 50_000) yield* sender.Warm({ from, to: Math.min(agents, from + 50_000) }, { timeout: "1 hour" })
    yield* runtime.awaitIdle
    return (heap() - before) / (agents - 1)
  }))

/** Memory per idle instance at 1k, 100k and 1M live, measured in a child process (`--expose-gc`). */
export const memory = (): Promise<ReadonlyArray<MemoryLine>> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--no-warnings", fileURLToPath(import.meta.url), "--memory"], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.on("error", reject)
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`bench/scale.ts --memory exited with ${code}:\n${out}`))
      try {
        resolve(JSON.parse(out.trim().split("\n").at(-1)!) as ReadonlyArray<MemoryLine>)
      } catch (e) {
        reject(e)
      }
    })
  })

/** The memory lines as a text table. */
export const memoryTable = (lines: ReadonlyArray<MemoryLine>): string =>
  [
    "\n## memory per idle agent instance (standalone; heap after full GC; floor: 1k live)\n",
    "| live instances | bytes/instance | floor (1k live) | bytes / floor bytes |",
    "|---------------:|---------------:|----------------:|--------------------:|",
    ...lines.map((l) => `| ${count(l.instances)} | ${Math.round(l.bytesPerInstance)} | ${Math.round(lines[0]!.bytesPerInstance)} | ${l.ratio.toFixed(2)}x |`)
  ].join("\n")

if (import.meta.main && process.argv[2] === "--memory") {
  if (gc === undefined) throw new Error("run with --expose-gc")
  const figures: Array<MemoryLine> = []
  for (const agents of [1_000, 100_000, 1_000_000]) {
    const bytes = await Effect.runPromise(perInstance(agents))
    figures.push({ instances: agents, bytesPerInstance: Math.round(bytes), ratio: Number((bytes / (figures[0]?.bytesPerInstance ?? bytes)).toFixed(4)) })
  }
  console.log(JSON.stringify(figures))
} else if (import.meta.main) {
  // run alone: `npx node bench/scale.ts [filter]`, the table and the JSON as the bench index writes them
  const filter = process.argv[2]
  const options = {
    warmupMillis: Number(process.env.BENCH_WARMUP_MS ?? defaults.warmupMillis),
    runMillis: Number(process.env.BENCH_RUN_MS ?? defaults.runMillis),
    runs: Number(process.env.BENCH_RUNS ?? defaults.runs)
  }
  const lines: Array<Line> = []
  await Effect.runPromise(Effect.gen(function*() {
    for (const row of rows) {
      if (filter !== undefined && !row.case.name.includes(filter)) continue
      const floor = row.floor === undefined ? undefined : yield* measure(row.floor, options)
      const result = yield* measure(row.case, options)
      lines.push({ result, floor, reference: undefined, referenceLabel: undefined })
      process.stderr.write(`  measured ${row.case.name}\n`)
    }
  }))
  console.log(table("scale (floor: the same case at its smallest size)", lines))
  const memoryLines = filter === undefined || "memory".includes(filter) ? await memory() : []
  if (memoryLines.length > 0) console.log(memoryTable(memoryLines))
  const jsonPath = process.env.BENCH_JSON ?? "bench/scale-results.json"
  writeFileSync(jsonPath, JSON.stringify({
    date: new Date().toISOString(),
    node: process.version,
    options,
    rows: lines.map((l) => ({
      case: l.result.name,
      unit: l.result.unit,
      opsPerSec: Math.round(l.result.opsPerSec),
      usPerOp: Number((1e6 / l.result.opsPerSec).toFixed(3)),
      samples: l.result.samples.map(Math.round),
      floor: l.floor === undefined ? null : { case: l.floor.name, opsPerSec: Math.round(l.floor.opsPerSec) },
      ratio: l.floor === undefined ? null : Number((l.result.opsPerSec / l.floor.opsPerSec).toFixed(4))
    })),
    memory: memoryLines
  }, null, 2) + "\n")
  console.log(`figures written to ${jsonPath}`)
}
