/**
 * An Effect SQL `SqlClient` on SQLite through Node's built-in `node:sqlite`
 * (Node 22.5 and later; no native package to install). One connection,
 * shared through a semaphore as SQLite wants it (transactions hold it for
 * their scope), prepared statements kept in a bounded cache, WAL journal
 * for files. Anything written against `SqlClient` runs on it: the
 * `StateStore` of passivated agents (`SqliteStateStore`), or a cluster's
 * storage.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { SqlClient } from "effect/sql/SqlClient"
 * import { NodeSqliteClient } from "effect-agents"
 *
 * const program = Effect.gen(function*() {
 *   const sql = yield* SqlClient
 *   yield* sql`CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)`
 *   yield* sql`INSERT INTO notes ${sql.insert({ text: "hello" })}`
 *   return yield* sql<{ readonly text: string }>`SELECT text FROM notes`
 * }).pipe(Effect.provide(NodeSqliteClient.layer({ filename: ":memory:" })))
 * ```
 */
import { Context, Effect, Layer, type Scope, Semaphore, Stream } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Client from "effect/sql/SqlClient"
import type { Connection } from "effect/sql/SqlConnection"
import { classifySqliteError, SqlError } from "effect/sql/SqlError"
import * as Statement from "effect/sql/Statement"
// types only: the module is loaded when a database is opened, so importing effect-agents does not print
// node:sqlite's ExperimentalWarning (nor load SQLite) in programs that never open one
import type { DatabaseSync, StatementSync } from "node:sqlite"

/** How to open the database. */
export interface Options {
  /** A file path, or `":memory:"` for a database that lives as long as the client. */
  readonly filename: string
  readonly readonly?: boolean | undefined
  /** How many prepared statements are kept (default 100); the least recently prepared go first. */
  readonly statementCacheSize?: number | undefined
  /** Keep the default rollback journal instead of WAL (WAL lets readers in other processes run beside a writer). */
  readonly disableWAL?: boolean | undefined
  /**
   * How hard a commit waits for the disk, with WAL (default `"NORMAL"`: a
   * commit survives the process crashing; `"FULL"`: also the machine losing
   * power, at an fsync per commit).
   */
  readonly synchronous?: "NORMAL" | "FULL" | undefined
  /** Milliseconds a statement waits for another process's lock before failing (default 5000). */
  readonly busyTimeout?: number | undefined
  readonly transformResultNames?: ((name: string) => string) | undefined
  readonly transformQueryNames?: ((name: string) => string) | undefined
}

/** The client: a `SqlClient` whose dialect is SQLite. */
export interface NodeSqliteClient extends Client.SqlClient {
  readonly options: Options
}

/** The node:sqlite client, also provided as the generic `SqlClient`. */
export const NodeSqliteClient = Context.Service<NodeSqliteClient>("effect-agents/NodeSqliteClient")

const sqlError = (cause: unknown, message: string, operation: string) => {
  // node:sqlite names SQLite's result code `errcode`; the classifier reads `errno`
  const errcode = typeof cause === "object" && cause !== null && "errcode" in cause ? (cause as { readonly errcode: unknown }).errcode : undefined
  const classified = typeof errcode === "number" ? { cause, errno: errcode, message: (cause as Error).message } : cause
  return new SqlError({ reason: classifySqliteError(classified, { message, operation }) })
}

