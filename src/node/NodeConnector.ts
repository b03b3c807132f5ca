/**
 * The worker's sockets on Node: WebSocket for `ws://` / `wss://` hosts,
 * `node:net` for `tcp://` hosts.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Layer } from "effect"
import { Connector } from "../distributed/Connector.ts"

export const layer: Layer.Layer<Connector> = Layer.succeed(Connector)({
  socket: (url, { openTimeout }) =>
    url.protocol === "tcp:"
      ? NodeSocket.layerNet({ host: url.hostname, port: Number(url.port), openTimeout })
      : NodeSocket.layerWebSocket(url.href, { openTimeout })
})
