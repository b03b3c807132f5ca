/**
 * A host's admin endpoints, for operators, load balancers and
 * orchestrators, on their own HTTP server (off the port workers join, and on
 * 127.0.0.1 unless told otherwise):
 *
 * | path            | what                                                          | token |
 * | --------------- | ------------------------------------------------------------- | ----- |
 * | `/health/live`  | 200 while the process serves (JSON `{ status: "live" }`)      | no    |
 * | `/health/ready` | 200 once the host listens and accepts joins, 503 before and while it stops | no |
 * | `/status`       | the host's status as JSON (`AdminStatus.Status`)              | yes   |
 * | `/metrics`      | Prometheus text: the metric registry and the host's gauges    | yes   |
 * | `/events`       | server-sent events: the status, once a second                 | yes   |
 * | `/dashboard`    | the live dashboard (one HTML page that reads `/events`)       | no    |
 *
 * With a `token`, the endpoints that show data want it as
 * `Authorization: Bearer <token>` and answer 401 without it. The health
 * endpoints stay open: orchestrators' probes rarely carry secrets, and they
 * tell nothing but whether the host is up. The dashboard page holds no data
 * (it asks `/events` with the token), so it is open too.
 *
 * A worker can serve its own `/health/live` and `/health/ready` (ready: it
 * reaches its host now) with `layerWorkerServer`.
 *
 * This module is platform-neutral: its layers serve on the `HttpServer` they
 * are given. On Node, `HostServicer.layer({ admin: { port } })` (or
 * `effect-agents host --admin-port`) starts them with the host, and
 * `Admin.layerWorker({ port })` (`node/Admin.ts`) next to a worker.
 */
import { Context, Effect, Layer, Metric, Schedule, Stream } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import { AgentRuntime } from "../core/AgentRuntime.ts"
import * as AdminMetrics from "./AdminMetrics.ts"
import type * as AdminStatus from "./AdminStatus.ts"
import { HostServicer } from "./HostServicer.ts"
import * as Dashboard from "./internal/Dashboard.ts"
import { sameSecret } from "./internal/Sessions.ts"

/** Where and how the admin endpoints are served. */
export interface Options {
  /** Port of the admin server (0 picks a free one). */
  readonly port: number
  /** Interface to listen on (default 127.0.0.1: this machine only). */
  readonly host?: string | undefined
  /** Require this bearer token on `/status`, `/metrics` and `/events` (default: none). */
  readonly token?: string | undefined
  /** How often `/events` sends the status (default 1 second). */
  readonly eventInterval?: number | undefined
  /** How many `/events` streams may be open at once (default 32); past it, 503. */
  readonly maxEventStreams?: number | undefined
}

/** The running admin server. */
export class Admin extends Context.Service<Admin, {
  readonly port: number
  /** `http://host:port`, without a trailing slash: the dashboard is at `${url}/dashboard`. */
  readonly url: string
}>()("effect-agents/Admin") {}

/**
 * The host the admin endpoints report on, once it is up: readiness is
 * whether it is set. `tracking` sets it when the host layer is built and
 * clears it when the host starts to stop.
 */
export interface Target {
  host: HostServicer["Service"] | undefined
  stopping: boolean
}

/** A target with no host yet. */
export const makeTarget = (): Target => ({ host: undefined, stopping: false })

/** The host layer, telling `target` when the host is up and when it starts to stop. */
export const tracking = <E, R>(target: Target, host: Layer.Layer<HostServicer, E, R>): Layer.Layer<HostServicer, E, R> =>
  Layer.effect(
    HostServicer,
    Effect.gen(function*() {
      const servicer = yield* HostServicer
      target.host = servicer
      target.stopping = false
      // runs before the host closes its listeners: probes see "stopping" first
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          target.host = undefined
          target.stopping = true
        })
      )
      return servicer
    })
  ).pipe(Layer.provide(host))

const json = (body: unknown, status = 200) =>
  HttpServerResponse.jsonUnsafe(body, { status, headers: { "cache-control": "no-store" } })

const unauthorized = (reason: string) =>
  HttpServerResponse.jsonUnsafe({ error: "unauthorized", reason }, {
    status: 401,
    headers: { "www-authenticate": "Bearer realm=\"effect-agents admin\"", "cache-control": "no-store" }
  })

const notReady = (target: Target) =>
  json({ status: target.stopping ? "stopping" : "starting" } satisfies AdminStatus.Health, 503)

