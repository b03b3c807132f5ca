/**
 * The host servicer's answers to the protocol, by concern: sessions
 * (`Connect`, `Pong`, `Reply`, heartbeats), messaging (`Send`, `Publish`),
 * declarations (agent types, subscriptions) and control (state, metadata,
 * idle). Each applies `HostCore`'s rules before it touches a table.
 */
import { Deferred, Duration, Effect, Exit, Option, Schedule, Schema } from "effect"
import * as AccessPolicy from "../../core/AccessPolicy.ts"
import { type AgentError, InvalidMessageError, LimitExceededError, NotAccessibleError, NoWorker, undeliverable } from "../../core/AgentError.ts"
import { AgentId, equals, maxIdentifierLength } from "../../core/AgentId.ts"
import * as Subscription from "../../core/Subscription.ts"
import type { TopicId } from "../../core/TopicId.ts"
import { firstError } from "../../runtime/Dispatch.ts"
import * as Random from "../../runtime/Random.ts"
import * as Credentials from "../Credentials.ts"
import { maxFrameBytes, maxRecipientsPerDelivery, type WireMessage } from "../Protocol.ts"
import * as HostCore from "./HostCore.ts"
import type * as HostRequests from "./HostRequests.ts"
import * as HostStatus from "./HostStatus.ts"
import * as HostStreams from "./HostStreams.ts"
import { type HostMessageJson, HostProtocol } from "./ProtocolSides.ts"
import * as Sessions from "./Sessions.ts"
import * as Telemetry from "../../runtime/Telemetry.ts"

type Handlers = Parameters<typeof HostProtocol.of>[0]
type State = HostCore.State

const refuse = (workerId: string, reason: string) =>
  Effect.andThen(
    Effect.logWarning("worker refused").pipe(Effect.annotateLogs({ workerId, reason })),
    Effect.fail(new NotAccessibleError({ sender: `worker ${workerId}`, recipient: "host", messageType: "Connect", reason }))
  )

/** The credential a `Connect` presents, or why it is refused; `undefined` on a host that requires none. */
const authenticate = (host: State, workerId: string, token: string | undefined) => {
  if (host.credentials.length === 0) return Effect.succeed(undefined)
  const credential = token === undefined ? undefined : host.credentials.find((c) => Sessions.sameSecret(c.secret, token))
  if (credential === undefined) return refuse(workerId, "bad token")
  if (!Credentials.allows(credential.workers, workerId)) return refuse(workerId, `credential ${credential.name} may not join as ${workerId}`)
  return Effect.succeed(credential)
}

/** Pings the worker and gives it up when it has been silent, or stuck at its pending limit, for too long. */
const heartbeat = (host: State, connection: Sessions.Connection) => {
  const { config } = host
  const timeout = Duration.toMillis(config.heartbeatTimeout)
  const progressTimeout = Duration.toMillis(config.progressTimeout)
  const beat = Effect.suspend(() => {
    const now = host.now()
    if (now - connection.lastHeard > timeout) return host.sessions.end(connection, `silent for ${now - connection.lastHeard} ms`)
    const atLimit = connection.pendingDeliveries >= config.maxPendingPerWorker ||
      connection.pendingBytes >= config.maxPendingBytesPerWorker - host.limits.maxBytes
    if (atLimit && now - connection.lastProgress > progressTimeout) {
      return host.sessions.end(connection, `no progress for ${now - connection.lastProgress} ms at its pending limit`)
    }
    // a nonce, not a counter: a worker that does not read cannot answer pings it never saw
    const nonce = Random.uint32()
    connection.pings.add(nonce)
    if (connection.pings.size > 8) connection.pings.delete(connection.pings.values().next().value!)
    connection.push({ _tag: "Ping", seq: nonce })
    return Effect.void
  })
  return Effect.repeat(beat, { schedule: Schedule.spaced(config.heartbeatInterval), while: () => host.sessions.isLive(connection) })
}

