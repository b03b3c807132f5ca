/**
 * What every runner of a cluster must see alike, beside the shards: the
 * agent types some runner registered, the subscriptions in force, and the
 * saved state of agents whose entity is not active anywhere (passivated,
 * moved, or its runner stopped). `Directory.layerMemory` keeps it in this
 * process (one runner, or tests); `SqlDirectory.layer` keeps it in SQL,
 * shared by every runner on the same database.
 */
import { Context, Effect, Layer, type Scope } from "effect"
import type { AgentError } from "../core/AgentError.ts"
import type { AgentId } from "../core/AgentId.ts"
import type { AgentState, RuntimeState } from "../core/AgentRuntime.ts"
import type * as Subscription from "../core/Subscription.ts"
import type { TopicId } from "../core/TopicId.ts"
import * as Router from "../runtime/Router.ts"

/** The directory of a cluster. Its failures are `AgentError`s (storage unreachable: `UndeliverableError`). */
export class Directory extends Context.Service<Directory, {
  /** Declares that this runner runs `agentType`, for the life of the scope. */
  readonly announceType: (agentType: string, description: string) => Effect.Effect<void, AgentError, Scope.Scope>
  /** Whether some runner runs `agentType` (as this runner last learnt). */
  readonly hasType: (agentType: string) => Effect.Effect<boolean, AgentError>
  /** Adds a subscription; `false` when it was in force already. */
  readonly addSubscription: (subscription: Subscription.Subscription) => Effect.Effect<boolean, AgentError>
  /** Removes a subscription by id; the removed one, if there was one. */
  readonly removeSubscription: (id: string) => Effect.Effect<Subscription.Subscription | undefined, AgentError>
  readonly subscription: (id: string) => Effect.Effect<Subscription.Subscription | undefined, AgentError>
  readonly subscriptions: Effect.Effect<ReadonlyArray<Subscription.Subscription>, AgentError>
  /** The agents a publish on `topic` reaches, each once. */
  readonly recipients: (topic: TopicId) => Effect.Effect<ReadonlyArray<AgentId>, AgentError>
  /** The state saved for an agent, if any. */
  readonly loadState: (id: AgentId) => Effect.Effect<AgentState | undefined, AgentError>
  /** Saves an agent's state (replacing what was saved). */
  readonly saveState: (id: AgentId, state: AgentState) => Effect.Effect<void, AgentError>
  /** Every saved state, by agent id string. */
  readonly savedStates: Effect.Effect<RuntimeState, AgentError>
}>()("effect-agents/cluster/Directory") {}

/** A directory in this process's memory: for one runner (and the tests). */
export const makeMemory = (): Directory["Service"] => {
  const types = new Map<string, number>()
  const router = Router.make()
  const states = new Map<string, AgentState>()
  return {
    announceType: (agentType) =>
      Effect.acquireRelease(
        Effect.sync(() => void types.set(agentType, (types.get(agentType) ?? 0) + 1)),
        () =>
          Effect.sync(() => {
            const n = (types.get(agentType) ?? 1) - 1
            if (n === 0) types.delete(agentType)
            else types.set(agentType, n)
          })
      ).pipe(Effect.asVoid),
    hasType: (agentType) => Effect.sync(() => types.has(agentType)),
    addSubscription: (subscription) => Effect.sync(() => router.add(subscription)),
    removeSubscription: (id) => Effect.sync(() => router.remove(id)),
    subscription: (id) => Effect.sync(() => router.get(id)),
    subscriptions: Effect.sync(() => router.list()),
    recipients: (topic) => Effect.sync(() => router.recipients(topic)),
    loadState: (id) => Effect.sync(() => states.get(id.toString())),
    saveState: (id, state) => Effect.sync(() => void states.set(id.toString(), state)),
    savedStates: Effect.sync(() => Object.fromEntries(states))
  }
}

/** The in-memory directory as a layer (a fresh one per build). */
export const layerMemory: Layer.Layer<Directory> = Layer.sync(Directory, makeMemory)
