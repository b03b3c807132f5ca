/**
 * The host servicer: the distributed runtime's central process. Workers
 * connect to it (`Protocol.Connect`), declare the agent types they run and
 * their subscriptions; the host places each agent on one worker, routes every
 * send to that worker and the reply back, fans publishes out to the workers
 * of every subscribed agent, and routes state and metadata requests to the
 * owner. It keeps the connections' state: when a worker goes away, its
 * pending requests fail at once with typed errors and its agent types
 * disappear.
 *
 * The host enforces the access policy (a worker cannot bypass it), stamps
 * senders from the connection (a worker can speak only for agents placed on
 * it), validates envelopes and sizes, and never needs the agents' schemas:
 * payloads stay opaque and are never logged.
 *
 * ```ts
 * // embed a host in a program
 * const HostLive = HostServicer.layer({ port: 7700 })
 * // or from the shell: npx effect-agents host --port 7700
 * ```
 */
import * as Http from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { Cause, Context, Duration, Effect, Exit, Layer, Queue } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { RpcSerialization, RpcServer } from "effect/rpc"
import { SocketServer } from "effect/socket"
import * as AccessPolicy from "./AccessPolicy.ts"
import {
  type AgentError,
  InvalidMessageError,
  NotAccessibleError,
  TimeoutError,
  UndeliverableError
} from "./AgentError.ts"
import { type AgentId, equals } from "./AgentId.ts"
import { type HostMessage, type Outcome, Protocol, type WireMessage } from "./Protocol.ts"
import * as Subscription from "./Subscription.ts"
import * as Acks from "./internal/Acks.ts"
import * as Deadlines from "./internal/Deadlines.ts"
import * as Idle from "./internal/Idle.ts"
import * as Placement from "./internal/Placement.ts"
import * as Router from "./internal/Router.ts"

/** How a host servicer listens and what it allows. */
export interface Options {
  /** Port to listen on (default 7700; 0 picks a free one). */
  readonly port?: number
  /** Interface to listen on (default 127.0.0.1; 0.0.0.0 for other machines). */
  readonly host?: string
  /** `websocket` (default, path `/`) or `tcp` (newline-delimited JSON). */
  readonly transport?: "websocket" | "tcp"
  /** When set, workers must present this token in `Connect`. */
  readonly token?: string
  /** Who may send what to whom; enforced here for every worker. */
  readonly policy?: AccessPolicy.AccessPolicy
  /** Largest message payload accepted, in bytes of JSON (default 1 MiB). */
  readonly maxMessageBytes?: number
  /**
   * How long a worker may take to acknowledge an event it was handed (default
   * 5 minutes). Past it the delivery is a dead letter for the publisher and no
   * longer counts as in flight, so a worker that never answers cannot hold
   * the host's memory or `awaitIdle`.
   */
  readonly eventTimeout?: Duration.Input
}

/** A connected worker, as the host sees it. */
export interface WorkerInfo {
  readonly workerId: string
  readonly agentTypes: ReadonlyArray<string>
}

/** The running host: where it listens and who is connected. */
export class HostServicer extends Context.Service<HostServicer, {
  readonly port: number
  /** What a worker passes as `WorkerRuntime.layer({ url })`. */
  readonly url: string
  readonly workers: Effect.Effect<ReadonlyArray<WorkerInfo>>
}>()("effect-agents/HostServicer") {}

interface Connection {
  readonly workerId: string
  readonly clientId: number
  readonly queue: Queue.Queue<HostMessage, Cause.Done>
  readonly types: Set<string>
  readonly subscriptions: Set<string>
  /** Requests pushed to this worker and not answered yet. */
  readonly pending: Set<string>
}

interface Pending {
  readonly target: Connection
  /** Absent for event deliveries, whose reply only acknowledges them (or reports a dead letter). */
  readonly resume: ((exit: Exit.Exit<unknown, AgentError>) => void) | undefined
  /** For an event: who to tell if it fails. */
  readonly event?: PublishedEvent | undefined
  /** For an event: drops its acknowledgement deadline. */
  clearDeadline?: (() => void) | undefined
}

interface PublishedEvent {
  readonly publisher: Connection
  readonly recipient: string
  readonly messageType: string
  readonly sender: string | undefined
  readonly topic: string
}

const notJoined = new UndeliverableError({ recipient: "host", reason: "this connection has not joined: call Connect first" })

