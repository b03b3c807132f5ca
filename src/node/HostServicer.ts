/**
 * `HostServicer` on Node: the platform-neutral host
 * (`distributed/HostServicer.ts`) on Node's HTTP server (WebSocket) or TCP
 * server. This is the `HostServicer` the package root exports.
 */
import * as Http from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { Layer } from "effect"
import * as HostServicer from "../distributed/HostServicer.ts"

export * from "../distributed/HostServicer.ts"

/**
 * A host servicer for the life of the layer. With `port: 0` the system picks
 * a free port; read it from `HostServicer` (`port`, `url`).
 */
export const layer = (options: HostServicer.Options = {}): Layer.Layer<HostServicer.HostServicer, unknown> => {
  const host = options.host ?? "127.0.0.1"
  const port = options.port ?? 7700
  if (options.transport === "tcp") {
    return HostServicer.layerTcp(options).pipe(Layer.provide(NodeSocketServer.layer({ host, port })))
  }
  // open websockets would hold shutdown for the default 20 s: a host closes them at once
  return HostServicer.layerWebSocket(options).pipe(
    Layer.provide(NodeHttpServer.layer(() => Http.createServer(), { host, port, gracefulShutdownTimeout: "100 millis" }))
  )
}
