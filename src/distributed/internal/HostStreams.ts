/**
 * The host's streaming replies: a worker's `SendStream` call becomes a
 * `DeliverStream` request to the recipient's worker (a request in flight
 * like a send's `Deliver`, with its deadline-free wait, its `Cancel`, and
 * its failure when that worker leaves); the producer's `StreamData` chunks
 * go down the caller's `SendStream` stream in order, and its `end` settles
 * the request, which ends the stream.
 *
 * Flow control is by credit. The caller grants a window of chunks in
 * `SendStream` and more with `StreamCredit` as it takes them; the host
 * passes each grant on to the producer (`Credit`) and accepts from it only
 * as many chunks as were granted. So what the host holds for one stream is
 * at most its window (at most `maxStreamCredit` chunks, each within the
 * message size limit), and the bytes it holds for one caller's streams
 * together are bounded too (`maxStreamBytesPerWorker`), as is the number of
 * streams a worker may have open as caller and as producer. A producer that
 * sends past its credit, or chunks past the limits, ends the stream with a
 * typed error for the caller and gets `Cancel`.
 */
import { Cause, Effect, Exit, type Fiber, Queue, Stream } from "effect"
import {
  type AgentError,
  Interrupted,
  InvalidMessageError,
  LimitExceededError,
  Overloaded,
  undeliverable
} from "../../core/AgentError.ts"
import { firstError } from "../../runtime/Dispatch.ts"
import * as JsonLimits from "../../runtime/JsonLimits.ts"
import { maxStreamCredit } from "../Protocol.ts"
import * as HostCore from "./HostCore.ts"
import type { HostProtocol } from "./ProtocolSides.ts"
import * as Sessions from "./Sessions.ts"

type Handlers = Parameters<typeof HostProtocol.of>[0]

/** How many streams a worker may have open at once as a caller, and as a producer. */
export const maxStreamsPerWorker = 256

/** How many bytes of chunks the host may hold for one worker's open streams together. */
export const maxStreamBytesPerWorker = 32 * 1024 * 1024

/** One open stream, from its caller's `SendStream` to its end. */
interface OpenStream {
  readonly consumer: Sessions.Connection
  readonly producer: Sessions.Connection
  readonly key: string
  readonly messageType: string
  readonly recipient: string
  /** What goes down the caller's `SendStream` stream; never holds more than the window. */
  readonly queue: Queue.Queue<unknown, AgentError | Cause.Done>
  requestId: string | undefined
  /** Chunks the producer may still send. */
  credit: number
  /** The sizes of the chunks passed on and not yet taken by the caller (credited back), oldest first. */
  readonly held: Array<number>
  fiber: Fiber.Fiber<unknown, unknown> | undefined
  closed: boolean
}

export interface HostStreams {
  readonly handlers: Pick<Handlers, "SendStream" | "StreamCredit" | "StreamData">
  /** How many streams are open now. */
  readonly size: () => number
  /** The bytes held for a caller's streams. */
  readonly bytesOf: (connection: Sessions.Connection) => number
}

/** The host's open streams, indexed for each handler, and what they hold; `make` closes over one. */
interface State {
  readonly host: HostCore.State
  readonly byRequest: Map<string, OpenStream>
  /** By `clientId/messageId` of the caller. */
  readonly byConsumer: Map<string, OpenStream>
  /** How many streams each worker has open as a caller. */
  readonly asConsumer: Map<Sessions.Connection, number>
  /** How many streams each worker has open as a producer. */
  readonly asProducer: Map<Sessions.Connection, number>
  /** The bytes of chunks held for each caller's streams. */
  readonly bytes: Map<Sessions.Connection, number>
}

const add = (counts: Map<Sessions.Connection, number>, c: Sessions.Connection, n: number) => {
  const next = (counts.get(c) ?? 0) + n
  if (next === 0) counts.delete(c)
  else counts.set(c, next)
}

/** Forgets a stream (its scope closed); the request fiber is interrupted with the scope, which cancels the producer. */
const close = (state: State, entry: OpenStream) => {
  if (entry.closed) return
  entry.closed = true
  state.byConsumer.delete(entry.key)
  if (entry.requestId !== undefined) state.byRequest.delete(entry.requestId)
  add(state.asConsumer, entry.consumer, -1)
  add(state.asProducer, entry.producer, -1)
  let held = 0
  for (const size of entry.held.splice(0)) held += size
  add(state.bytes, entry.consumer, -held)
}

/** The caller's stream ends with `error`, and the producer is cancelled. */
const refuse = (entry: OpenStream, error: AgentError) => {
  Queue.failCauseUnsafe(entry.queue, Cause.fail(error))
  entry.fiber?.interruptUnsafe()
}

/** The request ended (the producer's `end`, its worker left, or it was cancelled): so does the caller's stream. */
const ended = (state: State, entry: OpenStream, exit: Exit.Exit<unknown, AgentError>) => {
  if (entry.requestId !== undefined) state.byRequest.delete(entry.requestId)
  if (Exit.isSuccess(exit)) Queue.endUnsafe(entry.queue)
  else Queue.failCauseUnsafe(entry.queue, Cause.fail(firstError(exit.cause) ?? undeliverable(entry.recipient, new Interrupted())))
}

