/**
 * The typed errors every runtime returns. They are `Schema.TaggedError`s so
 * that they cross process boundaries unchanged: a caller on one worker sees
 * the same error, with the same tag and fields, as a caller in a standalone
 * runtime would.
 *
 * `AgentError` is the union of what a `send` can fail with. A handler's own
 * declared error reaches a typed client as itself; an untyped `send` sees it
 * inside `HandlerError.error`.
 */
import { Schema } from "effect"

/** No agent type, instance or worker can take the message (or the runtime is stopping). */
export class UndeliverableError extends Schema.TaggedError<UndeliverableError>()("UndeliverableError", {
  recipient: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot deliver to ${this.recipient}: ${this.reason}`
  }
}

/** The recipient's agent type has no handler for this message type. */
export class CantHandleError extends Schema.TaggedError<CantHandleError>()("CantHandleError", {
  recipient: Schema.String,
  messageType: Schema.String
}) {
  override get message(): string {
    return `${this.recipient} has no handler for ${this.messageType}`
  }
}

/**
 * The handler failed. `error` is the handler's declared error (decoded with
 * its schema) when it failed with one; otherwise `error` is absent and
 * `reason` describes the unexpected failure.
 */
export class HandlerError extends Schema.TaggedError<HandlerError>()("HandlerError", {
  recipient: Schema.String,
  messageType: Schema.String,
  reason: Schema.String,
  error: Schema.optionalKey(Schema.Unknown)
}) {
  override get message(): string {
    return `handler of ${this.messageType} on ${this.recipient} failed: ${this.reason}`
  }
}

/** An intervention dropped the message (on send, publish or reply). */
export class MessageDroppedError extends Schema.TaggedError<MessageDroppedError>()("MessageDroppedError", {
  messageType: Schema.String,
  stage: Schema.Literals(["send", "publish", "reply"]),
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.messageType} dropped on ${this.stage}: ${this.reason}`
  }
}

/** No reply came before the send's deadline; the handler was cancelled. */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", {
  recipient: Schema.String,
  messageType: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `no reply from ${this.recipient} to ${this.messageType} within ${this.timeoutMillis} ms`
  }
}

/**
 * The recipient is itself waiting, further up this call chain, for the
 * caller's reply: delivering would wait forever.
 */
export class DeadlockError extends Schema.TaggedError<DeadlockError>()("DeadlockError", {
  recipient: Schema.String,
  messageType: Schema.String
}) {
  override get message(): string {
    return `sending ${this.messageType} to ${this.recipient} would deadlock: it is waiting on this call chain`
  }
}

/** The runtime's access policy does not let this sender reach this recipient. */
export class NotAccessibleError extends Schema.TaggedError<NotAccessibleError>()("NotAccessibleError", {
  sender: Schema.optionalKey(Schema.String),
  recipient: Schema.String,
  messageType: Schema.String
}) {
  override get message(): string {
    return `${this.sender ?? "an outside caller"} may not send ${this.messageType} to ${this.recipient}`
  }
}

/** The message (or reply) does not satisfy its schema, or is of no known message type. */
export class InvalidMessageError extends Schema.TaggedError<InvalidMessageError>()("InvalidMessageError", {
  messageType: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `invalid ${this.messageType}: ${this.issue}`
  }
}

/** An agent type of this name is already registered in this runtime. */
export class DuplicateAgentTypeError extends Schema.TaggedError<DuplicateAgentTypeError>()("DuplicateAgentTypeError", {
  agentType: Schema.String
}) {
  override get message(): string {
    return `agent type ${this.agentType} is already registered`
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
  InvalidMessageError
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
