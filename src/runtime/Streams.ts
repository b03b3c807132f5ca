/**
 * Streaming replies in the kernel: a send whose handler answers with a
 * `Stream` of chunks (`Agent.stream`). What is the same on every runtime
 * lives here once: how a handler's stream is run into a `Sink` (the
 * producer's side), the bounded in-process channel the standalone runtime
 * carries chunks through, and the caller's side of `sendStream`: its
 * contract check, the interventions' hooks, and both deadlines (the whole
 * stream, and optionally the gap between chunks).
 *
 * A streaming handler takes its turn in the instance's mailbox like an rpc
 * handler and holds it until its stream ends: the stream is the handler's
 * work, and its code closes over the instance's state, so letting the next
 * message run while it still produces would break "one message at a time".
 * A slow consumer therefore slows the instance down (backpressure reaches
 * the mailbox); `concurrent: true` or `concurrency` opt out, as for rpcs.
 */
import { type Cause, Duration, Effect, Exit, Queue, Schema, Stream } from "effect"
import type { Spec } from "../core/Agent.ts"
import { type AgentError, CantHandleError, isAgentError, TimeoutError } from "../core/AgentError.ts"
import type { AgentId } from "../core/AgentId.ts"
import type { StreamOptions } from "../core/AgentRuntime.ts"
import { runHooks } from "../core/Intervention.ts"
import * as Dispatch from "./Dispatch.ts"

/** How many chunks a stream carries ahead of its consumer by default. */
export const defaultBuffer = 16

/** The most chunks a stream may carry ahead of its consumer (a caller's `buffer` is clamped to it). */
export const maxBuffer = 256

/** A caller's `buffer` option as a whole number of chunks within the bounds. */
export const bufferOf = (buffer: number | undefined): number =>
  buffer === undefined || !Number.isFinite(buffer) ? defaultBuffer : Math.min(maxBuffer, Math.max(1, Math.floor(buffer)))

/**
 * Where a streaming handler's chunks go: `offer` returns once the chunks are
 * taken, which is when the consumer has room (or credit) for them, so a
 * producer never runs further ahead than that. It fails when the chunks
 * cannot go (they do not fit the wire); the handler then ends with that error.
 */
export interface Sink {
  readonly offer: (chunks: ReadonlyArray<unknown>) => Effect.Effect<void, AgentError>
}

/**
 * A streaming handler's work: its stream, run into the sink. The handler
 * returned a `Stream`; anything else is a defect of the agent (a handler
 * that does not keep its contract), reported to the caller as `HandlerError`.
 */
export const drain = (result: unknown, sink: Sink): Effect.Effect<void, unknown> =>
  Stream.isStream(result)
    ? Stream.runForEachArray(result as Stream.Stream<unknown, unknown>, sink.offer)
    : Effect.die(new Error("a streaming handler must return a Stream"))

/** A send on its way that expects a stream back. */
export interface StreamRequest {
  readonly recipient: AgentId
  readonly tag: string
  readonly spec: Spec
  readonly message: unknown
  readonly sender: AgentId | undefined
  readonly chain: ReadonlyArray<string>
  readonly messageId: string
  /** How many chunks may be on their way to the consumer at once. */
  readonly buffer: number
}

/**
 * The standalone runtime's channel: a bounded queue between the handler
 * and the caller. `deliver` puts the delivery in a mailbox with this sink
 * and `onDone`, and returns how to cancel it; the caller's stream cancels
 * it when it ends early (interrupted, timed out, or simply not read to the end).
 */
export const local = (
  buffer: number,
  deliver: (sink: Sink, onDone: (exit: Exit.Exit<unknown, AgentError>) => void) => () => void
): Stream.Stream<unknown, AgentError> =>
  Stream.unwrap(Effect.gen(function*() {
    const queue = yield* Queue.bounded<unknown, AgentError | Cause.Done>(buffer)
    const sink: Sink = { offer: (chunks) => Effect.asVoid(Queue.offerAll(queue, chunks)) }
    // chunks offered are in the queue before the handler's exit is: the end comes after them
    const cancel = deliver(sink, (exit) => {
      if (Exit.isSuccess(exit)) Queue.endUnsafe(queue)
      else Queue.failCauseUnsafe(queue, exit.cause)
    })
    yield* Effect.addFinalizer(() => Effect.sync(cancel))
    return Stream.fromQueue(queue)
  }))