const sessionHandlers = (host: State): Pick<Handlers, "Connect" | "Pong" | "Reply"> => ({
  Connect: ({ accepts, resume, token, workerId }, { client }) =>
    Effect.gen(function*() {
      const credential = yield* authenticate(host, workerId, token)
      const connection = yield* host.sessions.join({
        workerId,
        clientId: client.id,
        resume,
        credential,
        secret: randomSecret(),
        now: host.now(),
        queueCapacity: 2 * host.config.maxPendingPerWorker + 1024,
        deliverMany: accepts?.includes("DeliverMany") === true,
        welcome: (connection): HostMessageJson => ({
          _tag: "Welcome",
          workerId,
          hostId: host.hostId,
          resume: connection.resume,
          heartbeatMillis: Duration.toMillis(host.config.heartbeatInterval),
          heartbeatTimeoutMillis: Duration.toMillis(host.config.heartbeatTimeout),
          features: ["PublishMany"]
        })
      })
      yield* Effect.forkScoped(heartbeat(host, connection))
      return connection.queue
    }),
  // only an answer to a ping the host sent counts as hearing from the worker
  Pong: ({ seq }, { client }) =>
    Effect.sync(() => {
      const from = host.sessions.byClient(client.id)
      if (from !== undefined && from.pings.delete(seq)) from.lastHeard = host.now()
    }),
  Reply: ({ replies }, { client }) =>
    Effect.sync(() => {
      const from = host.sessions.byClient(client.id)
      if (from === undefined) return
      // answers to ids it was sent count as hearing from it (HostRequests), blind ones do not
      for (const { outcome, recipients, requestId } of replies) host.requests.answer(from, requestId, outcome, recipients)
    })
})

/** Where one delivery of a publish goes, or why it cannot. */
const route = (host: State, from: Sessions.Connection, sender: AgentId | undefined, recipient: AgentId, messageType: string): Sessions.Connection | AgentError => {
  const denied = AccessPolicy.judge(host.policy, "publish", sender, recipient, messageType, from.workerId)
  if (denied !== undefined) return denied
  return host.placement.place(recipient.type, recipient.key) ?? undeliverable(recipient, new NoWorker({ agentType: recipient.type }))
}

interface Published {
  readonly topic: TopicId
  readonly sender: AgentId | undefined
  readonly messageId: string
  readonly message: WireMessage
  readonly bytes: number
  readonly ack: boolean
  readonly traceparent: string | undefined
}

/** A worker's share of a publish's deliveries, sent as one `DeliverMany` (in recipient order, at most `maxRecipientsPerDelivery`). */
interface Share {
  /** The recipients' agent types (each keyed by the topic's source). */
  readonly types: Array<string>
  readonly events: Array<HostRequests.PublishedEvent>
}

/**
 * Fans a publish out. Every failed delivery is a dead letter for the
 * publisher; in acknowledged mode the publish also waits for every delivery
 * to be handled and fails with the first failure. A worker that reads
 * `DeliverMany` gets its recipients' deliveries as one message (or a few,
 * for more recipients than one may name), pushed in the order of each
 * share's first recipient; each other worker gets a `Deliver` per recipient.
 */
