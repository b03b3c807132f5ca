/**
 * Steps every runtime takes with a message on its way in or out, whatever
 * carries it: naming it, checking it against its schema, applying the
 * deadline, telling dead letters. The standalone runtime and the worker both
 * build their `send` and `publish` from these.
 */
import { Cause, type Context, Duration, Effect, Exit, PubSub, Schema } from "effect"
import type { Spec } from "../Agent.ts"
import { type AgentError, InvalidMessageError, TimeoutError } from "../AgentError.ts"
import type { AgentId } from "../AgentId.ts"
import type { DeadLetter } from "../AgentRuntime.ts"
import type { TopicId } from "../TopicId.ts"

/** Message ids unique across processes: a random runtime prefix and a counter. */
export const messageIds = (): (() => string) => {
  const prefix = Math.random().toString(36).slice(2, 10)
  let next = 0
  return () => `${prefix}-${(next++).toString(36)}`
}

/**
 * The message as its handler's schema types it: a value of the schema passes
 * as it is (the common, cheap case); anything else (a plain object from
 * untyped code) is decoded, and fails with `InvalidMessageError` if it cannot be.
 */
export const validate = (spec: Spec, message: unknown): Exit.Exit<unknown, InvalidMessageError> => {
  const schema = spec.message as unknown as Schema.Codec<unknown, unknown>
  if (Schema.is(schema)(message)) return Exit.succeed(message)
  const decoded = Schema.decodeUnknownExit(schema)(message)
  return Exit.isSuccess(decoded)
    ? Exit.succeed(decoded.value)
    : Exit.fail(new InvalidMessageError({ messageType: spec.tag, issue: issueOf(decoded.cause) }))
}

/** Fails with `TimeoutError` (interrupting, hence cancelling, the send) after `timeout`. */
export const withDeadline = <A>(
  effect: Effect.Effect<A, AgentError>,
  recipient: AgentId,
  messageType: string,
  timeout: Duration.Input
): Effect.Effect<A, AgentError> => {
  const millis = Duration.toMillis(Duration.fromInputUnsafe(timeout))
  if (!Number.isFinite(millis)) return effect
  return Effect.timeoutOrElse(effect, {
    duration: timeout,
    orElse: () => Effect.fail(new TimeoutError({ recipient: recipient.toString(), messageType, timeoutMillis: millis }))
  })
}

/** Dead letters: logged with context (never the payload) and published to observers. */
export const deadLetters = (pubsub: PubSub.PubSub<DeadLetter>, context: Context.Context<never>) =>
(recipient: AgentId, messageType: string, sender: AgentId | undefined, topic: TopicId | undefined, error: AgentError): void => {
  const letter: DeadLetter = {
    recipient: recipient.toString(),
    messageType,
    sender: sender?.toString(),
    topic: topic?.toString(),
    error
  }
  PubSub.publishUnsafe(pubsub, letter)
  const log = error._tag === "CantHandleError" ? Effect.logDebug : error._tag === "HandlerError" ? Effect.logError : Effect.logWarning
  // logged in the runtime's own context, so the application's logger sees it
  Effect.runForkWith(context)(
    log("dead letter", error.message).pipe(
      Effect.annotateLogs({ recipient: letter.recipient, messageType, sender: letter.sender ?? "-", topic: letter.topic ?? "-" })
    )
  )
}

/** The schema issue of a failed decode, as text for an error. */
export const issueOf = (cause: Cause.Cause<Schema.SchemaError>): string => {
  const error = Cause.findErrorOption(cause)
  return error._tag === "Some" ? error.value.message : Cause.pretty(cause)
}

/** The typed error of a failed exit's cause, if it failed with one. */
export const firstError = <E>(cause: Cause.Cause<E>): E | undefined => {
  const error = Cause.findErrorOption(cause)
  return error._tag === "Some" ? error.value : undefined
}
