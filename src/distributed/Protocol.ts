/**
 * The wire protocol between workers and the host servicer: one `effect/rpc`
 * `RpcGroup`, JSON on the wire (WebSocket by default, newline-delimited JSON
 * over TCP as an option), so workers in other languages can speak it.
 * `docs/protocol.md` describes it for people who write such a worker.
 *
 * A worker opens one long-lived `Connect` stream: the host pushes
 * deliveries, cancellations, control requests and heartbeats down it.
 * Everything else is a call from the worker: `Send`, `Publish`, `Reply`,
 * `Pong`, registration and subscription changes. `effect/rpc` servers cannot
 * call clients, which is why server-to-worker traffic is the stream and
 * answers come back as calls. Streaming replies (`Agent.stream`) add a
 * streaming call (`SendStream`), credit-based flow control (`StreamCredit`,
 * `Credit`) and the producer's chunks (`StreamData`); `docs/streaming.md`
 * describes them.
 *
 * Message payloads are opaque to the host: `{ type, data }`, where `type` is
 * the message's tag and `data` its Schema JSON encoding. Every identifier is
 * bounded (255 characters), and so is every list a frame carries.
 */
import { Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"
import { AgentError } from "../core/AgentError.ts"
import { AgentId, AgentType, maxIdentifierLength } from "../core/AgentId.ts"
import * as DeadLetterData from "../core/DeadLetter.ts"
import { Subscription } from "../core/Subscription.ts"
import { TopicId } from "../core/TopicId.ts"

/**
 * JSON the host passes on without looking inside. It arrived as JSON and
 * leaves as JSON, so it is not walked again to check that it is (the host
 * checks its size and nesting depth separately).
 */
const Opaque = Schema.Unknown

/** A bounded identifier: 1 to 255 printable ASCII characters. */
export const Identifier = Schema.String.check(
  Schema.isPattern(/^[\x20-\x7E]+$/, { description: "printable ASCII" }),
  Schema.isMaxLength(maxIdentifierLength)
)

/** A worker's id: printable ASCII, at most 255 characters. */
export const WorkerId = Identifier

/**
 * The largest frame either transport carries: effect/rpc's ndjson parser
 * closes a TCP connection on a longer line, and the host's WebSocket server
 * refuses a larger message before anything parses it. Every payload limit
 * (messages, replies, a worker's `SaveAll` answer) fits below it.
 */
export const maxFrameBytes = 16 * 1024 * 1024

/** How many message ids a call chain may carry: a chain of nested sends deeper than this is refused. */
export const maxChainLength = 256

/** A call chain: the ids of the messages whose handlers wait, transitively, on this one. */
export const Chain = Schema.Array(Identifier).check(Schema.isMaxLength(maxChainLength))

/** A message as it crosses processes: its tag and its JSON encoding. */
export const WireMessage = Schema.Struct({
  type: Identifier,
  data: Opaque
})
export type WireMessage = typeof WireMessage.Type

/** How a delivery or control request ended, sent back by the worker that ran it. */
export const Outcome = Schema.Union([
  Schema.TaggedStruct("Success", { value: Opaque }),
  Schema.TaggedStruct("Failure", { error: AgentError })
])
export type Outcome = typeof Outcome.Type

// ---------------------------------------------------------------------------
// host -> worker, on the Connect stream
// ---------------------------------------------------------------------------

/**
 * First item of every Connect stream: the host accepted the worker.
 * `resume` is this session's secret: a later `Connect` with the same worker
 * id must present it to take the id over while this session is alive.
 * `heartbeatMillis` is how often the host pings; a worker that does not
 * answer a ping (`Pong`) within `heartbeatTimeoutMillis` is dropped.
 * `features` lists the optional calls this host takes (`"PublishMany"`).
 */
export const Welcome = Schema.TaggedStruct("Welcome", {
  workerId: WorkerId,
  hostId: Schema.String,
  resume: Schema.String,
  heartbeatMillis: Schema.Number,
  heartbeatTimeoutMillis: Schema.Number,
  features: Schema.optionalKey(Schema.Array(Schema.String.check(Schema.isMaxLength(maxIdentifierLength))).check(Schema.isMaxLength(16)))
})
export type Welcome = typeof Welcome.Type

/** The host is alive: answer with `Pong { seq }`. A worker that hears nothing from the host for the timeout reconnects. */
export const Ping = Schema.TaggedStruct("Ping", {
  seq: Schema.Number
})
export type Ping = typeof Ping.Type

/**
 * A W3C trace context (`traceparent` header value). Malformed values are
 * refused by the schema; a well-formed one that names no span (all zeros)
 * is ignored by the receiver rather than refused.
 */
export const Traceparent = Schema.String.check(Schema.isPattern(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, { description: "a W3C traceparent" }))

/**
 * A message for an agent the worker runs. `rpc: true` (a send) wants a
 * `Reply` with the handler's outcome; `rpc: false` (a publish) wants a
 * `Reply` once handled, as an acknowledgement.
 */
export const Deliver = Schema.TaggedStruct("Deliver", {
  requestId: Identifier,
  messageId: Identifier,
  recipient: AgentId,
  sender: Schema.optionalKey(AgentId),
  topic: Schema.optionalKey(TopicId),
  message: WireMessage,
  rpc: Schema.Boolean,
  /** Message ids whose handlers wait on this one: the worker refuses it with DeadlockError if the recipient is one of them. */
  chain: Chain,
  /** The W3C trace context of the send or publish, when it was traced: the handler's span is its child. */
  traceparent: Schema.optionalKey(Traceparent)
})
export type Deliver = typeof Deliver.Type

/** How many recipients one `DeliverMany` may name. */
export const maxRecipientsPerDelivery = 1024

/**
 * One published message for several agents the worker runs, pushed only to
 * a worker whose `Connect` listed `"DeliverMany"` in `accepts`. Recipient
 * `i` is the agent `types[i]/<topic source>` (a publish reaches an agent
 * keyed by its topic's source, whichever subscription matched). It stands
 * for one `Deliver` (`rpc: false`, no chain) per recipient, in the order of
 * `types`, each under the message id `<messageId>:<recipient type>`: the
 * message crosses once for all of them. The worker answers with `Reply`
 * entries whose `recipients` say which recipients (by index) an outcome is
 * for; an entry without `recipients` answers all that were not answered yet.
 * The request ends when every recipient has an answer.
 */
export const DeliverMany = Schema.TaggedStruct("DeliverMany", {
  requestId: Identifier,
  messageId: Identifier,
  types: Schema.Array(AgentType).check(Schema.isMinLength(1), Schema.isMaxLength(maxRecipientsPerDelivery)),
  sender: Schema.optionalKey(AgentId),
  topic: TopicId,
  message: WireMessage,
  traceparent: Schema.optionalKey(Traceparent)
})
export type DeliverMany = typeof DeliverMany.Type

/**
 * The caller of `requestId` went away: drop the message or interrupt its
 * handler. Once the handler has ended (its finalizers run), or at once if it
 * had not started, the worker answers `requestId` (any outcome: it is
 * ignored); the host counts the request in flight until then, for at most
 * `cancelGraceMillis`.
 */
export const Cancel = Schema.TaggedStruct("Cancel", {
  requestId: Identifier
})
export type Cancel = typeof Cancel.Type

/** A runtime operation on an agent the worker runs (or on all of them); answered with `Reply`. */
export const Control = Schema.TaggedStruct("Control", {
  requestId: Identifier,
  op: Schema.Literals(["ensure", "metadata", "saveState", "loadState", "saveAll"]),
  agentId: Schema.optionalKey(AgentId),
  state: Schema.optionalKey(Opaque)
})
export type Control = typeof Control.Type

/**
 * A message published by this worker failed where nobody waited for it (its
 * handler failed, nobody handles it, the policy denied it): the host tells
 * the publisher, whose runtime emits it on `deadLetters`.
 */
export const DeadLetter = Schema.TaggedStruct("DeadLetter", DeadLetterData.fields)
export type DeadLetter = typeof DeadLetter.Type

/**
 * The most chunks a streaming send may have on their way at once (its
 * credit), and so the most one `StreamData` frame may carry.
 */
export const maxStreamCredit = 256

/** A count of chunks: a whole number from 1 to `maxStreamCredit`. */
export const Credit = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: maxStreamCredit }))

