/**
 * What a host's admin endpoint `/status` answers (and `/events` streams):
 * the workers joined, the agent types and where their agents are placed,
 * the subscriptions in force and who declared them, the messages routed
 * over the last minute by type, and the latest dead letters (ids and
 * reasons, never payloads). Plain Schema data, so a client (the
 * `effect-agents status` command, a script, the dashboard) decodes it.
 *
 * Every list is bounded (`maxListed` entries); `totals` counts everything,
 * so a client can tell when a list was cut.
 */
import { Schema } from "effect"

/** The most entries a list of the status holds. */
export const maxListed = 1000

/** A joined worker. */
export const Worker = Schema.Struct({
  workerId: Schema.String,
  /** When it joined (clock millis). */
  since: Schema.Number,
  agentTypes: Schema.Array(Schema.String),
  /** Messages the host queued for it and it has not read yet. */
  queueDepth: Schema.Number,
  /** Requests pushed to it and not answered yet, and their payload bytes. */
  inFlight: Schema.Number,
  pendingBytes: Schema.Number,
  subscriptions: Schema.Number,
  /** When the host last heard from it: an answer to a ping or to a request (clock millis). */
  lastHeartbeat: Schema.Number
})
export type Worker = typeof Worker.Type

/** An agent type: the workers that run it, and how many of its agents are placed. */
export const AgentTypeStatus = Schema.Struct({
  name: Schema.String,
  workers: Schema.Array(Schema.String),
  placements: Schema.Number
})
export type AgentTypeStatus = typeof AgentTypeStatus.Type

/** A subscription in force, and the workers that declared it. */
export const SubscriptionStatus = Schema.Struct({
  id: Schema.String,
  /** The topic type, or `prefix*` for a prefix subscription. */
  topic: Schema.String,
  agentType: Schema.String,
  owners: Schema.Array(Schema.String)
})
export type SubscriptionStatus = typeof SubscriptionStatus.Type

const Counts = Schema.Struct({ sent: Schema.Number, published: Schema.Number, failed: Schema.Number })

/** One message type's traffic over the window, and since the host started. */
export const TypeRate = Schema.Struct({
  messageType: Schema.String,
  sent: Schema.Number,
  published: Schema.Number,
  failed: Schema.Number,
  /** Failures over the window by error tag. */
  errors: Schema.Record(Schema.String, Schema.Number),
  totals: Counts
})
export type TypeRate = typeof TypeRate.Type

/** A dead letter the host saw: ids and the reason, never the payload. */
export const DeadLetterStatus = Schema.Struct({
  at: Schema.Number,
  recipient: Schema.String,
  messageType: Schema.String,
  sender: Schema.optionalKey(Schema.String),
  topic: Schema.optionalKey(Schema.String),
  error: Schema.String,
  reason: Schema.String
})
export type DeadLetterStatus = typeof DeadLetterStatus.Type

/** The host's status. */
export const Status = Schema.Struct({
  hostId: Schema.String,
  /** Where workers join. */
  url: Schema.String,
  startedAt: Schema.Number,
  /** When this status was taken (clock millis): `since`, `lastHeartbeat` and `at` are on the same clock. */
  now: Schema.Number,
  /** Still in the window after a start in which workers come back and re-declare. */
  recovering: Schema.Boolean,
  totals: Schema.Struct({
    workers: Schema.Number,
    agentTypes: Schema.Number,
    placements: Schema.Number,
    subscriptions: Schema.Number,
    pendingRequests: Schema.Number,
    pendingBytes: Schema.Number,
    deadLetters: Schema.Number
  }),
  workers: Schema.Array(Worker),
  agentTypes: Schema.Array(AgentTypeStatus),
  subscriptions: Schema.Array(SubscriptionStatus),
  rates: Schema.Struct({
    windowSeconds: Schema.Number,
    /** Every type together, per second, oldest first (`windowSeconds` entries). */
    perSecond: Schema.Struct({ sent: Schema.Array(Schema.Number), published: Schema.Array(Schema.Number), failed: Schema.Array(Schema.Number) }),
    types: Schema.Array(TypeRate)
  }),
  /** Newest first. */
  deadLetters: Schema.Array(DeadLetterStatus)
})
export type Status = typeof Status.Type

/** What `/health/live` and `/health/ready` answer. */
export const Health = Schema.Struct({
  status: Schema.Literals(["live", "ready", "starting", "stopping"]),
  /** Where workers join, once the host listens. */
  url: Schema.optionalKey(Schema.String),
  workers: Schema.optionalKey(Schema.Number),
  recovering: Schema.optionalKey(Schema.Boolean)
})
export type Health = typeof Health.Type
