/**
 * A worker's streaming replies, both ends. As the producer, it runs a
 * `DeliverStream` pushed by the host: the streaming handler's chunks are
 * encoded with its chunk schema and sent as `StreamData` frames within the
 * credit the host granted (the handler waits for `Credit` when it has none),
 * and its end follows the last chunk in the same ordered channel: one frame
 * in flight per stream at a time, so chunks and end arrive in order without
 * relying on how calls are scheduled. As the caller, it opens `SendStream`,
 * decodes each chunk with the caller's contract, and grants credit back as
 * the consumer takes chunks, so at most the caller's `buffer` chunks are
 * ever on their way.
 */
import { Deferred, Effect, Exit, Result, Schema, Stream } from "effect"
import type { Spec } from "../../core/Agent.ts"
import {
  type AgentError,
  CantHandleError,
  Interrupted,
  InvalidMessageError,
  LimitExceededError,
  NoSuchAgentType,
  undeliverable
} from "../../core/AgentError.ts"
import { firstError, issueOf } from "../../runtime/Dispatch.ts"
import type * as Instances from "../../runtime/Instances.ts"
import * as JsonLimits from "../../runtime/JsonLimits.ts"
import type * as Streams from "../../runtime/Streams.ts"
import { type DeliverStream, maxFrameBytes, maxStreamCredit, type Outcome, type StreamCredit } from "../Protocol.ts"
import type * as Gateway from "./Gateway.ts"
import * as WireCodec from "./WireCodec.ts"

/** How many streams a worker runs as producer, and reads as caller, at once. */
export const maxOpenStreams = 256

/** The bytes of chunks one `StreamData` frame carries at most (well below the largest frame). */
const frameBytes = maxFrameBytes / 4

// ---------------------------------------------------------------------------
// producer
// ---------------------------------------------------------------------------

/** One stream this worker produces. */
interface Outgoing {
  readonly requestId: string
  credit: number
  /** Resolved when credit arrives. */
  more: Deferred.Deferred<void> | undefined
  /** Encoded chunks (with their sizes) waiting for the frame in flight to be answered. */
  readonly waiting: Array<readonly [unknown, number]>
  end: Outcome | undefined
  sending: boolean
  /** A chunk that could not be encoded: the stream's end is this error. */
  failure: AgentError | undefined
}

export interface Producer {
  readonly deliver: (d: DeliverStream) => void
  readonly credit: (c: StreamCredit) => void
  readonly size: () => number
}

/** What a worker's producing streams share: the producer's options and the streams open now. */
interface ProducerContext {
  readonly instances: Instances.Instances
  readonly limits: WireCodec.Limits
  readonly gateway: Gateway.Gateway
  readonly run: (effect: Effect.Effect<unknown>) => unknown
  /** The inbox's cancels by request id: `Cancel` and a lost session reach streams through it. */
  readonly cancels: Map<string, Instances.Cancel>
  readonly open: Map<string, Outgoing>
}

/** Sends what waits, one frame at a time; the end goes last. */
const flush = (p: ProducerContext, out: Outgoing): void => {
  if (out.sending || (out.waiting.length === 0 && out.end === undefined)) return
  const chunks: Array<unknown> = []
  let bytes = 0
  while (out.waiting.length > 0 && chunks.length < maxStreamCredit) {
    const [chunk, size] = out.waiting[0]!
    if (chunks.length > 0 && bytes + size > frameBytes) break
    out.waiting.shift()
    chunks.push(chunk)
    bytes += size
  }
  const end = out.waiting.length === 0 ? out.end : undefined
  out.sending = true
  // between sessions the call fails at once (the host has failed the stream already), so a stream never waits on a dead link
  p.run(p.gateway.call("host", p.gateway.client.StreamData({ requestId: out.requestId, chunks, ...(end !== undefined ? { end } : {}) })).pipe(
    Effect.catchCause((cause) => Effect.logDebug("could not send stream data to the host", cause)),
    Effect.ensuring(Effect.sync(() => {
      out.sending = false
      if (end !== undefined) p.open.delete(out.requestId)
      else flush(p, out)
    }))
  ))
}

