/**
 * The host servicer's state and the rules it enforces on every call (the
 * handlers, by concern, are in `HostHandlers`): the connection must have
 * joined; the worker's credential must allow what it does; the sender must
 * be an agent placed on the calling worker; the access policy must allow the
 * operation; payloads and per-worker tables must stay within their limits.
 * A refused request leaves nothing behind. The tables live in their own
 * modules (`Sessions`, `HostRequests`, `HostSubscriptions`, `Placement`).
 */
import { Clock, Deferred, Duration, Effect, Queue, Schedule } from "effect"
import * as AccessPolicy from "../../core/AccessPolicy.ts"
import { type AgentError, type InvalidMessageError, LimitExceededError, NotAccessibleError, NoWorker, undeliverable } from "../../core/AgentError.ts"
import type { AgentId } from "../../core/AgentId.ts"
import * as RuntimeConfig from "../../core/RuntimeConfig.ts"
import * as Deadlines from "../../runtime/Deadlines.ts"
import * as JsonLimits from "../../runtime/JsonLimits.ts"
import * as Idle from "../../runtime/Idle.ts"
import * as Telemetry from "../../runtime/Telemetry.ts"
import * as Credentials from "../Credentials.ts"
import * as HostRequests from "./HostRequests.ts"
import * as HostStatusActivity from "./HostStatusActivity.ts"
import * as HostSubscriptions from "./HostSubscriptions.ts"
import * as Placement from "./Placement.ts"
import * as ProtocolSides from "./ProtocolSides.ts"
import * as Sessions from "./Sessions.ts"
import * as WireCodec from "./WireCodec.ts"

/** What the host enforces; anything left out comes from `RuntimeConfig`. */
export interface Options {
  /** The shared token every worker must present (the simple mode). */
  readonly token?: string | undefined
  /** Per-worker credentials (see `Credentials`); with the token, if both are set. */
  readonly credentials?: ReadonlyArray<Credentials.Credential> | undefined
  readonly policy?: AccessPolicy.AccessPolicy | undefined
  readonly maxMessageBytes?: number | undefined
  readonly eventTimeout?: Duration.Input | undefined
  /** Every other setting, over `RuntimeConfig`. */
  readonly config?: Partial<RuntimeConfig.RuntimeConfig> | undefined
}

/** A connected worker, as the host reports it. */
export interface WorkerInfo {
  readonly workerId: string
  readonly agentTypes: ReadonlyArray<string>
  /** Requests pushed to it and not answered, and their payload bytes. */
  readonly pending: number
  readonly pendingBytes: number
  readonly subscriptions: number
}

/** What the host's tables hold: every one is bounded, and a refused request adds to none. */
export interface Stats {
  readonly workers: number
  readonly placements: number
  readonly subscriptions: number
  readonly pendingRequests: number
  readonly pendingBytes: number
}


/** The host's state, for the life of the current scope. */
export const state = Effect.fnUntraced(function*(options: Options) {
  const config: RuntimeConfig.RuntimeConfig = { ...(yield* RuntimeConfig.RuntimeConfig), ...options.config }
  const clock = yield* Clock.Clock
  const now = () => clock.currentTimeMillisUnsafe()
  const hostId = Math.random().toString(36).slice(2, 10)
  const idle = Idle.make()
  const placement = Placement.make<Sessions.Connection>(config.maxPlacements)
  const subscriptions = HostSubscriptions.make()
  const activity = HostStatusActivity.make(now)
  const deadLetter = (event: HostRequests.PublishedEvent, error: AgentError) => {
    activity.deadLetter({ ...event, error })
    if (!sessions.isLive(event.publisher)) return
    // dead letters may use only part of a worker's queue: the rest is kept for requests and their cancels
    if (Queue.sizeUnsafe(event.publisher.queue) >= config.maxPendingPerWorker) return
    event.publisher.push({ _tag: "DeadLetter", recipient: event.recipient, messageType: event.messageType, ...(event.sender !== undefined ? { sender: event.sender } : {}), topic: event.topic, error: ProtocolSides.encodeError(error) })
  }
  const requests: HostRequests.HostRequests = HostRequests.make({
    hostId,
    now,
    maxPending: config.maxPendingPerWorker,
    maxPendingBytes: config.maxPendingBytesPerWorker,
    maxReplyBytes: options.maxMessageBytes ?? config.maxMessageBytes,
    checkReply: (outcome, maxBytes) => WireCodec.boundOutcome(outcome, { maxBytes, maxDepth: config.maxDepth }),
    idle,
    deadlines: yield* Deadlines.make,
    eventTimeoutMillis: Duration.toMillis(RuntimeConfig.duration(options.eventTimeout, config.eventTimeout)),
    isLive: (connection) => sessions.isLive(connection),
    deadLetter
  })
  const sessions: Sessions.Sessions = Sessions.make((connection, reason) =>
    Effect.sync(() => {
      placement.removeWorker(connection.workerId)
      subscriptions.dropWorker(connection)
      requests.failAll(connection, reason)
    }))
  // after a start, workers come back and re-declare: sends to types not back yet wait, publishes wait for subscriptions
  const recovered = yield* Deferred.make<void>()
  yield* Effect.forkScoped(Effect.andThen(Effect.sleep(config.recoveryWindow), Deferred.succeed(recovered, undefined)))
  const credentials = [...(options.credentials ?? []), ...(options.token !== undefined ? [Credentials.fromToken(options.token)] : [])]
  const telemetry = yield* Telemetry.make
  if (telemetry !== undefined) {
    // sampled once a second, so the message paths do no gauge work
    yield* Effect.forkScoped(Effect.repeat(
      Effect.sync(() => {
        const workers = sessions.all()
        telemetry.gauge("connected_workers", workers.length)
        for (const worker of workers) telemetry.gauge("worker_pending", worker.pendingDeliveries, { worker: worker.workerId })
      }),
      Schedule.spaced("1 second")
    ))
  }
  return {
    hostId,
    config,
    now,
    idle,
    placement,
    subscriptions,
    requests,
    sessions,
    deadLetter,
    credentials,
    recovered,
    typeArrivals: new Map<string, Deferred.Deferred<void>>(),
    policy: options.policy ?? AccessPolicy.allowAll,
    /** What the host routed lately, for its status (admin endpoints). */
    activity,
    startedAt: now(),
    /** When each session joined, for its status. */
    joinedAt: new WeakMap<Sessions.Connection, number>(),
    /** Route spans, when the host's context turns telemetry on. */
    telemetry,
    limits: { maxBytes: options.maxMessageBytes ?? config.maxMessageBytes, maxDepth: config.maxDepth }
  }
})

