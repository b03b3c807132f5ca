/**
 * The effect/cluster entity of an agent type: one entity type per agent
 * type (`agent.<name>`), entity id = the agent's key, and a protocol of
 * rpcs that carry the kernel's envelopes. `Deliver` is volatile
 * (at most once, straight to the runner that owns the shard);
 * `DeliverPersisted` is `ClusterSchema.Persisted` (at least once, written to
 * the message storage first, deduplicated by the message id, its reply
 * saved in the same transaction as the handler's state snapshot);
 * `DeliverStream` carries a streaming send's chunks back; `Control` runs a state or metadata operation on the instance, where it
 * lives. Every answer is an `Outcome` (the reply or the typed `AgentError`,
 * encoded as the distributed runtime encodes them), so a failure is data
 * and never a cluster-level error.
 */
import { Schema } from "effect"
import { ClusterSchema, Entity } from "effect/cluster"
import { Rpc } from "effect/rpc"
import { AgentError } from "../core/AgentError.ts"
import { AgentId } from "../core/AgentId.ts"
import { TopicId } from "../core/TopicId.ts"
import { Chain, Identifier, Outcome, WireMessage } from "../distributed/Protocol.ts"

/** What a delivery carries: the kernel's `SendRequest` (or one publish delivery) in wire form. */
export const DeliveryFields = {
  messageId: Identifier,
  sender: Schema.optionalKey(AgentId),
  topic: Schema.optionalKey(TopicId),
  message: WireMessage,
  /** `true` for a send (its reply is wanted), `false` for a publish delivery. */
  rpc: Schema.Boolean,
  /** The ids of the messages whose handlers wait on this one (deadlock detection). */
  chain: Chain
}

/** A delivery as it crosses the cluster. */
export const Delivery = Schema.Struct(DeliveryFields)
export type Delivery = typeof Delivery.Type

/** A volatile delivery: at most once, no storage. */
export const Deliver = Rpc.make("Deliver", { payload: DeliveryFields, success: Outcome })

/**
 * A persisted delivery: stored before it is delivered, delivered again after
 * a runner failure until its reply is stored, and deduplicated by
 * `messageId` (a second request with the same id gets the first reply).
 */
export const DeliverPersisted = Rpc.make("DeliverPersisted", {
  payload: DeliveryFields,
  success: Outcome,
  primaryKey: (delivery) => delivery.messageId
}).annotate(ClusterSchema.Persisted, true).annotate(ClusterSchema.WithTransaction, true)

/**
 * A streaming send (`Agent.stream`): the handler's chunks, each in its
 * schema's JSON, as an effect/cluster stream (acknowledged, so a slow
 * consumer holds the producer back); it ends with the handler, or fails
 * with the `AgentError` the handler's end is (a declared error encoded, as
 * in `HandlerError.error`). Volatile: a stream does not survive its runner.
 */
export const DeliverStream = Rpc.make("DeliverStream", {
  payload: { ...DeliveryFields, buffer: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 256 })) },
  success: Schema.Unknown,
  error: AgentError,
  stream: true
})

/** A runtime operation on one instance, run in its mailbox order on the runner it lives on. */
export const Control = Rpc.make("Control", {
  payload: {
    op: Schema.Literals(["ensure", "metadata", "saveState", "loadState"]),
    state: Schema.optionalKey(Schema.Unknown)
  },
  success: Outcome
})

/** The entity type name of an agent type. */
export const entityType = (agentType: string): string => `agent.${agentType}`

const entities = new Map<string, AgentEntity>()

/** The entity of an agent type (one value per type: effect/cluster keys clients by entity). */
export const of = (agentType: string): AgentEntity => {
  let entity = entities.get(agentType)
  if (entity === undefined) {
    entity = Entity.make(entityType(agentType), [Deliver, DeliverPersisted, DeliverStream, Control])
    entities.set(agentType, entity)
  }
  return entity
}

/** An agent type's entity. */
export type AgentEntity = Entity.Entity<string, typeof Deliver | typeof DeliverPersisted | typeof DeliverStream | typeof Control>
