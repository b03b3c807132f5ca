/**
 * Starts a host servicer, a Python worker (the analyst) and a TypeScript
 * worker (the writer) as separate processes, shows what they print, and
 * exits with the TypeScript worker's status once it is done. The host speaks
 * TCP, so the Python worker needs nothing beyond the standard library.
 *
 *   npm run example:polyglot          (PYTHON=/path/to/python3 to choose the interpreter)
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))

const start = (name: string, command: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child = spawn(command, args, { env: { ...process.env, PYTHONUNBUFFERED: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] })
  const print = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line.trim() !== "") console.log(`[${name}] ${line}`)
  }
  child.stdout!.on("data", print)
  child.stderr!.on("data", print)
  return child
}

/** Resolves with the first match of `pattern` in the child's output. */
const waitFor = (child: ChildProcess, pattern: RegExp) =>
  new Promise<RegExpMatchArray>((resolve, reject) => {
    let output = ""
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = output.match(pattern)
      if (match) resolve(match)
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.on("exit", (code) => reject(new Error(`exited with ${code} before printing ${pattern}`)))
  })

const host = start("host", process.execPath, [here("../../src/node/cli.ts"), "host", "--port", "0", "--transport", "tcp"])
const children: Array<ChildProcess> = [host]
/** Stops every child still running, and resolves once all have exited. */
const stopAll = () =>
  Promise.all(children.map((child) =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
        child.once("exit", () => resolve())
        child.kill("SIGTERM")
        // a child that ignores SIGTERM is killed after a grace period
        setTimeout(() => child.kill("SIGKILL"), 3000).unref()
      })
  ))
const exit = (code: number) => stopAll().then(() => process.exit(code))
// a launcher leaves no process behind: a signal to it stops its children first
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void exit(130))
const timer = setTimeout(() => {
  console.error("the example did not finish within 60 s")
  void exit(1)
}, 60_000)

try {
  const [, url] = await waitFor(host, /listening on (\S+)/)
  const python = start("python", process.env.PYTHON ?? "python3", [here("analyst.py")], { HOST_URL: url! })
  children.push(python)
  await waitFor(python, /python worker ready/)
  const writer = start("typescript", process.execPath, [here("writer.ts")], { HOST_URL: url! })
  children.push(writer)
  const code = await new Promise<number>((resolve) => writer.on("exit", (c) => resolve(c ?? 1)))
  clearTimeout(timer)
  await exit(code)
} catch (error) {
  console.error(String(error))
  await exit(1)
}
