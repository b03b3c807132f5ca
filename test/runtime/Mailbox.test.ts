import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Schema } from "effect"
import { Agent, AgentId } from "../../src/index.ts"
import * as Mailbox from "../../src/runtime/Mailbox.ts"

class Ping extends Schema.TaggedClass<Ping>()("Ping", {}) {}

const recipient = AgentId.make("box", "k")
const inTurn = Agent.rpc(Ping)
const concurrent = Agent.rpc(Ping, { concurrent: true })

const item = (messageId: string, options?: { readonly concurrent?: boolean }): Mailbox.Item =>
  Mailbox.deliveryItem({
    messageId,
    recipient,
    tag: "Ping",
    message: new Ping(),
    sender: undefined,
    topic: undefined,
    rpc: true,
    chain: [],
    onDone: () => {}
  }, options?.concurrent ? concurrent : inTurn, "Ping")

/** Lets the loop and the handlers it started run until they wait again. */
const flush = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

/**
 * A mailbox whose items each wait for their gate to open; records which
 * started (and whether they saw themselves in `running` as they started)
 * and which exited.
 */
const harness = (slots: number) =>
  Effect.gen(function*() {
    const started: Array<string> = []
    const exited: Array<string> = []
    const exits = new Map<string, Exit.Exit<unknown, unknown>>()
    const sawRunning = new Map<string, boolean>()
    const gates = new Map<string, Deferred.Deferred<void, string>>()
    const gate = (id: string) => {
      let d = gates.get(id)
      if (d === undefined) gates.set(id, d = Deferred.makeUnsafe<void, string>())
      return d
    }
    const mailbox: Mailbox.Mailbox = Mailbox.make(
      slots,
      (i) =>
        Effect.suspend(() => {
          const id = i.delivery!.messageId
          started.push(id)
          sawRunning.set(id, mailbox.running().includes(id))
          return Deferred.await(gate(id))
        }),
      (i, exit) => {
        exited.push(i.delivery!.messageId)
        exits.set(i.delivery!.messageId, exit)
      }
    )
    mailbox.start()
    const offer = (...items: Array<Mailbox.Item>) =>
      Effect.andThen(Effect.sync(() => items.forEach((i) => mailbox.offer(i))), flush)
    const release = (id: string) => Effect.andThen(Deferred.succeed(gate(id), undefined), flush)
    const fail = (id: string) => Effect.andThen(Deferred.fail(gate(id), "boom"), flush)
    return { mailbox, started, exited, exits, sawRunning, offer, release, fail }
  })

