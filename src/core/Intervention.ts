/**
 * Interventions are middleware over what crosses the runtime: a send on its
 * way to the recipient, a publish on its way to subscribers, and a reply on
 * its way back to the caller. Each hook sees the message and may let it
 * through, replace it, or drop it by failing with `MessageDroppedError` (the
 * sender then gets that error; a dropped publish reaches nobody).
 *
 * They run in the runtime the message enters: in a distributed runtime, send
 * and publish hooks run on the sending worker, reply hooks on the caller's.
 *
 * ```ts
 * const countSends = Intervention.make({
 *   onSend: (message) => Ref.update(count, (n) => n + 1).pipe(Effect.as(message))
 * })
 * StandaloneRuntime.layer({ interventions: [countSends] })
 * ```
 */
import { Effect } from "effect"
import { MessageDroppedError } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"
import { tagOfValue } from "./Message.ts"
import type { TopicId } from "./TopicId.ts"

/** What a hook knows about the message besides its value. */
export interface SendInfo {
  readonly sender: AgentId | undefined
  readonly recipient: AgentId
}

/** What a publish hook knows about the message besides its value. */
export interface PublishInfo {
  readonly sender: AgentId | undefined
  readonly topic: TopicId
}

/** What a reply hook knows about the reply besides its value. */
export interface ReplyInfo {
  readonly sender: AgentId | undefined
  readonly recipient: AgentId
  /** The tag of the message this reply answers. */
  readonly requestType: string
}

/** A hook: the message to go on with, or `MessageDroppedError`. */
export type Hook<Info> = (message: unknown, info: Info) => Effect.Effect<unknown, MessageDroppedError>

/** One intervention; any hook may be left out. */
export interface Intervention {
  readonly onSend?: Hook<SendInfo> | undefined
  readonly onPublish?: Hook<PublishInfo> | undefined
  readonly onReply?: Hook<ReplyInfo> | undefined
}

/** Defines an intervention. */
export const make = (hooks: Intervention): Intervention => hooks

/** Drops the message at `stage`: return this from a hook. */
export const drop = (message: unknown, stage: "send" | "publish" | "reply", reason: string): Effect.Effect<never, MessageDroppedError> =>
  Effect.fail(new MessageDroppedError({ messageType: tagOfValue(message) ?? "unknown", stage, reason }))

/**
 * Runs a chain of hooks in order. A hook that dies (throws, defects) drops
 * the message: the failure reaches the sender instead of crashing the runtime.
 */
export const runHooks = <Info>(
  hooks: ReadonlyArray<Hook<Info>>,
  stage: "send" | "publish" | "reply",
  message: unknown,
  info: Info
): Effect.Effect<unknown, MessageDroppedError> => {
  if (hooks.length === 0) return Effect.succeed(message)
  let effect: Effect.Effect<unknown, MessageDroppedError> = Effect.succeed(message)
  for (const hook of hooks) {
    effect = Effect.flatMap(effect, (m) => hook(m, info))
  }
  return Effect.catchDefect(effect, (defect) =>
    Effect.logError("intervention failed; message dropped", defect).pipe(
      Effect.andThen(drop(message, stage, `intervention failed: ${String(defect)}`))
    ))
}
