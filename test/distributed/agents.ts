/**
 * Agents for the distributed tests, defined at module level so a worker in
 * another process (test/support/worker-process.ts) can run the same ones by
 * name (`probeLive` is a function of the worker id).
 */
import { Effect, Ref, Schema } from "effect"
import { Agent, AgentRuntime, Subscription, TopicId } from "../../src/index.ts"

export class Where extends Schema.TaggedClass<Where>()("Where", {}) {}
export class Place extends Schema.TaggedClass<Place>()("Place", { worker: Schema.String, agent: Schema.String }) {}
export class Slow extends Schema.TaggedClass<Slow>()("Slow", { millis: Schema.Number }) {}
export class Note extends Schema.TaggedClass<Note>()("Note", { text: Schema.String }) {}
export class Count extends Schema.TaggedClass<Count>()("Count", {}) {}
export class Refused extends Schema.TaggedError<Refused>()("Refused", { why: Schema.String }) {}
export class Risky extends Schema.TaggedClass<Risky>()("Risky", { fail: Schema.Boolean }) {}
export class Echo extends Schema.TaggedClass<Echo>()("Echo", { text: Schema.String }) {}
export class Relay extends Schema.TaggedClass<Relay>()("Relay", { text: Schema.String }) {}

/** Answers which worker it runs on; counts the notes it hears; sleeps on request; fails on request. */
export const Probe = Agent.make("probe", {
  Where: Agent.rpc(Where, { success: Place }),
  Slow: Agent.rpc(Slow, { success: Schema.Number }),
  Note: Agent.event(Note),
  Count: Agent.rpc(Count, { success: Schema.Number }),
  Risky: Agent.rpc(Risky, { success: Schema.String, error: Refused }),
  Echo: Agent.rpc(Echo, { success: Schema.String })
})

export const probeLive = (worker: string) =>
  Probe.toLayer(Effect.gen(function*() {
    const self = yield* Agent.Self
    const notes = yield* Agent.state(Schema.Number, 0, { name: "notes" })
    return Probe.of({
      Where: () => Effect.succeed(new Place({ worker, agent: self.toString() })),
      Slow: ({ millis }) => Effect.as(Effect.sleep(millis), millis),
      Note: () => Ref.update(notes, (n) => n + 1),
      Count: () => Ref.get(notes),
      Risky: ({ fail }) => fail ? Effect.fail(new Refused({ why: "asked to" })) : Effect.succeed("fine"),
      Echo: ({ text }) => Effect.succeed(`${worker}:${text}`)
    })
  }), { subscriptions: [Subscription.type("notes")] })

/** Relays an echo to a probe: a cascade across workers. */
export const Relayer = Agent.make("relayer", { Relay: Agent.rpc(Relay, { success: Schema.String }) })
export const RelayerLive = Relayer.toLayer(Effect.gen(function*() {
  const probe = yield* Probe.client
  const self = yield* Agent.Self
  return Relayer.of({
    Relay: ({ text }) =>
      probe(self.key).Echo({ text }).pipe(
        Effect.tap(() => AgentRuntime.publish(TopicId.make("notes", self.key), new Note({ text }))),
        Effect.orDie
      )
  })
}))
