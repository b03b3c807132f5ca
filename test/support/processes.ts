/**
 * Real OS processes for tests: a host servicer (the CLI) and workers
 * (worker-process.ts), started as scoped resources and killed on release.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import { Effect, type Scope } from "effect"

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url))

export interface Process {
  readonly child: ChildProcess
  /** Everything it printed so far. */
  readonly output: () => string
}

/** Starts `node file args` and waits until its output matches `ready`; killed when the scope closes. */
export const start = (
  file: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  ready: RegExp
): Effect.Effect<Process & { readonly match: RegExpMatchArray }, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Process & { readonly match: RegExpMatchArray }, Error>((resume) => {
      const child = spawn(process.execPath, [root(file), ...args], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      let done = false
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        const match = output.match(ready)
        if (match && !done) {
          done = true
          resume(Effect.succeed({ child, output: () => output, match }))
        }
      }
      child.stdout!.on("data", onData)
      child.stderr!.on("data", onData)
      child.on("exit", (code) => {
        if (!done) {
          done = true
          resume(Effect.fail(new Error(`${file} exited with ${code} before it was ready:\n${output}`)))
        }
      })
      return Effect.sync(() => child.kill("SIGKILL"))
    }).pipe(Effect.timeout("20 seconds")),
    // wait for the exit, so the host has seen the connection close before the next test
    (p) =>
      Effect.callback<void>((resume) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return resume(Effect.void)
        p.child.once("exit", () => resume(Effect.void))
        p.child.kill("SIGKILL")
      })
  ) as any

/** A host servicer process on a free port (or `port`); yields its url. `env` adds to its environment (NODE_OPTIONS, ...). */
export const host = (args: ReadonlyArray<string> = [], port = 0, env: Record<string, string> = {}) =>
  Effect.map(start("src/node/cli.ts", ["host", "--port", String(port), ...args], env, /listening on (\S+)/), (p) => ({ ...p, url: p.match[1]! }))

/** A port nobody listens on now (for a host that must come back on the same port). */
export const freePort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })
)

/** The resident memory of a process, in bytes (Linux). */
export const rss = (pid: number): number => {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0)
  return kb * 1024
}

/**
 * A worker process running the agent layers that `module` (a path from the
 * repository root) exports under `agents` (see worker-process.ts).
 */
export const worker = (url: string, workerId: string, module: string, agents: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  start("test/support/worker-process.ts", [], { ...env, HOST_URL: url, WORKER_ID: workerId, MODULE: module, AGENTS: agents.join(",") }, /ready/)
