/**
 * The gateway: a worker's side of its connection to the host servicer. It
 * opens the `Connect` stream and hands what the host pushes to the worker as
 * one `Stream` of events, across sessions. It keeps what the worker declared
 * (agent types, subscriptions) so that after the host restarts or the
 * network drops it reconnects, joins again and re-declares everything by
 * itself; between sessions the stream carries `SessionLost`, because the
 * host has failed everything it had pushed in the session that ended.
 *
 * While the host is unreachable, calls fail at once with
 * `UndeliverableError` (`HostUnreachable`) rather than wait: a send never
 * waits forever.
 */
import { Cause, Deferred, Duration, Effect, Exit, Layer, Queue, Schedule, Scope, Stream } from "effect"
import { Socket } from "effect/socket"
import { RpcClient, RpcSerialization } from "effect/rpc"
import type { RpcClientError } from "effect/rpc/RpcClientError"
import { type AgentError, type ConnectProblem, HostUnreachable, NotAccessibleError, undeliverable, UndeliverableError } from "../../core/AgentError.ts"
import type { AgentId } from "../../core/AgentId.ts"
import * as Subscription from "../../core/Subscription.ts"
import { Connector, type TlsOptions } from "../Connector.ts"
import type { HostMessage } from "../Protocol.ts"
import * as Acks from "./Acks.ts"
import * as Frames from "./Frames.ts"
import { WorkerProtocol } from "./ProtocolSides.ts"

/** Where and how a worker reaches its host. */
export interface Options {
  /** `ws://host:port/` (WebSocket, the default transport) or `tcp://host:port` (ndjson over TCP); `wss://` and `tls://` over TLS. */
  readonly url: string
  /** How the connector verifies a `wss://` or `tls://` host. */
  readonly tls?: TlsOptions | undefined
  /** This worker's identity, announced in the handshake. */
  readonly workerId: string
  /** Presented to a host that requires one. */
  readonly token?: string | undefined
  /** Pause between attempts to reach the host. */
  readonly reconnectInterval: Duration.Duration
  /** How long the first connection may take before the worker gives up. */
  readonly connectTimeout: Duration.Duration
  /** How often to ping the host at the transport level, and how long a silent host is waited for before reconnecting. */
  readonly heartbeatInterval: Duration.Duration
  readonly heartbeatTimeout: Duration.Duration
}

/** What the gateway hands the worker: what the host pushed, or the end of a session. */
export type Event = Exclude<HostMessage, { readonly _tag: "Welcome" | "Ping" }> | { readonly _tag: "SessionLost" }

/** The typed `effect/rpc` client of the protocol. */
export type ProtocolClient = RpcClient.FromGroup<typeof WorkerProtocol, RpcClientError>

/** A worker's live connection to its host. */
export interface Gateway {
  readonly client: ProtocolClient
  /** Everything the host pushes, in order, across sessions. Consume it once. */
  readonly events: Stream.Stream<Event>
  /** Maps transport failures of a call to `UndeliverableError` (`HostUnreachable`). */
  readonly call: <A, E>(recipient: string, effect: Effect.Effect<A, E | RpcClientError>) => Effect.Effect<A, Exclude<E, RpcClientError> | UndeliverableError>
  readonly registerType: (name: string, description: string) => Effect.Effect<void, AgentError>
  readonly unregisterType: (name: string) => Effect.Effect<void, AgentError>
  readonly addSubscription: (subscription: Subscription.Subscription, sender: AgentId | undefined) => Effect.Effect<void, AgentError>
  readonly removeSubscription: (id: string, sender: AgentId | undefined) => Effect.Effect<boolean, AgentError>
  /** Whether the host of the current session takes `PublishMany` (its `Welcome` said so). */
  readonly publishMany: () => boolean
}

/** How many pushed messages may wait for the worker to take them before the gateway stops reading. */
const eventCapacity = 1024

const isRpcClientError = (e: unknown): e is RpcClientError =>
  typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "RpcClientError"

/** A system error code (`ECONNREFUSED`, ...) somewhere in a failure's causes, if any. */
const errorCode = (value: unknown): string | undefined => {
  let current = value as { readonly code?: unknown; readonly cause?: unknown; readonly error?: unknown } | undefined
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (typeof current.code === "string") return current.code
    current = (current.cause ?? current.error) as typeof current
  }
  return undefined
}

const codeNames: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable"
}

/** Codes of a TLS handshake that failed (a certificate that does not verify, a name it does not list, a protocol error). */
const isTlsCode = (code: string) => /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO|HOSTNAME|ALTNAME|EPROTO/.test(code)

