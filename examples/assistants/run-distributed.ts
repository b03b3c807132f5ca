/**
 * The assistants example on the distributed runtime: a host, one worker per
 * agent (planner, coder, reviewer) and a client, as five processes on this
 * machine. Prints what they print, and exits with the client's status.
 *
 *   npx node examples/assistants/run-distributed.ts ["another task"]
 */
import { fileURLToPath } from "node:url"
import { launch } from "../support/launcher.ts"

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))

await launch({ timeLimitSeconds: 120 }, async ({ exited, node, waitFor }) => {
  const host = node("host", here("../../src/node/cli.ts"), ["host", "--port", "0"])
  const [, url] = await waitFor(host, /listening on (\S+)/)
  for (const role of ["planner", "coder", "reviewer"]) {
    const worker = node(role, here("worker.ts"), [role], { HOST_URL: url! })
    await waitFor(worker, new RegExp(`${role} ready`))
  }
  const client = node("client", here("client.ts"), process.argv.slice(2), { HOST_URL: url! })
  return exited(client)
})
