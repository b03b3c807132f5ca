/**
 * `HostServicer` on Node: the platform-neutral host
 * (`distributed/HostServicer.ts`) on Node's HTTP server (WebSocket) or TCP
 * server; with `tls`, on Node's HTTPS server (`wss://`) or TLS server
 * (`tls://`). This is the `HostServicer` the package root exports.
 */
import * as Http from "node:http"
import * as Https from "node:https"
import * as Tls from "node:tls"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { Effect, Layer } from "effect"
import * as Admin from "../distributed/Admin.ts"
import * as HostServicer from "../distributed/HostServicer.ts"
import * as NodeAdmin from "./Admin.ts"
import * as Protocol from "../distributed/Protocol.ts"

export * from "../distributed/HostServicer.ts"

/** Checks the certificate and key before serving with them, so a bad pair (not PEM, not a pair, encrypted) fails the layer with a clear error. */
const checkTls = (tls: HostServicer.TlsOptions) =>
  Effect.try({
    try: () => {
      Tls.createSecureContext({ cert: tls.cert, key: tls.key })
    },
    catch: (cause) => new Error(`the TLS certificate or key cannot be used: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  })

/**
 * A host servicer for the life of the layer. With `port: 0` the system picks
 * a free port; read it from `HostServicer` (`port`, `url`). With `tls`
 * (certificate and key, PEM) it serves `wss://` or `tls://` itself. With
 * `admin` (a port), it serves the admin endpoints too (`Admin`: health,
 * status, metrics, dashboard), on their own HTTP server, and provides
 * `Admin` too (where they are).
 */
export function layer(options: HostServicer.Options & { readonly admin: Admin.Options }): Layer.Layer<HostServicer.HostServicer | Admin.Admin, unknown>
export function layer(options?: HostServicer.Options): Layer.Layer<HostServicer.HostServicer, unknown>
export function layer(options: HostServicer.Options = {}): Layer.Layer<HostServicer.HostServicer | Admin.Admin, unknown> | Layer.Layer<HostServicer.HostServicer, unknown> {
  const host = options.host ?? "127.0.0.1"
  const port = options.port ?? 7700
  const tls = options.tls
  const serve = ((): Layer.Layer<HostServicer.HostServicer, unknown> => {
    if (options.transport === "tcp") {
      // no Nagle: a request/reply protocol would wait ~40 ms for delayed acks on every round trip
      return HostServicer.layerTcp(options).pipe(Layer.provide(
        tls !== undefined
          ? NodeSocketServer.layerTls({ host, port, cert: tls.cert, key: tls.key, noDelay: true })
          : NodeSocketServer.layer({ host, port, noDelay: true })
      ))
    }
    // open websockets would hold shutdown for the default 20 s: a host closes them at once;
    // a frame past the protocol's largest is refused by the socket before anything parses it
    return HostServicer.layerWebSocket(options).pipe(
      Layer.provide(NodeHttpServer.layer(
        () => tls !== undefined ? Https.createServer({ cert: tls.cert, key: tls.key }) : Http.createServer(),
        { host, port, gracefulShutdownTimeout: "100 millis", websocket: { maxPayload: Protocol.maxFrameBytes } }
      ))
    )
  })()
  const checked = tls === undefined ? serve : Layer.unwrap(Effect.as(checkTls(tls), serve))
  const admin = options.admin
  if (admin === undefined) return checked
  // the admin server comes up with the host, not after it: /health/ready says "starting" until the host listens
  return Layer.unwrap(Effect.sync(() => {
    const target = Admin.makeTarget()
    return Layer.merge(NodeAdmin.layerServer(admin, target), Admin.tracking(target, checked))
  }))
}
