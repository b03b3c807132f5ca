/**
 * The typed errors every runtime returns. They are Schema errors, so they
 * cross process boundaries unchanged: a caller on one worker sees the same
 * error, with the same tag and fields, as a caller in a standalone runtime.
 *
 * `AgentError` is the union of what a `send` can fail with. A handler's own
 * declared error reaches a typed client as itself; an untyped `send` sees it
 * inside `HandlerError.error`.
 *
 * Failures that share a tag but differ in what happened carry a tagged
 * `reason` (as `effect/rpc`'s `RpcClientError` does): `UndeliverableError`
 * says whether the agent type is unknown, the host unreachable, the worker
 * gone or the runtime stopping, so a caller can match on it:
 *
 * ```ts
 * send.pipe(Effect.catchTag("UndeliverableError", (e) =>
 *   e.reason._tag === "HostUnreachable" ? retryLater : Effect.fail(e)))
 * ```
 *
 * Causes are kept as `Schema.Defect()` values, not flattened to strings.
 */
import { Predicate, Schema } from "effect"

const TypeId = "~effect-agents/AgentError"

const guard = <A>(tag: string) => (u: unknown): u is A => Predicate.hasProperty(u, TypeId) && Predicate.isTagged(u, tag)

// ---------------------------------------------------------------------------
// why a message could not be delivered
// ---------------------------------------------------------------------------

/** No agent type of this name is registered (on this runtime, or with the host). */
export class NoSuchAgentType extends Schema.TaggedClass<NoSuchAgentType>()("NoSuchAgentType", {
  agentType: Schema.String
}) {
  get message(): string {
    return `no agent type ${this.agentType} is registered`
  }
}

/** The agent type has explicit keys, and this is not one of them. */
export class NoSuchAgentKey extends Schema.TaggedClass<NoSuchAgentKey>()("NoSuchAgentKey", {
  agentType: Schema.String,
  key: Schema.String
}) {
  get message(): string {
    return `${this.agentType} has no instance ${this.key}`
  }
}

/** No connected worker runs this agent type. */
export class NoWorker extends Schema.TaggedClass<NoWorker>()("NoWorker", {
  agentType: Schema.String
}) {
  get message(): string {
    return `no worker runs agent type ${this.agentType}`
  }
}

/** The worker that ran the recipient left (disconnected, replaced, or stopped) before answering. */
export class WorkerLeft extends Schema.TaggedClass<WorkerLeft>()("WorkerLeft", {
  workerId: Schema.String,
  detail: Schema.String
}) {
  get message(): string {
    return `worker ${this.workerId} left (${this.detail})`
  }
}

/**
 * What kept a worker from its host, when the worker could tell:
 * - `ConnectionRefused`: nothing listens at the URL's address and port;
 * - `TlsFailure`: the TLS handshake failed (a certificate that does not
 *   verify, a name it does not list, or a host that does not serve TLS);
 * - `HostGone`: the host was reached and then went away (it closed or reset
 *   the connection, or stopped answering);
 * - `NameNotFound`: the URL's host name does not resolve;
 * - `TimedOut`: no answer within the time allowed.
 * A host that refuses the worker's credentials answers with
 * `NotAccessibleError` instead.
 */
export const ConnectProblem = Schema.Literals(["ConnectionRefused", "TlsFailure", "HostGone", "NameNotFound", "TimedOut"])
export type ConnectProblem = typeof ConnectProblem.Type

const connectProblemWords: Record<ConnectProblem, string> = {
  ConnectionRefused: "connection refused (nothing listens there: is the host running, on that port?)",
  TlsFailure: "TLS failure",
  HostGone: "the host went away",
  NameNotFound: "host name not found",
  TimedOut: "timed out"
}

/** This worker cannot reach its host: not connected yet, or the connection was lost; `problem` names why, when known. */
export class HostUnreachable extends Schema.TaggedClass<HostUnreachable>()("HostUnreachable", {
  url: Schema.String,
  detail: Schema.String,
  problem: Schema.optionalKey(ConnectProblem),
  cause: Schema.optionalKey(Schema.Defect())
}) {
  /** What happened, without the URL: `connection refused (...): SocketOpenError: ...`. */
  get summary(): string {
    return this.problem === undefined ? this.detail : `${connectProblemWords[this.problem]}; ${this.detail}`
  }
  get message(): string {
    return `the host at ${this.url} is unreachable: ${this.summary}`
  }
}

/** The runtime (or the host) is shutting down and takes no new work. */
export class RuntimeStopping extends Schema.TaggedClass<RuntimeStopping>()("RuntimeStopping", {}) {
  get message(): string {
    return "the runtime is stopping"
  }
}