/**
 * A streaming send for an agent the worker runs: run its streaming handler
 * and send its chunks with `StreamData`, at most `credit` of them until the
 * host grants more (`Credit`), then its end (the handler's outcome) as the
 * `end` of a last `StreamData`. `Cancel { requestId }` interrupts the handler.
 */
export const DeliverStream = Schema.TaggedStruct("DeliverStream", {
  requestId: Identifier,
  messageId: Identifier,
  recipient: AgentId,
  sender: Schema.optionalKey(AgentId),
  message: WireMessage,
  chain: Chain,
  credit: Credit
})
export type DeliverStream = typeof DeliverStream.Type

/** The consumer of stream `requestId` took `credit` more chunks: the worker may send that many more. */
export const StreamCredit = Schema.TaggedStruct("Credit", {
  requestId: Identifier,
  credit: Credit
})
export type StreamCredit = typeof StreamCredit.Type

/** What the host pushes to a worker. */
export const HostMessage = Schema.Union([Welcome, Ping, Deliver, Cancel, Control, DeadLetter, DeliverStream, StreamCredit, DeliverMany])
export type HostMessage = typeof HostMessage.Type

// ---------------------------------------------------------------------------
// worker -> host, calls
// ---------------------------------------------------------------------------

/**
 * Joins the host as `workerId`; the stream carries what the host pushes.
 * Every other call needs a joined connection. `token` is the shared token or
 * a per-worker credential; `resume` the secret of this worker id's previous
 * session (from its `Welcome`), needed to take the id over while that
 * session is alive. `accepts` lists the optional messages this worker
 * reads (`"DeliverMany"`); the host sends only those, and ignores names it
 * does not know.
 */
