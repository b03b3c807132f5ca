/**
 * The host's sessions: one per joined connection, found by the connection
 * (effect/rpc's per-connection client id, a handle, not an identity) or by
 * the worker id announced in `Connect`.
 *
 * A worker id belongs to its live session. Another connection may take it
 * over only by presenting that session's resume secret (handed out in
 * `Welcome`); any other claim is refused, and the live worker keeps its
 * traffic. A session ends when its connection closes, when it is taken over,
 * or when the host gives the worker up (silent, or stuck); the host then
 * forgets what the worker declared and fails what was pending on it.
 */
import { type Cause, Effect, type Fiber, Queue, type Scope } from "effect"
import { type AgentError, NotAccessibleError, NotJoined, undeliverable } from "../../core/AgentError.ts"
import type * as Credentials from "../Credentials.ts"
import type { HostMessageJson as HostMessage } from "./ProtocolSides.ts"

/** A joined worker, as the host sees it. */
export interface Connection {
  readonly workerId: string
  readonly clientId: number
  /** The secret a connection must present to take this worker id over. */
  readonly resume: string
  /** What this worker may do; `undefined` on a host without credentials. */
  readonly credential: Credentials.Credential | undefined
  /** What the host pushes down the worker's `Connect` stream, written as it is (plain JSON data: see ProtocolSides). */
  readonly queue: Queue.Queue<HostMessage, Cause.Done>
  /** Pushes a message; `false` if the worker's queue is full. */
  readonly push: (message: HostMessage) => boolean
  readonly types: Set<string>
  /** Ids of the subscriptions this worker added. */
  readonly subscriptions: Set<string>
  /** Whether the worker reads `DeliverMany`: a publish's deliveries to it then go as one message. */
  readonly deliverMany: boolean
  /** Requests pushed to this worker and not answered yet. */
  readonly pending: Set<string>
  /** The deliveries those requests carry (a `DeliverMany` carries one per recipient): what the worker's bound counts. */
  pendingDeliveries: number
  /** Payload bytes of those requests. */
  pendingBytes: number
  /** Requests of this worker waiting for the host's recovery window. */
  waiting: number
  /**
   * When the host last heard from the worker (clock millis): an answer to a
   * ping or to a request, whose nonces and ids only a worker that reads what
   * it is sent can know.
   */
  lastHeard: number
  /** The nonces of the pings sent and not answered yet (the last few). */
  readonly pings: Set<number>
  /** When the worker last answered a request, or joined. */
  lastProgress: number
  /** The fibers of this worker's own calls still running at the host (its sends, waiting on other workers). */
  readonly calls: Set<Fiber.Fiber<unknown, unknown>>
}

/** Runs one of `connection`'s calls so that it is interrupted if the session ends first. */
export const call = <A, E, R>(connection: Connection, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    connection.calls.add(fiber)
    return Effect.ensuring(effect, Effect.sync(() => connection.calls.delete(fiber)))
  })

export interface Sessions {
  /** The session of a connection, or `UndeliverableError` (`NotJoined`) if it has not joined. */
  readonly joined: (clientId: number) => Effect.Effect<Connection, AgentError>
  readonly byClient: (clientId: number) => Connection | undefined
  readonly byWorker: (workerId: string) => Connection | undefined
  /** Whether the connection is still its worker's live session. */
  readonly isLive: (connection: Connection) => boolean
  readonly all: () => ReadonlyArray<Connection>
  /** Opens a session for the life of the scope (the `Connect` stream's). */
  readonly join: (request: JoinRequest) => Effect.Effect<Connection, AgentError, Scope.Scope>
  /** Ends a session now (the host gives the worker up). */
  readonly end: (connection: Connection, reason: string) => Effect.Effect<void>
}

