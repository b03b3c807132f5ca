/**
 * The cluster's intervals: the defaults for agents fill what is not given,
 * and a delivery mode is chosen by the call, then the message type, then
 * the runtime's default.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration } from "effect"
import { ClusterConfig, DeliveryMode } from "../../src/cluster/index.ts"

describe("ClusterConfig", () => {
  it("fills every interval it is not given with the default for agents", () => {
    const config = ClusterConfig.sharding({ shardLockExpiration: "3 seconds" })
    assert.strictEqual(Duration.toMillis(config.shardLockExpiration as Duration.Duration), 3000)
    assert.strictEqual(Duration.toMillis(config.shardLockRefreshInterval as Duration.Duration), 2000)
    assert.strictEqual(Duration.toMillis(config.entityMessagePollInterval as Duration.Duration), 1000)
    assert.deepStrictEqual(Object.keys(config).sort(), Object.keys(ClusterConfig.defaults).sort())
  })

  it("keeps the lock refresh well below the lock expiration in its defaults", () => {
    const { shardLockExpiration, shardLockRefreshInterval } = ClusterConfig.defaults
    assert.isAtMost(Duration.toMillis(shardLockRefreshInterval) * 3, Duration.toMillis(shardLockExpiration))
  })
})

describe("DeliveryMode.choose", () => {
  const policy: DeliveryMode.Policy = { default: "volatile", persisted: new Set(["Add"]), volatile: new Set(["Ping"]) }

  it("takes the call's mode first, then the message type's, then the default", () => {
    assert.strictEqual(DeliveryMode.choose(policy, undefined, "Other"), "volatile")
    assert.strictEqual(DeliveryMode.choose(policy, undefined, "Add"), "persisted")
    assert.strictEqual(DeliveryMode.choose(policy, "volatile", "Add"), "volatile")
    assert.strictEqual(DeliveryMode.choose(policy, "persisted", "Ping"), "persisted")
    assert.strictEqual(DeliveryMode.choose({ ...policy, default: "persisted" }, undefined, "Ping"), "volatile")
  })
})
