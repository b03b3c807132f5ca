/**
 * Agents for the operations tests, at module level so a worker process
 * (test/support/worker-process.ts) runs them by name: `counterLive` answers
 * pings with its worker's id, streams the words of a text, and hears ticks, failing on a tick that asks it
 * to (a dead letter the host records).
 */
import { Effect, Ref, Schema, Stream } from "effect"
import { Agent, Subscription } from "../../src/index.ts"

export class Ping extends Schema.TaggedClass<Ping>()("Ping", {}) {}
export class Tick extends Schema.TaggedClass<Tick>()("Tick", { fail: Schema.Boolean }) {}
export class Words extends Schema.TaggedClass<Words>()("Words", { text: Schema.String }) {}
export class Ticks extends Schema.TaggedClass<Ticks>()("Ticks", {}) {}

export const Counter = Agent.make("counter", {
  Ping: Agent.rpc(Ping, { success: Schema.String }),
  Tick: Agent.event(Tick),
  Ticks: Agent.rpc(Ticks, { success: Schema.Number }),
  Words: Agent.stream(Words, { success: Schema.String })
})

export const counterLive = (worker: string) =>
  Counter.toLayer(Effect.gen(function*() {
    const ticks = yield* Ref.make(0)
    return Counter.of({
      Ping: () => Effect.succeed(worker),
      Tick: ({ fail }) => fail ? Effect.die(new Error("the tick asked to fail")) : Ref.update(ticks, (n) => n + 1),
      Ticks: () => Ref.get(ticks),
      Words: ({ text }) => Stream.fromIterable(text.split(" "))
    })
  }), { subscriptions: [Subscription.type("ticks")] })