export interface JoinRequest {
  readonly workerId: string
  readonly clientId: number
  /** The resume secret presented, if any. */
  readonly resume: string | undefined
  readonly credential: Credentials.Credential | undefined
  /** A fresh secret for the new session. */
  readonly secret: string
  readonly now: number
  /** Room in the worker's push queue. */
  readonly queueCapacity: number
  /** Whether the worker reads `DeliverMany` (it said so in its `Connect`). */
  readonly deliverMany: boolean
  /** The session's first message. */
  readonly welcome: (connection: Connection) => HostMessage
}

const notJoined = undeliverable("host", new NotJoined({ detail: "this connection has not joined: call Connect first" }))
const joinedTwice = undeliverable("host", new NotJoined({ detail: "this connection has joined already: one Connect per connection" }))

/** `onEnd` forgets the worker's declarations and fails its pending requests. */
export const make = (onEnd: (connection: Connection, reason: string) => Effect.Effect<void>): Sessions => {
  const byClient = new Map<number, Connection>()
  const byWorker = new Map<string, Connection>()

  // uninterruptible: ending the queue ends the Connect stream, whose scope owns the fiber that may be running this
  const end = (connection: Connection, reason: string) =>
    Effect.uninterruptible(Effect.gen(function*() {
      if (byClient.get(connection.clientId) === connection) byClient.delete(connection.clientId)
      if (byWorker.get(connection.workerId) !== connection) return
      byWorker.delete(connection.workerId)
      // the worker's own calls end with its session, even if its connection lingers (a silent link): their targets get Cancel
      for (const call of connection.calls) call.interruptUnsafe()
      connection.calls.clear()
      yield* onEnd(connection, reason)
      yield* Effect.logInfo("worker left").pipe(Effect.annotateLogs({ workerId: connection.workerId, reason }))
      yield* Queue.end(connection.queue)
    }))

  const join = (request: JoinRequest) =>
    Effect.gen(function*() {
      const { clientId, workerId } = request
      if (byClient.has(clientId)) return yield* joinedTwice
      const previous = byWorker.get(workerId)
      if (previous !== undefined) {
        // only the holder of the live session's secret may take its id over
        if (request.resume === undefined || !sameSecret(request.resume, previous.resume)) {
          yield* Effect.logWarning("worker refused: its id is in use by a live session").pipe(Effect.annotateLogs({ workerId }))
          return yield* new NotAccessibleError({
            sender: `worker ${workerId}`,
            recipient: "host",
            messageType: "Connect",
            reason: "this worker id is in use by a live session; present its resume secret to take it over"
          })
        }
        yield* end(previous, "replaced by a new connection of the same worker")
      }
      const queue = yield* Queue.bounded<HostMessage, Cause.Done>(request.queueCapacity)
      const connection: Connection = {
        workerId,
        clientId,
        resume: request.secret,
        credential: request.credential,
        queue,
        push: (message) => Queue.offerUnsafe(queue, message),
        deliverMany: request.deliverMany,
        types: new Set(),
        subscriptions: new Set(),
        pending: new Set(),
        pendingDeliveries: 0,
        pendingBytes: 0,
        waiting: 0,
        lastHeard: request.now,
        pings: new Set(),
        lastProgress: request.now,
        calls: new Set()
      }
      byClient.set(clientId, connection)
      byWorker.set(workerId, connection)
      // the stream's scope closes when the worker's connection does
      yield* Effect.addFinalizer(() => end(connection, "disconnected"))
      connection.push(request.welcome(connection))
      yield* Effect.logInfo("worker joined").pipe(Effect.annotateLogs({ workerId }))
      return connection
    })

  return {
    joined: (clientId) => {
      const connection = byClient.get(clientId)
      return connection === undefined ? Effect.fail(notJoined) : Effect.succeed(connection)
    },
    byClient: (clientId) => byClient.get(clientId),
    byWorker: (workerId) => byWorker.get(workerId),
    isLive: (connection) => byWorker.get(connection.workerId) === connection,
    all: () => [...byWorker.values()],
    join,
    end
  }
}

/** Compares secrets in time that does not depend on where they differ. */
export const sameSecret = (a: string, b: string): boolean => {
  let diff = a.length ^ b.length
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0)
  return diff === 0
}
