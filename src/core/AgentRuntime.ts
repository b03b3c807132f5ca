/**
 * `AgentRuntime` is the service every runtime provides: the standalone one
 * (`StandaloneRuntime.layer`) and a distributed worker (`WorkerRuntime.layer`).
 * Agent code talks only to this interface, so switching runtimes is swapping
 * one `Layer`.
 *
 * What every implementation guarantees:
 * - each instance handles one message at a time, in arrival order, unless its
 *   type opts into concurrency;
 * - a `send` returns the reply or a typed `AgentError`, and never waits
 *   forever (a default deadline applies); interrupting it cancels the handler;
 * - a `publish` returns once accepted; every matching subscription's agent gets
 *   it once; the publisher does not receive its own publish; an event
 *   handler's failure is logged and emitted on `deadLetters`;
 * - the runtime's scope is its life: closing it stops intake, drains (up to
 *   a deadline) or interrupts in-flight work and runs agent finalizers.
 */
import { Context, Effect, type Duration, type Scope, Stream } from "effect"
import type { Registration } from "../runtime/Registration.ts"
import type { Spec } from "./Agent.ts"
import type { AgentError, RegistrationError } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"
import type { DeadLetter } from "./DeadLetter.ts"
import type { Subscription } from "./Subscription.ts"
import type { TopicId } from "./TopicId.ts"

export type { DeadLetter } from "./DeadLetter.ts"

/** Options of one `send`. */
export interface SendOptions {
  /** Overrides the runtime's default deadline for this send. */
  readonly timeout?: Duration.Input | undefined
  /**
   * The handler contract the caller expects; typed clients pass it so that a
   * distributed runtime can encode the message and decode the reply and
   * declared errors without having the agent type registered locally.
   */
  readonly contract?: Spec | undefined
}

/** Options of one `sendStream` (a send answered by a stream of chunks: `Agent.stream`). */
export interface StreamOptions {
  /** The deadline of the whole stream, from the send to its end (default: the runtime's send timeout; `Infinity`: none). */
  readonly timeout?: Duration.Input | undefined
  /** The longest gap allowed between two chunks (and before the first); default: none. */
  readonly idleTimeout?: Duration.Input | undefined
  /**
   * How many chunks may be on their way to the caller at once (default 16,
   * at most 256): the producing handler waits while that many are produced
   * and not yet taken.
   */
  readonly buffer?: number | undefined
  /** The handler contract the caller expects (typed clients pass it), as for `send`. */
  readonly contract?: Spec | undefined
}

/** Options of one `publish`. */
export interface PublishOptions {
  /**
   * Acknowledged mode: `publish` returns only once every recipient has
   * handled the message, and fails with the first delivery that failed (no
   * such agent, no worker, a full mailbox or worker, the policy, a handler's
   * failure). Without it, `publish` returns once the runtime accepted the
   * message, and failed deliveries are dead letters only.
   */
  readonly ack?: boolean | undefined
}

/** What the runtime tells about an agent. */
export interface AgentMetadata {
  readonly type: string
  readonly key: string
  readonly description: string
}

/** An agent's saved state: its `Agent.state` cells, JSON-encoded, by name. */
export type AgentState = { readonly [cell: string]: unknown }

/** A whole runtime's saved state, by agent id string (`type/key`). */
export type RuntimeState = { readonly [agentId: string]: AgentState }

