/**
 * Passivation and reactivation: an agent of a type with `maxIdleTime` that
 * stays idle is saved, finalized and dropped (it leaves `saveAll`), its
 * stored state answers `saveState` without building it, and its next
 * message builds it again with its state, wherever it runs.
 *
 * The passivating agent is the second layer of each test, so the
 * distributed setups run it on another worker than the one the test calls
 * through. Waits are for a condition, polled, within a generous deadline:
 * passivation here is on the real clock (the unit tests drive it with
 * `TestClock`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { AgentRuntime } from "../../../src/index.ts"
import { GreeterLive } from "../fixtures.ts"
import { type MakeRuntime, liveIds, within, withAgentsOf } from "../suite.ts"
import { Keeper, KeeperLive } from "./passivation-fixtures.ts"

/** Waits until `id` is no longer live (it was passivated). */
const passivated = (id: string) =>
  within(15_000, liveIds.pipe(
    Effect.flatMap((ids) => ids.includes(id) ? Effect.fail("still live" as const) : Effect.void),
    Effect.retry(Schedule.spaced("50 millis"))
  ))

export const passivation = (makeRuntime: MakeRuntime) =>
  describe("passivation", () => {
    const withAgents = withAgentsOf(makeRuntime)

    it.live("an idle agent is passivated (finalized, dropped) and its next message reactivates it with its state", () =>
      Effect.gen(function*() {
        const keeper = (yield* Keeper.client)("k1")
        assert.strictEqual(yield* keeper.Deposit({ by: 2 }), 2)
        assert.strictEqual(yield* keeper.Deposit({ by: 3 }), 5)
        assert.deepStrictEqual({ ...(yield* keeper.GetLives({})) }, { built: 1, finalized: 0 })
        yield* passivated("keeper/k1")
        // a new incarnation, with the state the first one had
        assert.strictEqual(yield* keeper.Deposit({ by: 1 }), 6)
        assert.deepStrictEqual({ ...(yield* keeper.GetLives({})) }, { built: 2, finalized: 1 })
        assert.include(yield* liveIds, "keeper/k1")
      }).pipe(withAgents([GreeterLive, KeeperLive])), 30_000)

    it.live("saveState of a passivated agent is its stored state, and leaves it passivated; loadState reactivates it", () =>
      Effect.gen(function*() {
        const runtime = yield* AgentRuntime.AgentRuntime
        const keeper = (yield* Keeper.client)("k2")
        yield* keeper.Deposit({ by: 4 })
        yield* passivated("keeper/k2")
        assert.deepStrictEqual(yield* runtime.saveState(Keeper.id("k2")), { total: 4 })
        assert.notInclude(yield* liveIds, "keeper/k2")
        yield* runtime.loadState(Keeper.id("k2"), { total: 40 })
        assert.strictEqual(yield* keeper.Deposit({ by: 2 }), 42)
        assert.deepStrictEqual({ ...(yield* keeper.GetLives({})) }, { built: 2, finalized: 1 })
      }).pipe(withAgents([GreeterLive, KeeperLive])), 30_000)
  })
