/**
 * What the multi-process examples' launchers share (distributed/run.ts,
 * polyglot/run.ts, assistants/run-distributed.ts): start child processes and
 * show what they print, wait for a line from one of them, and leave no process
 * behind. However the launcher ends (its script is done, it fails, it runs out
 * of time, or it gets SIGINT/SIGTERM) it stops every child it started and
 * waits for them to exit before it exits itself.
 */
import { type ChildProcess, spawn } from "node:child_process"

/** What a launcher script gets to start and watch its processes. */
export interface Launcher {
  /** Starts `command args` (its environment plus `env`), printing each line it writes prefixed with `[name]`. */
  readonly start: (name: string, command: string, args: ReadonlyArray<string>, env?: Record<string, string>) => ChildProcess
  /** Starts a script with this Node (which runs TypeScript), as `start` does. */
  readonly node: (name: string, file: string, args?: ReadonlyArray<string>, env?: Record<string, string>) => ChildProcess
  /** Resolves with the first match of `pattern` in what the child prints (stdout or stderr); rejects if it exits first. */
  readonly waitFor: (child: ChildProcess, pattern: RegExp) => Promise<RegExpMatchArray>
  /** Resolves with the child's exit code once it exits (1 if a signal ended it). */
  readonly exited: (child: ChildProcess) => Promise<number>
}

/** How long a child may take to exit after SIGTERM before it gets SIGKILL. */
const grace = 5_000
/** The most of one unfinished line `waitFor` keeps: a child that never prints a newline cannot grow the launcher without bound. */
const maxPending = 64 * 1024

/**
 * Runs `script` as a launcher and exits with the code it returns, once every
 * child has exited. It exits with 1 if the script throws or has not finished
 * within `timeLimitSeconds`, and with 128 + the signal's number (130, 143) on
 * SIGINT or SIGTERM.
 *
 * @example
 * await launch({ timeLimitSeconds: 30 }, async ({ node, waitFor, exited }) => {
 *   const host = node("host", "src/node/cli.ts", ["host", "--port", "0"])
 *   const [, url] = await waitFor(host, /listening on (\S+)/)
 *   return exited(node("worker", "worker.ts", [], { HOST_URL: url! }))
 * })
 */
export const launch = (options: { readonly timeLimitSeconds: number }, script: (launcher: Launcher) => Promise<number>): Promise<never> => {
  const children: Array<ChildProcess> = []
  let exiting: Promise<never> | undefined

  /** Stops every child still running (SIGTERM, then SIGKILL after the grace period) and resolves once all have exited. */
  const stopAll = () =>
    Promise.all(children.map((child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        const kill = setTimeout(() => child.kill("SIGKILL"), grace)
        child.once("exit", () => {
          clearTimeout(kill)
          resolve()
        })
        child.kill("SIGTERM")
      })
    ))

  // the first reason to exit wins: a signal while the script is finishing does not stop the children twice
  const exit = (code: number): Promise<never> =>
    exiting ??= stopAll().then(() => process.exit(code))

  const start: Launcher["start"] = (name, command, args, env = {}) => {
    // a child started after stopping began would outlive the launcher
    if (exiting !== undefined) throw new Error(`the launcher is stopping: ${name} not started`)
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    children.push(child)
    const print = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim() !== "") console.log(`[${name}] ${line}`)
    }
    child.stdout!.on("data", print)
    child.stderr!.on("data", print)
    return child
  }

  const waitFor: Launcher["waitFor"] = (child, pattern) =>
    new Promise((resolve, reject) => {
      const stops: Array<() => void> = []
      const done = () => stops.forEach((stop) => stop())
      for (const stream of [child.stdout!, child.stderr!]) {
        // a line may arrive in pieces: match on this stream's unfinished line so far plus the new chunk
        let pending = ""
        const onData = (chunk: Buffer) => {
          pending = (pending + chunk.toString()).slice(-maxPending)
          const match = pending.match(pattern)
          if (match) {
            done()
            resolve(match)
          } else pending = pending.slice(pending.lastIndexOf("\n") + 1)
        }
        stream.on("data", onData)
        stops.push(() => stream.off("data", onData))
      }
      const onExit = (code: number | null) => {
        done()
        reject(new Error(`exited with ${code} before printing ${pattern}`))
      }
      child.once("exit", onExit)
      stops.push(() => child.off("exit", onExit))
    })

  const exited: Launcher["exited"] = (child) =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode ?? 1)
      child.once("exit", (code) => resolve(code ?? 1))
    })

  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.on(signal, () => void exit(code))
  }
  const timer = setTimeout(() => {
    console.error(`the example did not finish within ${options.timeLimitSeconds} s`)
    void exit(1)
  }, options.timeLimitSeconds * 1000)

  return script({
    start,
    node: (name, file, args = [], env = {}) => start(name, process.execPath, [file, ...args], env),
    waitFor,
    exited
  }).then(
    (code) => {
      clearTimeout(timer)
      return exit(code)
    },
    (error) => {
      // once stopping has begun, the script fails only because its children were stopped: nothing to report
      if (exiting === undefined) console.error(String(error))
      return exit(1)
    }
  )
}