export type State = Effect.Success<ReturnType<typeof state>>

/** The calling connection's session. */
export const joined = (host: State, clientId: number) => host.sessions.joined(clientId)

/**
 * Runs `effect` as `weight` of the requests of `from` that wait for the
 * recovery window (bounded per worker; a `PublishMany` weighs its publishes).
 */
export const waiting = <A, E>(host: State, from: Sessions.Connection, effect: Effect.Effect<A, E>, weight = 1): Effect.Effect<A, E | AgentError> => {
  if (from.waiting + weight > host.config.maxPendingPerWorker) {
    return Effect.fail(new LimitExceededError({ limit: "requests waiting for the host's recovery", max: host.config.maxPendingPerWorker }))
  }
  return Effect.acquireUseRelease(Effect.sync(() => from.waiting += weight), () => effect, () => Effect.sync(() => from.waiting -= weight))
}

/** The worker that runs `id`, placing it now if needed; right after a start, waits for the type to be declared. */
export const owner = (host: State, from: Sessions.Connection, id: AgentId): Effect.Effect<Sessions.Connection, AgentError> =>
  Effect.suspend(() => {
    const target = host.placement.place(id.type, id.key)
    if (target !== undefined) return Effect.succeed(target)
    const none = Effect.fail(undeliverable(id, new NoWorker({ agentType: id.type })))
    if (Deferred.isDoneUnsafe(host.recovered)) return none
    let arrival = host.typeArrivals.get(id.type)
    if (arrival === undefined) host.typeArrivals.set(id.type, arrival = Deferred.makeUnsafe<void>())
    const wait = Effect.raceFirst(Deferred.await(arrival), Deferred.await(host.recovered))
    return Effect.flatMap(waiting(host, from, wait), () => {
      const placed = host.placement.place(id.type, id.key)
      return placed === undefined ? none : Effect.succeed(placed)
    })
  })

/**
 * The sender must be an agent placed on the calling worker. An agent the host
 * has not placed yet (as after a restart) is accepted when placement would
 * put it on that worker: placement is a function of the workers. A refused
 * sender leaves no placement behind.
 */
export const checkSender = (host: State, from: Sessions.Connection, sender: AgentId | undefined, recipient: string, messageType: string) => {
  if (sender === undefined || host.placement.choose(sender.type, sender.key) === from) return Effect.void
  return Effect.fail(new NotAccessibleError({ sender: sender.toString(), recipient, messageType, reason: "the sender does not run on this worker" }))
}

/** Asks the policy; fails with `NotAccessibleError` if it says no. */
export const allow = (host: State, from: Sessions.Connection, operation: AccessPolicy.Operation, sender: AgentId | undefined, recipient: AgentId, messageType?: string) => {
  const denied = AccessPolicy.judge(host.policy, operation, sender, recipient, messageType, from.workerId)
  return denied === undefined ? Effect.void : Effect.fail(denied)
}

/** The payload's size in bytes, or `InvalidMessageError` past the host's limits. */
export const checkPayload = (host: State, messageType: string, data: unknown): Effect.Effect<number, InvalidMessageError> => {
  const measured = JsonLimits.measure(messageType, data, host.limits, "the host's")
  return typeof measured === "number" ? Effect.succeed(measured) : Effect.fail(measured)
}
