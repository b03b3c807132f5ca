/**
 * The SQL directory on a real PostgreSQL (started by the test): two
 * directories on one database stand for two runners. What one declares
 * (types, subscriptions, state) the other sees: types at once (looked up on
 * a miss), subscriptions from its next refresh.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted, Schedule, Scope } from "effect"
import { PgClient } from "@effect/sql-pg"
import { AgentId, Subscription, TopicId } from "../../src/index.ts"
import { SqlDirectory } from "../../src/cluster/index.ts"
import * as Postgres from "../support/postgres.ts"

describe.skipIf(!Postgres.available())("SqlDirectory on PostgreSQL", () => {
  it.live("two runners' directories on one database see each other's types, subscriptions and state", () =>
    Effect.gen(function*() {
      const pg = yield* Postgres.start
      // the pool lives as long as the test's scope, as a runner's does
      const database = yield* Layer.build(PgClient.layer({ url: Redacted.make(pg.url), maxConnections: 4 }))
      const directoryOf = (runnerId: string) =>
        SqlDirectory.make({ runnerId, refreshInterval: "100 millis" }).pipe(Effect.provide(database))
      const a = yield* directoryOf("a")
      const b = yield* directoryOf("b")

      // a type one runner runs is known to the other, and forgotten when the last runner stops running it
      const typeScope = yield* Scope.make()
      yield* a.announceType("greeter", "says hello").pipe(Scope.provide(typeScope))
      assert.isTrue(yield* b.hasType("greeter"))
      assert.isFalse(yield* b.hasType("ghost"))
      yield* Scope.close(typeScope, Exit.void)
      yield* b.hasType("greeter").pipe(
        Effect.repeat({ until: (has) => !has, schedule: Schedule.spaced("50 millis") }),
        Effect.timeout("10 seconds")
      )

      // a subscription added on a routes b's publishes from b's next refresh on
      const subscription = Subscription.type("news", "listener")
      assert.isTrue(yield* a.addSubscription(subscription))
      assert.isFalse(yield* a.addSubscription(subscription))
      const routed = yield* b.recipients(TopicId.make("news", "k")).pipe(
        Effect.repeat({ until: (ids) => ids.length === 1, schedule: Schedule.spaced("50 millis") }),
        Effect.timeout("10 seconds")
      )
      assert.strictEqual(routed[0]!.toString(), "listener/k")
      assert.deepStrictEqual((yield* b.subscriptions).map(Subscription.id), [Subscription.id(subscription)])
      const removed = yield* b.removeSubscription(Subscription.id(subscription))
      assert.strictEqual(removed && Subscription.id(removed), Subscription.id(subscription))
      assert.isUndefined(yield* a.removeSubscription(Subscription.id(subscription)))
      const gone = yield* a.recipients(TopicId.make("news", "k")).pipe(
        Effect.repeat({ until: (ids) => ids.length === 0, schedule: Schedule.spaced("50 millis") }),
        Effect.timeout("10 seconds")
      )
      assert.deepStrictEqual(gone, [])

      // state saved by one is loaded by the other; saving again replaces it
      const id = AgentId.make("counter", "a")
      yield* a.saveState(id, { count: 1 })
      yield* a.saveState(id, { count: 2 })
      assert.deepStrictEqual(yield* b.loadState(id), { count: 2 })
      assert.isUndefined(yield* b.loadState(AgentId.make("counter", "none")))
      assert.deepStrictEqual(yield* b.savedStates, { "counter/a": { count: 2 } })
    }).pipe(Effect.scoped), 60_000)
})

