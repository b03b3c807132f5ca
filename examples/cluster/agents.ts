/**
 * The agents of the cluster example: a counter (its count is `Agent.state`,
 * saved with every persisted `Add`, so it survives its runner), and a
 * listener of the "news" topic. Every runner runs both; each instance lives
 * on one runner at a time.
 */
import { Effect, Ref, Schema } from "effect"
import { Agent, Subscription } from "../../src/index.ts"

export class Add extends Schema.TaggedClass<Add>()("Add", { by: Schema.Int }) {}
export class News extends Schema.TaggedClass<News>()("News", { text: Schema.String }) {}
export class GetNews extends Schema.TaggedClass<GetNews>()("GetNews", {}) {}

/** A count and the runner that counted it. */
export class Count extends Schema.Class<Count>("Count")({ count: Schema.Int, runner: Schema.String }) {}

const runner = process.env.RUNNER_NAME ?? `pid ${process.pid}`

export const Counter = Agent.make("counter", {
  Add: Agent.rpc(Add, { success: Count })
})

export const CounterLive = Counter.toLayer(Effect.gen(function*() {
  const count = yield* Agent.state(Schema.Int, 0, { name: "count" })
  return Counter.of({
    Add: ({ by }) => Effect.map(Ref.updateAndGet(count, (n) => n + by), (n) => new Count({ count: n, runner }))
  })
}), { description: "counts, on whichever runner holds it" })

export const Listener = Agent.make("listener", {
  News: Agent.event(News),
  GetNews: Agent.rpc(GetNews, { success: Schema.Array(Schema.String) })
})

export const ListenerLive = Listener.toLayer(Effect.gen(function*() {
  const got = yield* Agent.state(Schema.Array(Schema.String), [], { name: "got" })
  return Listener.of({
    News: ({ text }) => Ref.update(got, (all) => [...all, `${text} (on ${runner})`]),
    GetNews: () => Ref.get(got)
  })
}), { subscriptions: [Subscription.type("news")] })
