/**
 * How a worker opens the socket it speaks to its host over: the one piece
 * of a worker that depends on the platform. `ws://` and `wss://` URLs speak
 * JSON over WebSocket, `tcp://` URLs newline-delimited JSON over TCP; the
 * connector only opens the socket. On Node, `NodeConnector.layer` provides
 * it (and `WorkerRuntime.layer` from the package root already includes it).
 */
import { Context, type Layer } from "effect"
import type { Socket, SocketError } from "effect/socket/Socket"

export class Connector extends Context.Service<Connector, {
  /** A layer that opens a socket to `url` each time it is built. */
  readonly socket: (url: URL) => Layer.Layer<Socket, SocketError>
}>()("effect-agents/Connector") {}
