/**
 * The effect/cluster intervals that decide how fast a cluster notices a dead
 * runner and how much it asks of its database, with defaults chosen for
 * agents (effect/cluster's own defaults in brackets). Shorter intervals:
 * faster failover and first persisted delivery, more queries per runner.
 *
 * - `shardLockExpiration` 10 s [35 s]: a dead runner's shards are taken over
 *   once its locks expire; this bounds the failover time after a crash.
 * - `shardLockRefreshInterval` 2 s [10 s]: how often a runner renews its
 *   locks (one write per runner each time); must be well below the expiration.
 * - `runnerHealthCheckInterval` 5 s [1 min]: how often runners check each other.
 * - `refreshAssignmentsInterval` 1 s [3 s]: how often a runner reads the
 *   shard assignments (a moved shard is found this much later).
 * - `entityMessagePollInterval` 1 s [10 s]: how often a runner reads its
 *   unprocessed persisted messages; a persisted message from another
 *   process that is not a runner (client only) waits up to this long.
 * - `entityMaxIdleTime` 1 min [1 min]: an entity idle this long is
 *   passivated (its state saved to the directory, loaded on its next message).
 * - `entityTerminationTimeout` 5 s [15 s]: how long a stopping entity waits
 *   for its handlers.
 */
import { Duration } from "effect"
import type { ShardingConfig } from "effect/cluster"

/** The intervals a `ClusterRuntime` user may set. */
export interface Intervals {
  readonly shardLockExpiration?: Duration.Input | undefined
  readonly shardLockRefreshInterval?: Duration.Input | undefined
  readonly runnerHealthCheckInterval?: Duration.Input | undefined
  readonly refreshAssignmentsInterval?: Duration.Input | undefined
  readonly entityMessagePollInterval?: Duration.Input | undefined
  readonly entityMaxIdleTime?: Duration.Input | undefined
  readonly entityTerminationTimeout?: Duration.Input | undefined
}

/** The defaults for agents (see the module's comment). */
export const defaults: { readonly [K in keyof Intervals]-?: Duration.Duration } = {
  shardLockExpiration: Duration.seconds(10),
  shardLockRefreshInterval: Duration.seconds(2),
  runnerHealthCheckInterval: Duration.seconds(5),
  refreshAssignmentsInterval: Duration.seconds(1),
  entityMessagePollInterval: Duration.seconds(1),
  entityMaxIdleTime: Duration.minutes(1),
  entityTerminationTimeout: Duration.seconds(5)
}

/** The sharding configuration of the intervals given, the defaults above for the rest. */
export const sharding = (intervals: Intervals = {}): Partial<ShardingConfig.ShardingConfig["Service"]> => {
  const out: Record<string, Duration.Duration> = {}
  for (const [name, fallback] of Object.entries(defaults)) {
    const given = intervals[name as keyof Intervals]
    out[name] = given === undefined ? fallback : Duration.fromInputUnsafe(given)
  }
  return out as Partial<ShardingConfig.ShardingConfig["Service"]>
}
