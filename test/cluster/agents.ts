/**
 * The agents of the multi-process cluster tests: a tally (a counter that
 * records which sequence numbers it saw, so a test can count losses,
 * duplicates and order), and a listener for publish fan-out. Every runner
 * process registers the same layers.
 */
import { Effect, Ref, Schema } from "effect"
import { Agent, Subscription } from "../../src/index.ts"

export class Add extends Schema.TaggedClass<Add>()("Add", { seq: Schema.Int }) {}
export class Seen extends Schema.TaggedClass<Seen>()("Seen", {}) {}
export class Where extends Schema.TaggedClass<Where>()("Where", {}) {}
export class News extends Schema.TaggedClass<News>()("News", { text: Schema.String }) {}
export class GetNews extends Schema.TaggedClass<GetNews>()("GetNews", {}) {}

/** What a tally answers: its count, and the runner it runs on. */
export class Counted extends Schema.Class<Counted>("Counted")({ count: Schema.Int, runner: Schema.String }) {}

/** The last sequence numbers a tally keeps (its state stays bounded). */
export const keptSeqs = 2000

export const Tally = Agent.make("tally", {
  Add: Agent.rpc(Add, { success: Counted }),
  Seen: Agent.rpc(Seen, { success: Schema.Array(Schema.Int) }),
  Where: Agent.rpc(Where, { success: Schema.String, concurrent: true })
})

/** `runner`: how this process names itself in answers. */
export const tallyLayer = (runner: string) =>
  Tally.toLayer(Effect.gen(function*() {
    const count = yield* Agent.state(Schema.Int, 0, { name: "count" })
    const seen = yield* Agent.state(Schema.Array(Schema.Int), [], { name: "seen" })
    return Tally.of({
      Add: ({ seq }) =>
        Effect.gen(function*() {
          yield* Ref.update(seen, (s) => [...s, seq].slice(-keptSeqs))
          const n = yield* Ref.updateAndGet(count, (c) => c + 1)
          return new Counted({ count: n, runner })
        }),
      Seen: () => Ref.get(seen),
      Where: () => Effect.succeed(runner)
    })
  }))

export const Listener = Agent.make("listener", {
  News: Agent.event(News),
  GetNews: Agent.rpc(GetNews, { success: Schema.Array(Schema.String) })
})

export const ListenerLive = Listener.toLayer(Effect.gen(function*() {
  const got = yield* Agent.state(Schema.Array(Schema.String), [], { name: "got" })
  return Listener.of({
    News: ({ text }) => Ref.update(got, (g) => [...g, text]),
    GetNews: () => Ref.get(got)
  })
}), { subscriptions: [Subscription.type("news")] })

/** The tally layer of a runner process, named by $RUNNER (what the `runner` command loads). */
export const TallyLive = tallyLayer(process.env.RUNNER ?? `pid ${process.pid}`)
