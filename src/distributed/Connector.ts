/**
 * How a worker opens the socket it speaks to its host over: the one piece
 * of a worker that depends on the platform. `ws://` and `wss://` URLs speak
 * JSON over WebSocket, `tcp://` URLs newline-delimited JSON over TCP; the
 * connector only opens the socket. On Node, `NodeConnector.layer` provides
 * it (and `WorkerRuntime.layer` from the package root already includes it).
 */
import { Context, type Duration, type Layer } from "effect"
import type { Socket, SocketError } from "effect/socket/Socket"

export class Connector extends Context.Service<Connector, {
  /** A socket to `url`, opened (and re-opened after a loss) by whoever reads it; an open attempt gives up after `openTimeout`. */
  readonly socket: (url: URL, options: { readonly openTimeout: Duration.Duration }) => Layer.Layer<Socket, SocketError>
}>()("effect-agents/Connector") {}
