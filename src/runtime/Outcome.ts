/**
 * What a handler's exit means for its caller. A success is the reply. A
 * failure with the handler's declared error travels as that error inside
 * `HandlerError.error`; any other failure or defect becomes a `HandlerError`
 * whose `reason` describes it and whose `cause` carries it. An interrupted
 * handler (its runtime stopped) is undeliverable.
 */
import { Cause, Exit, Schema } from "effect"
import type { Spec } from "../core/Agent.ts"
import { type AgentError, HandlerError, RuntimeStopping, undeliverable } from "../core/AgentError.ts"
import type { Delivery } from "./Mailbox.ts"

export const ofHandler = (delivery: Delivery, spec: Spec | undefined, exit: Exit.Exit<unknown, unknown>): Exit.Exit<unknown, AgentError> => {
  if (Exit.isSuccess(exit)) return exit as Exit.Exit<unknown, never>
  const recipient = delivery.recipient.toString()
  const failure = Cause.findErrorOption(exit.cause)
  if (failure._tag === "Some") {
    const error = failure.value
    // only a declared error travels as itself; an undeclared one is described by `reason` and kept as `cause`
    const declared = spec !== undefined && isDeclared(spec)(error)
    return Exit.fail(
      declared
        ? new HandlerError({ recipient, messageType: delivery.tag, reason: reasonOf(error), error })
        : new HandlerError({ recipient, messageType: delivery.tag, reason: reasonOf(error), cause: error })
    )
  }
  // a caller that cancels never sees the outcome: an interrupted handler someone still waits for was stopped with its runtime
  if (Cause.hasInterruptsOnly(exit.cause)) return Exit.fail(undeliverable(recipient, new RuntimeStopping()))
  return Exit.fail(new HandlerError({ recipient, messageType: delivery.tag, reason: Cause.pretty(exit.cause), cause: Cause.squash(exit.cause) }))
}

const guards = new WeakMap<Spec, (u: unknown) => boolean>()

/** Whether a failure is the spec's declared error (one guard per spec, compiled once). */
const isDeclared = (spec: Spec): (u: unknown) => boolean => {
  let is = guards.get(spec)
  if (is === undefined) guards.set(spec, is = Schema.is(spec.error as Schema.Codec<unknown, unknown>))
  return is
}

/** A short description of a handler's failure: its message, else its tag. */
export const reasonOf = (error: unknown): string => {
  if (error instanceof Error && error.message !== "") return error.message
  const tag = (error as { _tag?: unknown } | null)?._tag
  return typeof tag === "string" ? tag : String(error)
}
