/**
 * A persistent `StateStore` in a SQLite file, through Node's built-in
 * `node:sqlite` (`NodeSqliteClient`): passivated agents' state, and the
 * state of live ones at shutdown, survive the process, so a program that
 * restarts on the same file finds its agents' state again. Several
 * processes may share one file (WAL journal; a writer waits up to the busy
 * timeout for another's lock), though each agent should live in one at a
 * time, as the distributed host's placement ensures.
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { SqliteStateStore, StandaloneRuntime } from "effect-agents"
 *
 * const runtime = StandaloneRuntime.layer().pipe(Layer.provide(SqliteStateStore.layer({ filename: "agents.db" })))
 * const program = Effect.void.pipe(Effect.provide(runtime))
 * ```
 */
import { Layer } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import * as StateStore from "../core/StateStore.ts"
import * as NodeSqliteClient from "./NodeSqliteClient.ts"

/** Where the store keeps its records. */
export interface Options extends StateStore.SqlOptions {
  /** The database file (created if missing), or `":memory:"` for one that lives as long as the layer. */
  readonly filename: string
  /** Milliseconds a write waits for another process's lock (default 5000). */
  readonly busyTimeout?: number | undefined
  /** `"FULL"`: a saved state also survives the machine losing power, at an fsync per save (default `"NORMAL"`: it survives the process crashing). */
  readonly synchronous?: "NORMAL" | "FULL" | undefined
}

/** The store as a layer: the database is open for the layer's life. */
export const layer = (options: Options): Layer.Layer<StateStore.StateStore, SqlError | StateStore.StateStoreError> =>
  StateStore.layerSql({ table: options.table }).pipe(
    Layer.provide(NodeSqliteClient.layer({ filename: options.filename, busyTimeout: options.busyTimeout, synchronous: options.synchronous }))
  )
