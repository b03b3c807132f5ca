/**
 * A worker's inbox: what the host pushes, taken off the gateway's event
 * stream and carried out here. A `Deliver` is decoded with the recipient
 * handler's schema and put in the instance's mailbox; its outcome goes back
 * as a `Reply` (answers that finish in the same tick share one call). A
 * `Cancel` cancels a delivery; a `Control` runs a state or metadata
 * operation; a `DeadLetter` (of a publish made here) is emitted on this
 * runtime's dead-letter stream. When a session with the host ends, the host
 * has already failed the callers of everything it pushed here, so their
 * handlers are cancelled too.
 */
import { Effect, Exit, FiberSet, Stream } from "effect"
import { type AgentError, CantHandleError, InvalidMessageError, NoSuchAgentType, undeliverable } from "../../core/AgentError.ts"
import type { AgentState } from "../../core/AgentRuntime.ts"
import * as DeadLetter from "../../core/DeadLetter.ts"
import { issueOf } from "../../runtime/Dispatch.ts"
import type * as Instances from "../../runtime/Instances.ts"
import type * as Kernel from "../../runtime/Kernel.ts"
import type { Control, Deliver, Outcome } from "../Protocol.ts"
import type * as Gateway from "./Gateway.ts"
import * as WireCodec from "./WireCodec.ts"

/** Takes the gateway's events for the life of the scope, which owns the fibers of replies and control operations. */
export const start = Effect.fnUntraced(function*(kernel: Kernel.Kernel, gateway: Gateway.Gateway) {
  const { instances } = kernel
  const run = yield* FiberSet.makeRuntime<never, unknown, never>()
  const cancels = new Map<string, Instances.Cancel>()

  let replies: Array<{ readonly requestId: string; readonly outcome: Outcome }> = []
  const flushReplies = () => {
    const batch = replies
    replies = []
    run(gateway.client.Reply({ replies: batch }).pipe(
      // the host fails requests of a connection that dropped, so a lost reply is already answered there
      Effect.catchCause((cause) => Effect.logDebug("could not reply to the host", cause).pipe(Effect.annotateLogs({ replies: batch.length })))
    ))
  }
  const reply = (requestId: string, outcome: Outcome) => {
    if (replies.push({ requestId, outcome }) === 1) queueMicrotask(flushReplies)
  }
  const refuse = (requestId: string, error: AgentError) => reply(requestId, { _tag: "Failure", error })

  const onDeliver = (d: Deliver) => {
    const type = instances.type(d.recipient.type)
    if (type === undefined) return refuse(d.requestId, undeliverable(d.recipient, new NoSuchAgentType({ agentType: d.recipient.type })))
    const spec = type.specs.get(d.message.type)
    if (spec === undefined) return refuse(d.requestId, new CantHandleError({ recipient: d.recipient.toString(), messageType: d.message.type }))
    const decoded = WireCodec.decode(spec.message, d.message.data)
    if (Exit.isFailure(decoded)) return refuse(d.requestId, new InvalidMessageError({ messageType: d.message.type, issue: issueOf(decoded.cause) }))
    let done = false
    const cancel = instances.deliver({
      messageId: d.messageId,
      recipient: d.recipient,
      tag: d.message.type,
      message: decoded.value,
      sender: d.sender,
      topic: d.topic,
      rpc: d.rpc,
      chain: d.chain,
      onDone: (exit) => {
        done = true
        cancels.delete(d.requestId)
        // an event's failure goes back too: the host tells the publisher
        reply(d.requestId, WireCodec.toOutcome(spec, exit))
      }
    })
    if (!done) cancels.set(d.requestId, cancel)
  }

  const onControl = (c: Control) => {
    const id = c.agentId!
    const op: Effect.Effect<unknown, AgentError> = c.op === "ensure"
      ? instances.ensure(id)
      : c.op === "metadata"
      ? instances.metadata(id)
      : c.op === "saveState"
      ? instances.saveState(id)
      : c.op === "loadState"
      ? instances.loadState(id, (c.state ?? {}) as AgentState)
      : instances.saveAll
    run(Effect.map(Effect.exit(op), (exit) => reply(c.requestId, WireCodec.controlOutcome(exit))))
  }

  const cancel = (requestId: string) => {
    const cancel = cancels.get(requestId)
    cancels.delete(requestId)
    cancel?.()
  }

  const sessionLost = () => {
    const lost = [...cancels.values()]
    cancels.clear()
    for (const cancel of lost) cancel()
  }

  const onEvent = (event: Gateway.Event): void => {
    switch (event._tag) {
      case "Deliver":
        return onDeliver(event)
      case "Cancel":
        return cancel(event.requestId)
      case "Control":
        return onControl(event)
      case "DeadLetter":
        return kernel.deadLetters.emit(DeadLetter.make(event.recipient, event.messageType, event.sender, event.topic, event.error))
      case "SessionLost":
        return sessionLost()
    }
  }

  yield* Effect.forkScoped(Stream.runForEachArray(gateway.events, (events) =>
    Effect.sync(() => {
      for (const event of events) onEvent(event)
    })))
})