const fanOut = (host: State, from: Sessions.Connection, publish: Published) =>
  Effect.callback<void, AgentError>((resume) => {
    const { bytes, message, messageId, sender, topic, traceparent } = publish
    let outstanding = 1
    let first: AgentError | undefined
    const settled = (exit: Exit.Exit<unknown, AgentError>) => {
      if (Exit.isFailure(exit) && first === undefined) first = firstError(exit.cause)
      if (--outstanding === 0) resume(first === undefined || !publish.ack ? Effect.void : Effect.fail(first))
    }
    // only an acknowledged publish waits for its deliveries
    const onSettled = publish.ack ? settled : undefined
    const shares = new Map<Sessions.Connection, Share>()
    const pushShare = (target: Sessions.Connection, share: Share) => {
      // what fits in the worker's bound goes, as a message would go to each recipient until it is full; the rest is refused
      const room = host.requests.room(target)
      if (room > 0 && room < share.types.length) {
        pushShare(target, { types: share.types.slice(0, room), events: share.events.slice(0, room) })
        return pushShare(target, { types: share.types.slice(room), events: share.events.slice(room) })
      }
      if (publish.ack) outstanding++
      host.requests.pushEvents(target, bytes, share.events, (requestId) => ({
        _tag: "DeliverMany",
        requestId,
        messageId,
        types: share.types,
        ...(sender ? { sender } : {}),
        topic,
        message,
        ...(traceparent ? { traceparent } : {})
      }), onSettled, true)
    }
    // a share never holds more than an idle worker may take
    const perShare = Math.min(maxRecipientsPerDelivery, host.config.maxPendingPerWorker)
    for (const recipient of host.subscriptions.recipients(topic)) {
      if (sender !== undefined && equals(recipient, sender)) continue
      const event: HostRequests.PublishedEvent = { publisher: from, recipient: recipient.toString(), messageType: message.type, sender: sender?.toString(), topic: topic.toString() }
      // each recipient's delivery is its own message, under an id that must still be an identifier: a
      // publisher's long id is its own publish's failure, never the end of the subscriber's session
      const deliveryId = `${messageId}:${recipient.type}`
      const target = deliveryId.length > maxIdentifierLength
        ? new InvalidMessageError({
          messageType: message.type,
          issue: `the publish's message id is too long for its delivery to ${recipient.type}: ${deliveryId.length} characters, at most ${maxIdentifierLength}`
        })
        : route(host, from, sender, recipient, message.type)
      if (!("workerId" in target)) {
        host.deadLetter(event, target)
        if (publish.ack) first ??= target
        continue
      }
      // a DeliverMany names its recipients by type, keyed by the topic's source (as subscriptions key them)
      if (target.deliverMany && recipient.key === topic.source) {
        let share = shares.get(target)
        if (share === undefined) shares.set(target, share = { types: [], events: [] })
        share.types.push(recipient.type)
        share.events.push(event)
        if (share.types.length === perShare) {
          shares.delete(target)
          pushShare(target, share)
        }
        continue
      }
      if (publish.ack) outstanding++
      host.requests.pushEvents(target, bytes, [event], (requestId) => ({
        _tag: "Deliver",
        requestId,
        messageId: deliveryId,
        recipient,
        ...(sender ? { sender } : {}),
        topic,
        message,
        rpc: false,
        chain: [],
        ...(traceparent ? { traceparent } : {})
      }), onSettled)
    }
    for (const [target, share] of shares) pushShare(target, share)
    settled(Exit.void)
  })

/** A `Publish` (or one of a `PublishMany`) from a joined worker: checked, then fanned out. */
const publish = (
  host: State,
  from: Sessions.Connection,
  { ack, message, messageId, sender, topic, traceparent }: {
    readonly topic: TopicId
    readonly sender?: AgentId
    readonly messageId: string
    readonly message: WireMessage
    readonly ack?: boolean
    readonly traceparent?: string
  }
) =>
  Effect.gen(function*() {
    yield* HostCore.checkSender(host, from, sender, topic.toString(), message.type)
    if (from.credential !== undefined && !Credentials.allows(from.credential.publish, topic.type)) {
      return yield* new NotAccessibleError({ sender: `worker ${from.workerId}`, recipient: topic.toString(), messageType: message.type, reason: `credential ${from.credential.name} may not publish on ${topic.type}` })
    }
    const bytes = yield* HostCore.checkPayload(host, message.type, message.data)
    // right after a start, subscriptions are still being re-declared
    if (!Deferred.isDoneUnsafe(host.recovered)) yield* HostCore.waiting(host, from, Deferred.await(host.recovered))
    const attributes = Telemetry.attributes({ messageType: message.type, messageId, sender, topic })
    return yield* Telemetry.relayed(host.telemetry, `route ${message.type}`, attributes, traceparent, (traceparent) =>
      Sessions.call(from, fanOut(host, from, { topic, sender, messageId, message, bytes, ack: ack === true, traceparent })))
  })

