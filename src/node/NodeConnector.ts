/**
 * The worker's sockets on Node: WebSocket for `ws://` / `wss://` hosts,
 * `node:net` for `tcp://` hosts, `node:tls` for `tls://` hosts.
 *
 * `wss://` goes through the `ws` package (re-exported by
 * `@effect/platform-node/NodeWS`) rather than Node's global `WebSocket`,
 * because only `ws` takes `tls.connect` options: the worker's `ca`,
 * `servername` and `rejectUnauthorized` reach the TLS handshake, and a host
 * whose certificate does not verify is never opened.
 *
 * Opening is retried by the gateway until `connectTimeout`; the gateway
 * logs each attempt with the problem it names from the failure's system
 * code. Node's WebSocket reports a failed open without one, so the
 * connector then tries a plain TCP connection to the same address and
 * passes on the code that finds (`ECONNREFUSED`, `ENOTFOUND`, ...). The
 * connector also logs what only it can see (a warning for a failed TLS
 * handshake and its reason, or a host that hangs up before answering, once
 * per streak of the same failure; other failures at debug level).
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { WebSocket } from "@effect/platform-node/NodeWS"
import { Duration, Effect, Layer } from "effect"
import * as Socket from "effect/socket/Socket"
import * as Net from "node:net"
import type * as Tls from "node:tls"
import { Connector, type TlsOptions } from "../distributed/Connector.ts"

/** The worker's TLS options as `tls.connect` takes them; verification stays on unless turned off explicitly. */
const connectOptions = (tls: TlsOptions | undefined): Tls.ConnectionOptions => ({
  ...(tls?.ca !== undefined ? { ca: tls.ca } : {}),
  ...(tls?.servername !== undefined ? { servername: tls.servername } : {}),
  rejectUnauthorized: tls?.rejectUnauthorized !== false
})

/** A `WebSocketConstructor` on the `ws` package with the worker's TLS options (Node's global `WebSocket` takes no CA). */
const wsConstructor = (tls: TlsOptions | undefined, openTimeout: Duration.Duration) =>
  Layer.succeed(Socket.WebSocketConstructor)((url, options) => {
    const protocols = options === undefined || typeof options === "string" || Array.isArray(options) ? options : options.protocols
    const headers = options !== undefined && typeof options === "object" && !Array.isArray(options) ? options.headers : undefined
    return new WebSocket(url, protocols, {
      ...connectOptions(tls),
      ...(headers !== undefined ? { headers } : {}),
      handshakeTimeout: Math.max(1, Duration.toMillis(openTimeout))
    })
  })

/** `[::1]` → `::1`: `node:net` wants the bare address. */
const hostname = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, "$1")

/** What failed, from a socket error: the underlying error (`ws` wraps it in an event), its code and message. */
const describe = (error: Socket.SocketError): { readonly code: string | undefined; readonly text: string } => {
  const reason = error.reason
  if (reason._tag === "SocketOpenError" && reason.kind === "Timeout") return { code: "Timeout", text: "timed out" }
  const raw = "cause" in reason ? reason.cause : undefined
  const cause = raw !== null && typeof raw === "object" && "error" in raw && raw.error instanceof Error ? raw.error : raw
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    const text = cause.message !== "" ? cause.message : String((cause as { cause?: unknown }).cause ?? cause.name)
    return { code: typeof code === "string" ? code : undefined, text: typeof code === "string" && !text.includes(code) ? `${code}: ${text}` : text }
  }
  return { code: undefined, text: error.message }
}

/** Codes and messages of a TLS handshake that failed on this side (a certificate that does not verify, a protocol error). */
const isTlsFailure = (code: string | undefined, text: string) =>
  (code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO|HOSTNAME|ALTNAME/.test(code)) || /certificate|ssl|tls/i.test(text)

/** The first bytes of a TLS record (an alert or a handshake): what a TLS host sends a client that spoke plain text to it. */
const isTlsRecord = (head: Uint8Array | string) =>
  typeof head !== "string" && head.length >= 2 && (head[0] === 0x15 || head[0] === 0x16) && head[1] === 0x03

/** The port of a URL, its scheme's default when it names none. */
const portOf = (url: URL) => url.port !== "" ? Number(url.port) : url.protocol === "wss:" || url.protocol === "tls:" ? 443 : 80

/**
 * Why a plain TCP connection to the URL's address fails, if it does: the
 * error (with its code, `ECONNREFUSED`, `ENOTFOUND`, ...), or `undefined`
 * when something accepts the connection. Node's WebSocket reports a failed
 * open as a bare event, without the system error behind it.
 */
