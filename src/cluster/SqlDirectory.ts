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

/** Builds the SQL directory in the current scope (which owns its refresh fiber). */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const sql = yield* SqlClient.SqlClient
  const prefix = options.tablePrefix ?? "effect_agents_cluster_"
  const types = sql(`${prefix}types`)
  const subscriptionsTable = sql(`${prefix}subscriptions`)
  const states = sql(`${prefix}state`)
  const runnerId = options.runnerId ?? `runner-${Math.random().toString(36).slice(2, 10)}`

  // several runners may create the tables at once: a lost race is retried, and then the tables exist
  yield* Effect.gen(function*() {
    yield* sql`CREATE TABLE IF NOT EXISTS ${types} (agent_type VARCHAR(255) NOT NULL, runner VARCHAR(255) NOT NULL, description TEXT NOT NULL, PRIMARY KEY (agent_type, runner))`
    yield* sql`CREATE TABLE IF NOT EXISTS ${subscriptionsTable} (id VARCHAR(600) PRIMARY KEY, subscription TEXT NOT NULL)`
    yield* sql`CREATE TABLE IF NOT EXISTS ${states} (agent_id VARCHAR(600) PRIMARY KEY, state TEXT NOT NULL)`
  }).pipe(Effect.retry({ times: 5, schedule: Schedule.spaced("100 millis") }), Effect.mapError(unreachable("directory tables")))

  let knownTypes = new Set<string>()
  let router = Router.make()

  const readTypes = Effect.map(
    sql<{ agent_type: string }>`SELECT DISTINCT agent_type FROM ${types}`,
    (rows) => new Set(rows.map((r) => r.agent_type))
  )
  const readSubscriptions = Effect.map(sql<{ subscription: string }>`SELECT subscription FROM ${subscriptionsTable}`, (rows) => {
    const next = Router.make()
    for (const row of rows) {
      const decoded = decodeSubscription(row.subscription)
      if (decoded._tag === "Success") next.add(decoded.value)
    }
    return next
  })
  const refresh = Effect.gen(function*() {
    knownTypes = yield* readTypes
    router = yield* readSubscriptions
  })
  yield* refresh.pipe(Effect.mapError(unreachable("directory")))
  yield* refresh.pipe(
    Effect.catchCause((cause) => Effect.logWarning("could not refresh the cluster directory", cause)),
    Effect.repeat(Schedule.spaced(options.refreshInterval ?? "1 second")),
    Effect.forkScoped
  )

  const announceType = (agentType: string, description: string): Effect.Effect<void, ReturnType<ReturnType<typeof unreachable>>, Scope.Scope> =>
    Effect.acquireRelease(
      sql`INSERT INTO ${types} (agent_type, runner, description) VALUES (${agentType}, ${runnerId}, ${description}) ON CONFLICT (agent_type, runner) DO UPDATE SET description = ${description}`.pipe(
        Effect.andThen(Effect.sync(() => knownTypes.add(agentType))),
        Effect.mapError(unreachable(agentType))
      ),
      () => Effect.ignore(sql`DELETE FROM ${types} WHERE agent_type = ${agentType} AND runner = ${runnerId}`)
    ).pipe(Effect.asVoid)

  return Directory.of({
    announceType,
    hasType: (agentType) =>
      Effect.suspend(() =>
        knownTypes.has(agentType)
          ? Effect.succeed(true)
          : Effect.map(readTypes, (read) => {
            knownTypes = read
            return read.has(agentType)
          }).pipe(Effect.mapError(unreachable(agentType)))
      ),
    addSubscription: (subscription) => {
      const id = Subscription.id(subscription)
      const text = encodeSubscription(subscription)
      return sql<{ id: string }>`INSERT INTO ${subscriptionsTable} (id, subscription) VALUES (${id}, ${text}) ON CONFLICT (id) DO NOTHING RETURNING id`.pipe(
        Effect.map((rows) => {
          router.add(subscription)
          return rows.length > 0
        }),
        Effect.mapError(unreachable(id))
      )
    },
    removeSubscription: (id) =>
      sql<{ subscription: string }>`DELETE FROM ${subscriptionsTable} WHERE id = ${id} RETURNING subscription`.pipe(
        Effect.map((rows) => {
          router.remove(id)
          const decoded = rows.length === 0 ? undefined : decodeSubscription(rows[0]!.subscription)
          return decoded?._tag === "Success" ? decoded.value : undefined
        }),
        Effect.mapError(unreachable(id))
      ),
    subscription: (id) =>
      sql<{ subscription: string }>`SELECT subscription FROM ${subscriptionsTable} WHERE id = ${id}`.pipe(
        Effect.map((rows) => {
          const decoded = rows.length === 0 ? undefined : decodeSubscription(rows[0]!.subscription)
          return decoded?._tag === "Success" ? decoded.value : undefined
        }),
        Effect.mapError(unreachable(id))
      ),
    subscriptions: Effect.map(readSubscriptions, (read) => {
      router = read
      return read.list()
    }).pipe(Effect.mapError(unreachable("subscriptions"))),
    recipients: (topic) => Effect.sync(() => router.recipients(topic)),
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
})

/** The SQL directory as a layer, on the `SqlClient` it is given. */
export const layer = (options?: Options): Layer.Layer<Directory, AgentError, SqlClient.SqlClient> =>
  Layer.effect(Directory, make(options))
