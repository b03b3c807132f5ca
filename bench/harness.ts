/**
 * A tiny benchmark harness. A `Case` builds its fixture once (in a scope, so
 * runtimes and fibers are torn down after it) and returns `run(n)`, which
 * performs `n` operations. The harness warms up, sizes `n` so one run lasts
 * about `runMillis`, takes the median of `runs` runs and reports ops/s.
 *
 * To add a section (e.g. distributed benchmarks), export an array of `Row`s
 * (a case, its floor, an optional reference figure) and pass it to
 * `runSection` from `bench/index.ts`.
 */
import { readFileSync } from "node:fs"
import { Effect, type Scope } from "effect"

export interface Case {
  readonly name: string
  /** What one operation is ("round trips", "deliveries", ...). */
  readonly unit: string
  /**
   * Builds the fixture; the returned function performs about `n` operations
   * and may return how many it really did (e.g. rounded to whole publishes).
   * Everything it allocates lives until the scope closes.
   */
  readonly make: Effect.Effect<Run, unknown, Scope.Scope>
}

/**
 * Performs about `n` operations. A case that runs processes may also say how
 * much CPU its whole setup has used so far (`cpuMicros`: its processes and
 * this one, in µs), so the report shows CPU per operation beside ops/s: on
 * a shared machine the time a process waits for a core shows in ops/s, not
 * in the CPU each operation costs.
 */
export type Run = ((n: number) => Effect.Effect<number | void, unknown>) & { readonly cpuMicros?: () => number }

/** CPU used so far (user + system, µs) by this process and the processes `pids`, read from /proc. */
export const cpuMicros = (pids: ReadonlyArray<number | undefined>) => (): number => {
  const self = process.cpuUsage()
  let total = self.user + self.system
  for (const pid of pids) {
    if (pid === undefined) continue
    try {
      // fields 14 and 15 (utime, stime) in clock ticks (USER_HZ, 100 on Linux), after the parenthesised name
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
      total += (Number(fields[11]) + Number(fields[12])) * 10_000
    } catch {
      // a process that has exited used nothing more
    }
  }
  return total
}

export interface Row {
  readonly case: Case
  /** The raw Effect primitive this case is compared with, measured in the same run. */
  readonly floor?: Case | undefined
  /** A reference figure (ops/s) from elsewhere, e.g. AutoGen Python. */
  readonly reference?: number | undefined
  readonly referenceLabel?: string | undefined
}

export interface Options {
  /** Warm-up time before measuring (ms). */
  readonly warmupMillis: number
  /** Target duration of one measured run (ms). */
  readonly runMillis: number
  /** Measured runs; the median is reported. */
  readonly runs: number
}

export const defaults: Options = { warmupMillis: 500, runMillis: 400, runs: 5 }

export interface Result {
  readonly name: string
  readonly unit: string
  readonly opsPerSec: number
  /** Every run's ops/s, sorted. */
  readonly samples: ReadonlyArray<number>
  /** Median CPU per operation (µs) across the case's processes, when the case reports it. */
  readonly cpuMicrosPerOp?: number | undefined
}

const now = () => performance.now()

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Runs one case: warm up, size the batch, measure `runs` times, median. */
export const measure = (c: Case, options: Options = defaults): Effect.Effect<Result, unknown> =>
  Effect.scoped(Effect.gen(function*() {
    const run = yield* c.make
    const timed = (n: number) =>
      Effect.suspend(() => {
        const t0 = now()
        return Effect.map(run(n), (done) => ({ ms: now() - t0, ops: typeof done === "number" ? done : n }))
      })
    // warm up, growing the batch until it takes ~20 ms, for at least warmupMillis
    let n = 16
    let spent = 0
    let rate = 0
    while (spent < options.warmupMillis) {
      const { ms, ops } = yield* timed(n)
      spent += ms
      rate = ops / Math.max(ms, 0.001)
      if (ms < 20) n *= 4
    }
    const batch = Math.max(1, Math.round(rate * options.runMillis))
    const samples: Array<number> = []
    const cpu: Array<number> = []
    for (let i = 0; i < options.runs; i++) {
      const before = run.cpuMicros?.()
      const { ms, ops } = yield* timed(batch)
      samples.push(ops / (ms / 1000))
      if (before !== undefined) cpu.push((run.cpuMicros!() - before) / ops)
    }
    samples.sort((a, b) => a - b)
    return { name: c.name, unit: c.unit, opsPerSec: median(samples), samples, cpuMicrosPerOp: cpu.length > 0 ? median(cpu) : undefined }
  }))