export const Connect = Rpc.make("Connect", {
  payload: {
    workerId: WorkerId,
    token: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(4096))),
    resume: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(maxIdentifierLength))),
    accepts: Schema.optionalKey(Schema.Array(Identifier).check(Schema.isMaxLength(16)))
  },
  success: HostMessage,
  error: AgentError,
  stream: true
})

/** Answers the host's `Ping`. */
export const Pong = Rpc.make("Pong", {
  payload: { seq: Schema.Number }
})

/** Sends a message to an agent and waits for its reply (the JSON encoding of the handler's success). */
export const Send = Rpc.make("Send", {
  payload: {
    recipient: AgentId,
    /** The agent sending, which must run on the calling worker; absent for calls from outside any agent. */
    sender: Schema.optionalKey(AgentId),
    messageId: Identifier,
    chain: Chain,
    message: WireMessage,
    /** The W3C trace context of the send, when it is traced (`00-<trace id>-<span id>-<flags>`). */
    traceparent: Schema.optionalKey(Traceparent)
  },
  success: Opaque,
  error: AgentError
})

/**
 * Publishes a message on a topic. It succeeds once the host has handed it to
 * every recipient's worker; with `ack: true`, once every recipient has
 * handled it, and it fails if any recipient could not be reached.
 */
export const Publish = Rpc.make("Publish", {
  payload: {
    topic: TopicId,
    sender: Schema.optionalKey(AgentId),
    messageId: Identifier,
    message: WireMessage,
    ack: Schema.optionalKey(Schema.Boolean),
    /** The W3C trace context of the publish, when it is traced. */
    traceparent: Schema.optionalKey(Traceparent)
  },
  error: AgentError
})

/** How many publishes one `PublishMany` may carry. */
export const maxPublishesPerCall = 256

/** One publish of a `PublishMany`: a `Publish` without `ack`. */
export const PublishItem = Schema.Struct({
  topic: TopicId,
  sender: Schema.optionalKey(AgentId),
  messageId: Identifier,
  message: WireMessage,
  traceparent: Schema.optionalKey(Traceparent)
})

/**
 * Several plain publishes in one call (what a worker publishes in one
 * tick), to a host whose `Welcome` lists `"PublishMany"` in `features`.
 * Each is handled as its own `Publish`, in order; the answer has one entry
 * per publish, in order: `null` once it was handed to every recipient's
 * worker, or the error it failed with. The call itself fails only as
 * every call does (`NotJoined`).
 */
export const PublishMany = Rpc.make("PublishMany", {
  payload: { publishes: Schema.Array(PublishItem).check(Schema.isMinLength(1), Schema.isMaxLength(maxPublishesPerCall)) },
  success: Schema.Array(Schema.NullOr(AgentError)),
  error: AgentError
})

/** How many answers one `Reply` may carry. */
export const maxRepliesPerCall = 4096

/**
 * The outcomes of `Deliver`s, `DeliverMany`s and `Control`s pushed to this
 * worker. A worker may answer several in one call (what finished in the same
 * tick): one frame each way instead of one per answer. For a `DeliverMany`,
 * `recipients` are the indices of the recipients the outcome is for
 * (without it, all that had no answer yet); other requests ignore it.
 */
