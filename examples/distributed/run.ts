/**
 * Starts a host servicer and two workers as separate processes, shows what
 * they print, and exits with worker B's status once it is done.
 *
 *   npm run example:distributed
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))

const start = (name: string, file: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child = spawn(process.execPath, [file, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
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
    child.stdout!.on("data", (chunk: Buffer) => {
      const match = chunk.toString().match(pattern)
      if (match) resolve(match)
    })
    child.on("exit", (code) => reject(new Error(`exited with ${code} before printing ${pattern}`)))
  })

const host = start("host", here("../../src/node/cli.ts"), ["host", "--port", "0"])
const children: Array<ChildProcess> = [host]

/** Stops every child (SIGTERM, SIGKILL after 5 s) and resolves once all have exited: the launcher never leaves one behind. */
const stopAll = () =>
  Promise.all(children.map((child) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      const kill = setTimeout(() => child.kill("SIGKILL"), 5000)
      child.once("exit", () => {
        clearTimeout(kill)
        resolve()
      })
      child.kill("SIGTERM")
    })
  ))

const exitAfterStopping = (code: number) => stopAll().then(() => process.exit(code))

// a signal to the launcher stops its children first, then it exits as the signal says (128 + its number)
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  process.on(signal, () => void exitAfterStopping(code))
}
const timer = setTimeout(() => {
  console.error("the example did not finish within 30 s")
  void exitAfterStopping(1)
}, 30_000)

try {
  const [, url] = await waitFor(host, /listening on (\S+)/)
  const a = start("worker-a", here("worker-a.ts"), [], { HOST_URL: url! })
  children.push(a)
  await waitFor(a, /worker-a ready/)
  const b = start("worker-b", here("worker-b.ts"), [], { HOST_URL: url! })
  children.push(b)
  const code = await new Promise<number>((resolve) => b.on("exit", (c) => resolve(c ?? 1)))
  clearTimeout(timer)
  await exitAfterStopping(code)
} catch (error) {
  console.error(String(error))
  await exitAfterStopping(1)
}
