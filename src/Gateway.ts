/**
 * The gateway: a worker's side of its connection to the host servicer. It
 * opens the `Connect` stream, hands what the host pushes to the worker, and
 * keeps what the worker declared (agent types, subscriptions) so that after
 * the host restarts or the network drops it reconnects, joins again and
 * re-registers everything by itself.
 *
 * While the host is unreachable, calls fail at once with `UndeliverableError`
 * rather than wait: a send never waits forever.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Cause, Deferred, Duration, Effect, Exit, Latch, Layer, Schedule, Stream } from "effect"
import { RpcClient, RpcSerialization } from "effect/rpc"
import type { RpcClientError } from "effect/rpc/RpcClientError"
import { type AgentError, UndeliverableError } from "./AgentError.ts"
import { type HostMessage, Protocol } from "./Protocol.ts"
import * as Acks from "./internal/Acks.ts"
import * as Subscription from "./Subscription.ts"

/** Where and how a worker reaches its host. */
export interface Options {
  /** `ws://host:port/` (WebSocket, the default transport) or `tcp://host:port` (ndjson over TCP). */
  readonly url: string
  /** This worker's identity, announced in the handshake. */
  readonly workerId: string
  /** Presented to a host that requires one. */
  readonly token?: string | undefined
  /** Pause between attempts to reach the host (default 250 ms). */
  readonly reconnectInterval?: Duration.Input | undefined
  /** How long the first connection may take before the worker gives up (default 10 s). */
  readonly connectTimeout?: Duration.Input | undefined
}

/** The typed `effect/rpc` client of the protocol. */
export type ProtocolClient = RpcClient.FromGroup<typeof Protocol, RpcClientError>

/** A worker's live connection to its host. */
export interface Gateway {
  readonly client: ProtocolClient
  /** Maps transport failures of a call to `UndeliverableError`. */
  readonly call: <A, E>(recipient: string, effect: Effect.Effect<A, E | RpcClientError>) => Effect.Effect<A, Exclude<E, RpcClientError> | UndeliverableError>
  readonly registerType: (name: string, description: string) => Effect.Effect<void, AgentError>
  readonly unregisterType: (name: string) => Effect.Effect<void, AgentError>
  readonly addSubscription: (subscription: Subscription.Subscription) => Effect.Effect<void, AgentError>
  readonly removeSubscription: (id: string) => Effect.Effect<boolean, AgentError>
}

const protocolLayer = (options: Options) => {
  const retryPolicy = Schedule.spaced(options.reconnectInterval ?? Duration.millis(250))
  const url = new URL(options.url)
  if (url.protocol === "tcp:") {
    return Acks.client(RpcClient.layerProtocolSocket({ retryPolicy, retryTransientErrors: true }).pipe(
      Layer.provide(NodeSocket.layerNet({ host: url.hostname, port: Number(url.port) })),
      Layer.provide(RpcSerialization.layerNdjson)
    ))
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new Error(`unsupported host url ${options.url}: use ws://host:port/ or tcp://host:port`)
  }
  return Acks.client(RpcClient.layerProtocolSocket({ retryPolicy, retryTransientErrors: true }).pipe(
    Layer.provide(NodeSocket.layerWebSocket(options.url)),
    Layer.provide(RpcSerialization.layerJson)
  ))
}

/**
 * Connects to the host for the life of the scope. `onMessage` receives
 * everything the host pushes (except `Welcome`), synchronously and in order.
 */
