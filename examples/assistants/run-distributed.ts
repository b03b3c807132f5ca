/**
 * The assistants example on the distributed runtime: a host, one worker per
 * agent (planner, coder, reviewer) and a client, as five processes on this
 * machine. Prints what they print, and exits with the client's status.
 *
 *   npx node examples/assistants/run-distributed.ts ["another task"]
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
const stopAll = () => children.forEach((child) => child.kill("SIGTERM"))
// a launcher leaves no process behind: a signal to it stops its children first
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    stopAll()
    process.exit(130)
  })
}
const timer = setTimeout(() => {
  console.error("the example did not finish within 120 s")
  stopAll()
  process.exit(1)
}, 120_000)

try {
  const [, url] = await waitFor(host, /listening on (\S+)/)
  for (const role of ["planner", "coder", "reviewer"]) {
    const worker = start(role, here("worker.ts"), [role], { HOST_URL: url! })
    children.push(worker)
    await waitFor(worker, new RegExp(`${role} ready`))
  }
  const client = start("client", here("client.ts"), process.argv.slice(2), { HOST_URL: url! })
  children.push(client)
  const code = await new Promise<number>((resolve) => client.on("exit", (c) => resolve(c ?? 1)))
  clearTimeout(timer)
  stopAll()
  process.exit(code)
} catch (error) {
  console.error(String(error))
  stopAll()
  process.exit(1)
}