export const Reply = Rpc.make("Reply", {
  payload: {
    replies: Schema.Array(Schema.Struct({
      requestId: Identifier,
      outcome: Outcome,
      recipients: Schema.optionalKey(
        Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: maxRecipientsPerDelivery - 1 }))).check(Schema.isMaxLength(maxRecipientsPerDelivery))
      )
    })).check(Schema.isMaxLength(maxRepliesPerCall))
  }
})

/**
 * Sends a message to a streaming handler (`Agent.stream`); the call's stream
 * carries the chunks (each the JSON encoding of one chunk), its `Exit` the
 * end: `Success` when the handler's stream ended, `Failure` with its error.
 * `credit` is how many chunks may be on their way at once; the caller grants
 * more with `StreamCredit` as it takes them. `messageId` names the stream in
 * `StreamCredit` (unique among the caller's open streams). Interrupting the
 * call cancels the handler.
 */
export const SendStream = Rpc.make("SendStream", {
  payload: {
    recipient: AgentId,
    sender: Schema.optionalKey(AgentId),
    messageId: Identifier,
    chain: Chain,
    message: WireMessage,
    credit: Credit
  },
  success: Opaque,
  error: AgentError,
  stream: true
})

/** The caller of `SendStream` `messageId` took `credit` more chunks: the handler may produce that many more. */
export const StreamCreditCall = Rpc.make("StreamCredit", {
  payload: { messageId: Identifier, credit: Credit }
})

/**
 * Chunks of the stream the host pushed as `DeliverStream { requestId }`,
 * within the credit the host granted, in order; `end` (once, last) is the
 * handler's outcome: `Success` (value `null`) when its stream ended,
 * `Failure` with its error.
 */
export const StreamData = Rpc.make("StreamData", {
  payload: {
    requestId: Identifier,
    chunks: Schema.Array(Opaque).check(Schema.isMaxLength(maxStreamCredit)),
    end: Schema.optionalKey(Outcome)
  }
})

/** Declares that this worker runs an agent type (several workers may run the same one). */
export const RegisterAgentType = Rpc.make("RegisterAgentType", {
  payload: { name: AgentType, description: Schema.String.check(Schema.isMaxLength(4096)) },
  error: AgentError
})

/** This worker stops running an agent type. */
export const UnregisterAgentType = Rpc.make("UnregisterAgentType", {
  payload: { name: AgentType },
  error: AgentError
})

/** Adds a subscription (idempotent: its id derives from its content). */
export const AddSubscription = Rpc.make("AddSubscription", {
  payload: { subscription: Subscription, sender: Schema.optionalKey(AgentId) },
  error: AgentError
})

/** Removes a subscription this worker added; `false` if it had none with this id. */
export const RemoveSubscription = Rpc.make("RemoveSubscription", {
  payload: { id: Schema.String.check(Schema.isMaxLength(2 * maxIdentifierLength + 16)), sender: Schema.optionalKey(AgentId) },
  success: Schema.Boolean,
  error: AgentError
})

/** The subscriptions in force on the host that the caller may see. */
export const ListSubscriptions = Rpc.make("ListSubscriptions", {
  payload: { sender: Schema.optionalKey(AgentId) },
  success: Schema.Array(Subscription),
  error: AgentError
})

/** A runtime operation on one agent, routed to the worker that runs it; allowed by the policy for `sender`. */
export const AgentControl = Rpc.make("AgentControl", {
  payload: {
    op: Schema.Literals(["ensure", "metadata", "saveState", "loadState"]),
    agentId: AgentId,
    state: Schema.optionalKey(Opaque),
    sender: Schema.optionalKey(AgentId)
  },
  success: Opaque,
  error: AgentError
})

/** Saves the state of every live agent on every worker that the caller may read, by `type/key`. */
export const SaveAll = Rpc.make("SaveAll", {
  payload: { sender: Schema.optionalKey(AgentId) },
  success: Schema.Record(Schema.String, Opaque),
  error: AgentError
})

/** Waits until the host has no message in flight anywhere. */
export const AwaitIdle = Rpc.make("AwaitIdle", {
  error: AgentError
})

/** The whole protocol. */
export const Protocol = RpcGroup.make(
  Connect,
  Pong,
  Send,
  Publish,
  PublishMany,
  Reply,
  SendStream,
  StreamCreditCall,
  StreamData,
  RegisterAgentType,
  UnregisterAgentType,
  AddSubscription,
  RemoveSubscription,
  ListSubscriptions,
  AgentControl,
  SaveAll,
  AwaitIdle
)
