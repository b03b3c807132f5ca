/**
 * The host's requests in flight: everything it pushed to a worker and waits
 * for a `Reply` to. A send's `Deliver` (and a `Control`) has a caller
 * waiting; interrupting the caller sends `Cancel`. A publish's `Deliver`
 * has none: its reply only acknowledges it, or reports a failure that
 * becomes a dead letter for the publisher; it has a deadline
 * (`eventTimeout`) so a worker that never answers cannot hold the host's
 * memory or `awaitIdle`. Only the worker a request went to may answer it.
 * A `DeliverMany` is one request for several deliveries of a publish: each
 * recipient's answer settles its own delivery (a failure is its own dead
 * letter), and the request ends with the last.
 *
 * What a worker may have pending is bounded, in deliveries and in payload bytes:
 * past the bound a send to it fails at once (`Overloaded`) and a publish to
 * it is a dead letter, so a slow or stuck worker costs the host a bounded
 * amount of memory however hard others push.
 */
import { Cause, Effect, Exit } from "effect"
import { type AgentError, Overloaded, TimeoutError, undeliverable, WorkerLeft } from "../../core/AgentError.ts"
import type * as Deadlines from "../../runtime/Deadlines.ts"
import * as Random from "../../runtime/Random.ts"
import type * as Idle from "../../runtime/Idle.ts"
import type { Outcome } from "../Protocol.ts"
import type { HostMessageJson as HostMessage } from "./ProtocolSides.ts"
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
  readonly bytes: number
  /** How many deliveries it counts for, against the worker's bound (a `DeliverMany` counts each recipient). */
  readonly weight: number
  /** How large the answer may be (all of a worker's state, for `saveAll`, may be more than one message). */
  readonly replyBytes: number
  /** For a send or a control; for a publish's deliveries, what hears how they ended. Absent once a caller cancelled. */
  resume: ((exit: Exit.Exit<unknown, AgentError>) => void) | undefined
  /** The deliveries of a publish it carries, by recipient index: absent for a send or a control. */
  readonly events: ReadonlyArray<PublishedEvent> | undefined
  /** Whether it went as a `DeliverMany`, whose answers name their recipients (other requests ignore them). */
  readonly many: boolean
  /** Which of `events` have their answer, once some but not all have it. */
  answered: Array<boolean> | undefined
  /** How many of `events` still wait for their answer. */
  open: number
  /** The first failure among `events`. */
  failure: AgentError | undefined
  clearDeadline: (() => void) | undefined
}

export interface HostRequests {
  /** Pushes a request (of `bytes` payload) to a worker and waits for its `Reply`; interruption sends `Cancel`. */
  readonly request: (target: Connection, bytes: number, make: (requestId: string) => HostMessage, replyBytes?: number) => Effect.Effect<unknown, AgentError>
  /**
   * Pushes deliveries of a publish to a worker (one `Deliver`, or one
   * `DeliverMany` for several): they stay in flight (for idle) until
   * acknowledged or past their deadline, then `onSettled` hears how they
   * ended (the first failure, if any). A worker that cannot take them makes
   * each a dead letter at once.
   */
  readonly pushEvents: (
    target: Connection,
    bytes: number,
    events: ReadonlyArray<PublishedEvent>,
    make: (requestId: string) => HostMessage,
    onSettled?: (exit: Exit.Exit<unknown, AgentError>) => void,
    /** Whether `make` makes a `DeliverMany`, whose answers name their recipients. */
    many?: boolean
  ) => void
  /**
   * A worker's answer (ignored unless the request went to that worker),
   * checked against the request's reply limit; `recipients` (for a
   * `DeliverMany`) are the deliveries it answers, all open ones without it.
   */
  readonly answer: (from: Connection, requestId: string, outcome: Outcome, recipients?: ReadonlyArray<number>) => void
  /** How many more deliveries a worker may have pending now. */
  readonly room: (target: Connection) => number
  /** Fails everything pending on a worker that left. */
  readonly failAll: (connection: Connection, reason: string) => void
}

/**
 * How long a cancelled request counts as in flight at most, waiting for its
 * worker to answer that the handler ended (a worker that never answers a
 * `Cancel` holds `awaitIdle` no longer than this).
 */
export const cancelGraceMillis = 10_000

