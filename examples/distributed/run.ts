/**
 * Starts a host servicer and two workers as separate processes, shows what
 * they print, and exits with worker B's status once it is done.
 *
 *   npm run example:distributed
 */
import { fileURLToPath } from "node:url"
import { launch } from "../support/launcher.ts"

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))

await launch({ timeLimitSeconds: 30 }, async ({ exited, node, waitFor }) => {
  const host = node("host", here("../../src/node/cli.ts"), ["host", "--port", "0"])
  const [, url] = await waitFor(host, /listening on (\S+)/)
  const a = node("worker-a", here("worker-a.ts"), [], { HOST_URL: url! })
  await waitFor(a, /worker-a ready/)
  const b = node("worker-b", here("worker-b.ts"), [], { HOST_URL: url! })
  return exited(b)
})