/** Opens the database for the life of the current scope. */
export const make = (options: Options): Effect.Effect<NodeSqliteClient, SqlError, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const sqlite = yield* Effect.tryPromise({
      try: () => import("node:sqlite"),
      catch: (cause) => sqlError(cause, "node:sqlite is not available (it needs Node 22.5 or later)", "connect")
    })
    const db: DatabaseSync = yield* Effect.acquireRelease(
      Effect.try({
        try: () => new sqlite.DatabaseSync(options.filename, { readOnly: options.readonly ?? false, timeout: options.busyTimeout ?? 5000 }),
        catch: (cause) => sqlError(cause, `cannot open ${options.filename}`, "connect")
      }),
      (db) => Effect.sync(() => db.isOpen && db.close())
    )
    if (options.disableWAL !== true && options.filename !== ":memory:" && options.readonly !== true) {
      // with WAL, NORMAL syncs at checkpoints, not at every commit: a commit survives the process crashing, not the machine losing power
      const pragmas = `PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.synchronous ?? "NORMAL"}`
      yield* Effect.try({ try: () => db.exec(pragmas), catch: (cause) => sqlError(cause, "cannot enable WAL", "connect") })
    }

    // bounded: a Map in insertion order drops its oldest statement when full
    const capacity = Math.max(1, options.statementCacheSize ?? 100)
    const statements = new Map<string, StatementSync>()
    const prepare = (sql: string): StatementSync => {
      let statement = statements.get(sql)
      if (statement === undefined) {
        statement = db.prepare(sql)
        if (statements.size >= capacity) statements.delete(statements.keys().next().value!)
        statements.set(sql, statement)
      }
      return statement
    }

    const run = (sql: string, params: ReadonlyArray<unknown>, mode: "rows" | "raw" | "values", prepared: boolean) =>
      Effect.withFiber<any, SqlError>((fiber) =>
        Effect.try({
          try: () => {
            const statement = prepared ? prepare(sql) : db.prepare(sql)
            statement.setReadBigInts(Context.get(fiber.context, Client.SafeIntegers))
            statement.setReturnArrays(mode === "values")
            const args = params as Array<any>
            if (statement.columns().length > 0) {
              const rows = statement.all(...args)
              // node:sqlite gives rows with a null prototype: plain objects for everyone downstream
              return mode === "values" ? rows : rows.map((row) => ({ ...row }))
            }
            const result = statement.run(...args)
            return mode === "raw" ? { changes: result.changes, lastInsertRowid: result.lastInsertRowid } : []
          },
          catch: (cause) => sqlError(cause, "cannot execute statement", "execute")
        })
      )

    const connection: Connection = {
      execute: (sql, params, transformRows) => {
        const rows = run(sql, params, "rows", true)
        return transformRows ? Effect.map(rows, transformRows) : rows
      },
      executeRaw: (sql, params) => run(sql, params, "raw", true),
      executeValues: (sql, params) => run(sql, params, "values", true),
      executeValuesUnprepared: (sql, params) => run(sql, params, "values", false),
      executeUnprepared: (sql, params, transformRows) => {
        const rows = run(sql, params ?? [], "rows", false)
        return transformRows ? Effect.map(rows, transformRows) : rows
      },
      executeStream: () => Stream.die(new Error("NodeSqliteClient does not stream rows: node:sqlite reads a result whole"))
    }

    const acquirers = Client.makeSqliteAcquirers({
      connection: Effect.succeed(connection),
      semaphore: yield* Semaphore.make(1),
      isTransaction: () => db.isTransaction
    })
    const client = yield* Client.make({
      ...acquirers,
      compiler: Statement.makeCompilerSqlite(options.transformQueryNames),
      driver: "sqlite",
      spanAttributes: [["db.system.name", "sqlite"]],
      transformRows: options.transformResultNames ? Statement.defaultTransforms(options.transformResultNames).array : undefined
    })
    return Object.assign(client, { options }) as NodeSqliteClient
  })

/** The client as a layer: `NodeSqliteClient` and `SqlClient`, the database open for the layer's life. */
export const layer = (options: Options): Layer.Layer<NodeSqliteClient | Client.SqlClient, SqlError> =>
  Layer.effectContext(
    Effect.map(make(options), (client) => Context.make(NodeSqliteClient, client).pipe(Context.add(Client.SqlClient, client)))
  ).pipe(Layer.provide(Reactivity.layer))
