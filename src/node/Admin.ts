/**
 * The admin endpoints (`distributed/Admin.ts`) on Node's HTTP server. The
 * package root's `HostServicer.layer({ admin: { port } })` starts them with
 * the host; `layer` serves them next to a host built some other way, and
 * `layerWorker` serves a worker's health endpoints.
 */
import * as Http from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Layer } from "effect"
import * as Admin from "../distributed/Admin.ts"
import type { AgentRuntime } from "../core/AgentRuntime.ts"
import type { HostServicer } from "../distributed/HostServicer.ts"

export * from "../distributed/Admin.ts"

// an open /events stream would hold shutdown for the default 20 s: the admin server closes at once
const server = (options: Admin.Options) =>
  NodeHttpServer.layer(() => Http.createServer(), {
    host: options.host ?? "127.0.0.1",
    port: options.port,
    gracefulShutdownTimeout: "100 millis"
  })

/** The admin endpoints for `target`'s host, on their own Node HTTP server. */
export const layerServer = (options: Admin.Options, target: Admin.Target): Layer.Layer<Admin.Admin, unknown> =>
  Admin.layerServer(options, target).pipe(Layer.provide(server(options)))

/** The admin endpoints for the `HostServicer` in context, on their own Node HTTP server. */
export const layer = (options: Admin.Options): Layer.Layer<Admin.Admin, unknown, HostServicer> =>
  Admin.layer(options).pipe(Layer.provide(server(options)))

/** A worker's health endpoints (`/health/live`, `/health/ready`: it reaches its host) on their own Node HTTP server. */
export const layerWorker = (options: Omit<Admin.Options, "token">): Layer.Layer<Admin.Admin, unknown, AgentRuntime> =>
  Admin.layerWorkerServer(options).pipe(Layer.provide(server(options)))