/** The work was interrupted before it answered (its caller left, or the instance stopped). */
export class Interrupted extends Schema.TaggedClass<Interrupted>()("Interrupted", {}) {
  get message(): string {
    return "the operation was interrupted"
  }
}

/**
 * The recipient's queue is full: a mailbox at its capacity, or a worker
 * with as much pending at the host as it may have. The runtime pushes back
 * rather than buffer without bound.
 */
export class Overloaded extends Schema.TaggedClass<Overloaded>()("Overloaded", {
  what: Schema.String,
  limit: Schema.Number
}) {
  get message(): string {
    return `${this.what} is full (limit ${this.limit})`
  }
}

/** A protocol call came on a connection that has not joined (or joined twice). */
export class NotJoined extends Schema.TaggedClass<NotJoined>()("NotJoined", {
  detail: Schema.String
}) {
  get message(): string {
    return this.detail
  }
}

/** Why a message was undeliverable. */
export const UndeliverableReason = Schema.Union([
  NoSuchAgentType,
  NoSuchAgentKey,
  NoWorker,
  WorkerLeft,
  HostUnreachable,
  RuntimeStopping,
  Interrupted,
  Overloaded,
  NotJoined
])
export type UndeliverableReason =
  | NoSuchAgentType
  | NoSuchAgentKey
  | NoWorker
  | WorkerLeft
  | HostUnreachable
  | RuntimeStopping
  | Interrupted
  | Overloaded
  | NotJoined

// ---------------------------------------------------------------------------
// what a send can fail with
// ---------------------------------------------------------------------------

/** Nobody can take the message: see `reason` for why. */
export class UndeliverableError extends Schema.TaggedError<UndeliverableError>(`${TypeId}/UndeliverableError`)(
  "UndeliverableError",
  { recipient: Schema.String, reason: UndeliverableReason }
) {
  readonly [TypeId] = TypeId
  static is = guard<UndeliverableError>("UndeliverableError")
  override get message(): string {
    return `cannot deliver to ${this.recipient}: ${this.reason.message}`
  }
}

/** The recipient's agent type has no handler for this message type. */
export class CantHandleError extends Schema.TaggedError<CantHandleError>(`${TypeId}/CantHandleError`)("CantHandleError", {
  recipient: Schema.String,
  messageType: Schema.String,
  /** Why no handler runs, when the recipient has handlers of the type (of the other kind, or none whose match accepts). */
  reason: Schema.optional(Schema.String.check(Schema.isMaxLength(1024)))
}) {
  readonly [TypeId] = TypeId
  static is = guard<CantHandleError>("CantHandleError")
  override get message(): string {
    return `${this.recipient} has no handler for ${this.messageType}${this.reason === undefined ? "" : `: ${this.reason}`}`
  }
}

/**
 * The handler failed. `error` is the handler's declared error (decoded with
 * its schema) when it failed with one; otherwise `error` is absent, `reason`
 * describes the unexpected failure and `cause` carries it.
 */
export class HandlerError extends Schema.TaggedError<HandlerError>(`${TypeId}/HandlerError`)("HandlerError", {
  recipient: Schema.String,
  messageType: Schema.String,
  reason: Schema.String,
  error: Schema.optionalKey(Schema.Unknown),
  cause: Schema.optionalKey(Schema.Defect())
}) {
  readonly [TypeId] = TypeId
  static is = guard<HandlerError>("HandlerError")
  override get message(): string {
    return `handler of ${this.messageType} on ${this.recipient} failed: ${this.reason}`
  }
}

/** An intervention dropped the message (on send, publish or reply). */
export class MessageDroppedError extends Schema.TaggedError<MessageDroppedError>(`${TypeId}/MessageDroppedError`)("MessageDroppedError", {
  messageType: Schema.String,
  stage: Schema.Literals(["send", "publish", "reply"]),
  reason: Schema.String
}) {
  readonly [TypeId] = TypeId
  static is = guard<MessageDroppedError>("MessageDroppedError")
  override get message(): string {
    return `${this.messageType} dropped on ${this.stage}: ${this.reason}`
  }
}

/** No reply came before the send's deadline; the handler was cancelled. */
export class TimeoutError extends Schema.TaggedError<TimeoutError>(`${TypeId}/TimeoutError`)("TimeoutError", {
  recipient: Schema.String,
  messageType: Schema.String,
  timeoutMillis: Schema.Number
}) {
  readonly [TypeId] = TypeId
  static is = guard<TimeoutError>("TimeoutError")
  override get message(): string {
    return `no reply from ${this.recipient} to ${this.messageType} within ${this.timeoutMillis} ms`
  }
}

/**
 * The recipient is itself waiting, further up this call chain, for the
 * caller's reply: delivering would wait forever.
 */