/** What kept the worker from the host, named (`ConnectionRefused`, `TlsFailure`, ...), when a failure tells. */
const problemOf = (error: RpcClientError): ConnectProblem | undefined => {
  const code = errorCode(error.reason)
  if (code === undefined) {
    const reason = error.reason as { readonly kind?: unknown; readonly cause?: { readonly reason?: { readonly kind?: unknown } } }
    return reason.kind === "Timeout" || reason.cause?.reason?.kind === "Timeout" ? "TimedOut" : undefined
  }
  if (code === "ECONNREFUSED") return "ConnectionRefused"
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "NameNotFound"
  if (code === "ETIMEDOUT") return "TimedOut"
  if (code === "ECONNRESET" || code === "EPIPE") return "HostGone"
  return isTlsCode(code) ? "TlsFailure" : undefined
}

/** A failure's tag and system code (`SocketOpenError ECONNREFUSED`), beside the problem it is named for. */
const detailOf = (error: RpcClientError): string => {
  const code = errorCode(error.reason)
  return code === undefined ? describe(error) : `${(error.reason as { readonly _tag: string })._tag} ${code}`
}

/** What a transport failure was, in words a newcomer reads: "connection refused", "timeout waiting for open", ... */
const describe = (error: RpcClientError): string => {
  const reason = error.reason as { readonly _tag: string; readonly message?: string }
  const code = errorCode(reason)
  return `${reason._tag}: ${code === undefined ? reason.message ?? "failed" : codeNames[code] ?? code}`
}

/**
 * A socket this side can drop. effect/rpc's pings notice a host that sends
 * nothing, but not a link that carries the host's frames and loses ours (a
 * one-way stall): the host's pings keep arriving. When the host does not
 * answer our `Pong`s, `drop` closes the connection under the protocol, which
 * fails the calls in flight and opens a new one.
 */
const droppable = (layer: Layer.Layer<Socket.Socket, Socket.SocketError>) => {
  let current: Scope.Closeable | undefined
  const drop = Effect.suspend(() => current === undefined ? Effect.void : Scope.close(current, Exit.void))
  const wrapped = Layer.effect(Socket.Socket, Effect.map(Effect.service(Socket.Socket), (socket): Socket.Socket => ({
    ...socket,
    reader: Effect.gen(function*() {
      // the reader's own scope (the connection's life), forked so that dropping closes only this connection
      const parent = yield* Effect.scope
      const scope = yield* Scope.fork(parent)
      current = scope
      return yield* Scope.provide(socket.reader, scope)
    })
  }))).pipe(Layer.provide(layer))
  return { layer: wrapped, drop }
}

/**
 * The protocol over the connector's socket: JSON over WebSocket, ndjson over
 * TCP; no per-chunk acks. effect/rpc's own pings notice a silent host (cut,
 * half-open, stalled either way): the socket is dropped, in-flight calls
 * fail, and the socket is opened again.
 */
const protocolLayer = (socket: Layer.Layer<Socket.Socket, Socket.SocketError>, url: URL, options: Options, onOpenFailed: (error: RpcClientError) => Effect.Effect<void>) =>
  Acks.client(RpcClient.layerProtocolSocket({
    retryPolicy: Schedule.spaced(options.reconnectInterval),
    retryTransientErrors: true,
    onTransientError: onOpenFailed,
    pingInterval: options.heartbeatInterval,
    pingTimeout: options.heartbeatTimeout
  }).pipe(
    Layer.provide(socket),
    Layer.provide(url.protocol === "tcp:" || url.protocol === "tls:" ? RpcSerialization.layerNdjson : RpcSerialization.layerJson)
  ))

/** Parses the host URL, refusing schemes no transport speaks. */
const hostUrl = (url: string): Effect.Effect<URL, UndeliverableError> => {
  const refuse = (detail: string) => Effect.fail(undeliverable("host", new HostUnreachable({ url, detail })))
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return refuse("not a URL")
  }
  return ["ws:", "wss:", "tcp:", "tls:"].includes(parsed.protocol)
    ? Effect.succeed(parsed)
    : refuse("unsupported scheme: use ws://host:port/, wss://host:port/, tcp://host:port or tls://host:port")
}

