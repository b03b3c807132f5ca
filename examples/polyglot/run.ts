/**
 * Starts a host servicer, a Python worker (the analyst) and a TypeScript
 * worker (the writer) as separate processes, shows what they print, and
 * exits with the TypeScript worker's status once it is done. The host speaks
 * TCP, so the Python worker needs nothing beyond the standard library.
 *
 *   npm run example:polyglot          (PYTHON=/path/to/python3 to choose the interpreter)
 */
import { fileURLToPath } from "node:url"
import { launch } from "../support/launcher.ts"

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))

await launch({ timeLimitSeconds: 60 }, async ({ exited, node, start, waitFor }) => {
  const host = node("host", here("../../src/node/cli.ts"), ["host", "--port", "0", "--transport", "tcp"])
  const [, url] = await waitFor(host, /listening on (\S+)/)
  // unbuffered, so its lines show as they happen (and "ready" reaches us)
  const python = start("python", process.env.PYTHON ?? "python3", [here("analyst.py")], { HOST_URL: url!, PYTHONUNBUFFERED: "1" })
  await waitFor(python, /python worker ready/)
  const writer = node("typescript", here("writer.ts"), [], { HOST_URL: url! })
  return exited(writer)
})
