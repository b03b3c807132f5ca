/**
 * Agents in two languages, for real: a host servicer (the CLI), a
 * TypeScript worker and a Python worker (the package in python/) as
 * separate processes, and this test process as a TypeScript worker that
 * drives them. Sends, declared errors and publishes cross both ways, a call
 * cycle through both languages ends in `DeadlockError`, a deadline cancels
 * a Python handler (and `awaitIdle` waits for its cleanup, which the Python
 * worker acknowledges), and both workers survive a host restart. The Python
 * package's own unit tests (the protocol's conformance checklist) run too.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { cancelGraceMillis } from "../../src/distributed/internal/HostRequests.ts"
import { AgentRuntime } from "../../src/index.ts"
import * as Harness from "../support/harness.ts"
import * as Processes from "../support/processes.ts"
import { PyBridge, PyGreeter, PySleeper, PyTidier, Refused, Said, TsCycle, TsEcho } from "./agents.ts"
import * as Python from "./python.ts"

/** Retries `effect` until it gives a value that satisfies `done` (generous: a loaded machine). */
const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, done: (a: A) => boolean, what: string) =>
  effect.pipe(
    Effect.flatMap((a) => done(a) ? Effect.succeed(a) : Effect.fail(new Error(`not yet: ${what} (${JSON.stringify(a)})`))),
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 150 })
  )

/** A host, a TypeScript worker process, a Python worker process, and this process as the driver. */
const polyglot = (transport: "tcp" | "websocket", interpreter: string, port = 0) =>
  Effect.gen(function*() {
    const host = yield* Processes.host(transport === "tcp" ? ["--transport", "tcp"] : [], port)
    const ts = yield* Processes.worker(host.url, "ts-worker", "test/polyglot/agents.ts", ["TsEchoLive", "TsCycleLive"])
    const py = yield* Python.worker(interpreter, host.url, "py-worker")
    const driver = yield* Harness.worker(host.url, "driver")
    return { host, ts, py, driver }
  })

/** Every crossing the issue lists, driven from this process. */
const conversation = (driver: Harness.Running<unknown>) =>
  Harness.on(
    driver,
    Effect.gen(function*() {
      const echo = yield* TsEcho.client
      const greeter = yield* PyGreeter.client
      const bridge = yield* PyBridge.client
      const sleeper = yield* PySleeper.client
      const cycle = yield* TsCycle.client
      const tidier = yield* PyTidier.client

      // TS -> Python: a send with its reply, from this process and from the TypeScript worker's agent
      assert.strictEqual(yield* greeter("k").Greet({ name: "Bob" }), "Hello, Bob")
      assert.strictEqual(yield* echo("k").AskPython({ name: "Ann" }), "Hello, Ann")
      // Python's declared error, typed on the TypeScript side
      const refused = yield* Effect.flip(greeter("k").Greet({ name: "Eve" }))
      assert.instanceOf(refused, Refused)
      assert.strictEqual((refused as Refused).why, "not you")
      assert.strictEqual(yield* echo("k").AskPython({ name: "Eve" }), "ts caught Refused(not you) from python")

      // the routed-agent contract in Python: a send runs only rpc handlers, and the refusal says why, typed here
      const notAnRpc = yield* Effect.flip(AgentRuntime.send(PyGreeter.id("k"), new Said({ text: "sent, not published" })))
      assert.deepStrictEqual(
        notAnRpc._tag === "CantHandleError" ? [notAnRpc.recipient, notAnRpc.messageType, notAnRpc.reason] : notAnRpc,
        ["py-greeter/k", "Said", "Said is handled as an event: publish it on a topic py-greeter subscribes to"]
      )

      // Python -> TS: a send with its reply, and TypeScript's declared error, typed on the Python side
      assert.strictEqual(yield* bridge("k").CallTs({ text: "hi" }), "ts-echo/k heard \"hi\"")
      assert.strictEqual(yield* bridge("k").CallTs({ text: "risky" }), "py caught Refused(ts says no)")

      // publish both ways (acknowledged: the publisher returns once the other language handled it)
      yield* echo("room").TellPython({ text: "from ts" })
      assert.deepStrictEqual(yield* greeter("room").History({}), ["from ts"])
      assert.strictEqual(yield* bridge("room").CallTs({ text: "publish:from py" }), "published")
      assert.deepStrictEqual(yield* echo("room").History({}), ["from py"])

      // a cycle ts-cycle/c -> py-cycle/c -> ts-cycle/c: the TypeScript worker refuses the last hop, and DeadlockError travels back
      const deadlock = yield* Effect.flip(cycle("c").Ping({ hops: 1 }))
      assert.strictEqual(deadlock._tag, "DeadlockError")
      assert.deepStrictEqual(deadlock._tag === "DeadlockError" ? [deadlock.recipient, deadlock.messageType] : [], ["ts-cycle/c", "Ping"])

      // a deadline cancels the Python handler: the caller gets TimeoutError, the handler is interrupted
      const timeout = yield* Effect.flip(sleeper("d").Slow({ seconds: 60 }, { timeout: "1 second" }))
      assert.strictEqual(timeout._tag, "TimeoutError")
      yield* eventually(sleeper("d").History({}), (cancelled) => cancelled.includes(60), "the Python handler cancelled")
      assert.strictEqual(yield* sleeper("d").Slow({ seconds: 0.01 }), 0.01)

      // a cancelled Python handler that cleans up slowly: the caller is free at its deadline; the host keeps the
      // request in flight until the Python worker says the handler ended, so awaitIdle waits for the cleanup
      const before = Date.now()
      const cancelled = yield* Effect.flip(tidier("c").Tidy({ seconds: 60, cleanup: 2 }, { timeout: "1 second" }))
      assert.strictEqual(cancelled._tag, "TimeoutError")
      yield* AgentRuntime.awaitIdle
      const idleAt = Date.now()
      const cleaned = yield* tidier("c").History({})
      assert.strictEqual(cleaned.length, 1, "the cleanup had ended when awaitIdle returned")
      assert.isAtMost(cleaned[0]!, idleAt, "the cleanup ended before awaitIdle returned (one machine, one clock)")
      // the host's grace starts after the 1 s deadline: returning before it ran out means the worker's answer released it
      assert.isBelow(idleAt, before + 1000 + cancelGraceMillis, "released by the Python worker's answer, not by the host's grace")
    })
  )

