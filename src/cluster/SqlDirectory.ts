/**
 * The cluster's directory in SQL (Postgres through `@effect/sql-pg`, SQLite,
 * anything with a `SqlClient`), shared by every runner on the database:
 *
 * - `effect_agents_cluster_types`: which runner runs which agent type (a row per
 *   runner, removed when its agent layer closes);
 * - `effect_agents_cluster_subscriptions`: the subscriptions in force, by id;
 * - `effect_agents_cluster_state`: the saved state of agents (JSON), written when an
 *   entity is passivated or moves, on shutdown, and with the reply of every
 *   persisted delivery (in the same transaction).
 *
 * Each runner keeps the types and subscriptions in memory and reads them
 * again every `refreshInterval` (default 1 second): a subscription added on
 * another runner routes this runner's publishes from its next refresh on
 * (its own changes, at once). A type this runner does not know yet is
 * looked up in the table before a send is refused.
 */
import { type Duration, Effect, Layer, Schedule, Schema, type Scope } from "effect"
import { SqlClient } from "effect/sql"
import { type AgentError, HostUnreachable, undeliverable } from "../core/AgentError.ts"
import type { AgentId } from "../core/AgentId.ts"
import type { AgentState } from "../core/AgentRuntime.ts"
import * as Subscription from "../core/Subscription.ts"
import * as Router from "../runtime/Router.ts"
import { Directory } from "./Directory.ts"

/** How the SQL directory behaves. */
export interface Options {
  /** Prefix of the tables (default `effect_agents_cluster_`; the `StateStore`'s own table is `effect_agents_state`). */
  readonly tablePrefix?: string | undefined
  /** This runner's name in the types table (default: a random one). */
  readonly runnerId?: string | undefined
  /** How often the types and subscriptions are read again (default 1 second). */
  readonly refreshInterval?: Duration.Input | undefined
}

const SubscriptionJson = Schema.fromJsonString(Subscription.Subscription)
const decodeSubscription = Schema.decodeUnknownExit(SubscriptionJson)
const encodeSubscription = Schema.encodeSync(SubscriptionJson)
const StateJson = Schema.fromJsonString(Schema.Record(Schema.String, Schema.Json))
const decodeState = Schema.decodeUnknownExit(StateJson)

/** A storage failure, as the `AgentError` a caller gets. */
const unreachable = (what: string) => (cause: unknown) =>
  undeliverable(what, new HostUnreachable({ url: "cluster directory (SQL)", detail: String((cause as Error)?.message ?? cause), cause }))

type Unreachable = ReturnType<ReturnType<typeof unreachable>>

/**
 * What the directory's operations share: the client, its tables, this
 * runner's name, and the in-memory view of the types and subscriptions
 * (replaced on every refresh, so held here and not captured by value).
 */
interface Tables {
  readonly sql: SqlClient.SqlClient
  readonly types: ReturnType<SqlClient.SqlClient>
  readonly subscriptions: ReturnType<SqlClient.SqlClient>
  readonly states: ReturnType<SqlClient.SqlClient>
  readonly runnerId: string
  knownTypes: Set<string>
  router: Router.Router
}

// several runners may create the tables at once: a lost race is retried, and then the tables exist
const createTables = ({ sql, states, subscriptions, types }: Tables) =>
  Effect.gen(function*() {
    yield* sql`CREATE TABLE IF NOT EXISTS ${types} (agent_type VARCHAR(255) NOT NULL, runner VARCHAR(255) NOT NULL, description TEXT NOT NULL, PRIMARY KEY (agent_type, runner))`
    yield* sql`CREATE TABLE IF NOT EXISTS ${subscriptions} (id VARCHAR(600) PRIMARY KEY, subscription TEXT NOT NULL)`
    yield* sql`CREATE TABLE IF NOT EXISTS ${states} (agent_id VARCHAR(600) PRIMARY KEY, state TEXT NOT NULL)`
  }).pipe(Effect.retry({ times: 5, schedule: Schedule.spaced("100 millis") }), Effect.mapError(unreachable("directory tables")))

/** The agent types some runner runs, as the table says now. */
const readTypes = ({ sql, types }: Tables) =>
  Effect.map(
    sql<{ agent_type: string }>`SELECT DISTINCT agent_type FROM ${types}`,
    (rows) => new Set(rows.map((r) => r.agent_type))
  )

/** The subscriptions in force, as the table says now (a row that does not decode is skipped). */
const readSubscriptions = ({ sql, subscriptions }: Tables) =>
  Effect.map(sql<{ subscription: string }>`SELECT subscription FROM ${subscriptions}`, (rows) => {
    const next = Router.make()
    for (const row of rows) {
      const decoded = decodeSubscription(row.subscription)
      if (decoded._tag === "Success") next.add(decoded.value)
    }
    return next
  })

/** Replaces the in-memory types and subscriptions with what the tables say. */
const refresh = (tables: Tables) =>
  Effect.gen(function*() {
    tables.knownTypes = yield* readTypes(tables)
    tables.router = yield* readSubscriptions(tables)
  })

/** Declares that this runner runs `agentType`, until the scope closes. */
const announceType = (tables: Tables) =>
(agentType: string, description: string): Effect.Effect<void, Unreachable, Scope.Scope> => {
  const { runnerId, sql, types } = tables
  return Effect.acquireRelease(
    sql`INSERT INTO ${types} (agent_type, runner, description) VALUES (${agentType}, ${runnerId}, ${description}) ON CONFLICT (agent_type, runner) DO UPDATE SET description = ${description}`.pipe(
      Effect.andThen(Effect.sync(() => tables.knownTypes.add(agentType))),
      Effect.mapError(unreachable(agentType))
    ),
    () => Effect.ignore(sql`DELETE FROM ${types} WHERE agent_type = ${agentType} AND runner = ${runnerId}`)
  ).pipe(Effect.asVoid)
}

