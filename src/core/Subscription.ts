/**
 * A `Subscription` maps topics to the agents that receive what is published
 * on them. Subscriptions are plain Schema data, so the distributed runtime
 * sends them to the host as they are.
 *
 * - `type("chat", "assistant")`: topic `chat/room-1` goes to agent
 *   `assistant/room-1` (the topic's source becomes the agent's key).
 * - `typePrefix("chat.", "logger")`: topic `chat.alerts/x` goes to `logger/x`.
 * - `defaultFor("assistant")`: the `default` topic type, as `type("default", ...)`.
 *
 * A subscription's `id` is derived from its content, so adding the same
 * subscription twice is harmless and a worker can re-register it after a
 * reconnect.
 */
import { Effect, Schema } from "effect"
import { AgentId, AgentType, maxIdentifierLength } from "./AgentId.ts"
import { defaultType, type TopicId, TopicType } from "./TopicId.ts"

/** Topic `(t, s)` with `t === topicType` goes to agent `(agentType, s)`. */
export class TypeSubscription extends Schema.TaggedClass<TypeSubscription>()("TypeSubscription", {
  topicType: TopicType,
  agentType: AgentType
}) {}

/** Topic `(t, s)` with `t` starting with `prefix` goes to agent `(agentType, s)`. */
export class TypePrefixSubscription extends Schema.TaggedClass<TypePrefixSubscription>()("TypePrefixSubscription", {
  // empty matches every topic type; like every identifier, printable ASCII and bounded
  prefix: Schema.String.check(Schema.isPattern(/^[\x20-\x7E]*$/, { description: "printable ASCII" }), Schema.isMaxLength(maxIdentifierLength)),
  agentType: AgentType
}) {}

/** Any subscription; a Schema union so it can cross the wire. */
export const Subscription = Schema.Union([TypeSubscription, TypePrefixSubscription])
export type Subscription = TypeSubscription | TypePrefixSubscription

/**
 * A subscription whose agent type is filled in when an agent type is
 * registered: what `Agent.toLayer({ subscriptions })` takes.
 */
export type Template = (agentType: string) => Subscription

/**
 * Subscribes an agent type to one topic type. With one argument it returns a
 * `Template` for `toLayer({ subscriptions })`.
 */
export const type: {
  (topicType: string): Template
  (topicType: string, agentType: string): TypeSubscription
} = ((topicType: string, agentType?: string) =>
  agentType === undefined
    ? (agentType: string) => new TypeSubscription({ topicType, agentType })
    : new TypeSubscription({ topicType, agentType })) as any

/** Subscribes an agent type to every topic type that starts with `prefix`. */
export const typePrefix: {
  (prefix: string): Template
  (prefix: string, agentType: string): TypePrefixSubscription
} = ((prefix: string, agentType?: string) =>
  agentType === undefined
    ? (agentType: string) => new TypePrefixSubscription({ prefix, agentType })
    : new TypePrefixSubscription({ prefix, agentType })) as any

/** Subscribes an agent type to the `default` topic type. */
export const defaultFor = (agentType: string): TypeSubscription => type(defaultType, agentType)

/** The stable id of a subscription (derived from its content). */
export const id = (s: Subscription): string =>
  s._tag === "TypeSubscription" ? `type:${s.topicType}->${s.agentType}` : `prefix:${s.prefix}->${s.agentType}`

/** Whether the subscription wants messages published on `topic`. */
export const matches = (s: Subscription, topic: TopicId): boolean =>
  s._tag === "TypeSubscription" ? topic.type === s.topicType : topic.type.startsWith(s.prefix)

/** `mapToAgent` was asked about a topic the subscription does not match. */
export class SubscriptionMismatchError extends Schema.TaggedError<SubscriptionMismatchError>()("SubscriptionMismatchError", {
  subscription: Schema.String,
  topic: Schema.String
}) {
  override get message(): string {
    return `subscription ${this.subscription} does not match topic ${this.topic}`
  }
}

/**
 * The agent that receives a message published on `topic`; fails with
 * `SubscriptionMismatchError` when the subscription does not match the topic
 * (there is no such agent, rather than a wrong one).
 */
export const mapToAgent = (s: Subscription, topic: TopicId): Effect.Effect<AgentId, SubscriptionMismatchError> =>
  matches(s, topic)
    ? Effect.succeed(mapToAgentUnsafe(s, topic))
    : Effect.fail(new SubscriptionMismatchError({ subscription: id(s), topic: `${topic.type}/${topic.source}` }))

/** `mapToAgent` for a topic already known to match (the router's hot path): no check. */
export const mapToAgentUnsafe = (s: Subscription, topic: TopicId): AgentId =>
  new AgentId({ type: s.agentType, key: topic.source })
