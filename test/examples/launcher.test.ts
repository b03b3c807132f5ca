/**
 * The distributed example's launcher (examples/distributed/run.ts) leaves no
 * process behind: SIGINT or SIGTERM to it stops the host and the workers it
 * started, and it exits only once they are gone, with 128 + the signal's
 * number. Real processes; their PIDs are read from /proc.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "../..")

/** The PIDs whose parent is `pid`, from /proc. */
const childrenOf = (pid: number): ReadonlyArray<number> =>
  Fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).flatMap((entry) => {
    try {
      // the command may hold spaces and parentheses: the fields after the last ")" are plain
      const stat = Fs.readFileSync(`/proc/${entry}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      return ppid === pid ? [Number(entry)] : []
    } catch {
      return [] // it ended while we looked
    }
  })

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The launcher, for the life of the scope; it and every child it was seen with are SIGKILLed at the end if still there. */
const launcher = Effect.acquireRelease(
  Effect.sync(() => {
    const child = ChildProcess.spawn(process.execPath, [Path.join(root, "examples/distributed/run.ts")], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    return { child, seen: new Set<number>(), output: () => output }
  }),
  ({ child, seen }) =>
    Effect.sync(() => {
      for (const pid of [child.pid!, ...seen]) if (isAlive(pid)) process.kill(pid, "SIGKILL")
    })
)

describe("examples/distributed/run.ts", () => {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it.live(`${signal}: stops the host and the workers, then exits with ${code}`, () =>
      Effect.gen(function*() {
        const { child, output, seen } = yield* launcher
        // the host and worker A are up once worker A says so
        yield* Effect.callback<void>((resume) => {
          const check = () => {
            if (output().includes("[worker-a] worker-a ready")) resume(Effect.void)
          }
          child.stdout.on("data", check)
          child.on("exit", () => resume(Effect.die(new Error(`the launcher exited before worker A was ready:\n${output()}`))))
          check()
        }).pipe(Effect.timeout("60 seconds"))
        const children = childrenOf(child.pid!)
        for (const pid of children) seen.add(pid)
        assert.isAtLeast(children.length, 2, `expected the host and worker A as the launcher's children:\n${output()}`)

        const exit = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)))
        child.kill(signal)
        const exitCode = yield* Effect.promise(() => exit).pipe(Effect.timeout("30 seconds"))
        assert.strictEqual(exitCode, code, output())
        // it waited for them: none is left, not even for a moment as an orphan
        assert.deepStrictEqual(children.filter(isAlive), [], `left behind:\n${output()}`)
      }).pipe(Effect.scoped), 120_000)
  }
})