/** The kernel's pieces `sendStream` uses. */
export interface Caller {
  readonly contract: (recipient: AgentId, tag: string, message: unknown, contract: Spec | undefined) => Spec | AgentError
  readonly open: ((request: StreamRequest) => Stream.Stream<unknown, AgentError>) | undefined
  readonly sendTimeoutMillis: number
  readonly nextId: () => string
  readonly hooks: ReturnType<typeof Dispatch.hooks>
}

const millisOf = (input: Duration.Input | undefined, otherwise: number): number =>
  input === undefined ? otherwise : Duration.toMillis(Duration.fromInputUnsafe(input))

/**
 * The caller's side of a streaming send, on any runtime: the message is
 * named, checked against a streaming contract and passed through the send
 * hooks; each chunk through the reply hooks. The stream fails with
 * `TimeoutError` when it has not ended within `timeout` (default: the
 * runtime's send timeout) or when no chunk came for `idleTimeout`; either
 * way, and whenever the consumer stops reading, the handler is cancelled.
 */
export const sendStream = (
  caller: Caller,
  recipient: AgentId,
  message: unknown,
  options: StreamOptions | undefined
): Stream.Stream<unknown, AgentError> =>
  Stream.unwrap(Dispatch.outgoing<Stream.Stream<unknown, AgentError>>(message, (tag, current) => {
    const found = caller.contract(recipient, tag, message, options?.contract)
    if (isAgentError(found)) return Effect.fail(found)
    const spec = streamContract(found)
    if (spec === undefined) {
      return Effect.fail(new CantHandleError({ recipient: recipient.toString(), messageType: tag, reason: `${tag} is not answered with a stream: use send` }))
    }
    const valid = Dispatch.validate(spec, message)
    if (Exit.isFailure(valid)) return Effect.failCause(valid.cause)
    const sender = current?.self
    const { hooks } = caller
    const carry = caller.open
    if (carry === undefined) {
      return Effect.fail(new CantHandleError({ recipient: recipient.toString(), messageType: tag, reason: "this runtime does not carry streaming replies" }))
    }
    const open = (m: unknown) =>
      carry({ recipient, tag, spec, message: m, sender, chain: current?.chain ?? [], messageId: caller.nextId(), buffer: bufferOf(options?.buffer) })
    const opened = hooks.onSend.length === 0
      ? Effect.succeed(open(valid.value))
      : Effect.map(runHooks(hooks.onSend, "send", valid.value, { sender, recipient }), open)
    return Effect.map(opened, (stream) => {
      const hooked = hooks.onReply.length === 0
        ? stream
        : Stream.mapEffect(stream, (chunk) => runHooks(hooks.onReply, "reply", chunk, { sender, recipient, requestType: tag }))
      return deadlines(hooked, recipient, tag, millisOf(options?.timeout, caller.sendTimeoutMillis), millisOf(options?.idleTimeout, Infinity))
    })
  }))

/**
 * The streaming contract of a send: a streaming spec as it is; a contract
 * found only from the message's value (an untyped send to an agent type not
 * registered here, whose reply schema nobody here knows) as a stream of
 * chunks that cross as they are; any other spec (an rpc's) is none.
 */
const streamContract = (spec: Spec): Spec | undefined =>
  spec._tag === "Stream" ? spec : spec.success === Schema.Unknown ? { ...spec, _tag: "Stream" } as Spec : undefined

/** The whole-stream deadline and the gap deadline; an infinite one is none. */
export const deadlines = <A>(
  stream: Stream.Stream<A, AgentError>,
  recipient: AgentId | string,
  messageType: string,
  timeoutMillis: number,
  idleMillis: number
): Stream.Stream<A, AgentError> => {
  const timedOut = (millis: number) => new TimeoutError({ recipient: recipient.toString(), messageType, timeoutMillis: millis })
  const gapped = Number.isFinite(idleMillis)
    ? Stream.timeoutOrElse(stream, { duration: idleMillis, orElse: () => Stream.fail(timedOut(idleMillis)) })
    : stream
  return Number.isFinite(timeoutMillis)
    ? Stream.interruptWhen(gapped, Effect.flatMap(Effect.sleep(timeoutMillis), () => Effect.fail(timedOut(timeoutMillis))))
    : gapped
}