export const make = Effect.fnUntraced(function*(
  options: Options,
  onMessage: (message: HostMessage) => void,
  /** The session with the host ended: the host has failed everything it had pushed here. */
  onLost: () => void = () => {}
) {
  const scope = yield* Effect.scope
  // the protocol lives in the outer scope, so closing the client can still tell the host
  const protocol = yield* Layer.buildWithScope(protocolLayer(options), scope)
  const client = yield* RpcClient.make(Protocol, { disableTracing: true }).pipe(Effect.provide(protocol))
  const types = new Map<string, string>()
  const subscriptions = new Map<string, Subscription.Subscription>()
  const joined = Latch.makeUnsafe(false)
  // the first join's result: a refusal (bad token) fails the worker at once instead of retrying
  const firstJoin = Deferred.makeUnsafe<void, AgentError>()
  let connected = false

  const unreachable = (recipient: string, error: RpcClientError) =>
    new UndeliverableError({ recipient, reason: `the host is unreachable (${error.reason._tag})` })

  const call = <A, E>(recipient: string, effect: Effect.Effect<A, E | RpcClientError>) =>
    Effect.catchIf(
      effect,
      (e): e is RpcClientError => typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "RpcClientError",
      (e) => Effect.fail(unreachable(recipient, e))
    ) as Effect.Effect<A, Exclude<E, RpcClientError> | UndeliverableError>

  /** After (re)joining, declare everything again: the host may be a new one. */
  const redeclare = Effect.gen(function*() {
    for (const [name, description] of types) yield* client.RegisterAgentType({ name, description })
    for (const subscription of subscriptions.values()) yield* client.AddSubscription({ subscription })
  })

  const session = client.Connect({ workerId: options.workerId, ...(options.token !== undefined ? { token: options.token } : {}) }).pipe(
    Stream.runForEach((message) => {
      if (message._tag !== "Welcome") return Effect.sync(() => onMessage(message))
      return redeclare.pipe(
        Effect.andThen(Effect.sync(() => {
          connected = true
          joined.openUnsafe()
          Deferred.doneUnsafe(firstJoin, Exit.void)
        })),
        Effect.andThen(Effect.logInfo("joined the host").pipe(Effect.annotateLogs({ workerId: options.workerId, hostId: message.hostId })))
      )
    }),
    Effect.exit,
    Effect.flatMap((exit) => {
      const wasConnected = connected
      connected = false
      joined.closeUnsafe()
      onLost()
      const refusal = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      if (refusal?._tag === "Some" && refusal.value._tag === "NotAccessibleError") {
        Deferred.doneUnsafe(firstJoin, Exit.fail(refusal.value))
        return Effect.logError("the host refused this worker").pipe(Effect.annotateLogs({ workerId: options.workerId }))
      }
      if (!wasConnected) return Effect.void
      return Effect.logWarning("lost the host; reconnecting").pipe(
        Effect.annotateLogs({ workerId: options.workerId, cause: Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "stream ended" })
      )
    }),
    Effect.andThen(Effect.sleep(options.reconnectInterval ?? Duration.millis(250))),
    Effect.forever
  )
  yield* Effect.forkIn(session, scope)

  const connectTimeout = options.connectTimeout ?? Duration.seconds(10)
  yield* Deferred.await(firstJoin).pipe(
    Effect.timeoutOrElse({
      duration: connectTimeout,
      orElse: () => Effect.fail(new UndeliverableError({ recipient: "host", reason: `could not join ${options.url} within ${Duration.format(Duration.fromInputUnsafe(connectTimeout))}` }))
    })
  )

  const whenConnected = <A>(effect: Effect.Effect<A, AgentError>) => connected ? effect : Effect.void.pipe(Effect.as(undefined as A))

  return {
    client,
    call,
    registerType: (name, description) =>
      Effect.suspend(() => {
        types.set(name, description)
        return whenConnected(call(`host`, client.RegisterAgentType({ name, description })))
      }),
    unregisterType: (name) =>
      Effect.suspend(() => {
        types.delete(name)
        return whenConnected(call(`host`, client.UnregisterAgentType({ name })))
      }),
    addSubscription: (subscription) =>
      Effect.suspend(() => {
        subscriptions.set(Subscription.id(subscription), subscription)
        return whenConnected(call(`host`, client.AddSubscription({ subscription })))
      }),
    removeSubscription: (id) =>
      Effect.suspend(() => {
        subscriptions.delete(id)
        return call(`host`, client.RemoveSubscription({ id }))
      })
  } satisfies Gateway
})

