import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Logger, References, Stream } from "effect"
import { AgentError, AgentId } from "../../src/index.ts"
import * as DeadLetter from "../../src/core/DeadLetter.ts"
import * as DeadLetters from "../../src/runtime/DeadLetters.ts"

const letter = (n: number, error: AgentError.AgentError = new AgentError.CantHandleError({ recipient: "a/k", messageType: `M${n}` })) =>
  DeadLetter.make(AgentId.make("a", "k"), `M${n}`, AgentId.make("s", "k"), undefined, error)

interface Logged {
  readonly level: string
  readonly message: unknown
  readonly annotations: Record<string, unknown>
}

/** Dead letters whose logs go to `logged` (the hub captures its context when it is made). */
const withLogs = Effect.gen(function*() {
  const logged: Array<Logged> = []
  const collector = Logger.make((options) => {
    logged.push({ level: options.logLevel, message: options.message, annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) } })
  })
  const deadLetters = yield* DeadLetters.make.pipe(
    Effect.provide(Logger.layer([collector])),
    Effect.provideService(References.MinimumLogLevel, "All")
  )
  return { deadLetters, logged }
})

/** How many letters an observer may fall behind (the module's `capacity`). */
const capacity = 4096
const extra = 10

const flush = Effect.gen(function*() {
  for (let i = 0; i < 10; i++) yield* Effect.yieldNow
})

/** Dead letters that log nothing. */
const quiet = DeadLetters.make.pipe(Effect.provideService(References.MinimumLogLevel, "None"))

describe("DeadLetters", () => {
  it.effect("an emitted letter reaches every subscriber", () =>
    Effect.gen(function*() {
      const deadLetters = yield* quiet
      const first = yield* deadLetters.subscribe
      const second = yield* deadLetters.subscribe
      deadLetters.emit(letter(1))
      deadLetters.emit(letter(2))
      const a = yield* Stream.runCollect(Stream.take(first, 2))
      const b = yield* Stream.runCollect(Stream.take(second, 2))
      assert.deepStrictEqual(a.map((l) => l.messageType), ["M1", "M2"])
      assert.deepStrictEqual(b.map((l) => l.messageType), ["M1", "M2"])
    }))

  it.effect("a subscriber sees only letters emitted after it subscribed", () =>
    Effect.gen(function*() {
      const deadLetters = yield* quiet
      deadLetters.emit(letter(1))
      const stream = yield* deadLetters.subscribe
      deadLetters.emit(letter(2))
      const got = yield* Stream.runCollect(Stream.take(stream, 1))
      assert.deepStrictEqual(got.map((l) => l.messageType), ["M2"])
    }))

  it.effect("emitting never blocks, however far behind a subscriber is, and a subscriber holds at most the capacity", () =>
    Effect.gen(function*() {
      const deadLetters = yield* quiet
      const stream = yield* deadLetters.subscribe
      // emit is synchronous: it returns for every letter although nobody reads
      for (let i = 0; i < capacity + extra; i++) deadLetters.emit(letter(i))
      const reader = yield* Effect.forkChild(Stream.runCollect(Stream.take(stream, capacity + 1)))
      yield* flush
      assert.isUndefined(reader.pollUnsafe(), "no more than the capacity was kept for the subscriber")
      deadLetters.emit(letter(-1))
      const got = yield* Fiber.join(reader)
      assert.strictEqual(got.length, capacity + 1)
      assert.strictEqual(got[capacity]!.messageType, "M-1")
    }))

  // BUG (src/runtime/DeadLetters.ts, emit): PubSub.publishUnsafe on a sliding PubSub does not slide; when a
  // subscriber's buffer is full it refuses the *new* letter (returns false, ignored), so a slow observer
  // loses the newest letters and keeps the oldest, the opposite of what the module doc promises.
  it.effect("a subscriber that falls behind more than the capacity loses the oldest letters", () =>
    Effect.gen(function*() {
      const deadLetters = yield* quiet
      const stream = yield* deadLetters.subscribe
      for (let i = 0; i < capacity + extra; i++) deadLetters.emit(letter(i))
      const got = yield* Stream.runCollect(Stream.take(stream, capacity))
      assert.strictEqual(got[0]!.messageType, `M${extra}`)
      assert.strictEqual(got[capacity - 1]!.messageType, `M${capacity + extra - 1}`)
    }))

  // BUG (same cause): the hub's buffer is shared, so once one subscriber (say, one that subscribed and never
  // reads) is `capacity` letters behind, publishUnsafe refuses every new letter for every subscriber.
  it.effect("a subscriber that keeps up loses nothing because another falls behind", () =>
    Effect.gen(function*() {
      const deadLetters = yield* quiet
      yield* deadLetters.subscribe // never read
      const fast = yield* deadLetters.subscribe
      const chunk = 1024
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < chunk; i++) deadLetters.emit(letter(round * chunk + i))
        const reader = yield* Effect.forkChild(Stream.runCollect(Stream.take(fast, chunk)))
        yield* flush
        const read = reader.pollUnsafe()
        if (read === undefined) yield* Fiber.interrupt(reader)
        assert.isDefined(read, `round ${round}: the fast subscriber did not get its ${chunk} letters`)
      }
    }))

  it.effect("log only logs: subscribers get nothing", () =>
    Effect.gen(function*() {
      const { deadLetters, logged } = yield* withLogs
      const stream = yield* deadLetters.subscribe
      const reader = yield* Effect.forkChild(Stream.runCollect(Stream.take(stream, 1)))
      deadLetters.log(letter(1))
      deadLetters.emit(letter(2))
      const got = yield* Fiber.join(reader)
      assert.deepStrictEqual(got.map((l) => l.messageType), ["M2"])
      assert.strictEqual(logged.length, 2)
    }))

  it.effect("letters are logged with their context, never their payload, at a level by error", () =>
    Effect.gen(function*() {
      const { deadLetters, logged } = yield* withLogs
      deadLetters.emit(letter(1))
      deadLetters.emit(letter(2, new AgentError.HandlerError({ recipient: "a/k", messageType: "M2", reason: "boom" })))
      deadLetters.emit(letter(3, new AgentError.TimeoutError({ recipient: "a/k", messageType: "M3", timeoutMillis: 1 })))
      assert.deepStrictEqual(logged.map((l) => l.level), ["Info", "Error", "Warn"])
      assert.deepStrictEqual(logged[1]!.annotations, { recipient: "a/k", messageType: "M2", sender: "s/k", topic: "-" })
      assert.include(String(logged[1]!.message), "boom")
    }))
})
