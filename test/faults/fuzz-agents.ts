/**
 * The honest agents of the fuzz test (fuzz.test.ts), defined at module level
 * so a worker process (test/support/worker-process.ts) can run them by
 * export name: `counterLive` is a function of the worker id.
 *
 * One agent type, `fuzzcounter`: it answers every `FuzzCall` with
 * `<worker>:<i>:<text>` (so a caller can tell a genuine reply from a forged
 * one), records every `FuzzTick` event it hears (subscribed to the
 * `fuzz-ticks` topic type), and reports what it recorded on `FuzzTally`.
 */
import { Effect, Schema } from "effect"
import { Agent, Subscription } from "../../src/index.ts"

/** The honest call: answered with `<worker>:<i>:<text>`. */
export class FuzzCall extends Schema.TaggedClass<FuzzCall>()("FuzzCall", { i: Schema.Number, text: Schema.String }) {}
/** The honest event, published on `fuzz-ticks/<source>`. */
export class FuzzTick extends Schema.TaggedClass<FuzzTick>()("FuzzTick", { i: Schema.Number }) {}
/** Asks what the counter recorded. */
export class FuzzTally extends Schema.TaggedClass<FuzzTally>()("FuzzTally", {}) {}

/** Every call index and every event index the instance received, in arrival order (duplicates included). */
export class Tally extends Schema.Class<Tally>("Tally")({
  calls: Schema.Array(Schema.Number),
  events: Schema.Array(Schema.Number)
}) {}

/** The topic type the counters subscribe to. */
export const tickTopic = "fuzz-ticks"

export const Counter = Agent.make("fuzzcounter", {
  FuzzCall: Agent.rpc(FuzzCall, { success: Schema.String }),
  FuzzTick: Agent.event(FuzzTick),
  FuzzTally: Agent.rpc(FuzzTally, { success: Tally })
})

export const counterLive = (worker: string) =>
  Counter.toLayer(Effect.sync(() => {
    const calls: Array<number> = []
    const events: Array<number> = []
    return Counter.of({
      FuzzCall: ({ i, text }) =>
        Effect.sync(() => {
          calls.push(i)
          return `${worker}:${i}:${text}`
        }),
      FuzzTick: ({ i }) => Effect.sync(() => void events.push(i)),
      FuzzTally: () => Effect.sync(() => new Tally({ calls: [...calls], events: [...events] }))
    })
  }), { subscriptions: [Subscription.type(tickTopic)] })