/** The service every runtime layer provides. */
export class AgentRuntime extends Context.Service<AgentRuntime, {
  /**
   * Sends `message` to `recipient` and waits for the reply (`undefined` for an
   * event handler). Any registered message type may be sent; a typed client
   * (`Agent.client`) is the checked way.
   */
  readonly send: (recipient: AgentId, message: unknown, options?: SendOptions) => Effect.Effect<unknown, AgentError>
  /**
   * Sends `message` to a streaming handler (`Agent.stream`) and returns its
   * chunks as they are produced. Reading slowly slows the handler down (at
   * most `buffer` chunks are on their way); stopping reading (interrupting,
   * or ending early) cancels the handler. The stream ends when the handler's
   * stream does, or fails with a typed `AgentError` (the handler's declared
   * error inside `HandlerError.error`, `TimeoutError` past a deadline).
   */
  readonly sendStream: (recipient: AgentId, message: unknown, options?: StreamOptions) => Stream.Stream<unknown, AgentError>
  /** Publishes `message` on `topic`; returns once the runtime has accepted it (or, with `ack`, once every recipient handled it). */
  readonly publish: (topic: TopicId, message: unknown, options?: PublishOptions) => Effect.Effect<void, AgentError>
  /** Adds a subscription (idempotent: ids derive from content). */
  readonly addSubscription: (subscription: Subscription) => Effect.Effect<void, AgentError>
  /** Removes a subscription by id; `false` if there was none. */
  readonly removeSubscription: (id: string) => Effect.Effect<boolean, AgentError>
  /** The subscriptions in force. */
  readonly subscriptions: Effect.Effect<ReadonlyArray<Subscription>, AgentError>
  /** Registers an agent type for the life of the current scope (what `Agent.toLayer` calls; not meant to be called directly). */
  readonly register: (registration: Registration) => Effect.Effect<void, RegistrationError, Scope.Scope>
  /**
   * The id of `type`'s instance `key`. With `lazy: false` the instance is
   * created now; by default it is created on its first message.
   */
  readonly agentId: (
    type: string,
    key?: string,
    options?: { readonly lazy?: boolean }
  ) => Effect.Effect<AgentId, AgentError>
  /** What the runtime knows of an agent. */
  readonly metadata: (agentId: AgentId) => Effect.Effect<AgentMetadata, AgentError>
  /**
   * Saves one agent's state (creating the instance if it does not exist
   * yet). A passivated agent's is its stored state: it stays passivated.
   */
  readonly saveState: (agentId: AgentId) => Effect.Effect<AgentState, AgentError>
  /** Loads one agent's state, in order with the messages it handles. */
  readonly loadState: (agentId: AgentId, state: AgentState) => Effect.Effect<void, AgentError>
  /** Saves the state of every live instance (a passivated one's is in the `StateStore`). */
  readonly saveAll: Effect.Effect<RuntimeState, AgentError>
  /** Loads the state of every agent in `state`, creating instances as needed. */
  readonly loadAll: (state: RuntimeState) => Effect.Effect<void, AgentError>
  /** Waits until no message is queued or being handled. Costs nothing while it waits. */
  readonly awaitIdle: Effect.Effect<void>
  /**
   * Subscribes to the failures nobody was waiting for: every dead letter from
   * the moment this effect runs is in the stream, for the life of the scope.
   * (Subscribing eagerly means a letter cannot slip by between asking and
   * the stream's first pull.)
   */
  readonly deadLetters: Effect.Effect<Stream.Stream<DeadLetter>, never, Scope.Scope>
}>()("effect-agents/AgentRuntime") {}

/** `send` on the current runtime. */
export const send = (recipient: AgentId, message: unknown, options?: SendOptions): Effect.Effect<unknown, AgentError, AgentRuntime> =>
  AgentRuntime.use((runtime) => runtime.send(recipient, message, options))

/** `sendStream` on the current runtime. */
export const sendStream = (recipient: AgentId, message: unknown, options?: StreamOptions): Stream.Stream<unknown, AgentError, AgentRuntime> =>
  Stream.unwrap(AgentRuntime.useSync((runtime) => runtime.sendStream(recipient, message, options)))

/** `publish` on the current runtime. */
export const publish = (topic: TopicId, message: unknown, options?: PublishOptions): Effect.Effect<void, AgentError, AgentRuntime> =>
  AgentRuntime.use((runtime) => runtime.publish(topic, message, options))

/** `addSubscription` on the current runtime. */
export const addSubscription = (subscription: Subscription): Effect.Effect<void, AgentError, AgentRuntime> =>
  AgentRuntime.use((runtime) => runtime.addSubscription(subscription))

/** `removeSubscription` on the current runtime. */
export const removeSubscription = (id: string): Effect.Effect<boolean, AgentError, AgentRuntime> =>
  AgentRuntime.use((runtime) => runtime.removeSubscription(id))

/** `awaitIdle` on the current runtime. */
export const awaitIdle: Effect.Effect<void, never, AgentRuntime> = AgentRuntime.use((runtime) => runtime.awaitIdle)
