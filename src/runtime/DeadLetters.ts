/**
 * Where a runtime's dead letters go: logged with their context (never their
 * payload) through the runtime's own logger, and published to the observers
 * of `AgentRuntime.deadLetters`. The hub is bounded and slides: a slow
 * observer loses the oldest letters, it never holds the runtime back or
 * grows its memory.
 */
import { Effect, PubSub, type Scope, Stream } from "effect"
import type { DeadLetter } from "../core/DeadLetter.ts"

export interface DeadLetters {
  /** Logs the letter and hands it to every observer. */
  readonly emit: (letter: DeadLetter) => void
  /** Only logs it (a worker whose publisher lives elsewhere: the host tells the publisher). */
  readonly log: (letter: DeadLetter) => void
  /** The letters from now on, for the life of the scope. */
  readonly subscribe: Effect.Effect<Stream.Stream<DeadLetter>, never, Scope.Scope>
}

/** How many letters an observer may fall behind before it loses the oldest. */
const capacity = 4096

export const make: Effect.Effect<DeadLetters, never, Scope.Scope> = Effect.gen(function*() {
  const context = yield* Effect.context<never>()
  const hub = yield* PubSub.sliding<DeadLetter>(capacity)
  yield* Effect.addFinalizer(() => PubSub.shutdown(hub))
  // loggers and a sliding publish run synchronously: no fiber per letter
  const runLog = Effect.runSyncWith(context)
  const log = (letter: DeadLetter): void => {
    const error = letter.error
    // a message no handler takes is a routing mistake worth seeing (Info), not noise
    const at = error._tag === "CantHandleError" ? Effect.logInfo : error._tag === "HandlerError" ? Effect.logError : Effect.logWarning
    runLog(at("dead letter", error.message).pipe(
      Effect.annotateLogs({ recipient: letter.recipient, messageType: letter.messageType, sender: letter.sender ?? "-", topic: letter.topic ?? "-" })
    ))
  }
  return {
    emit: (letter) => {
      // the effectful publish is the one that slides (publishUnsafe drops the new letter when a subscriber is full)
      runLog(PubSub.publish(hub, letter))
      log(letter)
    },
    log,
    subscribe: Effect.map(PubSub.subscribe(hub), Stream.fromSubscription)
  }
})
