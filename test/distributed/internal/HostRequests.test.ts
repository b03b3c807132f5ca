import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { AgentError } from "../../../src/index.ts"
import type { HostMessageJson as HostMessage } from "../../../src/distributed/internal/ProtocolSides.ts"
import * as HostRequests from "../../../src/distributed/internal/HostRequests.ts"
import type { Connection } from "../../../src/distributed/internal/Sessions.ts"
import * as FakeConnection from "./connection.ts"
import * as Deadlines from "../../../src/runtime/Deadlines.ts"
import * as Idle from "../../../src/runtime/Idle.ts"

/** A joined worker whose pushes are recorded; `accepts` says whether its queue takes another. */
const connection = (workerId: string, clientId: number, accepts: () => boolean = () => true) =>
  Effect.sync(() => FakeConnection.make(workerId, clientId, accepts))

const control = (requestId: string): HostMessage => ({ _tag: "Control", requestId, op: "saveAll" })

const event = (publisher: Connection): HostRequests.PublishedEvent => ({
  publisher,
  recipient: "logger/room",
  messageType: "Joined",
  sender: undefined,
  topic: "chat/room"
})

const setup = (options?: {
  readonly eventTimeoutMillis?: number
  readonly live?: (c: Connection) => boolean
  readonly maxPending?: number
  readonly maxPendingBytes?: number
}) =>
  Effect.gen(function*() {
    const idle = Idle.make()
    const letters: Array<{ readonly event: HostRequests.PublishedEvent; readonly error: AgentError.AgentError }> = []
    let now = 0
    const requests = HostRequests.make({
      hostId: "host",
      now: () => now,
      maxPending: options?.maxPending ?? 100,
      maxReplyBytes: Infinity,
      checkReply: (outcome) => outcome,
      maxPendingBytes: options?.maxPendingBytes ?? 1_000_000,
      idle,
      deadlines: yield* Deadlines.make,
      eventTimeoutMillis: options?.eventTimeoutMillis ?? 1000,
      isLive: options?.live ?? (() => true),
      deadLetter: (event, error) => letters.push({ event, error })
    })
    return { idle, letters, requests, setNow: (t: number) => (now = t) }
  })

const flush = Effect.gen(function*() {
  for (let i = 0; i < 10; i++) yield* Effect.yieldNow
})

const requestIdOf = (message: HostMessage | undefined): string => {
  assert.isDefined(message)
  return (message as { readonly requestId: string }).requestId
}