const finish = (p: ProducerContext, out: Outgoing, end: Outcome) => {
  out.end = end
  p.cancels.delete(out.requestId)
  flush(p, out)
}

/** Where the handler's chunks go: encoded within the limits, sent as the reader's credit allows. */
const sinkOf = (p: ProducerContext, out: Outgoing, spec: Spec): Streams.Sink => ({
  offer: (values) =>
    Effect.gen(function*() {
      let i = 0
      while (i < values.length) {
        if (out.credit === 0) {
          const more = out.more = Deferred.makeUnsafe<void>()
          yield* Deferred.await(more)
          continue
        }
        const n = Math.min(out.credit, values.length - i)
        for (const value of values.slice(i, i + n)) {
          const encoded = encodeChunk(spec, p.limits, value)
          if (Exit.isFailure(encoded)) {
            out.failure = firstError(encoded.cause)
            return yield* encoded
          }
          out.waiting.push(encoded.value)
        }
        out.credit -= n
        i += n
        flush(p, out)
      }
    })
})

const refuse = (p: ProducerContext, requestId: string, error: AgentError) =>
  p.run(p.gateway.call("host", p.gateway.client.StreamData({ requestId, chunks: [], end: { _tag: "Failure", error } })).pipe(Effect.ignore))

/** The streaming handler of a `DeliverStream`, and why it cannot start if it cannot. */
const streamSpec = (p: ProducerContext, d: DeliverStream): { readonly spec: Spec } | { readonly error: AgentError } => {
  const type = p.instances.type(d.recipient.type)
  if (type === undefined) return { error: undeliverable(d.recipient, new NoSuchAgentType({ agentType: d.recipient.type })) }
  const spec = type.routes.get(d.message.type)?.find((route) => route.spec._tag === "Stream")?.spec
  if (spec === undefined) {
    return { error: new CantHandleError({ recipient: d.recipient.toString(), messageType: d.message.type, reason: `${d.message.type} is not answered with a stream` }) }
  }
  if (p.open.size >= maxOpenStreams) return { error: new LimitExceededError({ limit: "streams a worker produces at once", max: maxOpenStreams }) }
  return { spec }
}

const deliver = (p: ProducerContext, d: DeliverStream) => {
  const found = streamSpec(p, d)
  if ("error" in found) return refuse(p, d.requestId, found.error)
  const { spec } = found
  const decoded = WireCodec.fromWireWithin(spec, d.message, p.limits)
  if (Result.isFailure(decoded)) return refuse(p, d.requestId, decoded.failure)
  const out: Outgoing = { requestId: d.requestId, credit: d.credit, more: undefined, waiting: [], end: undefined, sending: false, failure: undefined }
  p.open.set(d.requestId, out)
  let done = false
  const cancel = p.instances.deliver({
    messageId: d.messageId,
    recipient: d.recipient,
    tag: d.message.type,
    message: decoded.success,
    sender: d.sender,
    topic: undefined,
    rpc: true,
    chain: d.chain,
    sink: sinkOf(p, out, spec),
    onDone: (exit) => {
      done = true
      finish(p, out, out.failure !== undefined ? { _tag: "Failure", error: out.failure } : WireCodec.toOutcome(spec, exit, p.limits))
    },
    // the host keeps a cancelled stream's request in flight until its handler has ended here
    onCancelledEnd: () => finish(p, out, { _tag: "Failure", error: undeliverable(d.recipient, new Interrupted()) })
  })
  if (!done) p.cancels.set(d.requestId, cancel)
}

const credit = (p: ProducerContext, { credit, requestId }: StreamCredit) => {
  const out = p.open.get(requestId)
  if (out === undefined || out.end !== undefined) return
  // never more than the most a stream may have on its way
  out.credit = Math.min(maxStreamCredit, out.credit + credit)
  const more = out.more
  out.more = undefined
  if (more !== undefined) Deferred.doneUnsafe(more, Exit.void)
}

export const producer = (options: Omit<ProducerContext, "open">): Producer => {
  const p: ProducerContext = { ...options, open: new Map() }
  return {
    deliver: (d) => deliver(p, d),
    credit: (c) => credit(p, c),
    size: () => p.open.size
  }
}

