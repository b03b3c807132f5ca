/**
 * CPU profiles of a distributed case: the host and worker B run with
 * `--cpu-prof` (stopped with SIGINT at the end, so each writes its profile),
 * this process is worker A (profile it with `--cpu-prof` too):
 *
 *   npx node --cpu-prof --cpu-prof-dir=/tmp/prof bench/distributed-profile.ts fanout 8000 /tmp/prof
 *   node bench/profile-summary.ts /tmp/prof/<file>.cpuprofile
 *
 * Cases: request1, request64, publish, fanout (those of bench/distributed.ts).
 */
import { execFileSync } from "node:child_process"
import { Effect } from "effect"
import * as Distributed from "./distributed.ts"
import type { Case } from "./harness.ts"

const cases: Record<string, Case> = {
  request1: Distributed.requestReply(1),
  request64: Distributed.requestReply(64),
  publish: Distributed.publishOne,
  fanout: Distributed.fanOut
}
const which = process.argv[2] ?? "request64"
const millis = Number(process.argv[3] ?? 5000)
const dir = process.argv[4] ?? "/tmp/prof"
const c = cases[which]
if (c === undefined) throw new Error(`unknown case ${which}; one of ${Object.keys(cases).join(", ")}`)

// the processes bench/distributed.ts starts inherit this (and write their profiles into `dir` on SIGINT)
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --cpu-prof --cpu-prof-dir=${dir}`.trim()
/** The processes this one started (host, worker B), by pid: to stop them gently (SIGINT) before the scope kills them. */
const children = () =>
  execFileSync("ps", ["-o", "pid=", "--ppid", String(process.pid)], { encoding: "utf8" }).split("\n").map((l) => Number(l.trim())).filter((pid) => pid > 0)

const exited = (pid: number) => {
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}

await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const run = yield* c.make
  // the profiles of this process are written at its exit, of the children at SIGINT: NODE_OPTIONS is for them only
  delete process.env.NODE_OPTIONS
  yield* run(1000)
  const t0 = performance.now()
  let ops = 0
  while (performance.now() - t0 < millis) {
    const done = yield* run(5000)
    ops += typeof done === "number" ? done : 5000
  }
  const s = (performance.now() - t0) / 1000
  console.log(`${c.name}: ${(ops / s).toFixed(0)} ${c.unit}/s over ${s.toFixed(1)} s`)
  // (the list may hold the `ps` that listed it, gone by now)
  const pids = children().filter((pid) => !exited(pid))
  for (const pid of pids) process.kill(pid, "SIGINT")
  // each writes its profile as it exits; the scope's SIGKILL comes after
  for (let i = 0; i < 100 && !pids.every(exited); i++) yield* Effect.sleep("100 millis")
})))
