/**
 * How a worker opens the socket it speaks to its host over: the one piece
 * of a worker that depends on the platform. `ws://` and `wss://` URLs speak
 * JSON over WebSocket, `tcp://` and `tls://` (TLS over TCP) URLs
 * newline-delimited JSON; the connector only opens the socket (and, for
 * `wss://` and `tls://`, verifies the host's certificate). On Node,
 * `NodeConnector.layer` provides it (and `WorkerRuntime.layer` from the
 * package root already includes it).
 */
import { Context, type Duration, type Layer } from "effect"
import type { Socket, SocketError } from "effect/socket/Socket"

/** How a worker checks the host's certificate on `wss://` and `tls://`. */
export interface TlsOptions {
  /**
   * The certificate authorities to trust, PEM (one or more certificates):
   * the host's certificate must chain to one of them. Without it, the
   * platform's default authorities are trusted.
   */
  readonly ca?: string | undefined
  /** The name the host's certificate must carry (default: the URL's host name or IP address). */
  readonly servername?: string | undefined
  /** `false` accepts any certificate: no protection against a man in the middle, for tests only (default `true`). */
  readonly rejectUnauthorized?: boolean | undefined
}

export class Connector extends Context.Service<Connector, {
  /**
   * A socket to `url`, opened (and re-opened after a loss) by whoever reads
   * it; an open attempt, TLS handshake included, gives up after
   * `openTimeout`. `tls` applies to `wss://` and `tls://` URLs.
   */
  readonly socket: (
    url: URL,
    options: { readonly openTimeout: Duration.Duration; readonly tls?: TlsOptions | undefined }
  ) => Layer.Layer<Socket, SocketError>
}>()("effect-agents/Connector") {}
