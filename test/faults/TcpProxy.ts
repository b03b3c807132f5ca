/**
 * A controllable TCP proxy for fault-injection tests.
 *
 * Put it between a client and a server (a host's WebSocket endpoint, a raw
 * TCP service) and make the link misbehave on demand, with real sockets and
 * real TCP semantics:
 *
 * - `"forward"`: a plain byte-for-byte proxy (with backpressure);
 * - `"blackhole"`: bytes read from either side are dropped silently; nothing
 *   is closed, so both ends see a link that has gone silent. Dropped bytes
 *   are lost for good: going back to `"forward"` does not replay them, only
 *   new bytes flow again, on the same sockets;
 * - `"stall-upstream"` / `"stall-downstream"`: the same, in one direction
 *   only (client->target, respectively target->client);
 * - `"pause"`: the proxy stops reading from both sides (`socket.pause()`), so
 *   the kernel buffers fill and TCP backpressure reaches both peers. Nothing
 *   is lost: bytes flow again when the mode changes;
 * - `cut`: every current connection is reset abruptly (RST where Node
 *   supports it), while new connections are still accepted;
 * - `refuse(true)`: new connections are accepted and destroyed at once.
 *
 * A FIN (half-close) read in a dropping direction is held back and delivered
 * once that direction flows again, as a real TCP stack would retransmit it
 * once the link heals. A socket that closes completely (error, reset,
 * destroy) takes its peer down with it, whatever the mode.
 *
 * Errors on any socket are swallowed (they end that connection, never the
 * process). The proxy, its server and all its sockets live in the `Scope`
 * given to `make`.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import * as Net from "node:net"

export type Mode = "forward" | "blackhole" | "stall-upstream" | "stall-downstream" | "pause"

export interface TcpProxy {
  /** The port the proxy listens on, on 127.0.0.1. */
  readonly port: number
  /** `ws://127.0.0.1:PORT/` or `tcp://127.0.0.1:PORT`. */
  readonly url: (scheme: "ws" | "tcp") => string
  /** Changes how current and future connections behave. */
  readonly mode: (m: Mode) => Effect.Effect<void>
  /** Resets every current connection; new ones are still accepted. */
  readonly cut: Effect.Effect<void>
  /** While on, new connections are accepted and destroyed at once. */
  readonly refuse: (on: boolean) => Effect.Effect<void>
  /** Client connections currently open through the proxy. */
  readonly connections: Effect.Effect<number>
  /** Bytes forwarded so far: client->target (`up`) and target->client (`down`). */
  readonly bytes: Effect.Effect<{ readonly up: number; readonly down: number }>
}

/** One direction of a proxied connection: bytes read from `from` go to `to`. */
interface Direction {
  readonly from: Net.Socket
  readonly to: Net.Socket
  readonly name: "up" | "down"
  /** `to` asked us to wait for 'drain'. */
  blocked: boolean
  /** `from` sent a FIN while this direction was dropping bytes. */
  pendingEnd: boolean
}

interface Connection {
  readonly client: Net.Socket
  readonly upstream: Net.Socket
  readonly up: Direction
  readonly down: Direction
}

const flows = (mode: Mode, name: "up" | "down"): boolean =>
  mode === "forward" ||
  (name === "up" && mode === "stall-downstream") ||
  (name === "down" && mode === "stall-upstream")

const reset = (socket: Net.Socket): void => {
  try {
    if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy()
    else socket.destroy()
  } catch {
    socket.destroy()
  }
}

export const make = (target: { readonly host: string; readonly port: number }): Effect.Effect<
  TcpProxy,
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    let mode: Mode = "forward"
    let refusing = false
    const bytes = { up: 0, down: 0 }
    const open = new Set<Connection>()
    // Every socket the proxy owns, refused ones included, so that closing
    // the scope leaves nothing behind.
    const sockets = new Set<Net.Socket>()

    const track = (socket: Net.Socket): void => {
      sockets.add(socket)
      socket.on("error", () => {})
      socket.once("close", () => sockets.delete(socket))
    }

    // Pauses or resumes the reading side of a direction according to the
    // mode and to backpressure from the writing side.
    const applyFlow = (d: Direction): void => {
      if (d.from.destroyed) return
      if (mode === "pause" || d.blocked) d.from.pause()
      else d.from.resume()
      if (d.pendingEnd && flows(mode, d.name) && !d.to.destroyed) {
        d.pendingEnd = false
        d.to.end()
      }
    }

    const wire = (d: Direction): void => {
      d.from.on("data", (chunk: Buffer) => {
        // 'data' only fires while reading, i.e. not in "pause" mode; in a
        // dropping mode the chunk is read and discarded.
        if (!flows(mode, d.name) || d.to.destroyed) return
        bytes[d.name] += chunk.length
        if (!d.to.write(chunk)) {
          d.blocked = true
          applyFlow(d)
        }
      })
      d.to.on("drain", () => {
        d.blocked = false
        applyFlow(d)
      })
      d.from.on("end", () => {
        if (d.to.destroyed) return
        if (flows(mode, d.name)) d.to.end()
        else d.pendingEnd = true
      })
      d.from.once("close", () => {
        if (!d.to.destroyed) d.to.destroy()
      })
    }

    const onConnection = (client: Net.Socket): void => {
      track(client)
      if (refusing) {
        client.destroy()
        return
      }
      const upstream = Net.connect({ host: target.host, port: target.port, allowHalfOpen: true })
      track(upstream)
      const up: Direction = { from: client, to: upstream, name: "up", blocked: false, pendingEnd: false }
      const down: Direction = { from: upstream, to: client, name: "down", blocked: false, pendingEnd: false }
      const connection: Connection = { client, upstream, up, down }
      open.add(connection)
      client.once("close", () => open.delete(connection))
      wire(up)
      wire(down)
      applyFlow(up)
      applyFlow(down)
    }

    const server = yield* Effect.acquireRelease(
      Effect.callback<Net.Server>((resume) => {
        const server = Net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, onConnection)
        server.on("error", () => {})
        server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.callback<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          sockets.clear()
          open.clear()
          server.close(() => resume(Effect.void))
        })
    )
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0

    const proxy: TcpProxy = {
      port,
      url: (scheme) => scheme === "ws" ? `ws://127.0.0.1:${port}/` : `tcp://127.0.0.1:${port}`,
      mode: (m) =>
        Effect.sync(() => {
          mode = m
          for (const connection of open) {
            applyFlow(connection.up)
            applyFlow(connection.down)
          }
        }),
      cut: Effect.sync(() => {
        for (const connection of open) {
          reset(connection.client)
          reset(connection.upstream)
        }
        open.clear()
      }),
      refuse: (on) =>
        Effect.sync(() => {
          refusing = on
        }),
      connections: Effect.sync(() => open.size),
      bytes: Effect.sync(() => ({ up: bytes.up, down: bytes.down }))
    }
    return proxy
  })