/** Connects to the host for the life of the scope, returning once the first join succeeded. */
export const make = Effect.fnUntraced(function*(options: Options) {
  const connector = yield* Connector
  const scope = yield* Effect.scope
  const url = yield* hostUrl(options.url)
  // the protocol lives in the outer scope, so closing the client can still tell the host
  const state: SessionState = { connected: false, features: [], resume: undefined, attempts: 0, lastProblem: undefined, joinedOnce: false, loggedProblem: "", drop: Effect.void }
  const opened = connector.socket(url, { openTimeout: options.heartbeatTimeout, tls: options.tls })
  // over WebSocket, what is written in one tick goes as one frame (an array of envelopes, which tells the host this worker reads them too)
  const socket = droppable(
    url.protocol === "ws:" || url.protocol === "wss:"
      ? Layer.effect(Socket.Socket, Effect.map(Effect.service(Socket.Socket), Frames.announcing)).pipe(Layer.provide(opened))
      : opened
  )
  state.drop = socket.drop
  const protocol = yield* Layer.buildWithScope(protocolLayer(socket.layer, url, options, (error) => failedAttempt(options, state, error)), scope).pipe(
    Effect.mapError((e) => undeliverable("host", new HostUnreachable({ url: options.url, detail: e.message, cause: e })))
  )
  const client = yield* RpcClient.make(WorkerProtocol, { disableTracing: true }).pipe(Effect.provide(protocol))
  const events = yield* Queue.bounded<Event>(eventCapacity)
  const declared: Declared = { types: new Map(), subscriptions: new Map() }
  // the first join's result: a refusal (bad token) fails the worker at once instead of retrying
  const firstJoin = Deferred.makeUnsafe<void, AgentError>()

  // between sessions (the socket may be back before the join is), a call fails at once: the host would not know this worker
  const notJoined = (recipient: string) =>
    Effect.fail(undeliverable(recipient, new HostUnreachable({
      url: options.url,
      detail: "not joined to the host at the moment; reconnecting",
      // joined once and not now: the host went away (the attempts since say why it is not back)
      ...(state.joinedOnce ? { problem: "HostGone" as const } : {})
    })))
  const call = <A, E>(recipient: string, effect: Effect.Effect<A, E | RpcClientError>) =>
    !state.connected ? notJoined(recipient) : Effect.catchIf(effect, isRpcClientError, (e) =>
      Effect.fail(undeliverable(recipient, new HostUnreachable({ url: options.url, detail: describe(e), cause: e })))) as Effect.Effect<
        A,
        Exclude<E, RpcClientError> | UndeliverableError
      >

  yield* Effect.forkIn(session({ options, client, events, declared, state, firstJoin, scope }), scope)
  yield* Deferred.await(firstJoin).pipe(
    Effect.timeoutOrElse({
      duration: options.connectTimeout,
      // say what went wrong last: a refusal as itself, anything else as what the connection saw
      orElse: () =>
        Effect.fail(
          state.lastProblem?._tag === "NotAccessibleError" ? state.lastProblem : undeliverable("host", new HostUnreachable({
            url: options.url,
            detail: `could not join within ${Duration.format(options.connectTimeout)} (${state.attempts} attempts${
              state.lastProblem === undefined ? "" : `; the last: ${lastProblemName(state) !== undefined ? lastDetail(state) : reasonOf(state.lastProblem)}`
            })`,
            ...(lastProblemName(state) !== undefined ? { problem: lastProblemName(state)! } : {})
          }))
        )
    })
  )

  // while disconnected, declarations are kept and sent on the next join
  const whenConnected = <A>(effect: Effect.Effect<A, AgentError>) => state.connected ? effect : Effect.void.pipe(Effect.as(undefined as A))

  return {
    client,
    events: Stream.fromQueue(events),
    call,
    registerType: (name, description) =>
      Effect.suspend(() => {
        declared.types.set(name, description)
        return whenConnected(call("host", client.RegisterAgentType({ name, description })))
      }),
    unregisterType: (name) =>
      Effect.suspend(() => {
        declared.types.delete(name)
        return whenConnected(call("host", client.UnregisterAgentType({ name })))
      }),
    addSubscription: (subscription, sender) =>
      Effect.suspend(() => {
        declared.subscriptions.set(Subscription.id(subscription), { subscription, sender })
        return whenConnected(call("host", client.AddSubscription({ subscription, ...(sender ? { sender } : {}) })))
      }),
    removeSubscription: (id, sender) =>
      Effect.suspend(() => {
        declared.subscriptions.delete(id)
        return call("host", client.RemoveSubscription({ id, ...(sender ? { sender } : {}) }))
      }),
    publishMany: () => state.connected && state.features.includes("PublishMany")
  } satisfies Gateway
})

