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
 *
 * This module is platform-neutral: its layers serve on an abstract
 * `HttpServer` (WebSocket) or `SocketServer` (TCP). The package root's
 * `HostServicer.layer` comes with Node's servers, and serves TLS itself
 * when given `tls` (a certificate and its key).
 */
import { Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest } from "effect/http"
import { RpcServer } from "effect/rpc"
import { SocketServer } from "effect/socket"
import type * as Admin from "./Admin.ts"
import type * as AdminStatus from "./AdminStatus.ts"
import * as Acks from "./internal/Acks.ts"
import * as Frames from "./internal/Frames.ts"
import * as HostSerialization from "./internal/HostSerialization.ts"
import type * as HostCore from "./internal/HostCore.ts"
import * as HostHandlers from "./internal/HostHandlers.ts"
import { HostProtocol } from "./internal/ProtocolSides.ts"

/** How a host servicer listens and what it allows; anything left out comes from `RuntimeConfig`. */
export interface Options extends HostCore.Options {
  /** Port to listen on (default 7700; 0 picks a free one). */
  readonly port?: number | undefined
  /** Interface to listen on (default 127.0.0.1; 0.0.0.0 for other machines). */
  readonly host?: string | undefined
  /** `websocket` (default, path `/`) or `tcp` (newline-delimited JSON). */
  readonly transport?: "websocket" | "tcp" | undefined
  /**
   * Serve TLS with this certificate (chain) and its private key, both PEM
   * text: `wss://` for the WebSocket transport, `tls://` (TLS over TCP) for
   * the TCP one. The platform's server does the TLS (on Node,
   * `HostServicer.layer`); the layers of this module only announce the scheme
   * in `url`, so the server they are given must already be a TLS one.
   */
  readonly tls?: TlsOptions | undefined
  /**
   * Serve the admin endpoints (health, status, metrics, dashboard) on their
   * own port, off the workers' one (on Node, `HostServicer.layer`; see `Admin`).
   */
  readonly admin?: Admin.Options | undefined
}

/** A host's TLS identity: what `Options.tls` takes. */
export interface TlsOptions {
  /** The certificate, PEM; may be followed by its intermediate certificates. */
  readonly cert: string
  /** The certificate's private key, PEM (unencrypted). */
  readonly key: string
}

export type WorkerInfo = HostCore.WorkerInfo
export type Stats = HostCore.Stats

/** The running host: where it listens and who is connected. */
export class HostServicer extends Context.Service<HostServicer, {
  readonly port: number
  /** What a worker passes as `WorkerRuntime.layer({ url })`: `ws://` / `wss://` (WebSocket) or `tcp://` / `tls://` (TCP). */
  readonly url: string
  readonly workers: Effect.Effect<ReadonlyArray<WorkerInfo>>
  /** The sizes of the host's tables (workers, placements, subscriptions, pending requests). */
  readonly stats: Effect.Effect<Stats>
  /** What the admin endpoint `/status` answers: workers, agent types, subscriptions, rates, recent dead letters. */
  readonly status: Effect.Effect<AdminStatus.Status>
}>()("effect-agents/HostServicer") {}

class Core extends Context.Service<Core, Effect.Success<ReturnType<typeof HostHandlers.make>>>()("effect-agents/HostServicer/Core") {}

const rpcServer = RpcServer.layer(HostProtocol, { disableTracing: true }).pipe(
  Layer.provide(HostProtocol.toLayer(Core.useSync((core) => core.handlers)))
)

/** The request as the protocol sees it, its upgraded socket batching what it writes in one tick (see Frames). */
const batchingUpgrade = (request: HttpServerRequest.HttpServerRequest): HttpServerRequest.HttpServerRequest =>
  new Proxy(request, {
    // read on the target itself: the request's getters may use private fields a proxy does not have
    get: (target, key) => key === "upgrade" ? Effect.map(target.upgrade, Frames.answering) : Reflect.get(target, key, target)
  })

/** effect/rpc's WebSocket protocol on `/`, each connection's socket batched. */
const protocolWebSocket = Layer.effect(RpcServer.Protocol)(Effect.gen(function*() {
  const { httpEffect, protocol } = yield* RpcServer.makeProtocolWithHttpEffectWebsocket
  const router = yield* HttpRouter.HttpRouter
  yield* router.add("GET", "/", Effect.updateService(httpEffect, HttpServerRequest.HttpServerRequest, batchingUpgrade))
  return protocol
}))

const service = <R>(url: (port: number) => string, address: Effect.Effect<{ readonly port: number } | undefined, never, R>) =>
  Layer.effect(HostServicer, Effect.gen(function*() {
    const core = yield* Core
    const port = (yield* address)?.port ?? 0
    return HostServicer.of({ port, url: url(port), workers: core.workers, stats: core.stats, status: core.status(url(port)) })
  }))

/** A host serving JSON over WebSocket (path `/`) on the `HttpServer` it is given (`wss://` in `url` with `tls`). */
export const layerWebSocket = (options: Options = {}): Layer.Layer<HostServicer, never, HttpServer.HttpServer> => {
  const host = options.host ?? "127.0.0.1"
  const scheme = options.tls !== undefined ? "wss" : "ws"
  return service((port) => `${scheme}://${host}:${port}/`, HttpServer.HttpServer.useSync((server) => server.address._tag === "UnixPathAddress" ? undefined : server.address)).pipe(
    Layer.provideMerge(HttpRouter.serve(
      rpcServer.pipe(
        Layer.provide(Acks.server(protocolWebSocket)),
        Layer.provide(HostSerialization.layerJson)
      ),
      { disableLogger: true, disableListenLog: true }
    )),
    Layer.provide(Layer.effect(Core, HostHandlers.make(options)))
  ) as Layer.Layer<HostServicer, never, HttpServer.HttpServer>
}

/** A host serving newline-delimited JSON over TCP on the `SocketServer` it is given (`tls://` in `url` with `tls`). */
export const layerTcp = (options: Options = {}): Layer.Layer<HostServicer, never, SocketServer.SocketServer> => {
  const host = options.host ?? "127.0.0.1"
  const scheme = options.tls !== undefined ? "tls" : "tcp"
  return service(
    (port) => `${scheme}://${host}:${port}`,
    SocketServer.SocketServer.useSync((server) => server.address._tag === "UnixPathAddress" ? undefined : server.address)
  ).pipe(
    Layer.provideMerge(rpcServer.pipe(
      Layer.provide(HostSerialization.reportingBadLines(Acks.server(RpcServer.layerProtocolSocketServer))),
      Layer.provide(HostSerialization.layerNdjson)
    )),
    Layer.provide(Layer.effect(Core, HostHandlers.make(options)))
  )
}
