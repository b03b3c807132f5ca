/**
 * An agent type as a runtime registers it: what `Agent.toLayer` hands to
 * `AgentRuntime.register`. Users never build one; it is the seam between
 * the definition (`core/Agent.ts`) and the kernel that runs instances.
 */
import type { Context, Effect, Scope } from "effect"
import type { AnyHandler, InstanceState, Self, Spec } from "../core/Agent.ts"
import type { Subscription } from "../core/Subscription.ts"

export interface Registration {
  readonly name: string
  readonly description: string
  /** Handler contracts by message tag. */
  readonly specs: ReadonlyMap<string, Spec>
  /** How many messages one instance handles at once (at least 1). */
  readonly concurrency: number
  readonly subscriptions: ReadonlyArray<Subscription>
  /** When set, only these keys exist, built at registration. */
  readonly keys?: ReadonlyArray<string> | undefined
  /** The context the factory and handlers run in (what the agent layer was given). */
  readonly context: Context.Context<never>
  /** Builds one instance's handlers, by message tag. */
  readonly build: Effect.Effect<Record<string, AnyHandler>, unknown, Self | InstanceState | Scope.Scope>
}