/** What this worker declared, to declare again on every join. */
interface Declared {
  readonly types: Map<string, string>
  readonly subscriptions: Map<string, { readonly subscription: Subscription.Subscription; readonly sender: AgentId | undefined }>
}

interface SessionState {
  connected: boolean
  /** The optional calls the host of this session takes (its `Welcome`'s `features`). */
  features: ReadonlyArray<string>
  /** The secret of the last session, to take this worker id over if the host still holds it. */
  resume: string | undefined
  /** Attempts to join since the last success, and what the last one ran into. */
  attempts: number
  lastProblem: AgentError | undefined
  /** Whether the worker has joined the host at least once. */
  joinedOnce: boolean
  /** The kind of failure last logged, so that a change of kind is logged where people look. */
  loggedProblem: string
  /** Closes the current connection (the protocol opens a new one). */
  drop: Effect.Effect<void>
}

/** The named problem of the last attempt, if it had one. */
const lastProblemName = (state: SessionState): ConnectProblem | undefined =>
  state.lastProblem?._tag === "UndeliverableError" && state.lastProblem.reason._tag === "HostUnreachable" ? state.lastProblem.reason.problem : undefined

/** The detail of the last attempt's failure (its problem named apart). */
const lastDetail = (state: SessionState): string =>
  state.lastProblem?._tag === "UndeliverableError" && state.lastProblem.reason._tag === "HostUnreachable" ? state.lastProblem.reason.detail : ""

/** Refusals the host may lift by itself: the worker id is held by a session the host has not yet seen die. */
const isTransientRefusal = (error: unknown): boolean =>
  (error as { _tag?: unknown })._tag === "NotAccessibleError" && String((error as { reason?: unknown }).reason ?? "").includes("in use")

/**
 * How loudly an attempt to reach the host is logged: until the worker has
 * joined once, every attempt (a newcomer whose host is not there sees each
 * one, and why); after that, the first of a streak and every 20th, so that
 * a long outage does not flood the log.
 */
const attemptLog = (state: SessionState) => {
  // a new kind of failure is news too (the host went away, then its port refuses)
  const kind = state.lastProblem === undefined ? "" : lastProblemName(state) ?? state.lastProblem._tag
  const changed = kind !== state.loggedProblem
  state.loggedProblem = kind
  return !state.joinedOnce || changed || state.attempts === 1 || state.attempts % 20 === 0 ? Effect.logWarning : Effect.logDebug
}

/** A socket that could not be opened: counted, remembered (named) for the error a timeout gives, logged. */
const failedAttempt = (options: Options, state: SessionState, error: RpcClientError) =>
  Effect.gen(function*() {
    state.attempts++
    const problem = problemOf(error)
    state.lastProblem = undeliverable("host", new HostUnreachable({
      url: options.url,
      detail: problem === undefined ? describe(error) : detailOf(error),
      cause: error,
      ...(problem ? { problem } : {})
    }))
    yield* attemptLog(state)(`cannot reach the host at ${options.url} (attempt ${state.attempts}): ${reasonOf(state.lastProblem)}; retrying`).pipe(
      Effect.annotateLogs({ workerId: options.workerId, attempt: state.attempts })
    )
  })

/** What the last attempt ran into, as a reason (not the whole error's message). */
const reasonOf = (error: AgentError): string =>
  error._tag === "UndeliverableError" && error.reason._tag === "HostUnreachable"
    ? error.reason.summary
    : error.message

/** What one worker's sessions share. */
interface Sessions {
  readonly options: Options
  readonly client: ProtocolClient
  readonly events: Queue.Queue<Event>
  readonly declared: Declared
  readonly state: SessionState
  readonly firstJoin: Deferred.Deferred<void, AgentError>
  /** Owns the fibers of `Pong` answers. */
  readonly scope: Scope.Scope
}

const logged = (s: Sessions) => Effect.annotateLogs({ workerId: s.options.workerId, host: s.options.url })

/** After (re)joining, declare everything again: the host may be a new one. */
const welcome = (s: Sessions, hostId: string, resume: string, features: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { client, declared, state } = s
    state.resume = resume
    state.features = features
    for (const [name, description] of declared.types) yield* client.RegisterAgentType({ name, description })
    for (const { sender, subscription } of declared.subscriptions.values()) {
      yield* client.AddSubscription({ subscription, ...(sender ? { sender } : {}) })
    }
    state.connected = true
    state.joinedOnce = true
    state.attempts = 0
    state.lastProblem = undefined
    Deferred.doneUnsafe(s.firstJoin, Exit.void)
    yield* Effect.logInfo("joined the host").pipe(logged(s), Effect.annotateLogs({ hostId }))
  })