const messagingHandlers = (host: State): Pick<Handlers, "Send" | "Publish" | "PublishMany"> => ({
  Send: ({ chain, message, messageId, recipient, sender, traceparent }, { client }) =>
    Effect.gen(function*() {
      const from = yield* HostCore.joined(host, client.id)
      yield* HostCore.checkSender(host, from, sender, recipient.toString(), message.type)
      yield* HostCore.allow(host, from, "send", sender, recipient, message.type)
      const bytes = yield* HostCore.checkPayload(host, message.type, message.data)
      const target = yield* HostCore.owner(host, from, recipient)
      const attributes = Telemetry.attributes({ messageType: message.type, messageId, recipient, sender })
      return yield* Telemetry.relayed(host.telemetry, `route ${message.type}`, attributes, traceparent, (traceparent) =>
        Sessions.call(from, host.requests.request(target, bytes, (requestId) => ({
          _tag: "Deliver",
          requestId,
          messageId,
          recipient,
          ...(sender ? { sender } : {}),
          message,
          rpc: true,
          chain,
          ...(traceparent ? { traceparent } : {})
        }))))
    }),
  Publish: (payload, { client }) => Effect.flatMap(HostCore.joined(host, client.id), (from) => publish(host, from, payload)),
  // each in order, as if it came alone: one's failure is its own answer, the others go on
  PublishMany: ({ publishes }, { client }) =>
    Effect.gen(function*() {
      const from = yield* HostCore.joined(host, client.id)
      // right after a start, the whole call waits once, weighing as many requests as it has publishes
      if (!Deferred.isDoneUnsafe(host.recovered)) yield* HostCore.waiting(host, from, Deferred.await(host.recovered), publishes.length)
      const answers: Array<AgentError | null> = []
      for (const item of publishes) {
        const exit = yield* Effect.exit(publish(host, from, item))
        if (Exit.isSuccess(exit)) answers.push(null)
        else {
          const error = firstError(exit.cause)
          if (error === undefined) return yield* Effect.failCause(exit.cause)
          answers.push(error)
        }
      }
      return answers
    })
})

const declarationHandlers = (host: State): Pick<
  Handlers,
  "RegisterAgentType" | "UnregisterAgentType" | "AddSubscription" | "RemoveSubscription" | "ListSubscriptions"
> => ({
  RegisterAgentType: ({ name }, { client }) =>
    Effect.gen(function*() {
      const from = yield* HostCore.joined(host, client.id)
      if (from.credential !== undefined && !Credentials.allows(from.credential.agentTypes, name)) {
        return yield* new NotAccessibleError({ sender: `worker ${from.workerId}`, recipient: "host", messageType: "RegisterAgentType", reason: `credential ${from.credential.name} may not register ${name}` })
      }
      if (!from.types.has(name) && from.types.size >= host.config.maxAgentTypesPerWorker) {
        return yield* new LimitExceededError({ limit: "agent types per worker", max: host.config.maxAgentTypesPerWorker })
      }
      from.types.add(name)
      host.placement.addType(name, from.workerId, from)
      const arrival = host.typeArrivals.get(name)
      if (arrival !== undefined) {
        host.typeArrivals.delete(name)
        Deferred.doneUnsafe(arrival, Exit.void)
      }
      yield* Effect.logDebug("agent type registered").pipe(Effect.annotateLogs({ workerId: from.workerId, agentType: name }))
    }),
  UnregisterAgentType: ({ name }, { client }) =>
    Effect.map(HostCore.joined(host, client.id), (from) => {
      from.types.delete(name)
      host.placement.removeType(name, from.workerId)
    }),
  AddSubscription: ({ sender, subscription }, { client }) =>
    Effect.gen(function*() {
      const from = yield* HostCore.joined(host, client.id)
      yield* HostCore.checkSender(host, from, sender, "host", "AddSubscription")
      yield* HostCore.allow(host, from, "addSubscription", sender, AccessPolicy.subscriptionRecipient(subscription.agentType))
      if (!from.subscriptions.has(Subscription.id(subscription)) && from.subscriptions.size >= host.config.maxSubscriptionsPerWorker) {
        return yield* new LimitExceededError({ limit: "subscriptions per worker", max: host.config.maxSubscriptionsPerWorker })
      }
      host.subscriptions.add(from, subscription)
    }),
  RemoveSubscription: ({ id, sender }, { client }) =>
    Effect.gen(function*() {
      const from = yield* HostCore.joined(host, client.id)
      yield* HostCore.checkSender(host, from, sender, "host", "RemoveSubscription")
      const subscription = host.subscriptions.get(id)
      // a worker removes only what it added: another's subscription is, to it, not there
      if (subscription === undefined || !from.subscriptions.has(id)) return false
      yield* HostCore.allow(host, from, "removeSubscription", sender, AccessPolicy.subscriptionRecipient(subscription.agentType))
      return host.subscriptions.remove(from, id)
    }),
  ListSubscriptions: ({ sender }, { client }) =>
    Effect.gen(function*() {
      const from = yield* HostCore.joined(host, client.id)
      yield* HostCore.checkSender(host, from, sender, "host", "ListSubscriptions")
      return host.subscriptions.list().filter((s) =>
        host.policy(AccessPolicy.request("listSubscriptions", sender, AccessPolicy.subscriptionRecipient(s.agentType), undefined, from.workerId))
      )
    })
})

