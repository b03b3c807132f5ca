/**
 * A worker's connection to the host written from docs/protocol.md alone:
 * JSON text frames over Node's global `WebSocket`, no effect/rpc client.
 * It records every frame it receives, answers the host's `Ping` pushes with
 * `Pong` while `answerPings` is set, and lets a test wait for frames.
 */
import { Effect } from "effect"

/** A decoded envelope from the host: `Exit`, `Chunk`, `Pong` or `Defect`. */
export type Frame = { readonly _tag: string; readonly [key: string]: any }

/** A message the host pushed on the `Connect` stream (inside a `Chunk`). */
export type Pushed = { readonly _tag: string; readonly [key: string]: any }

export interface RawClient {
  readonly name: string
  /** Every envelope received, in order (an array frame counts as its envelopes). */
  readonly frames: ReadonlyArray<Frame>
  /** Every item of the `Connect` stream, in order. */
  readonly pushed: ReadonlyArray<Pushed>
  /** How many WebSocket messages received were arrays of envelopes, and how many envelopes they held. */
  readonly arrays: { messages: number; envelopes: number }
  /** Whether `Ping` pushes get a `Pong` call (default `true`). */
  answerPings: boolean
  /** When this client last wrote a frame (ms since the epoch). */
  readonly lastSent: () => number
  /** The WebSocket close event, once closed. */
  readonly closed: () => { readonly code: number; readonly at: number } | undefined
  /** Writes one text frame as it is. */
  readonly sendText: (text: string) => void
  /** Writes one envelope. */
  readonly send: (envelope: unknown) => void
  /** Writes a `Request` (with `headers: []`) under a fresh numeric id, and returns the id. */
  readonly request: (tag: string, payload: unknown, id?: string | number) => string | number
  /** Waits for the first received envelope that satisfies `predicate`. */
  readonly frame: (predicate: (frame: Frame) => boolean, timeoutMillis?: number) => Effect.Effect<Frame>
  /** Waits for the first `Connect` stream item that satisfies `predicate`. */
  readonly item: (predicate: (item: Pushed) => boolean, timeoutMillis?: number) => Effect.Effect<Pushed>
  /** Waits for the `Exit` of request `id`, returning its `exit`. */
  readonly exit: (id: string | number, timeoutMillis?: number) => Effect.Effect<any>
  /** A request and its `Exit`. */
  readonly call: (tag: string, payload: unknown, timeoutMillis?: number) => Effect.Effect<any>
  /** Calls `Connect` and waits for `Welcome`; returns it. */
  readonly join: (payload: { readonly workerId: string; readonly token?: string; readonly resume?: string; readonly accepts?: ReadonlyArray<string> }) => Effect.Effect<Pushed>
  /** The request id of the `Connect` call whose stream this client reads. */
  readonly connectId: () => string | number | undefined
  /** When an envelope or pushed item arrived (ms since the epoch). */
  readonly at: (received: Frame | Pushed) => number
  /** The `Connect` request whose stream carried `item`. */
  readonly streamOf: (item: Pushed) => string | number | undefined
  readonly close: () => void
}

interface Waiter {
  readonly test: () => unknown
  readonly resolve: (value: any) => void
}