/** A chunk in wire form with its size, within the limits, or why it cannot cross. */
const encodeChunk = (spec: Spec, limits: WireCodec.Limits, value: unknown): Exit.Exit<readonly [unknown, number], AgentError> => {
  const encoded = WireCodec.encode(spec.success, value)
  if (Exit.isFailure(encoded)) return Exit.fail(new InvalidMessageError({ messageType: `chunk of ${spec.tag}`, issue: issueOf(encoded.cause) }))
  // a void chunk crosses as JSON null
  const data = encoded.value === undefined ? null : encoded.value
  const size = JsonLimits.measure(`chunk of ${spec.tag}`, data, limits, "this worker's")
  return typeof size === "number" ? Exit.succeed([data, size] as const) : Exit.fail(size)
}

// ---------------------------------------------------------------------------
// caller
// ---------------------------------------------------------------------------

/** A chunk from the wire, checked and decoded with the caller's contract. */
const decodeChunk = (spec: Spec, limits: WireCodec.Limits, value: unknown): Exit.Exit<unknown, AgentError> => {
  const refused = WireCodec.checkPayload(`chunk of ${spec.tag}`, value, limits, "this worker's")
  if (refused !== undefined) return Exit.fail(refused)
  if (spec.success === Schema.Unknown) return Exit.succeed(value)
  const decoded = WireCodec.decode(spec.success, value)
  return Exit.isSuccess(decoded)
    ? Exit.succeed(decoded.value)
    : Exit.fail(new InvalidMessageError({ messageType: `chunk of ${spec.tag}`, issue: issueOf(decoded.cause) }))
}

export interface Caller {
  readonly open: (request: Streams.StreamRequest) => Stream.Stream<unknown, AgentError>
  readonly size: () => number
}

/** The caller's side of streaming sends through the host. */
export const caller = (gateway: Gateway.Gateway, limits: WireCodec.Limits): Caller => {
  let reading = 0
  const open = (request: Streams.StreamRequest): Stream.Stream<unknown, AgentError> =>
    Stream.unwrap(Effect.gen(function*() {
      const { buffer, chain, messageId, recipient, sender, spec } = request
      const wire = WireCodec.toWire(spec, request.message, limits)
      if (Exit.isFailure(wire)) return yield* Effect.failCause(wire.cause)
      if (reading >= maxOpenStreams) return yield* new LimitExceededError({ limit: "streams a worker reads at once", max: maxOpenStreams })
      // between sessions this fails at once, as a send does
      yield* gateway.call(recipient.toString(), Effect.void)
      reading++
      yield* Effect.addFinalizer(() => Effect.sync(() => reading--))
      const scope = yield* Effect.scope
      const credit = Math.min(buffer, maxStreamCredit)
      // grant back in quarters of the window: a few frames per window, and the producer rarely waits for credit while the caller reads
      const threshold = Math.max(1, Math.floor(credit / 4))
      let taken = 0
      const grant = (n: number) =>
        Effect.forkIn(Effect.ignore(gateway.client.StreamCredit({ messageId, credit: n })), scope)
      const chunks = gateway.client.SendStream(
        { recipient, ...(sender ? { sender } : {}), messageId, chain, message: wire.value, credit },
        // the client's buffer holds the whole window: the host never sends more, so reading the socket never waits on it
        { streamBufferSize: credit }
      )
      return chunks.pipe(
        // a transport failure is the host unreachable, said as the gateway says it; a declared error is decoded with the contract
        Stream.catch((error) =>
          Stream.fromEffect(gateway.call(recipient.toString(), Effect.fail(error)).pipe(Effect.mapError((e) => WireCodec.fromError(spec, e))))
        ),
        Stream.mapArrayEffect((values) =>
          Effect.gen(function*() {
            const out: Array<unknown> = []
            for (const value of values) out.push(yield* decodeChunk(spec, limits, value))
            taken += values.length
            if (taken >= threshold) {
              const n = Math.min(taken, maxStreamCredit)
              taken -= n
              yield* grant(n)
            }
            return out as unknown as readonly [unknown, ...Array<unknown>]
          })
        )
      )
    }))
  return { open, size: () => reading }
}
