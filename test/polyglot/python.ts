/**
 * Python for the cross-language tests: which interpreters can run the
 * package (the machine's `python3`; a `python3` that has `websockets` for
 * the WebSocket transport), and a Python worker process started as a scoped
 * resource, killed by its pid on release.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect, type Scope } from "effect"

/** A path from the repository root. */
export const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url))

/** Whether `python` runs and can import `module`. */
const canImport = (python: string, module: string): boolean =>
  spawnSync(python, ["-c", `import ${module}`], { stdio: "ignore", timeout: 20_000 }).status === 0

/** The machine's `python3`: the TCP transport needs nothing else. */
export const python = "python3"

/** A Python with the `websockets` package, for the WebSocket transport: `python3`, else Debian's `/usr/bin/python3`. */
export const websocketPython: string | undefined = [python, "/usr/bin/python3"].find((p) => canImport(p, "asyncio") && canImport(p, "websockets"))

export interface PythonProcess {
  readonly child: ChildProcess
  /** Everything it printed so far. */
  readonly output: () => string
  /** Waits until its output matches `pattern` (from the start), for at most `timeoutMillis`. */
  readonly waitFor: (pattern: RegExp, timeoutMillis?: number) => Effect.Effect<RegExpMatchArray, Error>
}

/** `interpreter script args`, in `cwd`, until its output matches `ready`; killed (SIGKILL, by pid) when the scope closes. */
export const start = (
  interpreter: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  ready: RegExp,
  cwd = root(".")
): Effect.Effect<PythonProcess, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const child = spawn(interpreter, args, { cwd, env: { ...process.env, PYTHONUNBUFFERED: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] })
      let output = ""
      const listeners = new Set<() => void>()
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        for (const listener of listeners) listener()
      }
      child.stdout!.on("data", onData)
      child.stderr!.on("data", onData)
      child.on("exit", () => {
        for (const listener of listeners) listener()
      })
      const waitFor = (pattern: RegExp, timeoutMillis = 30_000) =>
        Effect.callback<RegExpMatchArray, Error>((resume) => {
          const check = () => {
            const match = output.match(pattern)
            if (match) {
              listeners.delete(check)
              resume(Effect.succeed(match))
            } else if (child.exitCode !== null || child.signalCode !== null) {
              listeners.delete(check)
              resume(Effect.fail(new Error(`${interpreter} ${args.join(" ")} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${output}`)))
            }
          }
          listeners.add(check)
          check()
          return Effect.sync(() => listeners.delete(check))
        }).pipe(
          Effect.timeoutOrElse({
            duration: timeoutMillis,
            orElse: () => Effect.fail(new Error(`${interpreter} ${args.join(" ")} printed no ${pattern} within ${timeoutMillis} ms:\n${output}`))
          })
        )
      const proc: PythonProcess = { child, output: () => output, waitFor }
      return Effect.as(
        waitFor(ready).pipe(Effect.onError(() => Effect.sync(() => child.kill("SIGKILL")))),
        proc
      )
    }),
    (p) =>
      Effect.callback<void>((resume) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return resume(Effect.void)
        p.child.once("exit", () => resume(Effect.void))
        p.child.kill("SIGKILL")
      })
  )

/** The Python worker of test/polyglot/py_worker.py, joined to `url` as `workerId`. */
export const worker = (interpreter: string, url: string, workerId: string) =>
  start(interpreter, [root("test/polyglot/py_worker.py")], { HOST_URL: url, WORKER_ID: workerId }, /ready (\S+) session 1/)

/**
 * Runs the Python package's own unit tests (`python -m unittest discover`)
 * against this repository's host; resolves with the exit code and output.
 */
export const unitTests = (interpreter: string, timeoutMillis = 170_000) => {
  let output = ""
  return Effect.callback<{ readonly code: number | null; readonly output: string }>((resume) => {
    const child = spawn(interpreter, ["-m", "unittest", "discover", "-v", "-s", "tests", "-t", "."], {
      cwd: root("python"),
      env: { ...process.env, PYTHONUNBUFFERED: "1", EFFECT_AGENTS_NODE: process.execPath, EFFECT_AGENTS_CLI: root("src/node/cli.ts") },
      stdio: ["ignore", "pipe", "pipe"],
      // a process group of its own: the hosts the tests start are its children, and go with it
      detached: true
    })
    // the whole group, by its leader's pid: a Python killed mid-test cannot stop its host processes itself
    const killGroup = () => {
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        // the group has no process left
      }
    }
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.on("exit", (code) => {
      killGroup()
      resume(Effect.succeed({ code, output }))
    })
    return Effect.sync(killGroup)
  }).pipe(
    // a run that hangs says where: the output so far, before the test's own timeout hides it
    Effect.timeoutOrElse({ duration: timeoutMillis, orElse: () => Effect.die(new Error(`the unit tests did not end within ${timeoutMillis} ms:\n${output}`)) })
  )
}