/** The admin routes, for `target`'s host. */
export const routes = (options: Omit<Options, "port" | "host">, target: Target) => {
  const interval = options.eventInterval ?? 1000
  const maxStreams = options.maxEventStreams ?? 32
  let streams = 0

  /** Runs `handler` if the request carries the token (or none is required), else 401. */
  const guarded = <E, R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    Effect.flatMap(Effect.service(HttpServerRequest.HttpServerRequest), (request) => {
      if (options.token === undefined) return handler
      const header = request.headers["authorization"]
      if (header === undefined) return Effect.succeed(unauthorized("this endpoint wants Authorization: Bearer <admin token>"))
      const match = /^Bearer\s+(.+)$/i.exec(header)
      if (match === null || !sameSecret(match[1]!.trim(), options.token)) return Effect.succeed(unauthorized("bad admin token"))
      return handler
    })

  const withHost = (f: (host: HostServicer["Service"]) => Effect.Effect<HttpServerResponse.HttpServerResponse>) =>
    Effect.suspend(() => target.host === undefined ? Effect.succeed(notReady(target)) : f(target.host))

  const events = withHost((host) =>
    Effect.sync(() => {
      if (streams >= maxStreams) return json({ error: "too many event streams", max: maxStreams }, 503)
      const encoder = new TextEncoder()
      const snapshots = Stream.fromEffectSchedule(
        Effect.suspend(() => target.host === undefined ? Effect.succeed(undefined) : target.host.status),
        Schedule.spaced(interval)
      ).pipe(
        Stream.takeWhile((status) => status !== undefined),
        Stream.map((status) => encoder.encode(`event: status\ndata: ${JSON.stringify(status)}\n\n`))
      )
      const first = Stream.fromEffect(Effect.map(host.status, (status) => encoder.encode(`retry: 2000\nevent: status\ndata: ${JSON.stringify(status)}\n\n`)))
      const body = Stream.concat(first, snapshots).pipe(
        Stream.onStart(Effect.sync(() => streams++)),
        Stream.ensuring(Effect.sync(() => streams--))
      )
      return HttpServerResponse.stream(body, {
        contentType: "text/event-stream",
        headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
      })
    }))

  return HttpRouter.addAll([
    HttpRouter.route("GET", "/health/live", Effect.sync(() => json({ status: "live" } satisfies AdminStatus.Health))),
    HttpRouter.route(
      "GET",
      "/health/ready",
      withHost((host) =>
        Effect.map(host.status, (status) =>
          json({ status: "ready", url: host.url, recovering: status.recovering } satisfies AdminStatus.Health)))
    ),
    HttpRouter.route("GET", "/status", guarded(withHost((host) => Effect.map(host.status, (status) => json(status))))),
    HttpRouter.route(
      "GET",
      "/metrics",
      guarded(Effect.gen(function*() {
        const snapshots = yield* Metric.snapshot
        const status = target.host === undefined ? undefined : yield* target.host.status
        return HttpServerResponse.text(AdminMetrics.render(snapshots, status), { contentType: AdminMetrics.contentType, headers: { "cache-control": "no-store" } })
      }))
    ),
    HttpRouter.route("GET", "/events", guarded(events)),
    HttpRouter.route("GET", "/dashboard", Effect.succeed(HttpServerResponse.html(Dashboard.html))),
    HttpRouter.route("GET", "/", Effect.succeed(HttpServerResponse.redirect("/dashboard")))
  ])
}

/** The admin endpoints for `target`'s host on the `HttpServer` it is given. */
export const layerServer = (options: Omit<Options, "port">, target: Target): Layer.Layer<Admin, never, HttpServer.HttpServer> =>
  Layer.effect(
    Admin,
    HttpServer.HttpServer.useSync(({ address }) =>
      Admin.of({
        port: address._tag === "UnixPathAddress" ? 0 : address.port,
        url: address._tag === "UnixPathAddress" ? "http://localhost" : `http://${urlHost(options.host ?? "127.0.0.1")}:${address.port}`
      }))
  ).pipe(Layer.provideMerge(HttpRouter.serve(routes(options, target), { disableLogger: true, disableListenLog: true })))

/** The admin endpoints for the `HostServicer` in context (up from the start) on the `HttpServer` it is given. */
export const layer = (options: Omit<Options, "port">): Layer.Layer<Admin, never, HttpServer.HttpServer | HostServicer> =>
  Layer.unwrap(Effect.map(Effect.service(HostServicer), (host) => layerServer(options, { host, stopping: false })))

/** How long a worker's readiness waits for its host to answer. */
const workerReadyTimeout = 2000

/**
 * A worker's health endpoints (`/health/live`, `/health/ready`) on the
 * `HttpServer` it is given. Ready means the worker reaches its host now:
 * each probe asks the host for the worker's subscriptions, a round trip over
 * the worker's own connection, and answers 503 when that fails or takes
 * longer than 2 seconds (the host is gone, or the link is down and the
 * worker is reconnecting).
 */
export const layerWorkerServer = (options: Omit<Options, "port" | "token">): Layer.Layer<Admin, never, HttpServer.HttpServer | AgentRuntime> =>
  Layer.effect(
    Admin,
    HttpServer.HttpServer.useSync(({ address }) =>
      Admin.of({
        port: address._tag === "UnixPathAddress" ? 0 : address.port,
        url: address._tag === "UnixPathAddress" ? "http://localhost" : `http://${urlHost(options.host ?? "127.0.0.1")}:${address.port}`
      }))
  ).pipe(Layer.provideMerge(HttpRouter.serve(
    Layer.unwrap(Effect.map(Effect.service(AgentRuntime), (runtime) =>
      HttpRouter.addAll([
        HttpRouter.route("GET", "/health/live", Effect.sync(() => json({ status: "live" } satisfies AdminStatus.Health))),
        HttpRouter.route(
          "GET",
          "/health/ready",
          runtime.subscriptions.pipe(
            Effect.timeout(workerReadyTimeout),
            Effect.match({
              onFailure: () => json({ status: "starting" } satisfies AdminStatus.Health, 503),
              onSuccess: () => json({ status: "ready" } satisfies AdminStatus.Health)
            })
          )
        )
      ]))),
    { disableLogger: true, disableListenLog: true }
  )))

const urlHost = (host: string) => host.includes(":") ? `[${host}]` : host
