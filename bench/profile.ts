/**
 * Runs one standalone case for a fixed time, for profiling:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile.ts request 5000
 *   node bench/profile-summary.ts /tmp/prof/<file>.cpuprofile
 */
import { Effect } from "effect"
import type { Case } from "./harness.ts"
import * as Standalone from "./standalone.ts"

const cases: Record<string, Case> = {
  request: Standalone.requestReply(),
  "request-nodeadline": Standalone.requestReply({ sendTimeout: Infinity }, " (no deadline)"),
  publish: Standalone.publishOne,
  fanout: Standalone.fanOut(100)
}
const which = process.argv[2] ?? "request"
const millis = Number(process.argv[3] ?? 5000)
const c = cases[which]
if (c === undefined) throw new Error(`unknown case ${which}; one of ${Object.keys(cases).join(", ")}`)

await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const run = yield* c.make
  const t0 = performance.now()
  let ops = 0
  while (performance.now() - t0 < millis) {
    const done = yield* run(10_000)
    ops += typeof done === "number" ? done : 10_000
  }
  const s = (performance.now() - t0) / 1000
  console.log(`${c.name}: ${(ops / s).toFixed(0)} ${c.unit}/s over ${s.toFixed(1)} s`)
})))