const probe = (url: URL, timeout: Duration.Duration) =>
  Effect.callback<Error | undefined>((resume) => {
    const socket = Net.connect({ host: hostname(url), port: portOf(url) })
    const done = (result: Error | undefined) => {
      socket.destroy()
      resume(Effect.succeed(result))
    }
    socket.setTimeout(Math.max(1, Duration.toMillis(timeout)), () =>
      done(Object.assign(new Error(`no answer from ${hostname(url)}:${portOf(url)}`), { code: "ETIMEDOUT" })))
    socket.once("connect", () => done(undefined))
    socket.once("error", (error) => done(error))
    return Effect.sync(() => socket.destroy())
  })

/**
 * A failed open that says nothing of why gets the reason a plain TCP
 * connection finds (connection refused, host name not found), so that the
 * gateway can name the problem; an open that failed for a reason it gives
 * stays as it is.
 */
const explained = (url: URL, openTimeout: Duration.Duration) => (error: Socket.SocketError) =>
  error.reason._tag !== "SocketOpenError" || error.reason.kind === "Timeout" || describe(error).code !== undefined
    ? Effect.fail(error)
    : Effect.flatMap(probe(url, openTimeout), (cause) =>
      Effect.fail(cause === undefined ? error : new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause }) })))

/**
 * The socket, logging why an attempt to reach the host failed: the gateway
 * retries quietly until `connectTimeout`, so without this a worker that
 * cannot verify its host would only say it could not join.
 */
const withDiagnostics = (url: URL, secure: boolean, layer: Layer.Layer<Socket.Socket, Socket.SocketError>, openTimeout: Duration.Duration) =>
  Layer.effect(
    Socket.Socket,
    Effect.gen(function*() {
      const socket = yield* Socket.Socket
      let last: string | undefined
      const warn = (message: string) =>
        Effect.suspend(() => {
          const repeat = message === last
          last = message
          return (repeat ? Effect.logDebug(message) : Effect.logWarning(message)).pipe(Effect.annotateLogs({ host: url.href }))
        })
      const openFailed = (error: Socket.SocketError) => {
        const { code, text } = describe(error)
        if (secure && isTlsFailure(code, text)) return warn(`TLS handshake with the host failed: ${text}`)
        if (secure && (code === "ECONNRESET" || code === "EPIPE")) {
          return warn(`TLS handshake with the host failed: the host closed the connection (${text}); does it serve TLS?`)
        }
        return Effect.logDebug(`could not connect to the host: ${text}`).pipe(Effect.annotateLogs({ host: url.href }))
      }
      const closedEarly = (error: Socket.SocketError) =>
        warn(
          `handshake with the host failed: the connection ended before the host answered (${describe(error).text})` +
            (secure ? "" : "; if the host serves TLS, use a wss:// or tls:// URL")
        )
      return Socket.make({
        reader: socket.reader.pipe(
          Effect.catch(explained(url, openTimeout)),
          Effect.tapError(openFailed),
          Effect.map((reader) => {
            // until the host has said something, a failed read is a failed handshake
            let state: "waiting" | "answered" | "diagnosed" = "waiting"
            const first = reader.pull.pipe(
              Effect.tap((chunk) => {
                const head = chunk.find((part) => part.length > 0)
                // a closing socket may hand over an empty chunk first
                if (head === undefined) return Effect.void
                if (!secure && isTlsRecord(head)) {
                  state = "diagnosed"
                  return warn("handshake with the host failed: the host answered with TLS; use a tls:// or wss:// URL")
                }
                state = "answered"
                last = undefined
                return Effect.void
              }),
              Effect.tapError((error) => state === "waiting" ? closedEarly(error) : Effect.void)
            )
            return { ...reader, pull: Effect.suspend(() => state === "waiting" ? first : reader.pull) }
          })
        ),
        writer: socket.writer
      })
    })
  ).pipe(Layer.provide(layer))

export const layer: Layer.Layer<Connector> = Layer.succeed(Connector)({
  socket: (url, { openTimeout, tls }) => {
    switch (url.protocol) {
      case "tcp:":
        return withDiagnostics(url, false, NodeSocket.layerNet({ host: hostname(url), port: Number(url.port), openTimeout }), openTimeout)
      case "tls:":
        return withDiagnostics(
          url,
          true,
          NodeSocket.layerTls({ host: hostname(url), port: Number(url.port), openTimeout, ...connectOptions(tls) }),
          openTimeout
        )
      case "wss:":
        return withDiagnostics(
          url,
          true,
          Layer.effect(Socket.Socket, Socket.makeWebSocket(url.href, { openTimeout })).pipe(Layer.provide(wsConstructor(tls, openTimeout))),
          openTimeout
        )
      default:
        return withDiagnostics(url, false, NodeSocket.layerWebSocket(url.href, { openTimeout }), openTimeout)
    }
  }
})
