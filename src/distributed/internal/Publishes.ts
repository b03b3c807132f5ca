/**
 * A worker's plain publishes (no `ack`) made in the same tick go to the host
 * as one `PublishMany` (at most `maxPublishesPerCall`), when the host takes
 * it: one request and one answer each way instead of one per publish. The
 * host handles them in the order they were made, each as if it came alone,
 * and each caller gets its own publish's answer.
 */
import { Cause, Effect, Exit, FiberSet } from "effect"
import { type AgentError, UndeliverableError } from "../../core/AgentError.ts"
import { maxPublishesPerCall, type PublishItem } from "../Protocol.ts"
import type * as Gateway from "./Gateway.ts"

/** A failure of the whole call as each publish's own: one that names the host names the publish's topic, as a `Publish` would. */
const forTopic = (error: AgentError, item: typeof PublishItem.Encoded): AgentError =>
  error._tag === "UndeliverableError" && error.recipient === "host"
    ? new UndeliverableError({ ...error, recipient: `${item.topic.type}/${item.topic.source}` })
    : error

interface Waiting {
  readonly item: typeof PublishItem.Encoded
  readonly resume: (effect: Effect.Effect<void, AgentError>) => void
}

/** Publishes through `PublishMany`, for the life of the scope (which owns the calls in flight). */
export const make = Effect.fnUntraced(function*(gateway: Pick<Gateway.Gateway, "client" | "call">) {
  const run = yield* FiberSet.makeRuntime<never, unknown, never>()
  let batch: Array<Waiting> = []
  const answer = (sent: ReadonlyArray<Waiting>) => (exit: Exit.Exit<ReadonlyArray<AgentError | null>, AgentError>) => {
    sent.forEach((waiting, index) => {
      if (Exit.isFailure(exit)) return waiting.resume(Effect.failCause(Cause.map(exit.cause, (error) => forTopic(error, waiting.item))))
      const error = exit.value[index]
      // a host answers every publish it was sent: a missing answer is its defect, not a success
      if (error === undefined) return waiting.resume(Effect.die(new Error(`the host answered ${exit.value.length} of ${sent.length} publishes`)))
      waiting.resume(error === null ? Effect.void : Effect.fail(error))
    })
  }
  const flush = () => {
    if (batch.length === 0) return
    const sent = batch
    batch = []
    // every caller hears how the call ended (its failure, or the runtime closing, included): nothing else waits on it
    run(Effect.ignore(Effect.onExit(
      gateway.call("host", gateway.client.PublishMany({ publishes: sent.map((waiting) => waiting.item) })),
      (exit) => Effect.sync(() => answer(sent)(exit))
    )))
  }
  return {
    publish: (item: typeof PublishItem.Encoded): Effect.Effect<void, AgentError> =>
      Effect.callback<void, AgentError>((resume) => {
        const size = batch.push({ item, resume })
        if (size === 1) queueMicrotask(flush)
        else if (size === maxPublishesPerCall) flush()
      }),
    /** Sends what waits now: a publish that goes alone goes after the ones made before it. */
    flush
  }
})

export type Publishes = Effect.Success<ReturnType<typeof make>>