/** Whether some runner runs `agentType`: the table is read again before answering no. */
const hasType = (tables: Tables) => (agentType: string) =>
  Effect.suspend(() =>
    tables.knownTypes.has(agentType)
      ? Effect.succeed(true)
      : Effect.map(readTypes(tables), (read) => {
        tables.knownTypes = read
        return read.has(agentType)
      }).pipe(Effect.mapError(unreachable(agentType)))
  )

/** The subscription operations of the directory, on the subscriptions table and the router. */
const subscriptionOps = (
  tables: Tables
): Pick<Directory["Service"], "addSubscription" | "removeSubscription" | "subscription" | "subscriptions" | "recipients"> => {
  const { sql, subscriptions } = tables
  const decodeFirst = (rows: ReadonlyArray<{ subscription: string }>) => {
    const decoded = rows.length === 0 ? undefined : decodeSubscription(rows[0]!.subscription)
    return decoded?._tag === "Success" ? decoded.value : undefined
  }
  return {
    addSubscription: (subscription) => {
      const id = Subscription.id(subscription)
      const text = encodeSubscription(subscription)
      return sql<{ id: string }>`INSERT INTO ${subscriptions} (id, subscription) VALUES (${id}, ${text}) ON CONFLICT (id) DO NOTHING RETURNING id`.pipe(
        Effect.map((rows) => {
          tables.router.add(subscription)
          return rows.length > 0
        }),
        Effect.mapError(unreachable(id))
      )
    },
    removeSubscription: (id) =>
      sql<{ subscription: string }>`DELETE FROM ${subscriptions} WHERE id = ${id} RETURNING subscription`.pipe(
        Effect.map((rows) => {
          tables.router.remove(id)
          return decodeFirst(rows)
        }),
        Effect.mapError(unreachable(id))
      ),
    subscription: (id) =>
      sql<{ subscription: string }>`SELECT subscription FROM ${subscriptions} WHERE id = ${id}`.pipe(
        Effect.map(decodeFirst),
        Effect.mapError(unreachable(id))
      ),
    subscriptions: Effect.map(readSubscriptions(tables), (read) => {
      tables.router = read
      return read.list()
    }).pipe(Effect.mapError(unreachable("subscriptions"))),
    recipients: (topic) => Effect.sync(() => tables.router.recipients(topic))
  }
}

/** The saved-state operations of the directory, on the state table. */
const stateOps = ({ sql, states }: Tables): Pick<Directory["Service"], "loadState" | "saveState" | "savedStates"> => ({
  loadState: (id: AgentId) =>
    sql<{ state: string }>`SELECT state FROM ${states} WHERE agent_id = ${id.toString()}`.pipe(
      Effect.map((rows) => {
        if (rows.length === 0) return undefined
        const decoded = decodeState(rows[0]!.state)
        return decoded._tag === "Success" ? decoded.value as AgentState : undefined
      }),
      Effect.mapError(unreachable(id.toString()))
    ),
  saveState: (id, state) => {
    const text = JSON.stringify(state)
    return sql`INSERT INTO ${states} (agent_id, state) VALUES (${id.toString()}, ${text}) ON CONFLICT (agent_id) DO UPDATE SET state = ${text}`.pipe(
      Effect.asVoid,
      Effect.mapError(unreachable(id.toString()))
    )
  },
  savedStates: sql<{ agent_id: string; state: string }>`SELECT agent_id, state FROM ${states}`.pipe(
    Effect.map((rows) => {
      const all: Record<string, AgentState> = {}
      for (const row of rows) {
        const decoded = decodeState(row.state)
        if (decoded._tag === "Success") all[row.agent_id] = decoded.value as AgentState
      }
      return all
    }),
    Effect.mapError(unreachable("saved states"))
  )
})

/** Builds the SQL directory in the current scope (which owns its refresh fiber). */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const sql = yield* SqlClient.SqlClient
  const prefix = options.tablePrefix ?? "effect_agents_cluster_"
  const tables: Tables = {
    sql,
    types: sql(`${prefix}types`),
    subscriptions: sql(`${prefix}subscriptions`),
    states: sql(`${prefix}state`),
    runnerId: options.runnerId ?? `runner-${Math.random().toString(36).slice(2, 10)}`,
    knownTypes: new Set<string>(),
    router: Router.make()
  }

  yield* createTables(tables)
  yield* refresh(tables).pipe(Effect.mapError(unreachable("directory")))
  yield* refresh(tables).pipe(
    Effect.catchCause((cause) => Effect.logWarning("could not refresh the cluster directory", cause)),
    Effect.repeat(Schedule.spaced(options.refreshInterval ?? "1 second")),
    Effect.forkScoped
  )

  return Directory.of({
    announceType: announceType(tables),
    hasType: hasType(tables),
    ...subscriptionOps(tables),
    ...stateOps(tables)
  })
})

/** The SQL directory as a layer, on the `SqlClient` it is given. */
export const layer = (options?: Options): Layer.Layer<Directory, AgentError, SqlClient.SqlClient> =>
  Layer.effect(Directory, make(options))
