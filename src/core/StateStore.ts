/**
 * Where the state of passivated agents is kept. An agent type with a
 * `maxIdleTime` (see `Agent.LayerOptions`) saves an idle instance's
 * `Agent.state` cells here before dropping it, and its next message loads
 * them back; on shutdown its live instances are saved here too, so a
 * program that restarts on a persistent store finds its agents' state
 * again.
 *
 * A record is the saved cells (each the JSON encoding of its cell's
 * schema, as `saveState` returns them) with the state version of the agent
 * type that wrote it. Stores keep records as JSON text (`StoredStateJson`),
 * decoded through its schema on the way back: a record that does not decode
 * is a `StateStoreError` for that agent, which its sender gets, never a
 * crash.
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { StandaloneRuntime, StateStore } from "effect-agents"
 *
 * // the default when none is provided: in memory, for the runtime's life
 * const runtime = StandaloneRuntime.layer().pipe(Layer.provide(StateStore.layerMemory))
 * const program = Effect.void.pipe(Effect.provide(runtime))
 * ```
 */
import { Context, Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { AgentId } from "./AgentId.ts"
import type { AgentState } from "./AgentRuntime.ts"

/** One agent's saved state and the state version of the type that saved it. */
export interface StoredState {
  readonly version: number
  readonly state: AgentState
}

/** The schema of a record: an integer version and the encoded cells by name. */
export const StoredState: Schema.Codec<StoredState, StoredState> = Schema.Struct({
  version: Schema.Int,
  state: Schema.Record(Schema.String, Schema.Json)
}) as unknown as Schema.Codec<StoredState, StoredState>

/** A record as the JSON text persistent stores keep. */
export const StoredStateJson = Schema.fromJsonString(StoredState)

/** Reading, writing or decoding an agent's stored state failed. */
export class StateStoreError extends Schema.TaggedError<StateStoreError>()("StateStoreError", {
  /** The agent, as `type/key`. */
  agentId: Schema.String,
  operation: Schema.Literals(["load", "save", "remove"]),
  issue: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {
  override get message(): string {
    return `cannot ${this.operation} the stored state of ${this.agentId}: ${this.issue}`
  }
}

/** The service: load, save and remove one agent's record. */
export interface Service {
  /** The agent's record, or `undefined` if there is none. */
  readonly load: (agentId: AgentId) => Effect.Effect<StoredState | undefined, StateStoreError>
  /** Replaces the agent's record. */
  readonly save: (agentId: AgentId, stored: StoredState) => Effect.Effect<void, StateStoreError>
  /** Forgets the agent's record (a no-op if there is none): its next activation starts from its initial state. */
  readonly remove: (agentId: AgentId) => Effect.Effect<void, StateStoreError>
}

/** Where passivated agents' state goes; runtimes use an in-memory one when none is provided. */
export class StateStore extends Context.Service<StateStore, Service>()("effect-agents/StateStore") {}

const encodeText = Schema.encodeUnknownEffect(StoredStateJson)
const decodeText = Schema.decodeUnknownEffect(StoredStateJson)

/** A record as JSON text (for a store to write). */
export const toText = (agentId: AgentId, stored: StoredState): Effect.Effect<string, StateStoreError> =>
  Effect.mapError(
    encodeText(stored) as Effect.Effect<string, Schema.SchemaError>,
    (e) => new StateStoreError({ agentId: agentId.toString(), operation: "save", issue: e.message })
  )

/** A record from the JSON text a store read: a typed error for that agent if it does not decode. */
export const fromText = (agentId: AgentId, text: string): Effect.Effect<StoredState, StateStoreError> =>
  Effect.mapError(
    decodeText(text) as Effect.Effect<StoredState, Schema.SchemaError>,
    (e) => new StateStoreError({ agentId: agentId.toString(), operation: "load", issue: `the stored record does not decode: ${e.message}` })
  )

/**
 * A store in memory, as text (a saved record never aliases live state), for
 * as long as it is referenced: what a runtime uses when none is provided.
 */
export const makeMemory = (): Service => {
  const records = new Map<string, string>()
  return {
    load: (agentId) =>
      Effect.suspend(() => {
        const text = records.get(agentId.toString())
        return text === undefined ? Effect.succeed(undefined) : fromText(agentId, text)
      }),
    save: (agentId, stored) => Effect.map(toText(agentId, stored), (text) => void records.set(agentId.toString(), text)),
    remove: (agentId) => Effect.sync(() => void records.delete(agentId.toString()))
  }
}

/** An in-memory store shared by every runtime the layer is provided to (one per layer build). */
export const layerMemory: Layer.Layer<StateStore> = Layer.sync(StateStore, makeMemory)

/** How `makeSql` keeps records. */
export interface SqlOptions {
  /** The table (created if it does not exist; default `effect_agents_state`): letters, digits and `_`. */
  readonly table?: string | undefined
}

/** A row as the table holds it: the version, and the cells as JSON text. */
const StoredRow = Schema.Struct({
  version: Schema.Int,
  state: Schema.fromJsonString(Schema.Record(Schema.String, Schema.Json))
})
const decodeRow = Schema.decodeUnknownEffect(StoredRow)
const encodeRow = Schema.encodeUnknownEffect(StoredRow)

const tableName = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/**
 * A store on any Effect SQL `SqlClient` (SQLite through `NodeSqliteClient`,
 * Postgres through `@effect/sql-pg`, MySQL): one row per agent, keyed by
 * its type and key, with the state version and the cells as JSON text.
 * Creates its table when it is built.
 */
export const makeSql = (options: SqlOptions = {}): Effect.Effect<Service, SqlError | StateStoreError, SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const name = options.table ?? "effect_agents_state"
    if (!tableName.test(name)) {
      return yield* new StateStoreError({ agentId: "*", operation: "save", issue: `"${name}" is not a table name (letters, digits and _, at most 63)` })
    }
    const table = sql(name)
    // MySQL keys cannot be unbounded TEXT; 255 is more than AgentId allows
    const key = sql.onDialectOrElse({ mysql: () => sql.literal("VARCHAR(255)"), orElse: () => sql.literal("TEXT") })
    yield* sql`CREATE TABLE IF NOT EXISTS ${table} (
      agent_type ${key} NOT NULL,
      agent_key ${key} NOT NULL,
      version INTEGER NOT NULL,
      state TEXT NOT NULL,
      PRIMARY KEY (agent_type, agent_key)
    )`
    const failed = (agentId: AgentId, operation: "load" | "save" | "remove") => (e: SqlError) =>
      new StateStoreError({ agentId: agentId.toString(), operation, issue: e.message, cause: e })
    return {
      load: (agentId) =>
        sql<{ readonly version: unknown; readonly state: unknown }>`SELECT version, state FROM ${table} WHERE agent_type = ${agentId.type} AND agent_key = ${agentId.key}`.pipe(
          Effect.mapError(failed(agentId, "load")),
          Effect.flatMap((rows) =>
            rows.length === 0 ? Effect.succeed(undefined) : Effect.mapError(
              decodeRow({ version: Number(rows[0]!.version), state: rows[0]!.state }) as Effect.Effect<StoredState, Schema.SchemaError>,
              (e) => new StateStoreError({ agentId: agentId.toString(), operation: "load", issue: `the stored record does not decode: ${e.message}` })
            )
          )
        ),
      save: (agentId, stored) =>
        Effect.gen(function*() {
          const encoded = yield* Effect.mapError(
            encodeRow(stored) as Effect.Effect<{ readonly version: number; readonly state: string }, Schema.SchemaError>,
            (e) => new StateStoreError({ agentId: agentId.toString(), operation: "save", issue: e.message })
          )
          const row = { agent_type: agentId.type, agent_key: agentId.key, version: encoded.version, state: encoded.state }
          yield* sql.onDialectOrElse({
            mysql: () => sql`INSERT INTO ${table} ${sql.insert(row)} ON DUPLICATE KEY UPDATE version = VALUES(version), state = VALUES(state)`,
            orElse: () =>
              sql`INSERT INTO ${table} ${sql.insert(row)} ON CONFLICT (agent_type, agent_key) DO UPDATE SET version = excluded.version, state = excluded.state`
          }).pipe(Effect.mapError(failed(agentId, "save")))
        }),
      remove: (agentId) =>
        sql`DELETE FROM ${table} WHERE agent_type = ${agentId.type} AND agent_key = ${agentId.key}`.pipe(
          Effect.asVoid,
          Effect.mapError(failed(agentId, "remove"))
        )
    } satisfies Service
  })

/** `makeSql` as a layer: the store on the `SqlClient` it is given. */
export const layerSql = (options?: SqlOptions): Layer.Layer<StateStore, SqlError | StateStoreError, SqlClient> =>
  Layer.effect(StateStore, makeSql(options))