export class DeadlockError extends Schema.TaggedError<DeadlockError>(`${TypeId}/DeadlockError`)("DeadlockError", {
  recipient: Schema.String,
  messageType: Schema.String
}) {
  readonly [TypeId] = TypeId
  static is = guard<DeadlockError>("DeadlockError")
  override get message(): string {
    return `sending ${this.messageType} to ${this.recipient} would deadlock: it is waiting on this call chain`
  }
}

/**
 * The runtime's access policy does not let this sender reach this recipient,
 * or the host refused a worker (bad credentials, a worker id in use);
 * `reason` says which when it is not the policy.
 */
export class NotAccessibleError extends Schema.TaggedError<NotAccessibleError>(`${TypeId}/NotAccessibleError`)("NotAccessibleError", {
  sender: Schema.optionalKey(Schema.String),
  recipient: Schema.String,
  messageType: Schema.String,
  reason: Schema.optionalKey(Schema.String)
}) {
  readonly [TypeId] = TypeId
  static is = guard<NotAccessibleError>("NotAccessibleError")
  override get message(): string {
    const what = `${this.sender ?? "an outside caller"} may not send ${this.messageType} to ${this.recipient}`
    return this.reason === undefined ? what : `${what}: ${this.reason}`
  }
}

/** A request would take more than a configured limit allows (agent types or subscriptions per worker, ...). */
export class LimitExceededError extends Schema.TaggedError<LimitExceededError>(`${TypeId}/LimitExceededError`)("LimitExceededError", {
  limit: Schema.String,
  max: Schema.Number
}) {
  readonly [TypeId] = TypeId
  static is = guard<LimitExceededError>("LimitExceededError")
  override get message(): string {
    return `the limit ${this.limit} (${this.max}) is reached`
  }
}

/** The message (or reply) does not satisfy its schema, or is of no known message type. */
export class InvalidMessageError extends Schema.TaggedError<InvalidMessageError>(`${TypeId}/InvalidMessageError`)("InvalidMessageError", {
  messageType: Schema.String,
  issue: Schema.String
}) {
  readonly [TypeId] = TypeId
  static is = guard<InvalidMessageError>("InvalidMessageError")
  override get message(): string {
    return `invalid ${this.messageType}: ${this.issue}`
  }
}

/** What a `send` can fail with, besides a handler's declared error. */
export const AgentError = Schema.Union([
  UndeliverableError,
  CantHandleError,
  HandlerError,
  MessageDroppedError,
  TimeoutError,
  DeadlockError,
  NotAccessibleError,
  InvalidMessageError,
  LimitExceededError
])
export type AgentError =
  | UndeliverableError
  | CantHandleError
  | HandlerError
  | MessageDroppedError
  | TimeoutError
  | DeadlockError
  | NotAccessibleError
  | InvalidMessageError
  | LimitExceededError

/** Whether a value is one of the `AgentError`s. */
export const isAgentError = (u: unknown): u is AgentError => Predicate.hasProperty(u, TypeId)

/** A shorthand: `UndeliverableError` for `recipient`, with `reason`. */
export const undeliverable = (recipient: { toString(): string }, reason: UndeliverableReason): UndeliverableError =>
  new UndeliverableError({ recipient: recipient.toString(), reason })

// ---------------------------------------------------------------------------
// what registering an agent type can fail with
// ---------------------------------------------------------------------------

/** An agent type of this name is already registered in this runtime. */
export class DuplicateAgentTypeError extends Schema.TaggedError<DuplicateAgentTypeError>(`${TypeId}/DuplicateAgentTypeError`)(
  "DuplicateAgentTypeError",
  { agentType: Schema.String }
) {
  readonly [TypeId] = TypeId
  static is = guard<DuplicateAgentTypeError>("DuplicateAgentTypeError")
  override get message(): string {
    return `agent type ${this.agentType} is already registered`
  }
}

/**
 * An agent type is defined wrongly: a bad type name, a message declared
 * twice, a message schema without a literal `_tag`, a bad `concurrency`.
 * Its layer fails with this when it is built, before any message is sent.
 */
export class AgentDefinitionError extends Schema.TaggedError<AgentDefinitionError>(`${TypeId}/AgentDefinitionError`)(
  "AgentDefinitionError",
  { agentType: Schema.String, issue: Schema.String }
) {
  readonly [TypeId] = TypeId
  static is = guard<AgentDefinitionError>("AgentDefinitionError")
  override get message(): string {
    return `agent type ${this.agentType} is defined wrongly: ${this.issue}`
  }
}

/**
 * What an agent layer can fail with when it is built: a definition mistake,
 * a name already registered, or (distributed) a host that refuses the type
 * (the worker's credential lacks it, or the worker has as many types as it may).
 */
export type RegistrationError = DuplicateAgentTypeError | AgentDefinitionError | NotAccessibleError | LimitExceededError