describe("Mailbox", () => {
  it.effect("with one slot, items start one at a time in arrival order", () =>
    Effect.gen(function*() {
      const h = yield* harness(1)
      yield* h.offer(item("a"), item("b"), item("c"))
      assert.deepStrictEqual(h.started, ["a"])
      yield* h.release("a")
      assert.deepStrictEqual(h.started, ["a", "b"])
      assert.deepStrictEqual(h.exited, ["a"])
      yield* h.release("b")
      yield* h.release("c")
      assert.deepStrictEqual(h.started, ["a", "b", "c"])
      assert.deepStrictEqual(h.exited, ["a", "b", "c"])
    }))

  it.effect("with N slots, N items run at once and the rest start in arrival order as slots free", () =>
    Effect.gen(function*() {
      const h = yield* harness(3)
      yield* h.offer(item("a"), item("b"), item("c"), item("d"), item("e"))
      assert.deepStrictEqual(h.started, ["a", "b", "c"])
      assert.deepStrictEqual(h.mailbox.running().sort(), ["a", "b", "c"])
      yield* h.release("b")
      assert.deepStrictEqual(h.started, ["a", "b", "c", "d"])
      yield* h.release("a")
      assert.deepStrictEqual(h.started, ["a", "b", "c", "d", "e"])
      assert.deepStrictEqual(h.mailbox.running().sort(), ["c", "d", "e"])
    }))

  it.effect("a concurrent item starts at once beside a running one and holds no slot", () =>
    Effect.gen(function*() {
      const h = yield* harness(1)
      yield* h.offer(item("a"), item("q", { concurrent: true }), item("b"))
      assert.deepStrictEqual(h.started, ["a", "q"])
      assert.deepStrictEqual(h.mailbox.running(), ["a"])
      assert.isFalse(h.sawRunning.get("q"))
      // the concurrent item finishing frees nothing: b still waits for a
      yield* h.release("q")
      assert.deepStrictEqual(h.started, ["a", "q"])
      yield* h.release("a")
      assert.deepStrictEqual(h.started, ["a", "q", "b"])
    }))

  it.effect("a cancelled item never starts, whether it waits in the backlog or in the queue", () =>
    Effect.gen(function*() {
      const h = yield* harness(1)
      const b = item("b")
      const d = item("d")
      yield* h.offer(item("a"), b, item("c"))
      b.cancelled = true // in the backlog already
      d.cancelled = true
      yield* h.offer(d) // cancelled before the loop took it
      yield* h.release("a")
      yield* h.release("c")
      assert.deepStrictEqual(h.started, ["a", "c"])
      assert.deepStrictEqual(h.exited, ["a", "c"])
      assert.strictEqual(h.mailbox.running().length, 0)
    }))

  it.effect("clear returns every item that has not started, in order, and they never start", () =>
    Effect.gen(function*() {
      const h = yield* harness(1)
      const [a, b, c, d] = [item("a"), item("b"), item("c"), item("d")]
      yield* h.offer(a, b, c)
      h.mailbox.offer(d) // still in the queue, not yet taken by the loop
      const cleared = h.mailbox.clear()
      assert.deepStrictEqual(cleared.map((i) => i.delivery!.messageId), ["b", "c", "d"])
      assert.strictEqual(cleared[0], b)
      yield* h.release("a")
      assert.deepStrictEqual(h.started, ["a"])
      assert.deepStrictEqual(h.mailbox.clear(), [])
    }))

  it.effect("a slot holder is in running before its handler's synchronous part runs, and leaves it when it exits", () =>
    Effect.gen(function*() {
      const h = yield* harness(2)
      yield* h.offer(item("a"), item("b"))
      assert.isTrue(h.sawRunning.get("a"))
      assert.isTrue(h.sawRunning.get("b"))
      yield* h.release("a")
      assert.deepStrictEqual(h.mailbox.running(), ["b"])
    }))

  it.effect("an item that fails frees its slot, and onExit gets its failure", () =>
    Effect.gen(function*() {
      const h = yield* harness(1)
      yield* h.offer(item("a"), item("b"))
      yield* h.fail("a")
      assert.deepStrictEqual(h.started, ["a", "b"])
      const exit = h.exits.get("a")!
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(exit, Exit.fail("boom"))
    }))

  it.effect("control items take their turn in mailbox order", () =>
    Effect.gen(function*() {
      const order: Array<string> = []
      const control = Mailbox.controlItem(Effect.sync(() => void order.push("control")), () => {})
      const mailbox = Mailbox.make(1, (i) => i.control ?? Effect.sync(() => void order.push(i.delivery!.messageId)), () => {})
      mailbox.start()
      mailbox.offer(item("a"))
      mailbox.offer(control)
      mailbox.offer(item("b"))
      yield* flush
      assert.deepStrictEqual(order, ["a", "control", "b"])
    }))
  it.effect("nothing starts before start or while paused; what waited starts in order on start", () =>
    Effect.gen(function*() {
      const order: Array<string> = []
      const mailbox = Mailbox.make(1, (i) => Effect.sync(() => void order.push(i.delivery!.messageId)), () => {})
      mailbox.offer(item("a"))
      mailbox.offer(item("q", { concurrent: true }))
      yield* flush
      assert.deepStrictEqual(order, [])
      mailbox.start()
      yield* flush
      assert.deepStrictEqual(order, ["q", "a"])
      mailbox.pause()
      mailbox.offer(item("b"))
      yield* flush
      assert.deepStrictEqual(order, ["q", "a"])
      assert.isFalse(mailbox.isQuiet())
      mailbox.start()
      yield* flush
      assert.deepStrictEqual(order, ["q", "a", "b"])
      assert.isTrue(mailbox.isQuiet())
    }))

  it.effect("items that finish synchronously start the next in a loop, not a recursion: a long backlog does not overflow the stack", () =>
    Effect.gen(function*() {
      let done = 0
      const mailbox = Mailbox.make(1, () => Effect.void, () => void done++)
      const n = 100_000
      for (let i = 0; i < n; i++) mailbox.offer(item(`m${i}`))
      mailbox.start()
      yield* flush
      assert.strictEqual(done, n)
      assert.isTrue(mailbox.isQuiet())
    }))
})