/** The host's state and protocol handlers. */
const makeCore = Effect.fnUntraced(function*(options: Options) {
  const policy = options.policy ?? AccessPolicy.allowAll
  const maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024
  const hostId = Math.random().toString(36).slice(2, 10)
  const connections = new Map<number, Connection>() // by effect/rpc client id: a connection handle, not an identity
  const workers = new Map<string, Connection>() // by worker id, from the handshake
  const pending = new Map<string, Pending>()
  const claims = new Map<string, Set<string>>() // subscription id -> worker ids that declared it
  const router = Router.make()
  const placement = Placement.make<Connection>()
  const idle = Idle.make()
  const deadlines = Deadlines.make()
  yield* Effect.addFinalizer(() => Effect.sync(() => deadlines.close()))
  const eventTimeoutMillis = Duration.toMillis(Duration.fromInputUnsafe(options.eventTimeout ?? Duration.minutes(5)))
  let nextRequest = 0

  const joined = (clientId: number): Effect.Effect<Connection, AgentError> => {
    const connection = connections.get(clientId)
    return connection === undefined ? Effect.fail(notJoined) : Effect.succeed(connection)
  }

  const settle = (requestId: string, exit: Exit.Exit<unknown, AgentError>) => {
    const request = pending.get(requestId)
    if (request === undefined) return
    pending.delete(requestId)
    request.target.pending.delete(requestId)
    request.clearDeadline?.()
    if (request.event !== undefined && Exit.isFailure(exit)) {
      const error = Cause.findErrorOption(exit.cause)
      if (error._tag === "Some") deadLetter(request.event, error.value)
    }
    idle.exit()
    request.resume?.(exit)
  }

  /** Tells a publisher that one delivery of its publish failed. */
  const deadLetter = (event: PublishedEvent, error: AgentError) => {
    if (workers.get(event.publisher.workerId) !== event.publisher) return
    Queue.offerUnsafe(event.publisher.queue, {
      _tag: "DeadLetter",
      recipient: event.recipient,
      messageType: event.messageType,
      ...(event.sender !== undefined ? { sender: event.sender } : {}),
      topic: event.topic,
      error
    })
  }

  /** Pushes a request to a worker and waits for its `Reply`; interruption sends `Cancel`. */
  const request = (target: Connection, make: (requestId: string) => HostMessage) =>
    Effect.callback<unknown, AgentError>((resume) => {
      // the worker may have left since it was chosen
      if (workers.get(target.workerId) !== target) {
        return resume(Effect.fail(new UndeliverableError({ recipient: `worker ${target.workerId}`, reason: "the worker left" })))
      }
      const requestId = `${hostId}-${(nextRequest++).toString(36)}`
      pending.set(requestId, { target, resume })
      target.pending.add(requestId)
      idle.enter()
      Queue.offerUnsafe(target.queue, make(requestId))
      return Effect.sync(() => {
        if (!pending.has(requestId)) return
        settle(requestId, Exit.void)
        Queue.offerUnsafe(target.queue, { _tag: "Cancel", requestId })
      })
    })

  /** Pushes an event to a worker; it stays in flight (for idle) until acknowledged. */
  const pushEvent = (target: Connection, event: PublishedEvent, make: (requestId: string) => HostMessage) => {
    const requestId = `${hostId}-${(nextRequest++).toString(36)}`
    const entry: Pending = { target, resume: undefined, event }
    pending.set(requestId, entry)
    target.pending.add(requestId)
    idle.enter()
    Queue.offerUnsafe(target.queue, make(requestId))
    entry.clearDeadline = deadlines.add(eventTimeoutMillis, () =>
      settle(requestId, Exit.fail(new TimeoutError({ recipient: event.recipient, messageType: event.messageType, timeoutMillis: eventTimeoutMillis }))))
  }

  const drop = (connection: Connection, reason: string) =>
    Effect.gen(function*() {
      if (connections.get(connection.clientId) === connection) connections.delete(connection.clientId)
      if (workers.get(connection.workerId) !== connection) return
      workers.delete(connection.workerId)
      placement.removeWorker(connection.workerId)
      for (const id of connection.subscriptions) {
        const claimers = claims.get(id)
        claimers?.delete(connection.workerId)
        if (claimers !== undefined && claimers.size === 0) {
          claims.delete(id)
          router.remove(id)
        }
      }
      const gone = new UndeliverableError({ recipient: `worker ${connection.workerId}`, reason })
      for (const requestId of [...connection.pending]) settle(requestId, Exit.fail(gone))
      yield* Queue.end(connection.queue)
      yield* Effect.logInfo("worker left").pipe(Effect.annotateLogs({ workerId: connection.workerId, reason }))
    })

  const owner = (id: AgentId): Effect.Effect<Connection, AgentError> => {
    const target = placement.place(id.type, id.key)
    return target === undefined
      ? Effect.fail(new UndeliverableError({ recipient: id.toString(), reason: `no worker runs agent type ${id.type}` }))
      : Effect.succeed(target)
  }

  /**
   * The sender must be an agent placed on the calling worker. Placing it here
   * (when the host does not know it yet, as after a restart) gives the same
   * worker that delivered to it: placement is a function of the workers.
   */
  const checkSender = (from: Connection, sender: AgentId | undefined, recipient: string, messageType: string) => {
    if (sender === undefined) return Effect.void
    const at = placement.place(sender.type, sender.key)
    return at === from
      ? Effect.void
      : Effect.fail(new NotAccessibleError({ sender: sender.toString(), recipient, messageType }))
  }

  const checkSize = (message: WireMessage) => {
    const bytes = Buffer.byteLength(JSON.stringify(message.data))
    return bytes <= maxMessageBytes
      ? Effect.void
      : Effect.fail(new InvalidMessageError({ messageType: message.type, issue: `${bytes} bytes exceeds the host's limit of ${maxMessageBytes}` }))
  }

  const fromOutcome = (outcome: Outcome): Exit.Exit<unknown, AgentError> =>
    outcome._tag === "Success" ? Exit.succeed(outcome.value) : Exit.fail(outcome.error)

  const handlers = Protocol.of({
    Connect: ({ workerId, token }, { client }) =>
      Effect.gen(function*() {
        if (options.token !== undefined && token !== options.token) {
          yield* Effect.logWarning("worker refused: bad token").pipe(Effect.annotateLogs({ workerId }))
          return yield* new NotAccessibleError({ sender: `worker ${workerId}`, recipient: "host", messageType: "Connect" })
        }
        if (connections.has(client.id)) {
          return yield* new UndeliverableError({ recipient: "host", reason: "this connection has joined already: one Connect per connection" })
        }
        const previous = workers.get(workerId)
        if (previous !== undefined) yield* drop(previous, "replaced by a new connection of the same worker")
        const queue = yield* Queue.unbounded<HostMessage, Cause.Done>()
        const connection: Connection = {
          workerId,
          clientId: client.id,
          queue,
          types: new Set(),
          subscriptions: new Set(),
          pending: new Set()
        }
        connections.set(client.id, connection)
        workers.set(workerId, connection)
        // the stream's scope closes when the worker's connection does
        yield* Effect.addFinalizer(() => drop(connection, "disconnected"))
        Queue.offerUnsafe(queue, { _tag: "Welcome", workerId, hostId })
        yield* Effect.logInfo("worker joined").pipe(Effect.annotateLogs({ workerId }))
        return queue
      }),

    Send: ({ recipient, sender, messageId, chain, message }, { client }) =>
      Effect.gen(function*() {
        const from = yield* joined(client.id)
        yield* checkSender(from, sender, recipient.toString(), message.type)
        if (!policy({ sender, recipient, messageType: message.type, kind: "send" })) {
          return yield* new NotAccessibleError({ ...(sender ? { sender: sender.toString() } : {}), recipient: recipient.toString(), messageType: message.type })
        }
        yield* checkSize(message)
        const target = yield* owner(recipient)
        return yield* request(target, (requestId) =>
          ({
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

    Publish: ({ topic, sender, messageId, message }, { client }) =>
      Effect.gen(function*() {
        const from = yield* joined(client.id)
        yield* checkSender(from, sender, topic.toString(), message.type)
        yield* checkSize(message)
        for (const recipient of router.recipients(topic)) {
          if (sender !== undefined && equals(recipient, sender)) continue
          const event: PublishedEvent = {
            publisher: from,
            recipient: recipient.toString(),
            messageType: message.type,
            sender: sender?.toString(),
            topic: topic.toString()
          }
          if (!policy({ sender, recipient, messageType: message.type, kind: "publish" })) {
            deadLetter(event, new NotAccessibleError({ ...(sender ? { sender: sender.toString() } : {}), recipient: event.recipient, messageType: message.type }))
            continue
          }
          const target = placement.place(recipient.type, recipient.key)
          if (target === undefined) {
            deadLetter(event, new UndeliverableError({ recipient: event.recipient, reason: `no worker runs agent type ${recipient.type}` }))
            continue
          }
          pushEvent(target, event, (requestId) => ({
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
      }),

    Reply: ({ replies }, { client }) =>
      Effect.sync(() => {
        const from = connections.get(client.id)
        if (from === undefined) return
        for (const { outcome, requestId } of replies) {
          // only the worker the request went to may answer it
          if (pending.get(requestId)?.target === from) settle(requestId, fromOutcome(outcome))
        }
      }),

    RegisterAgentType: ({ name }, { client }) =>
      Effect.gen(function*() {
        const from = yield* joined(client.id)
        from.types.add(name)
        placement.addType(name, from.workerId, from)
        yield* Effect.logDebug("agent type registered").pipe(Effect.annotateLogs({ workerId: from.workerId, agentType: name }))
      }),

    UnregisterAgentType: ({ name }, { client }) =>
      Effect.gen(function*() {
        const from = yield* joined(client.id)
        from.types.delete(name)
        placement.removeType(name, from.workerId)
      }),

    AddSubscription: ({ subscription }, { client }) =>
      Effect.gen(function*() {
        const from = yield* joined(client.id)
        const id = Subscription.id(subscription)
        let claimers = claims.get(id)
        if (claimers === undefined) claims.set(id, claimers = new Set())
        claimers.add(from.workerId)
        from.subscriptions.add(id)
        router.add(subscription)
      }),

    RemoveSubscription: ({ id }, { client }) =>
      Effect.gen(function*() {
        yield* joined(client.id)
        for (const workerId of claims.get(id) ?? []) workers.get(workerId)?.subscriptions.delete(id)
        claims.delete(id)
        return router.remove(id) !== undefined
      }),

    ListSubscriptions: (_, { client }) => Effect.as(joined(client.id), router.list()),

    AgentControl: ({ op, agentId, state }, { client }) =>
      Effect.gen(function*() {
        yield* joined(client.id)
        const target = yield* owner(agentId)
        return yield* request(target, (requestId) =>
          ({ _tag: "Control", requestId, op, agentId, ...(state !== undefined ? { state } : {}) }))
      }),

    SaveAll: (_, { client }) =>
      Effect.gen(function*() {
        yield* joined(client.id)
        const parts = yield* Effect.forEach(
          [...workers.values()],
          (worker) => request(worker, (requestId) => ({ _tag: "Control", requestId, op: "saveAll" })),
          { concurrency: "unbounded" }
        )
        return Object.assign({}, ...parts.map((part) => part as object))
      }),

    AwaitIdle: (_, { client }) => Effect.andThen(joined(client.id), idle.await)
  })

  const info = Effect.sync(() =>
    [...workers.values()].map((w): WorkerInfo => ({ workerId: w.workerId, agentTypes: [...w.types] }))
  )
  return { handlers, info }
})

/** The host's state, shared by the protocol handlers and the `HostServicer` service. */
class HostCore extends Context.Service<HostCore, Effect.Success<ReturnType<typeof makeCore>>>()("effect-agents/HostServicer/HostCore") {}

const rpcServer = RpcServer.layer(Protocol, { disableTracing: true }).pipe(
  Layer.provide(Protocol.toLayer(HostCore.useSync((core) => core.handlers)))
)

const service = <R>(url: (port: number) => string, address: Effect.Effect<{ readonly port: number } | undefined, never, R>) =>
  Layer.effect(HostServicer, Effect.gen(function*() {
    const core = yield* HostCore
    const bound = yield* address
    const port = bound?.port ?? 0
    return HostServicer.of({ port, url: url(port), workers: core.info })
  }))

/**
 * A host servicer for the life of the layer. With `port: 0` the system picks
 * a free port; read it from `HostServicer` (`port`, `url`).
 */
export const layer = (options: Options = {}): Layer.Layer<HostServicer, unknown> => {
  const host = options.host ?? "127.0.0.1"
  const port = options.port ?? 7700
  const core = Layer.effect(HostCore, makeCore(options))
  if (options.transport === "tcp") {
    return service(
      (bound) => `tcp://${host}:${bound}`,
      SocketServer.SocketServer.useSync((server) => server.address._tag === "UnixPathAddress" ? undefined : server.address)
    ).pipe(
      Layer.provideMerge(rpcServer.pipe(
        Layer.provide(Acks.server(RpcServer.layerProtocolSocketServer)),
        Layer.provide(RpcSerialization.layerNdjson)
      )),
      Layer.provide(NodeSocketServer.layer({ host, port })),
      Layer.provide(core)
    )
  }
  return service(
    (bound) => `ws://${host}:${bound}/`,
    HttpServer.HttpServer.useSync((server) => server.address._tag === "UnixPathAddress" ? undefined : server.address)
  ).pipe(
    Layer.provideMerge(HttpRouter.serve(
      rpcServer.pipe(
        Layer.provide(Acks.server(RpcServer.layerProtocolWebsocket({ path: "/" }))),
        Layer.provide(RpcSerialization.layerJson)
      ),
      { disableLogger: true, disableListenLog: true }
    )),
    Layer.provide(NodeHttpServer.layer(() => Http.createServer(), { host, port, gracefulShutdownTimeout: "100 millis" })),
    Layer.provide(core)
  )
}
