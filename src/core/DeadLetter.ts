/**
 * A dead letter: a message that failed where nobody was waiting for it (an
 * event handler failed, nobody handles it, the policy denied it, its
 * worker's queue was full). Runtimes log every dead letter and emit it on
 * `AgentRuntime.deadLetters`; in the distributed runtime the host sends it
 * to the publisher's worker, so the publisher's runtime is the one that
 * emits it. Plain Schema data: ids are strings, payloads are never included.
 */
import { Schema } from "effect"
import { AgentError } from "./AgentError.ts"

/** The fields of a dead letter (shared with the wire protocol's `DeadLetter` push). */
export const fields = {
  recipient: Schema.String,
  messageType: Schema.String,
  sender: Schema.optionalKey(Schema.String),
  topic: Schema.optionalKey(Schema.String),
  error: AgentError
}

/** A message that failed where nobody was waiting for it. */
export const DeadLetter = Schema.Struct(fields)
export type DeadLetter = typeof DeadLetter.Type

/** Builds a dead letter from ids (any value with a string form). */
export const make = (
  recipient: { toString(): string },
  messageType: string,
  sender: { toString(): string } | undefined,
  topic: { toString(): string } | undefined,
  error: AgentError
): DeadLetter => ({
  recipient: recipient.toString(),
  messageType,
  ...(sender !== undefined ? { sender: sender.toString() } : {}),
  ...(topic !== undefined ? { topic: topic.toString() } : {}),
  error
})
