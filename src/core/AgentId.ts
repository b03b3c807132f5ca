/**
 * `AgentId` names one agent instance: an agent `type` (which handlers it has)
 * and a `key` (which instance of that type). Agents are addressed only by id;
 * the runtime creates the instance behind an id on its first message.
 *
 * The string form is `type/key`, e.g. `greeter/alice`.
 */
import { Schema } from "effect"

/**
 * The longest identifier (agent type, key, topic type or source, prefix,
 * worker id) in characters; every identifier is ASCII, so also in bytes.
 * Identifiers cross processes and are kept in tables: they are bounded.
 */
export const maxIdentifierLength = 255

/** Agent type names: 1 to 255 letters, digits, `_`, `-` and `.` (`^[\w\-.]+$`). */
export const AgentType = Schema.String.check(
  Schema.isPattern(/^[\w\-.]+$/, { description: "an agent type name: letters, digits, '_', '-' or '.'" }),
  Schema.isMaxLength(maxIdentifierLength)
)

/** Agent keys: 1 to 255 printable ASCII characters (space to `~`). */
export const AgentKey = Schema.String.check(
  Schema.isPattern(/^[\x20-\x7E]+$/, { description: "an agent key: printable ASCII" }),
  Schema.isMaxLength(maxIdentifierLength)
)

/**
 * The identity of one agent instance.
 *
 * @example
 * const id = AgentId.make("greeter", "alice")
 * AgentId.toString(id) // "greeter/alice"
 */
export class AgentId extends Schema.Class<AgentId>("effect-agents/AgentId")({
  type: AgentType,
  key: AgentKey
}) {
  override toString(): string {
    return `${this.type}/${this.key}`
  }
}

/** Builds an `AgentId`, throwing if the type or key is not well-formed. */
export const make = (type: string, key: string = "default"): AgentId => new AgentId({ type, key })

/**
 * An `AgentId` from a type and key already checked (a registered type, a
 * topic's source: both checked when they were made), without the schema
 * pass of the constructor: on the routing hot path that pass was a tenth
 * of a publish. Throws, as the constructor does, if either is not a string.
 */
export const trusted = (type: string, key: string): AgentId => {
  if (typeof type !== "string" || typeof key !== "string") return make(type, key)
  // what the constructor builds: the class's prototype and the two fields
  const id = Object.create(AgentId.prototype) as { type: string; key: string }
  id.type = type
  id.key = key
  return id as AgentId
}

/** `type/key`. */
export const toString = (id: AgentId): string => `${id.type}/${id.key}`

/** Parses `type/key` (the key may itself contain `/`). */
export const fromString = (s: string): AgentId => {
  const i = s.indexOf("/")
  if (i < 0) throw new Error(`AgentId string "${s}" must look like type/key`)
  return make(s.slice(0, i), s.slice(i + 1))
}

/** Two ids name the same instance. */
export const equals = (a: AgentId, b: AgentId): boolean => a.type === b.type && a.key === b.key