/** Opens a WebSocket to the host for the life of the scope. */
export const open = (url: string, name: string) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<RawClient>((resolve, reject) => {
        const ws = new WebSocket(url)
        const frames: Array<Frame> = []
        const pushed: Array<Pushed> = []
        const arrays = { messages: 0, envelopes: 0 }
        // which Connect call's stream carried each pushed item
        const origin = new WeakMap<Pushed, string | number>()
        const arrival = new WeakMap<object, number>()
        let waiters: Array<Waiter> = []
        let nextId = 0
        let lastSent = 0
        let connectId: string | number | undefined
        let closed: { code: number; at: number } | undefined
        const check = () => {
          waiters = waiters.filter((w) => {
            const found = w.test()
            if (found === undefined) return true
            w.resolve(found)
            return false
          })
        }
        const wait = <A>(what: string, find: () => A | undefined, timeoutMillis: number) =>
          Effect.promise(() =>
            new Promise<A>((resolve, reject) => {
              const now = find()
              if (now !== undefined) return resolve(now)
              const timer = setTimeout(() => {
                waiters = waiters.filter((w) => w !== waiter)
                reject(new Error(`${name}: no ${what} within ${timeoutMillis} ms`))
              }, timeoutMillis)
              const waiter: Waiter = {
                test: find,
                resolve: (value) => {
                  clearTimeout(timer)
                  resolve(value)
                }
              }
              waiters.push(waiter)
            })
          )
        const client: RawClient = {
          name,
          frames,
          pushed,
          arrays,
          answerPings: true,
          lastSent: () => lastSent,
          closed: () => closed,
          sendText: (text) => {
            lastSent = Date.now()
            ws.send(text)
          },
          send: (envelope) => client.sendText(JSON.stringify(envelope)),
          request: (tag, payload, id = nextId++) => {
            client.send({ _tag: "Request", id, tag, payload, headers: [] })
            return id
          },
          frame: (predicate, timeoutMillis = 3000) => wait("matching frame", () => frames.find(predicate), timeoutMillis),
          item: (predicate, timeoutMillis = 3000) => wait("matching pushed item", () => pushed.find(predicate), timeoutMillis),
          exit: (id, timeoutMillis = 3000) =>
            Effect.map(
              wait(`Exit for request ${JSON.stringify(id)}`, () => frames.find((f) => f._tag === "Exit" && f.requestId === id), timeoutMillis),
              (f) => f.exit
            ),
          call: (tag, payload, timeoutMillis) => Effect.suspend(() => client.exit(client.request(tag, payload), timeoutMillis)),
          join: (payload) =>
            Effect.suspend(() => {
              const id = client.request("Connect", payload)
              connectId = id
              return Effect.map(
                wait(
                  "Welcome or Connect Exit",
                  () =>
                    pushed.find((p) => p._tag === "Welcome" && origin.get(p) === id) ??
                      frames.find((f) => f._tag === "Exit" && f.requestId === id),
                  3000
                ),
                (found) => {
                  if (found._tag === "Exit") throw new Error(`${name}: Connect refused: ${JSON.stringify(found.exit)}`)
                  return found
                }
              )
            }),
          connectId: () => connectId,
          streamOf: (item) => origin.get(item),
          at: (received) => arrival.get(received) ?? NaN,
          close: () => ws.close()
        }
        ws.onmessage = (event) => {
          const now = Date.now()
          const parsed = JSON.parse(String(event.data))
          if (Array.isArray(parsed)) {
            arrays.messages++
            arrays.envelopes += parsed.length
          }
          for (const frame of (Array.isArray(parsed) ? parsed : [parsed]) as Array<Frame>) {
            frames.push(frame)
            arrival.set(frame, now)
            if (frame._tag === "Chunk") {
              for (const value of frame.values as Array<Pushed>) {
                pushed.push(value)
                origin.set(value, frame.requestId)
                arrival.set(value, now)
                if (value._tag === "Ping" && client.answerPings && frame.requestId === connectId) {
                  client.request("Pong", { seq: value.seq })
                }
              }
            }
          }
          check()
        }
        ws.onclose = (event) => {
          closed = { code: event.code, at: Date.now() }
          frames.push({ _tag: "(closed)", code: event.code })
          check()
        }
        ws.onerror = () => reject(new Error(`${name}: cannot open ${url}`))
        ws.onopen = () => resolve(client)
      })
    ),
    (client) => Effect.sync(() => client.close())
  )

/** A raw connection that has joined as `workerId` and registered `agentType`: the usual start of a test. */
export const worker = (url: string, name: string, workerId: string, agentType: string) =>
  Effect.gen(function*() {
    const client = yield* open(url, name)
    yield* client.join({ workerId })
    yield* client.call("RegisterAgentType", { name: agentType, description: "" })
    return client
  })
