/**
 * `effect-agents status --url ...` against a running host: a host process
 * (the CLI, with its admin port and token), a worker process, traffic from
 * this process; the command, run as its own process, prints the tables, or
 * `--json`, and refuses clearly without the token, with a wrong one, or
 * with nobody listening.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { AgentRuntime, TopicId } from "../../src/index.ts"
import * as AdminStatus from "../../src/distributed/AdminStatus.ts"
import * as Harness from "../support/harness.ts"
import * as Processes from "../support/processes.ts"
import { Counter, Tick } from "./agents.ts"

const token = "status-test-admin-token"
const cli = fileURLToPath(new URL("../../src/node/cli.ts", import.meta.url))

/** Runs the CLI to its end (killed past a generous bound): its exit code and output. */
const status = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.callback<{ readonly code: number; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = execFile(
      process.execPath,
      [cli, "status", ...args],
      { env: { ...process.env, EFFECT_AGENTS_ADMIN_TOKEN: "", ...env }, timeout: 60_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) => resume(Effect.succeed({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }))
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("effect-agents status", () => {
  it.live("prints the tables of a running host", () =>
    Effect.gen(function*() {
      const host = yield* Processes.start(
        "src/node/cli.ts",
        ["host", "--port", "0", "--admin-port", "0", "--admin-token", token],
        {},
        /admin endpoints on (\S+)[\s\S]*listening on (\S+)/
      )
      const admin = host.match[1]!
      const url = host.match[2]!
      yield* Processes.worker(url, "worker-a", "test/operations/agents.ts", ["counterLive"])
      const driver = yield* Harness.worker(url, "driver")
      yield* Harness.on(driver, Effect.gen(function*() {
        const counter = yield* Counter.client
        for (let i = 0; i < 5; i++) yield* counter(`key-${i}`).Ping({})
        yield* AgentRuntime.publish(TopicId.make("ticks", "key-0"), new Tick({ fail: true }))
        yield* AgentRuntime.awaitIdle
      }))

      const printed = yield* status(["--url", admin, "--token", token])
      assert.strictEqual(printed.code, 0, printed.stderr)
      const out = printed.stdout
      assert.match(out, /^host \S+ at ws:\/\/127\.0\.0\.1:\d+\/, up \d+ (s|min)/)
      assert.match(out, /2 workers, 1 agent types, 5 placed agents, 1 subscriptions/)
      assert.match(out, /WORKERS\n\s+WORKER\s+SINCE\s+AGENT TYPES\s+QUEUE\s+IN FLIGHT\s+LAST HEARD\n/)
      assert.match(out, /\n\s+worker-a\s+\d+ (s|min)\s+counter\s+0\s+0\s+\d+ (s|min) ago\n/)
      assert.match(out, /\n\s+driver\s+\d+ (s|min)\s+-\s+0\s+0\s+\d+ (s|min) ago\n/)
      assert.match(out, /AGENT TYPES\n\s+AGENT TYPE\s+WORKERS\s+PLACED\n\s+counter\s+worker-a\s+5\n/)
      assert.match(out, /SUBSCRIPTIONS\n\s+TOPIC\s+AGENT TYPE\s+OWNERS\n\s+ticks\s+counter\s+worker-a\n/)
      assert.match(out, /\n\s+Ping\s+5\s+0\s+0\s+0\.08\s+-\n/)
      assert.match(out, /\n\s+Tick\s+0\s+1\s+1\s+0\.02\s+HandlerError:1\n/)
      assert.match(out, /RECENT DEAD LETTERS\n\s+AGO\s+RECIPIENT\s+MESSAGE TYPE\s+ERROR\s+REASON\n\s+\d+ (s|min)\s+counter\/key-0\s+Tick\s+HandlerError\s+handler of Tick/)

      // the token from the environment; --json prints the status itself
      const json = yield* status(["--url", admin, "--json"], { EFFECT_AGENTS_ADMIN_TOKEN: token })
      assert.strictEqual(json.code, 0, json.stderr)
      const decoded = Schema.decodeUnknownSync(Schema.fromJsonString(AdminStatus.Status))(json.stdout)
      assert.deepStrictEqual(decoded.workers.map((w) => w.workerId).sort(), ["driver", "worker-a"])

      // refused: no token, a wrong one; nobody listening
      const missing = yield* status(["--url", admin])
      assert.strictEqual(missing.code, 1)
      assert.include(missing.stderr + missing.stdout, "it wants the admin token (401)")
      const wrong = yield* status(["--url", admin, "--token", "not-the-token"])
      assert.strictEqual(wrong.code, 1)
      assert.include(wrong.stderr + wrong.stdout, "it refused the token (401)")
      const port = yield* Processes.freePort
      const nobody = yield* status(["--url", `http://127.0.0.1:${port}`])
      assert.strictEqual(nobody.code, 1)
      assert.include(nobody.stderr + nobody.stdout, `cannot read the status at http://127.0.0.1:${port}/status`)
    }).pipe(Effect.scoped), 120_000)
})
