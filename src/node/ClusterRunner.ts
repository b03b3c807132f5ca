/**
 * A cluster runner on Node: `ClusterRuntime` on effect/cluster's socket
 * runner (`NodeClusterSocket` from `@effect/platform-node`), with shard
 * locks, runner table, message storage and the agents' directory in
 * PostgreSQL (`@effect/sql-pg`). Every runner on the same database is one
 * cluster: agents are spread over them, and a runner that dies has its
 * shards (and its agents) taken over by the others.
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { ClusterRunner } from "effect-agents/cluster"
 *
 * const runner = ClusterRunner.layer({ database: "postgres://postgres@127.0.0.1:5432/postgres", port: 34431 })
 * const program = Effect.never.pipe(Effect.provide(runner))
 * ```
 *
 * `clientOnly: true` joins without hosting shards: the process can send and
 * publish to the cluster's agents, and runs none itself.
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import { Effect, Layer, Option, Redacted } from "effect"
import { RunnerAddress, type Sharding } from "effect/cluster"
import type { AgentError } from "../core/AgentError.ts"
import type { AgentRuntime } from "../core/AgentRuntime.ts"
import * as StateStore from "../core/StateStore.ts"
import type { ConfigError } from "effect/Config"
import type { SqlError } from "effect/sql/SqlError"
import type * as SqlClient from "effect/sql/SqlClient"
import * as NodeSqliteClient from "./NodeSqliteClient.ts"
import type { SocketServerError } from "effect/socket/SocketServer"
import * as ClusterConfig from "../cluster/ClusterConfig.ts"
import * as ClusterRuntime from "../cluster/ClusterRuntime.ts"
import * as SqlDirectory from "../cluster/SqlDirectory.ts"

/** How a runner joins its cluster; the runtime's own options are `ClusterRuntime.Options`. */
export interface Options extends ClusterRuntime.Options {
  /**
   * The cluster's database: `postgres://user:password@host:port/database`,
   * or `sqlite:<file>` for an embedded one shared by the runners of one
   * machine (no server to run; for trying and small setups).
   */
  readonly database: string
  /** The address other runners reach this one at (default `127.0.0.1`). */
  readonly host?: string | undefined
  /** The port this runner listens on for other runners (default 34431). Every runner on one host needs its own. */
  readonly port?: number | undefined
  /** Joins as a client only: sends and publishes, hosts no agents. */
  readonly clientOnly?: boolean | undefined
  /** The cluster's intervals (see `ClusterConfig`; defaults for agents). */
  readonly intervals?: ClusterConfig.Intervals | undefined
  /** Shards per group (default 300; every runner of a cluster must use the same). */
  readonly shardsPerGroup?: number | undefined
  /** Connections in this runner's pool (default 10). */
  readonly maxConnections?: number | undefined
}

/**
 * The database as a `SqlClient` (Postgres through `@effect/sql-pg`: its own
 * protocol, no native dependency). Loaded when a runner starts, so the
 * optional peer is needed only by those who run one.
 */
const database = (options: Options): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  options.database.startsWith("sqlite:")
    // embedded: one SQLite file every runner on this machine opens (WAL lets them read beside a writer)
    ? NodeSqliteClient.layer({ filename: options.database.slice("sqlite:".length) })
    : Layer.unwrap(Effect.map(
      Effect.promise(() => import("@effect/sql-pg")),
      ({ PgClient }) => PgClient.layer({ url: Redacted.make(options.database), maxConnections: options.maxConnections ?? 10 })
    ))

/**
 * A runner as a layer: joins the cluster on `database`, listens on
 * `host:port` for the other runners, and provides `AgentRuntime` for the
 * layer's life (and the cluster's `Sharding`, for entities of your own
 * beside the agents). Closing it saves its agents' state and hands its shards
 * over to the other runners.
 */
export const layer = (options: Options) => {
  const address = RunnerAddress.make(options.host ?? "127.0.0.1", options.port ?? 34431)
  const sharding = NodeClusterSocket.layer({
    storage: "sql",
    clientOnly: options.clientOnly === true,
    shardingConfig: {
      ...ClusterConfig.sharding(options.intervals),
      runnerAddress: Option.some(address),
      runnerListenAddress: Option.some(RunnerAddress.make("0.0.0.0", address.port)),
      ...(options.shardsPerGroup !== undefined ? { shardsPerGroup: options.shardsPerGroup } : {})
    }
  })
  const runtime: Layer.Layer<AgentRuntime | Sharding.Sharding, AgentError | SqlError | ConfigError | SocketServerError | StateStore.StateStoreError> = ClusterRuntime.layer(options).pipe(
    Layer.provide(SqlDirectory.layer({ runnerId: `${address.host}:${address.port}` })),
    // the kernel's own passivation (agent types with `maxIdleTime`) keeps its state where every runner finds it
    Layer.provide(StateStore.layerSql()),
    Layer.provideMerge(sharding),
    Layer.provide(database(options))
  )
  return runtime
}
