/**
 * Streaming replies (`Agent.stream`), on every runtime: chunks arrive in
 * order and end intact, a typed failure mid-stream reaches the caller as
 * itself, a slow consumer holds the producer back (it never runs further
 * ahead than the buffer allows), stopping reading cancels the handler, and
 * both deadlines (the whole stream, the gap between chunks) end the stream
 * with `TimeoutError`. The producer runs on another worker than the caller
 * wherever the setup has one (it is the second agent layer).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref, Schedule, Stream } from "effect"
import { AgentRuntime } from "../../../src/index.ts"
import { GreeterLive } from "../fixtures.ts"
import { type MakeRuntime, withAgentsOf, within } from "../suite.ts"
import { CountTo, Mark, Production, StreamBroke, Streamer, StreamerLive } from "./streaming-fixtures.ts"

/** The producer's record, asked until `until` holds (it runs elsewhere: polled, within a generous deadline). */
const productionUntil = (key: string, until: (p: Production) => boolean) =>
  Effect.gen(function*() {
    const streamer = yield* Streamer.client
    return yield* within(10_000, streamer(key).GetProduction({}).pipe(
      Effect.repeat({ until, schedule: Schedule.spaced("20 millis") })
    ))
  })

export const streaming = (makeRuntime: MakeRuntime) =>
  describe("streaming replies", () => {
    const withAgents = withAgentsOf(makeRuntime)
    // the caller's worker runs the greeter; the streamer runs on the other one
    const agents = [GreeterLive, StreamerLive]

    it.live("chunks arrive in order, and the stream ends when the handler's does", () =>
      Effect.gen(function*() {
        const streamer = yield* Streamer.client
        const ticks = yield* within(10_000, Stream.runCollect(streamer("order").CountTo({ n: 300 })))
        assert.deepStrictEqual(ticks.map((t) => t.i), Array.from({ length: 300 }, (_, i) => i))
        // the instance's turn is free again: an rpc of it answers
        const production = yield* productionUntil("order", (p) => p.finalized === 1)
        assert.strictEqual(production.finalized, 1)
      }).pipe(withAgents(agents)))

    it.live("a declared failure mid-stream reaches the caller as itself, after the chunks before it", () =>
      Effect.gen(function*() {
        const streamer = yield* Streamer.client
        const seen = yield* Ref.make<ReadonlyArray<number>>([])
        const error = yield* streamer("broken").CountTo({ n: 10, failAt: 3 }).pipe(
          Stream.runForEach((t) => Ref.update(seen, (all) => [...all, t.i])),
          Effect.flip,
          (e) => within(10_000, e)
        )
        assert.instanceOf(error, StreamBroke)
        assert.strictEqual((error as StreamBroke).at, 3)
        assert.deepStrictEqual(yield* Ref.get(seen), [0, 1, 2])
      }).pipe(withAgents(agents)))

    it.live("the untyped form streams too, and refuses a message that is not answered with a stream", () =>
      Effect.gen(function*() {
        const runtime = yield* AgentRuntime.AgentRuntime
        const chunks = yield* within(10_000, Stream.runCollect(runtime.sendStream(Streamer.id("untyped"), new CountTo({ n: 3 }))))
        // decoded with the contract where it is known, as JSON where it is not
        assert.deepStrictEqual(chunks.map((c) => (c as { i: number }).i), [0, 1, 2])
        const refused = yield* runtime.send(Streamer.id("untyped"), new CountTo({ n: 3 })).pipe(Effect.flip)
        assert.strictEqual(refused._tag, "CantHandleError")
        assert.match(refused._tag === "CantHandleError" ? refused.reason ?? "" : "", /answered with a stream/)
        // and a streaming send to an rpc handler is refused the same way
        const notAStream = yield* Stream.runDrain(runtime.sendStream(Streamer.id("untyped"), new Mark())).pipe(Effect.flip)
        assert.strictEqual(notAStream._tag, "CantHandleError")
      }).pipe(withAgents(agents)))

    it.live("a slow consumer holds the producer back: it never runs further ahead than the buffer allows", () =>
      Effect.gen(function*() {
        const streamer = yield* Streamer.client
        const buffer = 4
        let consumed = 0
        let furthest = 0
        yield* streamer("slow").Endless({}, { buffer }).pipe(
          Stream.take(40),
          Stream.runForEach(() =>
            Effect.gen(function*() {
              consumed++
              // every few chunks, give an unchecked producer time to run far ahead, then see how far it is
              if (consumed % 8 !== 0) return
              yield* Effect.sleep("50 millis")
              const { produced } = yield* streamer("slow").GetProduction({})
              furthest = Math.max(furthest, produced - consumed)
            })
          ),
          (e) => within(20_000, e)
        )
        // bounded by the window, not by the stream: `buffer` on the way; across processes, up to a window the
        // reading worker has taken (and granted back) but not yet handed on; the consumer's last pull; the one
        // being offered. An unchecked producer runs hundreds ahead here.
        assert.isAtMost(furthest, 3 * buffer)
        assert.isAtLeast(furthest, 0)
      }).pipe(withAgents(agents)))

    it.live("a stream holds the instance's turn: a message sent meanwhile runs after the stream ended", () =>
      Effect.gen(function*() {
        const streamer = yield* Streamer.client
        yield* Effect.scoped(Effect.gen(function*() {
          // the stream is open and its first chunk has come; nobody reads further
          const pull = yield* Stream.toPull(streamer("turns").Endless({}, { buffer: 1 }))
          yield* within(10_000, pull)
          const marked = yield* Effect.forkChild(streamer("turns").Mark({}))
          // time for a mark that did not wait its turn to run now
          yield* Effect.sleep("200 millis")
          assert.isUndefined(marked.pollUnsafe(), "the mark waits behind the stream")
          return marked
        })).pipe(Effect.flatMap((marked) => within(10_000, Fiber.join(marked))))
        const log = yield* streamer("turns").GetLog({})
        assert.deepStrictEqual(log, ["stream started", "stream ended", "mark"])
      }).pipe(withAgents(agents)))

    it.live("interrupting the consumer cancels the handler: its finalizer runs", () =>
      Effect.gen(function*() {
        const streamer = yield* Streamer.client
        const reading = yield* Effect.forkChild(Stream.runDrain(streamer("cancelled").Endless({})))
        yield* productionUntil("cancelled", (p) => p.produced > 0)
        yield* Fiber.interrupt(reading)
        const production = yield* productionUntil("cancelled", (p) => p.finalized === 1)
        assert.strictEqual(production.finalized, 1)
      }).pipe(withAgents(agents)))

    it.live("a consumer that stops reading early (take) cancels the handler too", () =>
      Effect.gen(function*() {
        const streamer = yield* Streamer.client
        const three = yield* within(10_000, Stream.runCollect(Stream.take(streamer("early").Endless({}), 3)))
        assert.deepStrictEqual(three.map((t) => t.i), [0, 1, 2])
        const production = yield* productionUntil("early", (p) => p.finalized === 1)
        assert.strictEqual(production.finalized, 1)
      }).pipe(withAgents(agents)))

    it.live("the whole-stream deadline ends a stream that goes on too long with TimeoutError, and cancels it", () =>
      Effect.gen(function*() {
        const streamer = yield* Streamer.client
        const seen = yield* Ref.make(0)
        const error = yield* streamer("late").Stall({ after: 2 }, { timeout: "400 millis" }).pipe(
          Stream.runForEach(() => Ref.update(seen, (n) => n + 1)),
          Effect.flip,
          (e) => within(10_000, e)
        )
        assert.strictEqual(error._tag, "TimeoutError")
        assert.strictEqual(error._tag === "TimeoutError" && error.timeoutMillis, 400)
        assert.strictEqual(yield* Ref.get(seen), 2)
        const production = yield* productionUntil("late", (p) => p.finalized === 1)
        assert.strictEqual(production.finalized, 1)
      }).pipe(withAgents(agents)))

    it.live("the gap deadline ends a stream whose next chunk does not come in time with TimeoutError", () =>
      Effect.gen(function*() {
        const streamer = yield* Streamer.client
        const seen = yield* Ref.make(0)
        const error = yield* streamer("gap").Stall({ after: 3 }, { timeout: "30 seconds", idleTimeout: "300 millis" }).pipe(
          Stream.runForEach(() => Ref.update(seen, (n) => n + 1)),
          Effect.flip,
          (e) => within(10_000, e)
        )
        assert.strictEqual(error._tag, "TimeoutError")
        assert.strictEqual(error._tag === "TimeoutError" && error.timeoutMillis, 300)
        assert.strictEqual(yield* Ref.get(seen), 3)
        const production = yield* productionUntil("gap", (p) => p.finalized === 1)
        assert.strictEqual(production.finalized, 1)
      }).pipe(withAgents(agents)))

    it.live("the gap deadline times the producer, not a consumer that takes its time", () =>
      Effect.gen(function*() {
        const streamer = yield* Streamer.client
        // the consumer waits longer than the gap deadline between pulls; the producer always has the next chunk ready
        const ticks = yield* streamer("patient").Endless({}, { idleTimeout: "100 millis" }).pipe(
          Stream.tap(() => Effect.sleep("150 millis")),
          Stream.take(5),
          Stream.runCollect,
          (e) => within(20_000, e)
        )
        assert.deepStrictEqual(ticks.map((t) => t.i), [0, 1, 2, 3, 4])
      }).pipe(withAgents(agents)))
  })
