/**
 * The SQL state store on a real PostgreSQL server (a throwaway one, see
 * `test/support/postgres.ts`, stopped when the test's scope closes),
 * through `@effect/sql-pg`: the same table and statements as on SQLite.
 */
import { assert, describe, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { AgentId } from "../../src/index.ts"
import * as StateStore from "../../src/core/StateStore.ts"
import * as Postgres from "../support/postgres.ts"

const a = AgentId.make("tally", "a")
const b = AgentId.make("tally", "b")

describe("StateStore on PostgreSQL (@effect/sql-pg)", () => {
  it.live("saves, loads, replaces and removes records; a row that does not decode is a StateStoreError for that agent", () =>
    Effect.gen(function*() {
      const server = yield* Postgres.start
      const pg = PgClient.layer({ url: Redacted.make(server.url) })
      yield* Effect.gen(function*() {
        const store = yield* StateStore.StateStore
        const sql = yield* SqlClient
        assert.isUndefined(yield* store.load(a))
        yield* store.save(a, { version: 1, state: { total: 5, tags: ["x"], nested: { none: null } } })
        yield* store.save(a, { version: 2, state: { total: 6, tags: ["x"], nested: { none: null } } })
        assert.deepStrictEqual(yield* store.load(a), { version: 2, state: { total: 6, tags: ["x"], nested: { none: null } } })
        yield* store.remove(a)
        assert.isUndefined(yield* store.load(a))
        yield* sql`INSERT INTO agent_state (agent_type, agent_key, version, state) VALUES (${b.type}, ${b.key}, 1, ${"[1, 2"})`
        const error = yield* Effect.flip(store.load(b))
        assert.instanceOf(error, StateStore.StateStoreError)
        assert.strictEqual(error.agentId, "tally/b")
        assert.include(error.message, "does not decode")
      }).pipe(Effect.provide(StateStore.layerSql({ table: "agent_state" }).pipe(Layer.provideMerge(pg))))
    }).pipe(Effect.scoped), 60_000)
})