export interface Options {
  readonly hostId: string
  readonly now: () => number
  readonly maxPending: number
  readonly maxPendingBytes: number
  /** The default limit of an answer. */
  readonly maxReplyBytes: number
  /** Bounds an answer: one too large or too deep becomes an error for its caller. */
  readonly checkReply: (outcome: Outcome, maxBytes: number) => Outcome
  readonly idle: Idle.Idle
  readonly deadlines: Deadlines.Deadlines
  readonly eventTimeoutMillis: number
  /** Whether the connection is still the live one of its worker. */
  readonly isLive: (connection: Connection) => boolean
  /** Tells a publisher that one delivery of its publish failed. */
  readonly deadLetter: (event: PublishedEvent, error: AgentError) => void
}

/** The table of requests in flight, and what its functions share. */
interface Table {
  readonly options: Options
  readonly pending: Map<string, Pending>
  readonly nextId: () => string
}

const finish = (t: Table, requestId: string, entry: Pending, exit: Exit.Exit<unknown, AgentError>) => {
  t.pending.delete(requestId)
  entry.target.pending.delete(requestId)
  entry.target.pendingDeliveries -= entry.weight
  entry.target.pendingBytes -= entry.bytes
  entry.clearDeadline?.()
  t.options.idle.exit()
  entry.resume?.(exit)
}

/**
 * Ends deliveries of an event request (those at `which`, or all open
 * ones): a failure is a dead letter for each. How many it ended.
 */
const answerEvents = (
  t: Table,
  requestId: string,
  entry: Pending,
  events: ReadonlyArray<PublishedEvent>,
  exit: Exit.Exit<unknown, AgentError>,
  which?: ReadonlyArray<number>
): number => {
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
  const before = entry.open
  const end = (index: number) => {
    entry.open--
    if (error?._tag === "Some") {
      entry.failure ??= error.value
      t.options.deadLetter(events[index]!, error.value)
    }
  }
  if (which === undefined) {
    for (let i = 0; i < events.length; i++) if (entry.answered?.[i] !== true) end(i)
  } else {
    const answered = entry.answered ??= new Array<boolean>(events.length).fill(false)
    for (const index of which) {
      if (index >= events.length || answered[index]) continue
      answered[index] = true
      end(index)
    }
  }
  const ended = before - entry.open
  if (entry.open === 0) finish(t, requestId, entry, entry.failure === undefined ? Exit.void : Exit.fail(entry.failure))
  return ended
}

/** Settles a request (or, of a `DeliverMany`, the deliveries at `which`); how many deliveries that ended. */
const settle = (t: Table, requestId: string, exit: Exit.Exit<unknown, AgentError>, which?: ReadonlyArray<number>): number => {
  const entry = t.pending.get(requestId)
  if (entry === undefined) return 0
  if (entry.events === undefined) {
    finish(t, requestId, entry, exit)
    return 1
  }
  return answerEvents(t, requestId, entry, entry.events, exit, entry.many ? which : undefined)
}

/** Why a worker cannot take `weight` more deliveries of `bytes` now, if it cannot. */
const full = (options: Options, target: Connection, weight: number, bytes: number): AgentError | undefined => {
  // the host sends no request heavier than the bound (a DeliverMany is split to the room left)
  if (target.pendingDeliveries + weight > options.maxPending) {
    return undeliverable(`worker ${target.workerId}`, new Overloaded({ what: `worker ${target.workerId}'s pending requests`, limit: options.maxPending }))
  }
  if (target.pendingBytes + bytes > options.maxPendingBytes) {
    return undeliverable(`worker ${target.workerId}`, new Overloaded({ what: `worker ${target.workerId}'s pending bytes`, limit: options.maxPendingBytes }))
  }
  return undefined
}

/** Records and pushes a request; the error if the worker cannot take it. */
const push = (t: Table, target: Connection, entry: Pending, make: (requestId: string) => HostMessage): string | AgentError => {
  const refused = full(t.options, target, entry.weight, entry.bytes)
  if (refused !== undefined) return refused
  const requestId = t.nextId()
  if (!target.push(make(requestId))) {
    return undeliverable(`worker ${target.workerId}`, new Overloaded({ what: `worker ${target.workerId}'s queue`, limit: t.options.maxPending }))
  }
  t.pending.set(requestId, entry)
  target.pending.add(requestId)
  target.pendingDeliveries += entry.weight
  target.pendingBytes += entry.bytes
  t.options.idle.enter()
  return requestId
}

