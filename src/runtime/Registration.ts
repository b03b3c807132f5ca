/**
 * An agent type as a runtime registers it: what `Agent.toLayer` hands to
 * `AgentRuntime.register`. Users never build one; it is the seam between
 * the definition (`core/Agent.ts`) and the kernel that runs instances.
 */
import type { Context, Effect, Scope } from "effect"
import type { AnyHandler, InstanceState, Routes, Self, Spec } from "../core/Agent.ts"
import type { AgentState } from "../core/AgentRuntime.ts"
import type { Subscription } from "../core/Subscription.ts"

export interface Registration {
  readonly name: string
  readonly description: string
  /** The contract of each message tag: how a message of it is checked and encoded. */
  readonly specs: ReadonlyMap<string, Spec>
  /** Every handler of each message tag, in declaration order: which one runs a delivery (see `runtime/Routes.ts`). */
  readonly routes: Routes
  /** How many messages one instance handles at once (at least 1). */
  readonly concurrency: number
  readonly subscriptions: ReadonlyArray<Subscription>
  /** When set, only these keys exist, built at registration. */
  readonly keys?: ReadonlyArray<string> | undefined
  /** The context the factory and handlers run in (what the agent layer was given). */
  readonly context: Context.Context<never>
  /**
   * How long an instance may stay idle before it is passivated (its state
   * saved to the `StateStore`, its scope closed, it is dropped); absent or
   * `Infinity`: never.
   */
  readonly maxIdleMillis?: number | undefined
  /** The version written with this type's stored state (default 1). */
  readonly stateVersion?: number | undefined
  /** Turns state stored by another version into this version's (absent: another version is an error). */
  readonly migrateState?: ((state: AgentState, fromVersion: number) => Effect.Effect<AgentState, unknown>) | undefined
  /** Builds one instance's handlers, by handler name (the names the routes give). */
  readonly build: Effect.Effect<Record<string, AnyHandler>, unknown, Self | InstanceState | Scope.Scope>
}
