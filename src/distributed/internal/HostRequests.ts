/**
 * The host's requests in flight: everything it pushed to a worker and waits
 * for a `Reply` to. A send's `Deliver` (and a `Control`) has a caller
 * waiting; interrupting the caller sends `Cancel`. A publish's `Deliver`
 * has none: its reply only acknowledges it, or reports a failure that
 * becomes a dead letter for the publisher; it has a deadline
 * (`eventTimeout`) so a worker that never answers cannot hold the host's
 * memory or `awaitIdle`. Only the worker a request went to may answer it.
 */
import { Cause, Effect, Exit } from "effect"
import { type AgentError, TimeoutError, undeliverable, WorkerLeft } from "../../core/AgentError.ts"
import type * as Deadlines from "../../runtime/Deadlines.ts"
import type * as Idle from "../../runtime/Idle.ts"
import type { HostMessage, Outcome } from "../Protocol.ts"
import type { Connection } from "./Sessions.ts"
import * as WireCodec from "./WireCodec.ts"

/** One delivery of a publish: who to tell if it fails. */
export interface PublishedEvent {
  readonly publisher: Connection
  readonly recipient: string
  readonly messageType: string
  readonly sender: string | undefined
  readonly topic: string
}

interface Pending {
  readonly target: Connection
  /** Absent for event deliveries. */
  readonly resume: ((exit: Exit.Exit<unknown, AgentError>) => void) | undefined
  readonly event: PublishedEvent | undefined
  clearDeadline: (() => void) | undefined
}

export interface HostRequests {
  /** Pushes a request to a worker and waits for its `Reply`; interruption sends `Cancel`. */
  readonly request: (target: Connection, make: (requestId: string) => HostMessage) => Effect.Effect<unknown, AgentError>
  /** Pushes an event to a worker; it stays in flight (for idle) until acknowledged or past its deadline. */
  readonly pushEvent: (target: Connection, event: PublishedEvent, make: (requestId: string) => HostMessage) => void
  /** A worker's answer (ignored unless the request went to that worker). */
  readonly answer: (from: Connection, requestId: string, outcome: Outcome) => void
  /** Fails everything pending on a worker that left. */
  readonly failAll: (connection: Connection, reason: string) => void
}

export const make = (options: {
  readonly hostId: string
  readonly idle: Idle.Idle
  readonly deadlines: Deadlines.Deadlines
  readonly eventTimeoutMillis: number
  /** Whether the connection is still the live one of its worker. */
  readonly isLive: (connection: Connection) => boolean
  /** Tells a publisher that one delivery of its publish failed. */
  readonly deadLetter: (event: PublishedEvent, error: AgentError) => void
}): HostRequests => {
  const { deadlines, idle } = options
  const pending = new Map<string, Pending>()
  let next = 0
  const nextId = () => `${options.hostId}-${(next++).toString(36)}`

  const settle = (requestId: string, exit: Exit.Exit<unknown, AgentError>) => {
    const entry = pending.get(requestId)
    if (entry === undefined) return
    pending.delete(requestId)
    entry.target.pending.delete(requestId)
    entry.clearDeadline?.()
    if (entry.event !== undefined && Exit.isFailure(exit)) {
      const error = Cause.findErrorOption(exit.cause)
      if (error._tag === "Some") options.deadLetter(entry.event, error.value)
    }
    idle.exit()
    entry.resume?.(exit)
  }

  const push = (target: Connection, entry: Pending, make: (requestId: string) => HostMessage): string => {
    const requestId = nextId()
    pending.set(requestId, entry)
    target.pending.add(requestId)
    idle.enter()
    target.push(make(requestId))
    return requestId
  }

  return {
    request: (target, make) =>
      Effect.callback<unknown, AgentError>((resume) => {
        // the worker may have left since it was chosen
        if (!options.isLive(target)) {
          return resume(Effect.fail(undeliverable(`worker ${target.workerId}`, new WorkerLeft({ workerId: target.workerId, detail: "it left before the request" }))))
        }
        const requestId = push(target, { target, resume, event: undefined, clearDeadline: undefined }, make)
        return Effect.sync(() => {
          if (!pending.has(requestId)) return
          settle(requestId, Exit.void)
          target.push({ _tag: "Cancel", requestId })
        })
      }),
    pushEvent: (target, event, make) => {
      const entry: Pending = { target, resume: undefined, event, clearDeadline: undefined }
      const requestId = push(target, entry, make)
      const timeoutMillis = options.eventTimeoutMillis
      entry.clearDeadline = deadlines.add(timeoutMillis, () =>
        settle(requestId, Exit.fail(new TimeoutError({ recipient: event.recipient, messageType: event.messageType, timeoutMillis }))))
    },
    answer: (from, requestId, outcome) => {
      if (pending.get(requestId)?.target === from) settle(requestId, WireCodec.fromOutcome(outcome))
    },
    failAll: (connection, reason) => {
      const gone = Exit.fail(undeliverable(`worker ${connection.workerId}`, new WorkerLeft({ workerId: connection.workerId, detail: reason })))
      for (const requestId of [...connection.pending]) settle(requestId, gone)
    }
  }
}