/** A caller opens a stream: checked and counted, then a `DeliverStream` request to the producer's worker. */
const sendStream = (state: State): Handlers["SendStream"] => ({ chain, credit, message, messageId, recipient, sender }, { client }) =>
  Stream.unwrap(Effect.gen(function*() {
    const { asConsumer, asProducer, byConsumer, byRequest, host } = state
    const from = yield* HostCore.joined(host, client.id)
    yield* HostCore.checkSender(host, from, sender, recipient.toString(), message.type)
    yield* HostCore.allow(host, from, "send", sender, recipient, message.type)
    const size = yield* HostCore.checkPayload(host, message.type, message.data)
    const key = `${from.clientId}/${messageId}`
    if (byConsumer.has(key)) {
      return yield* new InvalidMessageError({ messageType: "SendStream", issue: `a stream with message id ${messageId} is open already` })
    }
    if ((asConsumer.get(from) ?? 0) >= maxStreamsPerWorker) {
      return yield* new LimitExceededError({ limit: "open streams per worker", max: maxStreamsPerWorker })
    }
    const target = yield* HostCore.owner(host, from, recipient)
    if ((asProducer.get(target) ?? 0) >= maxStreamsPerWorker) {
      return yield* undeliverable(`worker ${target.workerId}`, new Overloaded({ what: `worker ${target.workerId}'s open streams`, limit: maxStreamsPerWorker }))
    }
    const entry: OpenStream = {
      consumer: from,
      producer: target,
      key,
      messageType: message.type,
      recipient: recipient.toString(),
      queue: yield* Queue.bounded<unknown, AgentError | Cause.Done>(maxStreamCredit),
      requestId: undefined,
      credit,
      held: [],
      fiber: undefined,
      closed: false
    }
    byConsumer.set(key, entry)
    add(asConsumer, from, 1)
    add(asProducer, target, 1)
    yield* Effect.addFinalizer(() => Effect.sync(() => close(state, entry)))
    const request = host.requests.request(target, size, (requestId) => {
      entry.requestId = requestId
      byRequest.set(requestId, entry)
      return { _tag: "DeliverStream", requestId, messageId, recipient, ...(sender ? { sender } : {}), message, chain, credit }
    })
    // one of the caller's calls: it ends (and cancels the producer) when the caller's session does
    entry.fiber = yield* Effect.forkScoped(
      Sessions.call(from, Effect.onExit(request, (exit) => Effect.sync(() => ended(state, entry, exit))))
    )
    return Stream.fromQueue(entry.queue)
  }))

/** The producer's chunks, within its credit and the byte bounds, go to the caller; its `end` settles the request. */
const streamData = (state: State): Handlers["StreamData"] => ({ chunks, end, requestId }, { client }) =>
  Effect.sync(() => {
    const { bytes, host } = state
    const from = host.sessions.byClient(client.id)
    if (from === undefined) return
    const entry = state.byRequest.get(requestId)
    if (entry !== undefined && entry.producer === from && chunks.length > 0) {
      if (chunks.length > entry.credit) {
        return refuse(entry, new InvalidMessageError({ messageType: entry.messageType, issue: `the producing worker sent ${chunks.length} chunks on a credit of ${entry.credit}` }))
      }
      const sizes: Array<number> = []
      let total = bytes.get(entry.consumer) ?? 0
      for (const chunk of chunks) {
        const measured = JsonLimits.measure(`chunk of ${entry.messageType}`, chunk, host.limits, "the host's")
        if (typeof measured !== "number") return refuse(entry, measured)
        total += measured
        if (total > maxStreamBytesPerWorker) {
          const what = `the chunks held for worker ${entry.consumer.workerId}'s streams`
          return refuse(entry, undeliverable(entry.recipient, new Overloaded({ what, limit: maxStreamBytesPerWorker })))
        }
        sizes.push(measured)
      }
      entry.credit -= chunks.length
      entry.held.push(...sizes)
      bytes.set(entry.consumer, total)
      Queue.offerAllUnsafe(entry.queue, chunks)
      // data for a request only that worker was sent: it reads and makes progress
      from.lastProgress = from.lastHeard = host.now()
    }
    // the end settles the request (also one the caller cancelled: the handler has ended)
    if (end !== undefined) host.requests.answer(from, requestId, end)
  })

/** The caller took chunks: their bytes are released and the credit passed on to the producer. */
const streamCredit = (state: State): Handlers["StreamCredit"] => ({ credit, messageId }, { client }) =>
  Effect.sync(() => {
    const { host } = state
    const from = host.sessions.byClient(client.id)
    const entry = from === undefined ? undefined : state.byConsumer.get(`${from.clientId}/${messageId}`)
    if (entry === undefined || entry.closed) return
    // a caller can give back only what it took: the window never grows
    const n = Math.min(credit, entry.held.length)
    if (n === 0) return
    let released = 0
    for (const size of entry.held.splice(0, n)) released += size
    add(state.bytes, entry.consumer, -released)
    entry.credit += n
    if (entry.requestId === undefined || !state.byRequest.has(entry.requestId) || !host.sessions.isLive(entry.producer)) return
    if (!entry.producer.push({ _tag: "Credit", requestId: entry.requestId, credit: n })) {
      const what = `worker ${entry.producer.workerId}'s queue`
      refuse(entry, undeliverable(`worker ${entry.producer.workerId}`, new Overloaded({ what, limit: host.config.maxPendingPerWorker })))
    }
  })

export const make = (host: HostCore.State): HostStreams => {
  const state: State = {
    host,
    byRequest: new Map(),
    byConsumer: new Map(),
    asConsumer: new Map(),
    asProducer: new Map(),
    bytes: new Map()
  }
  return {
    handlers: { SendStream: sendStream(state), StreamData: streamData(state), StreamCredit: streamCredit(state) },
    size: () => state.byConsumer.size,
    bytesOf: (connection) => state.bytes.get(connection) ?? 0
  }
}
