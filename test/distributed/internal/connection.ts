/**
 * A joined worker's connection, as the host's tables hold it, for unit tests
 * of those tables: nothing behind it but a queue; `push` records what the
 * host pushed, and `accepts` says whether its queue takes another.
 */
import { type Cause, Effect, Queue } from "effect"
import type { Connection } from "../../../src/distributed/internal/Sessions.ts"
import type { HostMessageJson as HostMessage } from "../../../src/distributed/internal/ProtocolSides.ts"

export const make = (workerId: string, clientId = 0, accepts: () => boolean = () => true) => {
  const pushed: Array<HostMessage> = []
  const conn: Connection = {
    workerId,
    clientId,
    resume: "secret",
    credential: undefined,
    queue: Effect.runSync(Queue.unbounded<HostMessage, Cause.Done>()),
    push: (message) => {
      if (!accepts()) return false
      pushed.push(message)
      return true
    },
    types: new Set(),
    subscriptions: new Set(),
    pending: new Set(),
    deliverMany: false,
    pendingDeliveries: 0,
    pendingBytes: 0,
    waiting: 0,
    lastHeard: 0,
    pings: new Set(),
    lastProgress: 0,
    calls: new Set()
  }
  return { conn, pushed }
}