const left = (target: Connection) =>
  undeliverable(`worker ${target.workerId}`, new WorkerLeft({ workerId: target.workerId, detail: "it left before the request" }))

/** A request with a caller waiting; interrupting the caller sends `Cancel`. */
const request = (t: Table, target: Connection, bytes: number, make: (requestId: string) => HostMessage, replyBytes: number) =>
  Effect.callback<unknown, AgentError>((resume) => {
    // the worker may have left since it was chosen
    if (!t.options.isLive(target)) return resume(Effect.fail(left(target)))
    const entry: Pending = { target, bytes, weight: 1, replyBytes, resume, events: undefined, many: false, answered: undefined, open: 1, failure: undefined, clearDeadline: undefined }
    const requestId = push(t, target, entry, make)
    if (typeof requestId !== "string") return resume(Effect.fail(requestId))
    return Effect.sync(() => {
      if (t.pending.get(requestId) !== entry) return
      // the caller is free at once; the request stays in flight (awaitIdle waits, the worker's budget holds it)
      // until the worker answers that its handler ended, for at most the grace
      entry.resume = undefined
      if (!target.push({ _tag: "Cancel", requestId })) return void settle(t, requestId, Exit.void)
      entry.clearDeadline = t.options.deadlines.add(cancelGraceMillis, () => void settle(t, requestId, Exit.void))
    })
  })

/** Deliveries of a publish, acknowledged (or past their deadline, each its own TimeoutError) one by one. */
const pushEvents = (
  t: Table,
  target: Connection,
  bytes: number,
  events: ReadonlyArray<PublishedEvent>,
  make: (requestId: string) => HostMessage,
  onSettled: ((exit: Exit.Exit<unknown, AgentError>) => void) | undefined,
  many: boolean
) => {
  const entry: Pending = {
    target,
    bytes,
    weight: events.length,
    replyBytes: t.options.maxReplyBytes,
    resume: onSettled,
    events,
    many,
    answered: undefined,
    open: events.length,
    failure: undefined,
    clearDeadline: undefined
  }
  const requestId = t.options.isLive(target) ? push(t, target, entry, make) : left(target)
  if (typeof requestId !== "string") {
    for (const event of events) t.options.deadLetter(event, requestId)
    return onSettled?.(Exit.fail(requestId))
  }
  const timeoutMillis = t.options.eventTimeoutMillis
  entry.clearDeadline = t.options.deadlines.add(timeoutMillis, () => {
    entry.clearDeadline = undefined
    events.forEach((event, index) => {
      if (t.pending.get(requestId) !== entry || entry.answered?.[index] === true) return
      const timedOut = new TimeoutError({ recipient: event.recipient, messageType: event.messageType, timeoutMillis })
      answerEvents(t, requestId, entry, events, Exit.fail(timedOut), [index])
    })
  })
}

export const make = (options: Options): HostRequests => {
  let next = 0
  const t: Table = {
    options,
    pending: new Map(),
    // unguessable, so that a worker can answer only what it read (a blind Reply cannot free its pending budget)
    nextId: () => `${options.hostId}-${(next++).toString(36)}-${Random.token(8)}`
  }
  return {
    request: (target, bytes, make, replyBytes = options.maxReplyBytes) => request(t, target, bytes, make, replyBytes),
    pushEvents: (target, bytes, events, make, onSettled, many = false) => pushEvents(t, target, bytes, events, make, onSettled, many),
    answer: (from, requestId, outcome, recipients) => {
      const entry = t.pending.get(requestId)
      if (entry?.target !== from) return
      // an id only a worker that read the request can know: it is alive; it makes progress if the answer ends something
      from.lastHeard = options.now()
      if (settle(t, requestId, WireCodec.fromOutcome(options.checkReply(outcome, entry.replyBytes)), recipients) > 0) from.lastProgress = from.lastHeard
    },
    room: (target) => Math.max(0, options.maxPending - target.pendingDeliveries),
    failAll: (connection, reason) => {
      const gone = Exit.fail(undeliverable(`worker ${connection.workerId}`, new WorkerLeft({ workerId: connection.workerId, detail: reason })))
      for (const requestId of [...connection.pending]) settle(t, requestId, gone)
    }
  }
}
