/**
 * The host's sessions: one per joined connection, found by the connection
 * (effect/rpc's per-connection client id, a handle, not an identity) or by
 * the worker id announced in `Connect`. A session ends when its connection
 * closes or another connection joins with the same worker id; the host then
 * forgets what the worker declared and fails what was pending on it.
 */
import { type Cause, Effect, Queue, type Scope } from "effect"
import { type AgentError, NotJoined, undeliverable } from "../../core/AgentError.ts"
import type { HostMessage } from "../Protocol.ts"

/** A joined worker, as the host sees it. */
export interface Connection {
  readonly workerId: string
  readonly clientId: number
  /** What the host pushes down the worker's `Connect` stream. */
  readonly queue: Queue.Queue<HostMessage, Cause.Done>
  readonly push: (message: HostMessage) => void
  readonly types: Set<string>
  /** Ids of the subscriptions this worker added. */
  readonly subscriptions: Set<string>
  /** Requests pushed to this worker and not answered yet. */
  readonly pending: Set<string>
}

export interface Sessions {
  /** The session of a connection, or `UndeliverableError` (`NotJoined`) if it has not joined. */
  readonly joined: (clientId: number) => Effect.Effect<Connection, AgentError>
  readonly byClient: (clientId: number) => Connection | undefined
  readonly byWorker: (workerId: string) => Connection | undefined
  /** Whether the connection is still its worker's live session. */
  readonly isLive: (connection: Connection) => boolean
  readonly all: () => ReadonlyArray<Connection>
  /** Opens a session for the life of the scope (the `Connect` stream's), replacing the worker's previous one. */
  readonly join: (workerId: string, clientId: number, hello: HostMessage) => Effect.Effect<Connection, AgentError, Scope.Scope>
}

const notJoined = undeliverable("host", new NotJoined({ detail: "this connection has not joined: call Connect first" }))
const joinedTwice = undeliverable("host", new NotJoined({ detail: "this connection has joined already: one Connect per connection" }))

/** `onEnd` forgets the worker's declarations and fails its pending requests. */
export const make = (onEnd: (connection: Connection, reason: string) => Effect.Effect<void>): Sessions => {
  const byClient = new Map<number, Connection>()
  const byWorker = new Map<string, Connection>()

  const end = (connection: Connection, reason: string) =>
    Effect.gen(function*() {
      if (byClient.get(connection.clientId) === connection) byClient.delete(connection.clientId)
      if (byWorker.get(connection.workerId) !== connection) return
      byWorker.delete(connection.workerId)
      yield* onEnd(connection, reason)
      yield* Queue.end(connection.queue)
      yield* Effect.logInfo("worker left").pipe(Effect.annotateLogs({ workerId: connection.workerId, reason }))
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
    join: (workerId, clientId, hello) =>
      Effect.gen(function*() {
        if (byClient.has(clientId)) return yield* joinedTwice
        const previous = byWorker.get(workerId)
        if (previous !== undefined) yield* end(previous, "replaced by a new connection of the same worker")
        const queue = yield* Queue.unbounded<HostMessage, Cause.Done>()
        const connection: Connection = {
          workerId,
          clientId,
          queue,
          push: (message) => Queue.offerUnsafe(queue, message),
          types: new Set(),
          subscriptions: new Set(),
          pending: new Set()
        }
        byClient.set(clientId, connection)
        byWorker.set(workerId, connection)
        // the stream's scope closes when the worker's connection does
        yield* Effect.addFinalizer(() => end(connection, "disconnected"))
        connection.push(hello)
        yield* Effect.logInfo("worker joined").pipe(Effect.annotateLogs({ workerId }))
        return connection
      })
  }
}
