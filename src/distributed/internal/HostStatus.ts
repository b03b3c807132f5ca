/**
 * The host's status, read from its tables (`AdminStatus.Status`), and the
 * hooks that feed its activity record: the protocol handlers wrapped so a
 * join notes its time and every `Send`, `SendStream` and `Publish` (each of a `PublishMany` too) is
 * counted by message type (a failed send by its error's tag; a failed
 * delivery of a publish is a dead letter, counted where it is recorded).
 * Reading is a walk of the tables, bounded by `AdminStatus.maxListed` per
 * list.
 */
import { Deferred, Effect, Queue, Stream } from "effect"
import type { AgentError } from "../../core/AgentError.ts"
import * as Subscription from "../../core/Subscription.ts"
import * as AdminStatus from "../AdminStatus.ts"
import type * as HostCore from "./HostCore.ts"
import * as HostStatusActivity from "./HostStatusActivity.ts"
import type { HostProtocol } from "./ProtocolSides.ts"

type Handlers = Parameters<typeof HostProtocol.of>[0]

// the host's Connect, Send and Publish return effects (not wrappers): what `observed` wraps
type Handler = (payload: any, options: { readonly client: { readonly id: number } }) => Effect.Effect<any, any, any>

/** The handlers, counting what they route into the host's activity record. */
export const observed = (host: HostCore.State, handlers: Handlers): Handlers => {
  const connect = handlers.Connect as Handler
  const send = handlers.Send as Handler
  const publish = handlers.Publish as Handler
  const publishMany = handlers.PublishMany as Handler
  const sendStream = handlers.SendStream as (payload: any, options: any) => unknown
  return {
    ...handlers,
    Connect: (payload, options) =>
      Effect.tap(connect(payload, options), () =>
        Effect.sync(() => {
          const connection = host.sessions.byClient(options.client.id)
          if (connection !== undefined) host.joinedAt.set(connection, host.now())
        })),
    Send: (payload, options) => {
      host.activity.record("sent", payload.message.type)
      return Effect.tapError(send(payload, options), (error: AgentError) =>
        Effect.sync(() => host.activity.record("failed", payload.message.type, error._tag)))
    },
    Publish: (payload, options) => {
      host.activity.record("published", payload.message.type)
      return publish(payload, options)
    },
    PublishMany: (payload, options) => {
      for (const item of payload.publishes) host.activity.record("published", item.message.type)
      return publishMany(payload, options)
    },
    // a streaming send counts as a send; it fails when its stream does
    SendStream: (payload, options) => {
      host.activity.record("sent", payload.message.type)
      const result: unknown = sendStream(payload, options)
      if (!Stream.isStream(result)) return result as ReturnType<Handlers["SendStream"]>
      return Stream.tapError(result as Stream.Stream<unknown, AgentError>, (error) =>
        Effect.sync(() => host.activity.record("failed", payload.message.type, error._tag)))
    }
  }
}

const listed = <A>(items: Iterable<A>): Array<A> => {
  const out: Array<A> = []
  for (const item of items) {
    if (out.length >= AdminStatus.maxListed) break
    out.push(item)
  }
  return out
}

/** The host's status now; `url` is where workers join. */
export const snapshot = (host: HostCore.State, url: string): AdminStatus.Status => {
  const now = host.now()
  const workers = host.sessions.all()
  const types = host.placement.types()
  const subscriptions = host.subscriptions.list()
  const activity = host.activity
  return {
    hostId: host.hostId,
    url,
    startedAt: host.startedAt,
    now,
    recovering: !Deferred.isDoneUnsafe(host.recovered),
    totals: {
      workers: workers.length,
      agentTypes: types.length,
      placements: host.placement.size(),
      subscriptions: subscriptions.length,
      pendingRequests: workers.reduce((n, w) => n + w.pendingDeliveries, 0),
      pendingBytes: workers.reduce((n, w) => n + w.pendingBytes, 0),
      deadLetters: activity.deadLetterTotal()
    },
    workers: listed(workers).map((w) => ({
      workerId: w.workerId,
      since: host.joinedAt.get(w) ?? host.startedAt,
      agentTypes: listed(w.types),
      queueDepth: Queue.sizeUnsafe(w.queue),
      inFlight: w.pendingDeliveries,
      pendingBytes: w.pendingBytes,
      subscriptions: w.subscriptions.size,
      lastHeartbeat: w.lastHeard
    })),
    agentTypes: listed(types).map((t) => ({ name: t.type, workers: listed(t.workers), placements: t.placements })),
    subscriptions: listed(subscriptions).map((s) => {
      const id = Subscription.id(s)
      return {
        id,
        topic: s._tag === "TypeSubscription" ? s.topicType : `${s.prefix}*`,
        agentType: s.agentType,
        owners: listed(host.subscriptions.owners(id))
      }
    }),
    rates: {
      windowSeconds: HostStatusActivity.windowSeconds,
      perSecond: activity.series(),
      types: listed(activity.types())
    },
    deadLetters: [...activity.deadLetters()]
  }
}
