/**
 * Agents of the passivation topic suite (`passivation.ts`). What a test
 * observes of an agent's lives (how many times it was built, how many of
 * its scopes closed) it asks the agent itself, so that the agent may run in
 * another process: the counts are kept by the process it runs in, across
 * its incarnations.
 */
import { Effect, Ref, Schema } from "effect"
import { Agent } from "../../../src/index.ts"

export class Deposit extends Schema.TaggedClass<Deposit>()("Deposit", { by: Schema.Number }) {}

/** How many times this agent was built and finalized in the process it runs in. */
export class GetLives extends Schema.TaggedClass<GetLives>()("GetLives", {}) {}

export class Lives extends Schema.Class<Lives>("Lives")({ built: Schema.Number, finalized: Schema.Number }) {}

/** A passivating agent: idle for 300 ms, it is saved and dropped. */
export const Keeper = Agent.make("keeper", {
  Deposit: Agent.rpc(Deposit, { success: Schema.Number }),
  GetLives: Agent.rpc(GetLives, { success: Lives })
})

const built = new Map<string, number>()
const finalized = new Map<string, number>()
const bump = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1)

export const KeeperLive = Keeper.toLayer(Effect.gen(function*() {
  const self = yield* Agent.Self
  bump(built, self.key)
  yield* Effect.addFinalizer(() => Effect.sync(() => bump(finalized, self.key)))
  const total = yield* Agent.state(Schema.Number, 0, { name: "total" })
  return Keeper.of({
    Deposit: ({ by }) => Ref.updateAndGet(total, (n) => n + by),
    GetLives: () => Effect.sync(() => new Lives({ built: built.get(self.key) ?? 0, finalized: finalized.get(self.key) ?? 0 }))
  })
}), { maxIdleTime: "300 millis" })
