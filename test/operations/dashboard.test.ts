/**
 * The live dashboard end to end, in headless Chromium: a host process (the
 * CLI, with its admin port and token) and two worker processes; the page
 * shows both workers and the agent type they run, the rates move when
 * traffic flows (the counter of the last minute, the graph, the table by
 * message type, a dead letter), and a worker killed by its PID leaves the
 * page. The page asks nothing of any address but the admin server's. The
 * page asks for the admin token when it has none, refuses a wrong one. The
 * test saves its screenshot (to docs/images/dashboard.png with UPDATE_SCREENSHOT=1, else to a temp file).
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { AgentRuntime, TopicId } from "../../src/index.ts"
import * as Harness from "../support/harness.ts"
import * as Processes from "../support/processes.ts"
import { Counter, Tick } from "./agents.ts"
import * as Browser from "./browser.ts"

// what the functions run in the page use of it (the project's types have no DOM)
interface PageElement {
  readonly textContent: string | null
  getAttribute(name: string): string | null
}
declare const document: {
  querySelector(selector: string): PageElement | null
  querySelectorAll(selector: string): { readonly length: number }
  getElementById(id: string): PageElement | null
}

const token = "dashboard-test-admin-token"
// the committed picture is refreshed only when asked (UPDATE_SCREENSHOT=1): a test run leaves the tree as it was
const screenshot = process.env.UPDATE_SCREENSHOT === "1"
  ? fileURLToPath(new URL("../../docs/images/dashboard.png", import.meta.url))
  : Path.join(Os.tmpdir(), `effect-agents-dashboard-${process.pid}.png`)
const patience = { timeout: 45_000 }

const step = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => new Error(`${what}: ${String(cause)}`) })

describe("dashboard", () => {
  it.live("shows the workers, the rates move with traffic, a killed worker leaves", () =>
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
      const workerB = yield* Processes.worker(url, "worker-b", "test/operations/agents.ts", ["counterLive"])

      const browser = yield* Browser.launch

      // without the token the page asks for it; a wrong one is refused, the right one connects
      const asking = yield* step("open a page", () => browser.newPage())
      yield* step("open the dashboard without the token", () => asking.goto(`${admin}/dashboard`))
      yield* step("the page asks for the token", () => asking.waitForSelector("#login", { state: "visible", ...patience }))
      assert.strictEqual(yield* step("read the state", () => asking.getAttribute("#conn", "data-state")), "down")
      yield* step("give a wrong token", () => asking.fill("#token", "not-the-token").then(() => asking.press("#token", "Enter")))
      yield* step("the wrong token is refused", () =>
        asking.waitForFunction(() => (document.querySelector("#login span")?.textContent ?? "").includes("refused"), undefined, patience))
      yield* step("give the token", () => asking.fill("#token", token).then(() => asking.press("#token", "Enter")))
      yield* step("the right one connects", () =>
        asking.waitForFunction(() => document.querySelector("#workers tr[data-key='worker-a']") !== null, undefined, patience))
      assert.strictEqual(yield* step("read the state", () => asking.getAttribute("#conn", "data-state")), "live")
      yield* step("close it", () => asking.close())

      const page = yield* step("open a page", () => browser.newPage())
      const requested: Array<string> = []
      page.on("request", (request) => requested.push(request.url()))
      // the token in the fragment: the browser never sends it as part of an address
      yield* step("open the dashboard", () => page.goto(`${admin}/dashboard#token=${token}`))

      yield* step("both workers appear", () =>
        page.waitForFunction(() =>
          document.querySelector("#workers tr[data-key='worker-a']") !== null &&
          document.querySelector("#workers tr[data-key='worker-b']") !== null, undefined, patience))
      assert.strictEqual(yield* step("the stream is live", () => page.getAttribute("#conn", "data-state")), "live")
      // the map: both workers, the agent type, and a line from each worker to it
      yield* step("the map shows both", () =>
        page.waitForFunction(() =>
          document.querySelectorAll("#map g[data-worker]").length >= 2 &&
          document.querySelector("#map g[data-type='counter']") !== null &&
          document.querySelectorAll("#map path").length >= 2, undefined, patience))
      assert.strictEqual(yield* step("read the type row", () => page.textContent("#types tr[data-key='counter'] td:nth-child(2)")), "worker-a, worker-b")
      const before = Number(yield* step("read the rate", () => page.textContent("#rate-total")))

      // traffic from this process, over a few seconds (so the graph has a shape): sends to 60 agents,
      // 10 publishes, 2 of them failing in their handler
      const driver = yield* Harness.worker(url, "driver")
      yield* Harness.on(driver, Effect.gen(function*() {
        const counter = yield* Counter.client
        for (let round = 0; round < 4; round++) {
          if (round > 0) yield* Effect.sleep("1 second")
          yield* Effect.forEach(Array.from({ length: 15 }, (_, i) => round * 15 + i), (i) => counter(`key-${i}`).Ping({}), { concurrency: 8 })
          for (let i = 0; i < 10; i++) {
            if (i % 4 === round) yield* AgentRuntime.publish(TopicId.make("ticks", `key-${i}`), new Tick({ fail: i < 2 }))
          }
        }
        yield* AgentRuntime.awaitIdle
      }))

      yield* step("the rates move", () =>
        page.waitForFunction((n) => Number(document.getElementById("rate-total")!.textContent) >= n, before + 70, patience))
      yield* step("the message types and a dead letter show", () =>
        page.waitForFunction(() =>
          document.querySelector("#messages tr[data-key='Ping']") !== null &&
          document.querySelector("#messages tr[data-key='Tick']") !== null &&
          (document.querySelector("#dead tbody")!.textContent ?? "").includes("HandlerError"), undefined, patience))
      const ping = yield* step("read the Ping row", () => page.$$eval("#messages tr[data-key='Ping'] td", (cells) => cells.map((c) => c.textContent)))
      assert.strictEqual(ping[1], "60", `sent Pings: ${ping.join(" | ")}`)
      const tick = yield* step("read the Tick row", () => page.$$eval("#messages tr[data-key='Tick'] td", (cells) => cells.map((c) => c.textContent)))
      assert.strictEqual(tick[2], "10", `published Ticks: ${tick.join(" | ")}`)
      assert.strictEqual(tick[4], "HandlerError 2")
      // the graph: the line of sends leaves its baseline
      const peak = yield* step("read the graph", () =>
        page.$eval("#rates polyline[data-series='sent']", (line) => Math.min(...line.getAttribute("points")!.split(" ").map((p: string) => Number(p.split(",")[1])))))
      assert.isBelow(peak, 100, "the sent line rises above the baseline of the graph")

      Fs.mkdirSync(fileURLToPath(new URL("../../docs/images/", import.meta.url)), { recursive: true })
      yield* step("save the screenshot", () => page.screenshot({ path: screenshot, fullPage: true }))
      assert.isAbove(Fs.statSync(screenshot).size, 10_000)
      if (process.env.UPDATE_SCREENSHOT !== "1") Fs.rmSync(screenshot, { force: true })

      // kill worker-b by its PID: it leaves the page, worker-a stays
      process.kill(workerB.child.pid!, "SIGKILL")
      yield* step("the killed worker leaves", () =>
        page.waitForFunction(() =>
          document.querySelector("#workers tr[data-key='worker-b']") === null &&
          document.querySelector("#workers tr[data-key='worker-a']") !== null &&
          document.querySelector("#map g[data-worker='worker-b']") === null, undefined, patience))
      assert.strictEqual(yield* step("read the type row", () => page.textContent("#types tr[data-key='counter'] td:nth-child(2)")), "worker-a")

      // nothing but the admin server was asked for anything
      assert.isNotEmpty(requested)
      for (const address of requested) assert.isTrue(address.startsWith(`${admin}/`), `the page asked ${address}`)
    }).pipe(Effect.scoped), 120_000)
})
