/**
 * The host servicer's state and its answers to the protocol, by concern:
 * sessions (`Connect`, `Reply`), messaging (`Send`, `Publish`), declarations
 * (agent types, subscriptions) and control (state, metadata, idle). The
 * tables live in their own modules (`Sessions`, `HostRequests`,
 * `HostSubscriptions`, `Placement`); this one enforces the host's rules on
 * every call: the connection must have joined, the sender must be an agent
 * placed on the calling worker, the policy must allow it, payloads must fit.
 */
import { Duration, Effect } from "effect"
import * as AccessPolicy from "../../core/AccessPolicy.ts"
import { type AgentError, NotAccessibleError, NoWorker, undeliverable } from "../../core/AgentError.ts"
import { type AgentId, equals } from "../../core/AgentId.ts"
import * as RuntimeConfig from "../../core/RuntimeConfig.ts"
import * as Deadlines from "../../runtime/Deadlines.ts"
import * as Idle from "../../runtime/Idle.ts"
import { Protocol, type WireMessage } from "../Protocol.ts"
import * as HostRequests from "./HostRequests.ts"
import * as HostSubscriptions from "./HostSubscriptions.ts"
import * as Placement from "./Placement.ts"
import * as Sessions from "./Sessions.ts"
import * as WireCodec from "./WireCodec.ts"

/** What the host enforces; anything left out comes from `RuntimeConfig`. */
export interface Options {
  readonly token?: string | undefined
  readonly policy?: AccessPolicy.AccessPolicy | undefined
  readonly maxMessageBytes?: number | undefined
  readonly eventTimeout?: Duration.Input | undefined
}

/** A connected worker, as the host reports it. */
export interface WorkerInfo {
  readonly workerId: string
  readonly agentTypes: ReadonlyArray<string>
}

type Handlers = Parameters<typeof Protocol.of>[0]

