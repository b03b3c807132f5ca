/**
 * `TopicId` names where a published message goes: a topic `type` (what kind
 * of event, e.g. `chat`) and a `source` (which stream of it, e.g. `room-1`).
 * Subscriptions map topics to agents; by default the topic's `source` becomes
 * the receiving agent's key, so each room gets its own agent instances.
 *
 * The string form is `type/source`.
 */
import { Schema } from "effect"
import { AgentKey, maxIdentifierLength } from "./AgentId.ts"

/** Topic type names: 1 to 255 letters, digits, `_`, `-`, `.` and `:` . */
export const TopicType = Schema.String.check(
  Schema.isPattern(/^[\w\-.:]+$/, { description: "a topic type: letters, digits, '_', '-', '.' or ':'" }),
  Schema.isMaxLength(maxIdentifierLength)
)

/**
 * A topic: `type` says what kind of event, `source` which stream of it.
 *
 * @example
 * const topic = TopicId.make("chat", "room-1") // chat/room-1
 */
export class TopicId extends Schema.Class<TopicId>("effect-agents/TopicId")({
  type: TopicType,
  // the source becomes an agent key when a subscription maps the topic
  source: AgentKey
}) {
  override toString(): string {
    return `${this.type}/${this.source}`
  }
}

/** Builds a `TopicId`, throwing if the type is not well-formed. */
export const make = (type: string, source: string = "default"): TopicId => new TopicId({ type, source })

/** `type/source`. */
export const toString = (topic: TopicId): string => `${topic.type}/${topic.source}`

/** The topic type that `Subscription.defaultFor` listens on. */
export const defaultType = "default"
