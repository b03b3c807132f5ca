/**
 * Several envelopes per WebSocket frame. effect/rpc writes every envelope
 * (a request, a reply, a chunk of the host's push stream) as a frame of its
 * own, and per frame both ends pay a `ws.send`, a socket write, a read event
 * and a parse: measured, the host spent a quarter of its time in `writev`.
 * Here the JSON envelopes one side writes in the same tick go as one frame
 * holding an array of them, which both ends' JSON serializations already
 * read as those envelopes, in order.
 *
 * A peer may not read arrays (a worker in another language written to the
 * one-envelope-per-frame protocol), so the host sends arrays only to a
 * connection that has sent one: a worker of this package sends its frames
 * as arrays from the first (its `Connect`), announcing that it reads them
 * too. Binary frames, close events and envelopes too large to share a frame
 * go on their own, after what was queued before them.
 *
 * The WebSocket writer sends synchronously and applies no backpressure
 * (`ws.send` buffers), so answering a write before its frame is sent, at
 * the end of the tick, changes nothing a caller could see; a write that
 * fails there is a connection that failed, which its reader reports.
 */
import { Context, Effect } from "effect"
import * as Socket from "effect/socket/Socket"

/**
 * A frame is sent once it holds this many characters (or envelopes): it
 * stays far below the largest frame a peer accepts (16 MiB), and one large
 * envelope does not wait for others. An envelope this large goes as a frame
 * of its own, as it is.
 */
const frameChars = 256 * 1024
const maxPerFrame = 512

/** `[` */
const openBracket = 91

/** The text of one frame holding `parts` (JSON texts, each an envelope or an array of them). */
const arrayFrame = (parts: ReadonlyArray<string>): string => {
  let out = "["
  for (const part of parts) {
    // an array of envelopes joins as its envelopes, so the frame stays one flat array (an empty one adds nothing)
    const envelopes = part.charCodeAt(0) === openBracket ? part.slice(1, -1) : part
    if (envelopes.length === 0) continue
    out += out.length === 1 ? envelopes : `,${envelopes}`
  }
  return out + "]"
}

/** Whether to send arrays: from the start (this package's workers), or once the peer has sent one (the host). */
export interface Mode {
  arrays: boolean
}

/** A writer whose text frames written in one tick go as one frame: an array of them when `mode.arrays`, else one by one. */
export const writer = (inner: Socket.Writer, mode: Mode, context: Context.Context<never> = Context.empty()): Socket.Writer => {
  let queued: Array<string> = []
  let chars = 0
  const run = Effect.runForkWith(context)
  const send = (write: Effect.Effect<void, Socket.SocketError>): void => {
    // the connection's reader reports a socket that failed; a write has nobody else to tell
    run(Effect.catchCause(write, (cause) => Effect.logDebug("a WebSocket frame could not be written", cause)))
  }
  const sendQueued = (): void => {
    if (queued.length === 0) return
    const parts = queued
    queued = []
    chars = 0
    if (!mode.arrays) return send(parts.length === 1 ? inner.write(parts[0]!) : inner.writeAll(parts as [string, ...Array<string>]))
    const only = parts.length === 1 ? parts[0]! : undefined
    send(inner.write(only === undefined ? arrayFrame(parts) : only.charCodeAt(0) === openBracket ? only : `[${only}]`))
  }
  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      if (typeof chunk === "string" && chunk.length < frameChars) {
        if (queued.push(chunk) === 1) queueMicrotask(sendQueued)
        chars += chunk.length
        if (chars >= frameChars || queued.length >= maxPerFrame) sendQueued()
        return Effect.void
      }
      // a large envelope, a binary frame or a close goes after everything queued before it, on its own
      sendQueued()
      return inner.write(chunk)
    })
  return {
    write,
    writeAll: (chunks) => Effect.forEach(chunks, write, { discard: true })
  }
}

/** Whether a frame from the peer is an array of envelopes (its first character `[`). */
const isArrayFrame = (chunk: Uint8Array | string): boolean =>
  typeof chunk === "string" ? chunk.charCodeAt(0) === openBracket : chunk[0] === openBracket

/** A reader that turns `mode.arrays` on when the peer sends an array frame. */
const reader = (inner: Socket.Reader, mode: Mode): Socket.Reader => ({
  ...inner,
  pull: Effect.map(inner.pull, (chunks) => {
    if (!mode.arrays) {
      for (const chunk of chunks) {
        if (isArrayFrame(chunk)) {
          mode.arrays = true
          break
        }
      }
    }
    return chunks
  })
})

/** The socket's writer, batched; its late writes run with the connection's services (its logger). */
const batched = (socket: Socket.Socket, mode: Mode) =>
  Effect.flatMap(Effect.context<never>(), (context) => Effect.map(socket.writer, (inner) => writer(inner, mode, context)))

/** A socket that batches the frames it writes in one tick; it sends arrays once its peer has (the host's side). */
export const answering = (socket: Socket.Socket): Socket.Socket => {
  const mode: Mode = { arrays: false }
  return Socket.make({
    reader: Effect.map(socket.reader, (inner) => reader(inner, mode)),
    writer: batched(socket, mode)
  })
}

/** A socket that sends every frame as an array of envelopes, batching those written in one tick (a worker's side). */
export const announcing = (socket: Socket.Socket): Socket.Socket => {
  const mode: Mode = { arrays: true }
  return Socket.make({ reader: socket.reader, writer: batched(socket, mode) })
}
