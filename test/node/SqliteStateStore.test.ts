/**
 * The state stores on the same contract: in memory, and SQLite through
 * node:sqlite (in memory and in a file), including a record that does not
 * decode, and a real restart: one process writes an agent's state and
 * exits, a second process finds it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { AgentId } from "../../src/index.ts"
import * as StateStore from "../../src/core/StateStore.ts"
import * as NodeSqliteClient from "../../src/node/NodeSqliteClient.ts"
import * as SqliteStateStore from "../../src/node/SqliteStateStore.ts"
import * as Processes from "../support/processes.ts"

const a = AgentId.make("tally", "a")
const b = AgentId.make("tally", "b/with slash")

const tempFile = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-agents-state-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => Path.join(dir, "state.db")))

const contract = (name: string, store: Layer.Layer<StateStore.StateStore, unknown>) =>
  describe(name, () => {
    it.effect("a saved record loads back as it was saved, per agent; remove forgets it", () =>
      Effect.gen(function*() {
        const s = yield* StateStore.StateStore
        assert.isUndefined(yield* s.load(a))
        yield* s.save(a, { version: 1, state: { total: 5, names: ["x", "y"], nested: { ok: true, none: null } } })
        yield* s.save(b, { version: 3, state: { total: 1 } })
        assert.deepStrictEqual(yield* s.load(a), { version: 1, state: { total: 5, names: ["x", "y"], nested: { ok: true, none: null } } })
        yield* s.save(a, { version: 2, state: { total: 6 } })
        assert.deepStrictEqual(yield* s.load(a), { version: 2, state: { total: 6 } })
        assert.deepStrictEqual(yield* s.load(b), { version: 3, state: { total: 1 } })
        yield* s.remove(a)
        yield* s.remove(a)
        assert.isUndefined(yield* s.load(a))
        assert.deepStrictEqual(yield* s.load(b), { version: 3, state: { total: 1 } })
      }).pipe(Effect.provide(store)))

    it.effect("a record that is no JSON value is refused when saved, with a typed error", () =>
      Effect.gen(function*() {
        const s = yield* StateStore.StateStore
        const error = yield* Effect.flip(s.save(a, { version: 1.5, state: { total: 1 } }))
        assert.instanceOf(error, StateStore.StateStoreError)
        assert.strictEqual(error.operation, "save")
        assert.isUndefined(yield* s.load(a))
      }).pipe(Effect.provide(store)))
  })

contract("StateStore in memory", StateStore.layerMemory)
contract("StateStore on SQLite (in memory)", SqliteStateStore.layer({ filename: ":memory:" }))

describe("SqliteStateStore", () => {
  it.effect("a row that does not decode is a StateStoreError for that agent; the others still load", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const sqlite = NodeSqliteClient.layer({ filename: file })
      const store = StateStore.layerSql().pipe(Layer.provideMerge(sqlite))
      yield* Effect.gen(function*() {
        const s = yield* StateStore.StateStore
        const sql = yield* SqlClient
        yield* s.save(b, { version: 1, state: { total: 2 } })
        yield* sql`INSERT INTO effect_agents_state (agent_type, agent_key, version, state) VALUES (${a.type}, ${a.key}, 1, ${"{not json"})`
        const error = yield* Effect.flip(s.load(a))
        assert.instanceOf(error, StateStore.StateStoreError)
        assert.strictEqual(error.agentId, "tally/a")
        assert.strictEqual(error.operation, "load")
        assert.include(error.message, "does not decode")
        assert.deepStrictEqual(yield* s.load(b), { version: 1, state: { total: 2 } })
      }).pipe(Effect.provide(store))
    }))

  it.effect("a table name that is no identifier is refused", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(SqliteStateStore.layer({ filename: ":memory:", table: "x; DROP TABLE y" })).pipe(Effect.scoped, Effect.flip)
      assert.instanceOf(error, StateStore.StateStoreError)
    }))

  it.effect("a file that cannot be opened is a typed SqlError", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(SqliteStateStore.layer({ filename: "/nonexistent-dir/x/state.db" })).pipe(Effect.scoped, Effect.flip)
      assert.strictEqual(error._tag, "SqlError")
    }))

  it.live("an agent's state written by one process is found by the next process on the same file", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const run = (args: ReadonlyArray<string>) =>
        Effect.scoped(Effect.gen(function*() {
          const child = yield* Processes.start("test/node/sqlite-state-process.ts", args, {}, /(add|get) total=(\d+)/)
          return Number(child.match[2])
        }))
      assert.strictEqual(yield* run(["add", file, "alice", "5"]), 5)
      assert.strictEqual(yield* run(["add", file, "alice", "3"]), 8)
      assert.strictEqual(yield* run(["get", file, "alice"]), 8)
      assert.strictEqual(yield* run(["get", file, "bob"]), 0)
    }), 60_000)
})