describe("agents in TypeScript and Python, as processes", () => {
  it.live("over TCP (the standard library only): sends, declared errors and publishes both ways, a deadlock cycle, a deadline", () =>
    Effect.gen(function*() {
      const { driver } = yield* polyglot("tcp", Python.python)
      yield* conversation(driver)
    }).pipe(Effect.scoped), 90_000)

  it.live.skipIf(Python.websocketPython === undefined)("over WebSocket (with websockets): the same conversation", () =>
    Effect.gen(function*() {
      const { driver } = yield* polyglot("websocket", Python.websocketPython!)
      yield* conversation(driver)
    }).pipe(Effect.scoped), 90_000)

  it.live("a host restart: both workers join the new host with the same ids and talk again", () =>
    Effect.gen(function*() {
      const port = yield* Processes.freePort
      const { driver, host, py } = yield* polyglot("tcp", Python.python, port)
      const firstHost = (yield* py.waitFor(/ready (\S+) session 1/))[1]
      yield* Harness.on(driver, Effect.flatMap(PyBridge.client, (bridge) => bridge("r").CallTs({ text: "before" })))
      host.child.kill("SIGKILL")
      yield* Processes.host(["--transport", "tcp"], port)
      const [, secondHost] = yield* py.waitFor(/ready (\S+) session 2/, 30_000)
      assert.notStrictEqual(secondHost, firstHost, "a new host process")
      // the TypeScript worker and this driver reconnect by themselves; the Python worker declared its types again
      const [toPython, toTs] = yield* eventually(
        Harness.on(
          driver,
          Effect.all([
            Effect.flatMap(PyGreeter.client, (greeter) => greeter("r").Greet({ name: "again" })),
            Effect.flatMap(PyBridge.client, (bridge) => bridge("r").CallTs({ text: "after" }))
          ])
        ).pipe(Effect.orElseSucceed(() => ["", ""] as const)),
        ([a, b]) => a !== "" && b !== "",
        "both languages answering through the new host"
      )
      assert.strictEqual(toPython, "Hello, again")
      assert.strictEqual(toTs, "ts-echo/r heard \"after\"")
    }).pipe(Effect.scoped), 90_000)

  it.live("the Python package's own unit tests pass (python3 -m unittest discover): TCP with the machine's python3", () =>
    Effect.gen(function*() {
      const { code, output } = yield* Python.unitTests(Python.python)
      assert.strictEqual(code, 0, output)
      assert.match(output, /\nOK/, output)
    }), 180_000)

  it.live.skipIf(Python.websocketPython === undefined)("the Python package's own unit tests pass with websockets installed: both transports, nothing skipped", () =>
    Effect.gen(function*() {
      const { code, output } = yield* Python.unitTests(Python.websocketPython!)
      assert.strictEqual(code, 0, output)
      assert.match(output, /\nOK\n/, output)
      assert.notMatch(output, /skipped/, "with websockets importable, no test is skipped")
    }), 180_000)
})