/** The host's state, for the life of the current scope. */
const state = Effect.fnUntraced(function*(options: Options) {
  const config = yield* RuntimeConfig.RuntimeConfig
  const hostId = Math.random().toString(36).slice(2, 10)
  const idle = Idle.make()
  const placement = Placement.make<Sessions.Connection>()
  const subscriptions = HostSubscriptions.make()
  const deadLetter = (event: HostRequests.PublishedEvent, error: AgentError) => {
    if (!sessions.isLive(event.publisher)) return
    event.publisher.push({ _tag: "DeadLetter", recipient: event.recipient, messageType: event.messageType, ...(event.sender !== undefined ? { sender: event.sender } : {}), topic: event.topic, error })
  }
  const requests: HostRequests.HostRequests = HostRequests.make({
    hostId,
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
  return {
    hostId,
    idle,
    placement,
    subscriptions,
    requests,
    sessions,
    deadLetter,
    policy: options.policy ?? AccessPolicy.allowAll,
    maxMessageBytes: options.maxMessageBytes ?? config.maxMessageBytes,
    token: options.token
  }
})

type State = Effect.Success<ReturnType<typeof state>>

/** The worker that runs `id`, placing it now if needed. */
const owner = (host: State, id: AgentId): Effect.Effect<Sessions.Connection, AgentError> => {
  const target = host.placement.place(id.type, id.key)
  return target === undefined ? Effect.fail(undeliverable(id, new NoWorker({ agentType: id.type }))) : Effect.succeed(target)
}

/**
 * The sender must be an agent placed on the calling worker. Placing it here
 * (when the host does not know it yet, as after a restart) gives the same
 * worker that delivered to it: placement is a function of the workers.
 */
const checkSender = (host: State, from: Sessions.Connection, sender: AgentId | undefined, recipient: string, messageType: string) => {
  if (sender === undefined) return Effect.void
  return host.placement.place(sender.type, sender.key) === from
    ? Effect.void
    : Effect.fail(new NotAccessibleError({ sender: sender.toString(), recipient, messageType }))
}

const checkSize = (host: State, message: WireMessage) => {
  const tooBig = WireCodec.checkSize(message.type, message.data, host.maxMessageBytes, "the host's")
  return tooBig === undefined ? Effect.void : Effect.fail(tooBig)
}

const sessionHandlers = (host: State): Pick<Handlers, "Connect" | "Reply"> => ({
  Connect: ({ token, workerId }, { client }) =>
    Effect.gen(function*() {
      if (host.token !== undefined && token !== host.token) {
        yield* Effect.logWarning("worker refused: bad token").pipe(Effect.annotateLogs({ workerId }))
        return yield* new NotAccessibleError({ sender: `worker ${workerId}`, recipient: "host", messageType: "Connect" })
      }
      const connection = yield* host.sessions.join(workerId, client.id, { _tag: "Welcome", workerId, hostId: host.hostId })
      return connection.queue
    }),
  Reply: ({ replies }, { client }) =>
    Effect.sync(() => {
      const from = host.sessions.byClient(client.id)
      if (from === undefined) return
      for (const { outcome, requestId } of replies) host.requests.answer(from, requestId, outcome)
    })
})

const messagingHandlers = (host: State): Pick<Handlers, "Send" | "Publish"> => ({
  Send: ({ chain, message, messageId, recipient, sender }, { client }) =>
    Effect.gen(function*() {
      const from = yield* host.sessions.joined(client.id)
      yield* checkSender(host, from, sender, recipient.toString(), message.type)
      const denied = AccessPolicy.check(host.policy, { sender, recipient, messageType: message.type, kind: "send" })
      if (denied !== undefined) return yield* denied
      yield* checkSize(host, message)
      const target = yield* owner(host, recipient)
      return yield* host.requests.request(target, (requestId) => ({
        _tag: "Deliver",
        requestId,
        messageId,
        recipient,
        ...(sender ? { sender } : {}),
        message,
        rpc: true,
        chain
      }))
    }),
  Publish: ({ message, messageId, sender, topic }, { client }) =>
    Effect.gen(function*() {
      const from = yield* host.sessions.joined(client.id)
      yield* checkSender(host, from, sender, topic.toString(), message.type)
      yield* checkSize(host, message)
      for (const recipient of host.subscriptions.recipients(topic)) {
        if (sender !== undefined && equals(recipient, sender)) continue
        const event: HostRequests.PublishedEvent = {
          publisher: from,
          recipient: recipient.toString(),
          messageType: message.type,
          sender: sender?.toString(),
          topic: topic.toString()
        }
        const denied = AccessPolicy.check(host.policy, { sender, recipient, messageType: message.type, kind: "publish" })
        if (denied !== undefined) {
          host.deadLetter(event, denied)
          continue
        }
        const target = host.placement.place(recipient.type, recipient.key)
        if (target === undefined) {
          host.deadLetter(event, undeliverable(recipient, new NoWorker({ agentType: recipient.type })))
          continue
        }
        host.requests.pushEvent(target, event, (requestId) => ({
          _tag: "Deliver",
          requestId,
          // each recipient's delivery is its own message
          messageId: `${messageId}:${recipient.type}`,
          recipient,
          ...(sender ? { sender } : {}),
          topic,
          message,
          rpc: false,
          chain: []
        }))
      }
    })
})

const declarationHandlers = (host: State): Pick<
  Handlers,
  "RegisterAgentType" | "UnregisterAgentType" | "AddSubscription" | "RemoveSubscription" | "ListSubscriptions"
> => ({
  RegisterAgentType: ({ name }, { client }) =>
    Effect.gen(function*() {
      const from = yield* host.sessions.joined(client.id)
      from.types.add(name)
      host.placement.addType(name, from.workerId, from)
      yield* Effect.logDebug("agent type registered").pipe(Effect.annotateLogs({ workerId: from.workerId, agentType: name }))
    }),
  UnregisterAgentType: ({ name }, { client }) =>
    Effect.map(host.sessions.joined(client.id), (from) => {
      from.types.delete(name)
      host.placement.removeType(name, from.workerId)
    }),
  AddSubscription: ({ subscription }, { client }) =>
    Effect.map(host.sessions.joined(client.id), (from) => host.subscriptions.add(from, subscription)),
  RemoveSubscription: ({ id }, { client }) =>
    Effect.map(host.sessions.joined(client.id), () => host.subscriptions.remove(id, host.sessions.byWorker)),
  ListSubscriptions: (_, { client }) => Effect.as(host.sessions.joined(client.id), host.subscriptions.list())
})

const controlHandlers = (host: State): Pick<Handlers, "AgentControl" | "SaveAll" | "AwaitIdle"> => ({
  AgentControl: ({ agentId, op, state }, { client }) =>
    Effect.gen(function*() {
      yield* host.sessions.joined(client.id)
      const target = yield* owner(host, agentId)
      return yield* host.requests.request(target, (requestId) => ({ _tag: "Control", requestId, op, agentId, ...(state !== undefined ? { state } : {}) }))
    }),
  SaveAll: (_, { client }) =>
    Effect.gen(function*() {
      yield* host.sessions.joined(client.id)
      const parts = yield* Effect.forEach(
        host.sessions.all(),
        (worker) => host.requests.request(worker, (requestId) => ({ _tag: "Control", requestId, op: "saveAll" })),
        { concurrency: "unbounded" }
      )
      return Object.assign({}, ...parts.map((part) => part as object))
    }),
  AwaitIdle: (_, { client }) => Effect.andThen(host.sessions.joined(client.id), host.idle.await)
})

/** The host's state and protocol handlers, for the life of the current scope. */
export const make = Effect.fnUntraced(function*(options: Options) {
  const host = yield* state(options)
  const handlers = Protocol.of({
    ...sessionHandlers(host),
    ...messagingHandlers(host),
    ...declarationHandlers(host),
    ...controlHandlers(host)
  })
  const workers = Effect.sync(() =>
    host.sessions.all().map((w): WorkerInfo => ({ workerId: w.workerId, agentTypes: [...w.types] }))
  )
  return { handlers, workers }
})
