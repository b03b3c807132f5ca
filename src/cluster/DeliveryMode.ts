/**
 * How a message crosses the cluster. `"volatile"`: straight to the runner
 * that owns the recipient's shard, at most once; fast, and lost if that
 * runner dies before answering (the caller sees the failure or its
 * deadline). `"persisted"`: written to the message storage first, at least
 * once; a runner that dies before the reply is stored has it delivered again
 * by the shard's next owner, and a message id seen before gets the first
 * reply instead of a second delivery, so a handler sees each message once
 * in the normal case (twice only when a runner dies after the handler ran
 * and before its reply was stored).
 *
 * The mode comes from, in order: the call (`DeliveryMode.persisted(effect)`
 * around the sends and publishes it makes), the message type
 * (`ClusterRuntime` option `persisted: [tags]`), the runtime's default.
 */
import { Context, Effect } from "effect"

export type DeliveryMode = "volatile" | "persisted"

/** The mode the current fiber asks for; `undefined`: the message type's or the runtime's default. */
export const Current = Context.Reference<DeliveryMode | undefined>("effect-agents/cluster/DeliveryMode", {
  defaultValue: () => undefined
})

/** Runs `effect` with its sends and publishes persisted (at least once, deduplicated). */
export const persisted = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(effect, Current, "persisted")

/** Runs `effect` with its sends and publishes volatile (at most once). */
export const volatile = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(effect, Current, "volatile")

/** How a runtime picks the mode of a message nobody chose one for. */
export interface Policy {
  readonly default: DeliveryMode
  /** Message types (tags) always persisted, whatever the default. */
  readonly persisted: ReadonlySet<string>
  /** Message types (tags) always volatile, whatever the default. */
  readonly volatile: ReadonlySet<string>
}

/** The mode of one message: the call's choice, else its type's, else the default. */
export const choose = (policy: Policy, current: DeliveryMode | undefined, tag: string): DeliveryMode =>
  current ?? (policy.persisted.has(tag) ? "persisted" : policy.volatile.has(tag) ? "volatile" : policy.default)