describe("HostRequests", () => {
  it.effect("a request is pushed to its worker with a fresh id and resumes with the worker's answer", () =>
    Effect.gen(function*() {
      const { idle, requests } = yield* setup()
      const { conn, pushed } = yield* connection("w1", 1)
      const first = yield* Effect.forkChild(requests.request(conn, 10, control), { startImmediately: true })
      const second = yield* Effect.forkChild(requests.request(conn, 10, control), { startImmediately: true })
      assert.strictEqual(pushed.length, 2)
      const [a, b] = pushed.map(requestIdOf)
      assert.notStrictEqual(a, b)
      assert.deepStrictEqual([...conn.pending], [a, b])
      assert.strictEqual(idle.pending(), 2)
      requests.answer(conn, a!, { _tag: "Success", value: { ok: 1 } })
      const error = new AgentError.CantHandleError({ recipient: "x/k", messageType: "M" })
      requests.answer(conn, b!, { _tag: "Failure", error })
      assert.deepStrictEqual(yield* Fiber.join(first), { ok: 1 })
      assert.strictEqual(yield* Fiber.join(second).pipe(Effect.flip), error)
      assert.strictEqual(conn.pending.size, 0)
      assert.strictEqual(idle.pending(), 0)
    }))

  it.effect("only the connection a request went to may answer it", () =>
    Effect.gen(function*() {
      const { requests } = yield* setup()
      const target = yield* connection("w1", 1)
      const other = yield* connection("w2", 2)
      const fiber = yield* Effect.forkChild(requests.request(target.conn, 10, control), { startImmediately: true })
      const requestId = requestIdOf(target.pushed[0])
      requests.answer(other.conn, requestId, { _tag: "Success", value: "forged" })
      yield* flush
      assert.isUndefined(fiber.pollUnsafe())
      requests.answer(target.conn, requestId, { _tag: "Success", value: "real" })
      assert.strictEqual(yield* Fiber.join(fiber), "real")
      // a second answer to a settled request is ignored
      requests.answer(target.conn, requestId, { _tag: "Success", value: "again" })
    }))

  it.effect("interrupting the caller pushes Cancel; the request stays in flight until the worker says its handler ended", () =>
    Effect.gen(function*() {
      const { idle, requests } = yield* setup()
      const { conn, pushed } = yield* connection("w1", 1)
      const fiber = yield* Effect.forkChild(requests.request(conn, 10, control), { startImmediately: true })
      const requestId = requestIdOf(pushed[0])
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(pushed[1], { _tag: "Cancel", requestId })
      // awaitIdle must wait for the cancelled handler, which may still be running its finalizers on the worker
      assert.strictEqual(conn.pending.size, 1)
      assert.strictEqual(idle.pending(), 1)
      requests.answer(conn, requestId, { _tag: "Success", value: 1 })
      assert.strictEqual(conn.pending.size, 0)
      assert.strictEqual(idle.pending(), 0)
      // an interrupted answered request pushes no Cancel
      const answered = yield* Effect.forkChild(requests.request(conn, 10, control), { startImmediately: true })
      requests.answer(conn, requestIdOf(pushed[2]), { _tag: "Success", value: 2 })
      yield* Fiber.join(answered)
      yield* Fiber.interrupt(answered)
      assert.strictEqual(pushed.length, 3)
    }))

  it.effect("a cancelled request whose worker never answers is forgotten after the grace", () =>
    Effect.gen(function*() {
      const { idle, requests } = yield* setup()
      const { conn } = yield* connection("w1", 1)
      const fiber = yield* Effect.forkChild(requests.request(conn, 10, control), { startImmediately: true })
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust(HostRequests.cancelGraceMillis - 1)
      assert.strictEqual(idle.pending(), 1)
      yield* TestClock.adjust(1)
      assert.strictEqual(conn.pending.size, 0)
      assert.strictEqual(idle.pending(), 0)
    }))

  it.effect("a request to a worker that already left fails with WorkerLeft and pushes nothing", () =>
    Effect.gen(function*() {
      const { idle, requests } = yield* setup({ live: () => false })
      const { conn, pushed } = yield* connection("w1", 1)
      const error = yield* requests.request(conn, 10, control).pipe(Effect.flip)
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "WorkerLeft")
      assert.deepStrictEqual(pushed, [])
      assert.strictEqual(idle.pending(), 0)
    }))

  it.effect("an event nobody acknowledges within the event deadline becomes a dead letter for its publisher", () =>
    Effect.gen(function*() {
      const { idle, letters, requests } = yield* setup({ eventTimeoutMillis: 5000 })
      const publisher = yield* connection("pub", 1)
      const { conn, pushed } = yield* connection("w1", 2)
      const published = event(publisher.conn)
      requests.pushEvents(conn, 10, [published], control)
      assert.strictEqual(pushed.length, 1)
      assert.strictEqual(idle.pending(), 1)
      yield* TestClock.adjust("4999 millis")
      assert.deepStrictEqual(letters, [])
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(letters.length, 1)
      assert.strictEqual(letters[0]!.event, published)
      const error = letters[0]!.error
      assert.strictEqual(error._tag, "TimeoutError")
      assert.deepStrictEqual(error._tag === "TimeoutError" && [error.recipient, error.messageType, error.timeoutMillis], ["logger/room", "Joined", 5000])
      assert.strictEqual(idle.pending(), 0)
      assert.strictEqual(conn.pending.size, 0)
      // a late acknowledgement changes nothing
      requests.answer(conn, requestIdOf(pushed[0]), { _tag: "Failure", error: new AgentError.CantHandleError({ recipient: "a/k", messageType: "M" }) })
      assert.strictEqual(letters.length, 1)
    }))

  it.effect("an acknowledged event is no dead letter and its deadline is cleared; a failed one is", () =>
    Effect.gen(function*() {
      const { idle, letters, requests } = yield* setup()
      const publisher = yield* connection("pub", 1)
      const { conn, pushed } = yield* connection("w1", 2)
      requests.pushEvents(conn, 10, [event(publisher.conn)], control)
      requests.pushEvents(conn, 10, [event(publisher.conn)], control)
      requests.answer(conn, requestIdOf(pushed[0]), { _tag: "Success", value: null })
      const failed = new AgentError.HandlerError({ recipient: "logger/room", messageType: "Joined", reason: "boom" })
      requests.answer(conn, requestIdOf(pushed[1]), { _tag: "Failure", error: failed })
      assert.deepStrictEqual(letters.map((l) => l.error), [failed])
      assert.strictEqual(idle.pending(), 0)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(letters.length, 1)
    }))

  it.effect("failAll fails everything pending on a worker with WorkerLeft, and nothing on others", () =>
    Effect.gen(function*() {
      const { idle, letters, requests } = yield* setup()
      const gone = yield* connection("w1", 1)
      const stays = yield* connection("w2", 2)
      const first = yield* Effect.forkChild(requests.request(gone.conn, 10, control), { startImmediately: true })
      const second = yield* Effect.forkChild(requests.request(gone.conn, 10, control), { startImmediately: true })
      const elsewhere = yield* Effect.forkChild(requests.request(stays.conn, 10, control), { startImmediately: true })
      requests.pushEvents(gone.conn, 10, [event(stays.conn)], control)
      requests.failAll(gone.conn, "disconnected")
      for (const fiber of [first, second]) {
        const error = yield* Fiber.join(fiber).pipe(Effect.flip)
        assert.strictEqual(error._tag, "UndeliverableError")
        const reason = error._tag === "UndeliverableError" ? error.reason : undefined
        assert.deepStrictEqual(reason?._tag === "WorkerLeft" && [reason.workerId, reason.detail], ["w1", "disconnected"])
      }
      assert.strictEqual(letters.length, 1)
      assert.strictEqual(letters[0]!.error._tag === "UndeliverableError" && letters[0]!.error.reason._tag, "WorkerLeft")
      assert.strictEqual(gone.conn.pending.size, 0)
      assert.strictEqual(idle.pending(), 1)
      yield* flush
      assert.isUndefined(elsewhere.pollUnsafe())
      requests.answer(stays.conn, requestIdOf(stays.pushed[0]), { _tag: "Success", value: "still here" })
      assert.strictEqual(yield* Fiber.join(elsewhere), "still here")
    }))

  it.effect("a worker at its pending count refuses more at once with Overloaded, and takes more once it answered", () =>
    Effect.gen(function*() {
      const { idle, requests } = yield* setup({ maxPending: 2 })
      const { conn, pushed } = yield* connection("w1", 1)
      yield* Effect.forkChild(requests.request(conn, 10, control), { startImmediately: true })
      yield* Effect.forkChild(requests.request(conn, 10, control), { startImmediately: true })
      const error = yield* requests.request(conn, 10, control).pipe(Effect.flip)
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "Overloaded")
      assert.strictEqual(pushed.length, 2)
      assert.strictEqual(idle.pending(), 2)
      requests.answer(conn, requestIdOf(pushed[0]), { _tag: "Success", value: null })
      yield* Effect.forkChild(requests.request(conn, 10, control), { startImmediately: true })
      assert.strictEqual(pushed.length, 3)
    }))

  it.effect("a worker at its pending bytes refuses a request that would pass them; settled requests give their bytes back", () =>
    Effect.gen(function*() {
      const { requests } = yield* setup({ maxPendingBytes: 100 })
      const { conn, pushed } = yield* connection("w1", 1)
      yield* Effect.forkChild(requests.request(conn, 60, control), { startImmediately: true })
      assert.strictEqual(conn.pendingBytes, 60)
      const error = yield* requests.request(conn, 41, control).pipe(Effect.flip)
      const reason = error._tag === "UndeliverableError" ? error.reason : undefined
      assert.strictEqual(reason?._tag, "Overloaded")
      assert.strictEqual(reason?._tag === "Overloaded" && reason.limit, 100)
      yield* Effect.forkChild(requests.request(conn, 40, control), { startImmediately: true })
      assert.strictEqual(conn.pendingBytes, 100)
      requests.answer(conn, requestIdOf(pushed[0]), { _tag: "Success", value: null })
      assert.strictEqual(conn.pendingBytes, 40)
    }))

  it.effect("a worker whose queue is full refuses a request with Overloaded and records nothing", () =>
    Effect.gen(function*() {
      const { idle, requests } = yield* setup()
      const { conn } = yield* connection("w1", 1, () => false)
      const error = yield* requests.request(conn, 10, control).pipe(Effect.flip)
      assert.strictEqual(error._tag === "UndeliverableError" && error.reason._tag, "Overloaded")
      assert.strictEqual(conn.pending.size, 0)
      assert.strictEqual(conn.pendingBytes, 0)
      assert.strictEqual(idle.pending(), 0)
    }))

  it.effect("an event a worker cannot take, or that left, is a dead letter at once and onSettled hears it", () =>
    Effect.gen(function*() {
      const { idle, letters, requests } = yield* setup({ maxPending: 1, live: (c) => c.workerId !== "gone" })
      const publisher = yield* connection("pub", 1)
      const { conn } = yield* connection("w1", 2)
      const left = yield* connection("gone", 3)
      const settled: Array<Exit.Exit<unknown, AgentError.AgentError>> = []
      requests.pushEvents(conn, 10, [event(publisher.conn)], control, (exit) => settled.push(exit))
      requests.pushEvents(conn, 10, [event(publisher.conn)], control, (exit) => settled.push(exit))
      requests.pushEvents(left.conn, 10, [event(publisher.conn)], control, (exit) => settled.push(exit))
      assert.deepStrictEqual(letters.map((l) => l.error._tag === "UndeliverableError" && l.error.reason._tag), ["Overloaded", "WorkerLeft"])
      assert.strictEqual(settled.length, 2)
      assert.deepStrictEqual(left.pushed, [])
      assert.strictEqual(idle.pending(), 1)
    }))

  it.effect("onSettled hears how a delivered event ended, and an answer records the worker's progress", () =>
    Effect.gen(function*() {
      const { requests, setNow } = yield* setup()
      const publisher = yield* connection("pub", 1)
      const { conn, pushed } = yield* connection("w1", 2)
      const settled: Array<Exit.Exit<unknown, AgentError.AgentError>> = []
      requests.pushEvents(conn, 10, [event(publisher.conn)], control, (exit) => settled.push(exit))
      setNow(1234)
      requests.answer(conn, requestIdOf(pushed[0]), { _tag: "Success", value: null })
      assert.deepStrictEqual(settled, [Exit.void])
      assert.strictEqual(conn.lastProgress, 1234)
    }))

  describe("several deliveries in one request (DeliverMany)", () => {
    const eventFor = (publisher: Connection, recipient: string): HostRequests.PublishedEvent => ({ ...event(publisher), recipient })
    const three = (publisher: Connection) => ["sink-0/s", "sink-1/s", "sink-2/s"].map((r) => eventFor(publisher, r))

    it.effect("each recipient's answer settles its own delivery; a failure is a dead letter for that recipient; the last ends the request", () =>
      Effect.gen(function*() {
        const { idle, letters, requests } = yield* setup()
        const publisher = yield* connection("pub", 1)
        const { conn, pushed } = yield* connection("w1", 2)
        const settled: Array<Exit.Exit<unknown, AgentError.AgentError>> = []
        const events = three(publisher.conn)
        requests.pushEvents(conn, 10, events, control, (exit) => settled.push(exit), true)
        assert.strictEqual(pushed.length, 1)
        // it counts once for idle and once per delivery against the worker's bound
        assert.strictEqual(idle.pending(), 1)
        assert.strictEqual(conn.pendingDeliveries, 3)
        const id = requestIdOf(pushed[0])
        requests.answer(conn, id, { _tag: "Success", value: null }, [0, 2])
        assert.deepStrictEqual(settled, [])
        const failed = new AgentError.HandlerError({ recipient: "sink-1/s", messageType: "Joined", reason: "boom" })
        // out of range and repeated indices are ignored
        requests.answer(conn, id, { _tag: "Failure", error: failed }, [1, 1, 7])
        assert.deepStrictEqual(letters.map((l) => [l.event.recipient, l.error]), [["sink-1/s", failed]])
        assert.deepStrictEqual(settled, [Exit.fail(failed)])
        assert.strictEqual(idle.pending(), 0)
        assert.strictEqual(conn.pendingDeliveries, 0)
        assert.strictEqual(conn.pending.size, 0)
        // answered already: nothing more
        requests.answer(conn, id, { _tag: "Failure", error: failed })
        assert.strictEqual(letters.length, 1)
      }))

    it.effect("an answer without recipients answers every delivery still open", () =>
      Effect.gen(function*() {
        const { letters, requests } = yield* setup()
        const publisher = yield* connection("pub", 1)
        const { conn, pushed } = yield* connection("w1", 2)
        const settled: Array<Exit.Exit<unknown, AgentError.AgentError>> = []
        requests.pushEvents(conn, 10, three(publisher.conn), control, (exit) => settled.push(exit), true)
        const id = requestIdOf(pushed[0])
        requests.answer(conn, id, { _tag: "Success", value: null }, [1])
        const failed = new AgentError.CantHandleError({ recipient: "sink/s", messageType: "Joined" })
        requests.answer(conn, id, { _tag: "Failure", error: failed })
        assert.deepStrictEqual(letters.map((l) => l.event.recipient), ["sink-0/s", "sink-2/s"])
        assert.deepStrictEqual(settled, [Exit.fail(failed)])
      }))

    it.effect("at the deadline only the deliveries without an answer time out", () =>
      Effect.gen(function*() {
        const { idle, letters, requests } = yield* setup({ eventTimeoutMillis: 1000 })
        const publisher = yield* connection("pub", 1)
        const { conn, pushed } = yield* connection("w1", 2)
        requests.pushEvents(conn, 10, three(publisher.conn), control, undefined, true)
        requests.answer(conn, requestIdOf(pushed[0]), { _tag: "Success", value: null }, [1])
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(letters.map((l) => [l.event.recipient, l.error._tag]), [["sink-0/s", "TimeoutError"], ["sink-2/s", "TimeoutError"]])
        assert.strictEqual(idle.pending(), 0)
        assert.strictEqual(conn.pendingDeliveries, 0)
      }))

    it.effect("a worker that leaves makes each open delivery a dead letter, and its bound counts deliveries", () =>
      Effect.gen(function*() {
        const { letters, requests } = yield* setup({ maxPending: 4 })
        const publisher = yield* connection("pub", 1)
        const { conn, pushed } = yield* connection("w1", 2)
        requests.pushEvents(conn, 10, three(publisher.conn), control, undefined, true)
        requests.answer(conn, requestIdOf(pushed[0]), { _tag: "Success", value: null }, [2])
        // 3 of 4 in use (its request is still open): two more deliveries would pass the bound, one fits
        requests.pushEvents(conn, 10, three(publisher.conn).slice(0, 2), control, undefined, true)
        assert.strictEqual(pushed.length, 1)
        assert.strictEqual(letters.length, 2)
        requests.pushEvents(conn, 10, [eventFor(publisher.conn, "one/s")], control)
        requests.pushEvents(conn, 10, [eventFor(publisher.conn, "two/s")], control)
        assert.strictEqual(pushed.length, 2)
        assert.deepStrictEqual(letters.map((l) => l.error._tag === "UndeliverableError" && l.error.reason._tag), ["Overloaded", "Overloaded", "Overloaded"])
        assert.deepStrictEqual(letters.map((l) => l.event.recipient), ["sink-0/s", "sink-1/s", "two/s"])
        letters.length = 0
        requests.failAll(conn, "disconnected")
        assert.deepStrictEqual(letters.map((l) => l.event.recipient), ["sink-0/s", "sink-1/s", "one/s"])
        assert.strictEqual(conn.pendingDeliveries, 0)
      }))

    it.effect("answers to a publish's single Deliver ignore recipients; an answer that ends nothing is no progress", () =>
      Effect.gen(function*() {
        const { letters, requests, setNow } = yield* setup()
        const publisher = yield* connection("pub", 1)
        const { conn, pushed } = yield* connection("w1", 2)
        requests.pushEvents(conn, 10, three(publisher.conn), control, undefined, true)
        const batch = requestIdOf(pushed[0])
        setNow(1000)
        // indices already answered, out of range or none: the worker is heard, but it made no progress
        requests.answer(conn, batch, { _tag: "Success", value: null }, [])
        requests.answer(conn, batch, { _tag: "Success", value: null }, [9])
        assert.strictEqual(conn.lastHeard, 1000)
        assert.strictEqual(conn.lastProgress, 0)
        requests.answer(conn, batch, { _tag: "Success", value: null }, [0])
        assert.strictEqual(conn.lastProgress, 1000)
        // a single Deliver: its answer ends it whatever recipients it names
        requests.pushEvents(conn, 10, [eventFor(publisher.conn, "one/s")], control)
        requests.answer(conn, requestIdOf(pushed[1]), { _tag: "Success", value: null }, [5])
        // the single one is over; the DeliverMany holds its three until its last answer
        assert.strictEqual(conn.pending.size, 1)
        assert.strictEqual(conn.pendingDeliveries, 3)
        assert.deepStrictEqual(letters, [])
      }))
  })
})
