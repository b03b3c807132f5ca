/**
 * What the code tests see of processes, read from /proc: whether a PID
 * still runs, and which processes a uid or a command line has.
 */
import * as Fs from "node:fs"
import { Effect, Layer } from "effect"
import * as LocalCodeExecutor from "../../../src/ai/code/LocalCodeExecutor.ts"
import type { CodeExecutor } from "../../../src/ai/code/CodeExecutor.ts"
import * as NodeCodeExecutor from "../../../src/node/NodeCodeExecutor.ts"

const stat = (pid: number): string | undefined => {
  try {
    return Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch {
    return undefined
  }
}

/** The process runs: it exists and is not a zombie (a zombie is dead, waiting only for its parent to reap it). */
export const isRunning = (pid: number): boolean => {
  const line = stat(pid)
  if (line === undefined) return false
  const state = line.slice(line.lastIndexOf(")") + 2, line.lastIndexOf(")") + 3)
  return state !== "Z" && state !== "X"
}

const pids = (): Array<number> =>
  Fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map(Number)

/** The running processes whose real uid is `uid`. */
export const runningOfUid = (uid: number): Array<number> =>
  pids().filter((pid) => {
    try {
      const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
      return /^Uid:\s+(\d+)/m.exec(status)?.[1] === String(uid) && isRunning(pid)
    } catch {
      return false
    }
  })

/** The running processes whose command line contains `text`. */
export const runningWith = (text: string): Array<number> =>
  pids().filter((pid) => {
    try {
      return Fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").includes(text) && isRunning(pid)
    } catch {
      return false
    }
  })

/** Kills what a test left running (by PID), so a failing test does not leave processes behind. */
export const killAll = (list: ReadonlyArray<number>): void => {
  for (const pid of list) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
}

/** A local executor on Node, for the scope of `use`. */
export const withExecutor = <A, E>(
  options: LocalCodeExecutor.Options,
  use: (executor: CodeExecutor["Service"]) => Effect.Effect<A, E>
) =>
  Effect.scoped(Effect.flatMap(LocalCodeExecutor.make(options), use)).pipe(Effect.provide(NodeCodeExecutor.services))

/** The executor as a layer, for tests that go through the service tag. */
export const layer = (options: LocalCodeExecutor.Options): Layer.Layer<CodeExecutor, unknown> => NodeCodeExecutor.layer(options)

/** Root can set limits, change uid and unshare namespaces; the isolation tests need it (CI runs as root). */
export const isRoot = process.getuid?.() === 0
