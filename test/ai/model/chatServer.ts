/**
 * A real HTTP server on 127.0.0.1 (port 0) for the model-client tests. Each
 * test gives it a script: one function per expected request, called in order,
 * that answers on the raw `ServerResponse` (so a test can split a stream where
 * it likes, stall, or send garbage). Requests past the script get a 599.
 * Every request is recorded with its parsed body and arrival time. The server
 * and its open connections are closed when the scope closes.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"

/** A request as the server saw it. */
export interface Seen {
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: any
  readonly at: number
}

/** Answers one request. */
export type Reply = (res: Http.ServerResponse, seen: Seen) => void | Promise<void>

/** A running server. */
export interface ChatServer {
  readonly baseUrl: string
  readonly seen: ReadonlyArray<Seen>
  /** Connections closed by the client so far. */
  readonly closedByClient: () => number
}

/** Starts a server that answers with `script`, in order. */
export const chatServer = (script: ReadonlyArray<Reply>) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: Http.Server; readonly api: ChatServer }>((resume) => {
      const seen: Array<Seen> = []
      let closed = 0
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          let body: unknown = text
          try {
            body = JSON.parse(text)
          } catch {
            // kept as text: the test asserts on it
          }
          const entry: Seen = { path: req.url ?? "", headers: req.headers, body, at: Date.now() }
          const reply = script[seen.length]
          seen.push(entry)
          res.on("close", () => {
            if (!res.writableFinished) closed++
          })
          if (reply === undefined) {
            res.writeHead(599, { "content-type": "text/plain" }).end("no more scripted replies")
            return
          }
          void Promise.resolve(reply(res, entry)).catch((error) => {
            res.destroy(error as Error)
          })
        })
      })
      server.on("connection", (socket) => socket.setNoDelay(true))
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          server,
          api: { baseUrl: `http://127.0.0.1:${port}/v1`, seen, closedByClient: () => closed }
        }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ api }) => api))

/** A JSON answer. */
export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => (res) => {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body))
}

/** A completion with `message` and `finish_reason`. */
export const completion = (
  message: Record<string, unknown>,
  finishReason: string,
  usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 }
): Reply =>
  json(200, {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "test-model",
    choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason: finishReason }],
    usage
  })

/** SSE text for chunks (each a `data:` event), then `[DONE]`. */
export const sseText = (chunks: ReadonlyArray<unknown>, eol = "\n"): string =>
  chunks.map((c) => `data: ${JSON.stringify(c)}${eol}${eol}`).join("") + `data: [DONE]${eol}${eol}`

/** A chunk of a streamed completion. */
export const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
  id: "chatcmpl-s",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: "test-model",
  choices: [{ index: 0, delta, finish_reason: finishReason }]
})

/** The usage-only last chunk that `stream_options.include_usage` asks for. */
export const usageChunk = (prompt: number, completion: number) => ({
  id: "chatcmpl-s",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: "test-model",
  choices: [],
  usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
})

const pause = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * An event stream whose bytes are written in `pieces` of the given sizes
 * (cycled), each write flushed on its own, so the client sees them cut at
 * those places: mid-line, mid-JSON, mid-`data:`.
 */
export const sse = (text: string, pieceSizes: ReadonlyArray<number> = [text.length]): Reply => async (res) => {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
  const bytes = Buffer.from(text, "utf8")
  let offset = 0
  let i = 0
  while (offset < bytes.length) {
    const size = Math.max(1, pieceSizes[i++ % pieceSizes.length])
    res.write(bytes.subarray(offset, offset + size))
    offset += size
    await pause()
  }
  res.end()
}