const controlHandlers = (host: State): Pick<Handlers, "AgentControl" | "SaveAll" | "AwaitIdle"> => ({
  AgentControl: ({ agentId, op, sender, state }, { client }) =>
    Effect.gen(function*() {
      const from = yield* HostCore.joined(host, client.id)
      yield* HostCore.checkSender(host, from, sender, agentId.toString(), op)
      yield* HostCore.allow(host, from, op, sender, agentId)
      const bytes = state === undefined ? 0 : yield* HostCore.checkPayload(host, `state of ${agentId}`, state)
      const target = yield* HostCore.owner(host, from, agentId)
      return yield* Sessions.call(from, host.requests.request(target, bytes, (requestId) => ({
        _tag: "Control",
        requestId,
        op,
        agentId,
        ...(state !== undefined ? { state } : {})
      })))
    }),
  SaveAll: ({ sender }, { client }) =>
    Effect.gen(function*() {
      const from = yield* HostCore.joined(host, client.id)
      yield* HostCore.checkSender(host, from, sender, "host", "SaveAll")
      const parts = yield* Effect.forEach(
        host.sessions.all(),
        // one worker's answer carries all its agents' states: bounded by the largest frame, not by one message
        (worker) => host.requests.request(worker, 0, (requestId) => ({ _tag: "Control", requestId, op: "saveAll" }), maxFrameBytes - 64 * 1024),
        { concurrency: "unbounded" }
      )
      // only the agents whose state the caller may read
      const all: Record<string, unknown> = {}
      for (const part of parts) {
        for (const [id, agentState] of Object.entries(part as Record<string, unknown>)) {
          const agentId = parseAgentId(id)
          if (Option.isSome(agentId) && host.policy(AccessPolicy.request("saveState", sender, agentId.value, undefined, from.workerId))) all[id] = agentState
        }
      }
      return all
    }),
  // a parked AwaitIdle costs the host memory: as many per worker as it may have waiting
  AwaitIdle: (_, { client }) => Effect.flatMap(HostCore.joined(host, client.id), (from) => HostCore.waiting(host, from, host.idle.await))
})

const decodeAgentId = Schema.decodeUnknownOption(AgentId)

/** An agent id from its string form, if it is one. */
const parseAgentId = (s: string): Option.Option<AgentId> => {
  const slash = s.indexOf("/")
  return slash < 0 ? Option.none() : decodeAgentId({ type: s.slice(0, slash), key: s.slice(slash + 1) })
}

/** 128 random bits from the platform's cryptographic source, as hex: a secret nobody can guess. */
const randomSecret = () => Random.token(16)

/** The host's state and protocol handlers, for the life of the current scope. */
export const make = Effect.fnUntraced(function*(options: HostCore.Options) {
  const host = yield* HostCore.state(options)
  const handlers = HostProtocol.of(HostStatus.observed(host, {
    ...sessionHandlers(host),
    ...messagingHandlers(host),
    ...declarationHandlers(host),
    ...controlHandlers(host),
    ...HostStreams.make(host).handlers
  }))
  const workers = Effect.sync(() =>
    host.sessions.all().map((w): HostCore.WorkerInfo => ({
      workerId: w.workerId,
      agentTypes: [...w.types],
      pending: w.pendingDeliveries,
      pendingBytes: w.pendingBytes,
      subscriptions: w.subscriptions.size
    }))
  )
  const stats = Effect.sync((): HostCore.Stats => {
    const all = host.sessions.all()
    return {
      workers: all.length,
      placements: host.placement.size(),
      subscriptions: host.subscriptions.list().length,
      pendingRequests: all.reduce((n, w) => n + w.pendingDeliveries, 0),
      pendingBytes: all.reduce((n, w) => n + w.pendingBytes, 0)
    }
  })
  /** The host's status (admin endpoints), `url` being where workers join. */
  const status = (url: string) => Effect.sync(() => HostStatus.snapshot(host, url))
  return { handlers, workers, stats, status }
})
