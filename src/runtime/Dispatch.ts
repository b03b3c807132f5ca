/**
 * Steps the kernel takes with every message on its way out, whatever
 * carries it: naming it, finding its sender and call chain, checking it
 * against its schema, running the interventions' hooks, applying the
 * deadline.
 */
import { Cause, Duration, Effect, Exit, Schema } from "effect"
import type { Spec } from "../core/Agent.ts"
import { type AgentError, InvalidMessageError, TimeoutError } from "../core/AgentError.ts"
import type { AgentId } from "../core/AgentId.ts"
import type { Intervention } from "../core/Intervention.ts"
import { tagOfValue } from "../core/Message.ts"
import { Current, type CurrentMessage } from "./Current.ts"
import type * as Deadlines from "./Deadlines.ts"

/** The hooks of a runtime's interventions, by stage, in order. */
export const hooks = (interventions: ReadonlyArray<Intervention> = []) => ({
  onSend: interventions.flatMap((i) => i.onSend ? [i.onSend] : []),
  onPublish: interventions.flatMap((i) => i.onPublish ? [i.onPublish] : []),
  onReply: interventions.flatMap((i) => i.onReply ? [i.onReply] : [])
})

/**
 * How every send and publish starts, in either runtime: the message's tag
 * (a value without one is no message) and the message the calling fiber is
 * handling, if any (its agent is the sender; its chain, the call chain).
 */
export const outgoing = <A>(
  message: unknown,
  f: (tag: string, current: CurrentMessage | undefined) => Effect.Effect<A, AgentError>
): Effect.Effect<A, AgentError> =>
  Effect.withFiber((fiber) => {
    const tag = tagOfValue(message)
    return tag === undefined
      ? Effect.fail(new InvalidMessageError({ messageType: "unknown", issue: "a message must be a value with a string _tag" }))
      : f(tag, fiber.getRef(Current))
  })

/** The agent whose handler the calling fiber runs, if any: who asks, for the access policy. */
export const caller = <A, E>(f: (caller: AgentId | undefined) => Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.withFiber((fiber) => f(fiber.getRef(Current)?.self))

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
const guards = new WeakMap<Spec, (u: unknown) => boolean>()

export const validate = (spec: Spec, message: unknown): Exit.Exit<unknown, InvalidMessageError> => {
  const schema = spec.message as unknown as Schema.Codec<unknown, unknown>
  // Schema.is builds a new guard (compiling it on first use) at each call: keep one per spec
  let is = guards.get(spec)
  if (is === undefined) guards.set(spec, is = Schema.is(schema))
  if (is(message)) return Exit.succeed(message)
  const decoded = Schema.decodeUnknownExit(schema)(message)
  return Exit.isSuccess(decoded)
    ? Exit.succeed(decoded.value)
    : Exit.fail(new InvalidMessageError({ messageType: spec.tag, issue: issueOf(decoded.cause) }))
}

/** Fails with `TimeoutError` (interrupting, hence cancelling, the send) after `timeout`. */
export const withDeadline = <A>(
  effect: Effect.Effect<A, AgentError>,
  recipient: AgentId | string,
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

/**
 * `withDeadline` with the deadline kept in `deadlines`: the effect runs in
 * one fiber of its own and no timer is armed per call (a send on the
 * distributed runtime paid for `timeoutOrElse`'s race and timer on every
 * round trip). At the deadline the effect is interrupted, hence cancelled,
 * and the caller fails with `TimeoutError` at once; interrupting the caller
 * interrupts the effect.
 */
export const withDeadlineIn = <A>(
  deadlines: Deadlines.Deadlines,
  effect: Effect.Effect<A, AgentError>,
  recipient: AgentId | string,
  messageType: string,
  timeoutMillis: number
): Effect.Effect<A, AgentError> =>
  !Number.isFinite(timeoutMillis) ? effect : Effect.withFiber((caller) =>
    Effect.callback<A, AgentError>((resume) => {
      const fiber = Effect.runForkWith(caller.context)(effect)
      const clear = deadlines.add(timeoutMillis, () => {
        // resumed first: the interrupted fiber's own exit, which its observer sees next, is not the caller's
        resume(Effect.fail(new TimeoutError({ recipient: recipient.toString(), messageType, timeoutMillis })))
        fiber.interruptUnsafe()
      })
      fiber.addObserver((exit) => {
        clear()
        resume(exit)
      })
      return Effect.sync(() => {
        clear()
        fiber.interruptUnsafe()
      })
    })
  )

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