/**
 * Answers a `Ping` without waiting (a slow answer must not hold back what
 * follows). An answer the host never acknowledges means our half of the link
 * is gone, though the host's half still carries its pings: drop the connection.
 */
const pong = (s: Sessions, seq: number) =>
  Effect.forkIn(
    s.client.Pong({ seq }).pipe(
      Effect.timeoutOrElse({
        duration: s.options.heartbeatTimeout,
        orElse: () => Effect.andThen(Effect.logWarning("the host does not hear this worker; reconnecting").pipe(logged(s)), s.state.drop)
      }),
      Effect.ignore
    ),
    s.scope
  )

/** A chunk of pushed messages, in order; a `Welcome` among them is handled where it stands. */
const onChunk = (s: Sessions) => (chunk: ReadonlyArray<HostMessage>) =>
  Effect.gen(function*() {
    let batch: Array<Event> = []
    for (const message of chunk) {
      if (message._tag === "Ping") yield* pong(s, message.seq)
      else if (message._tag !== "Welcome") batch.push(message)
      else {
        if (batch.length > 0) yield* Queue.offerAll(s.events, batch)
        batch = []
        yield* welcome(s, message.hostId, message.resume, message.features ?? [])
      }
    }
    if (batch.length > 0) yield* Queue.offerAll(s.events, batch)
  })

/** A session ended: tell the worker, remember why, and say so where people look. */
const ended = (s: Sessions, exit: Exit.Exit<unknown, unknown>) =>
  Effect.gen(function*() {
    const { options, state } = s
    const wasConnected = state.connected
    state.connected = false
    yield* Queue.offer(s.events, { _tag: "SessionLost" })
    const refusal = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
    state.attempts++
    state.lastProblem = refusal?._tag !== "Some"
      ? undeliverable("host", new HostUnreachable({ url: options.url, detail: "the connection ended", problem: "HostGone" }))
      : isRpcClientError(refusal.value)
      ? undeliverable("host", new HostUnreachable({ url: options.url, detail: describe(refusal.value), cause: refusal.value, problem: problemOf(refusal.value) ?? "HostGone" }))
      : refusal.value as AgentError
    if (refusal?._tag === "Some" && (refusal.value as { _tag?: unknown })._tag === "NotAccessibleError") {
      if (isTransientRefusal(refusal.value)) {
        return yield* Effect.logWarning("the host holds this worker id for a session it has not yet seen end; retrying").pipe(logged(s))
      }
      // the refusal names the host it came from: a worker may be given the wrong URL as well as the wrong secret
      const refused = refusal.value as NotAccessibleError
      const named = refused.recipient === "host" ? new NotAccessibleError({ ...refused, recipient: `the host at ${options.url}` }) : refused
      state.lastProblem = named
      // said before the join fails: failing it may close the scope this fiber runs in
      yield* Effect.logError(`the host at ${options.url} refused this worker`, named.message).pipe(logged(s))
      Deferred.doneUnsafe(s.firstJoin, Exit.fail(named))
      return
    }
    if (wasConnected) {
      // the attempts to reconnect count from here: the first of them is logged with what it ran into
      state.attempts = 0
      yield* Effect.logWarning(`lost the host at ${options.url}; reconnecting`).pipe(
        logged(s),
        Effect.annotateLogs({ cause: Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "stream ended" })
      )
    } else {
      yield* attemptLog(state)(`cannot reach the host at ${options.url} (attempt ${state.attempts}): ${reasonOf(state.lastProblem!)}; retrying`).pipe(
        logged(s),
        Effect.annotateLogs({ attempt: state.attempts, problem: state.lastProblem!.message })
      )
    }
  })

/** Sessions with the host, one after another, forever: join, re-declare, pass on what is pushed; on loss, tell and retry. */
const session = (s: Sessions) =>
  Effect.suspend(() =>
    s.client.Connect({
      workerId: s.options.workerId,
      // this worker reads a publish's deliveries to several of its agents as one message
      accepts: ["DeliverMany"],
      ...(s.options.token !== undefined ? { token: s.options.token } : {}),
      ...(s.state.resume !== undefined ? { resume: s.state.resume } : {})
    }).pipe(Stream.runForEachArray(onChunk(s)))
  ).pipe(
    Effect.exit,
    Effect.flatMap((exit) => ended(s, exit)),
    Effect.andThen(Effect.sleep(s.options.reconnectInterval)),
    Effect.forever
  )
