/**
 * A worker's inbox: what the host pushes, taken off the gateway's event
 * stream and carried out here. A `Deliver` is decoded with the recipient
 * handler's schema and put in the instance's mailbox; its outcome goes back
 * as a `Reply` (answers that finish in the same tick share one call). A
 * `DeliverMany` is a `Deliver` for each of its recipients, the message
 * decoded once per schema; the successes of one that end in the same tick
 * share one answer. A `Cancel` cancels a delivery; a `Control` runs a state or metadata
 * operation; a `DeadLetter` (of a publish made here) is emitted on this
 * runtime's dead-letter stream. When a session with the host ends, the host
 * has already failed the callers of everything it pushed here, so their
 * handlers are cancelled too.
 */
import { Effect, Exit, FiberSet, Result, Stream, type Tracer } from "effect"
import { type AgentError, CantHandleError, Interrupted, InvalidMessageError, NoSuchAgentType, undeliverable } from "../../core/AgentError.ts"
import type { AgentState } from "../../core/AgentRuntime.ts"
import * as DeadLetter from "../../core/DeadLetter.ts"
import type * as Instances from "../../runtime/Instances.ts"
import type * as Kernel from "../../runtime/Kernel.ts"
import type { Spec } from "../../core/Agent.ts"
import { type AgentId, trusted } from "../../core/AgentId.ts"
import type { TopicId } from "../../core/TopicId.ts"
import type * as Mailbox from "../../runtime/Mailbox.ts"
import { type Control, type Deliver, type DeliverMany, maxRepliesPerCall, type Outcome } from "../Protocol.ts"
import type * as Gateway from "./Gateway.ts"
import * as ProtocolSides from "./ProtocolSides.ts"
import * as WireCodec from "./WireCodec.ts"
import * as Telemetry from "../../runtime/Telemetry.ts"
import * as WorkerStreams from "./WorkerStreams.ts"

/** What the inbox's handlers share. */
interface Context {
  readonly instances: Instances.Instances
  readonly limits: WireCodec.Limits
  /** Delivery request ids -> how to cancel them. */
  readonly cancels: Map<string, Instances.Cancel>
  readonly reply: (requestId: string, outcome: Outcome) => void
  /** Answers the delivery to recipient `index` of a `DeliverMany`. */
  readonly replyPart: (requestId: string, index: number, outcome: Outcome) => void
  readonly run: (effect: Effect.Effect<unknown>) => unknown
}

const refuse = (inbox: Context, requestId: string, error: AgentError) => inbox.reply(requestId, { _tag: "Failure", error })

const onDeliver = (inbox: Context, d: Deliver) => {
  const type = inbox.instances.type(d.recipient.type)
  if (type === undefined) return refuse(inbox, d.requestId, undeliverable(d.recipient, new NoSuchAgentType({ agentType: d.recipient.type })))
  const spec = type.specs.get(d.message.type)
  if (spec === undefined) return refuse(inbox, d.requestId, new CantHandleError({ recipient: d.recipient.toString(), messageType: d.message.type }))
  const decoded = WireCodec.fromWireWithin(spec, d.message, inbox.limits)
  if (Result.isFailure(decoded)) return refuse(inbox, d.requestId, decoded.failure)
  let done = false
  const cancel = inbox.instances.deliver({
    messageId: d.messageId,
    recipient: d.recipient,
    tag: d.message.type,
    message: decoded.success,
    sender: d.sender,
    topic: d.topic,
    rpc: d.rpc,
    chain: d.chain,
    parent: Telemetry.fromTraceparent(d.traceparent),
    onDone: (exit) => {
      done = true
      inbox.cancels.delete(d.requestId)
      // an event's failure goes back too: the host tells the publisher
      inbox.reply(d.requestId, WireCodec.toOutcome(spec, exit, inbox.limits))
    },
    // the host keeps a cancelled request in flight (awaitIdle waits) until its handler has ended here
    onCancelledEnd: () => inbox.reply(d.requestId, { _tag: "Failure", error: undeliverable(d.recipient, new Interrupted()) })
  })
  if (!done) inbox.cancels.set(d.requestId, cancel)
}

/** How a delivery of a `DeliverMany` that succeeded is answered (an event's value is not used). */
const handled: Outcome = { _tag: "Success", value: null }

/** The recipients of one `DeliverMany` still running: what a lost session cancels. */
interface Batch {
  readonly inbox: Context
  readonly requestId: string
  readonly cancels: Array<Instances.Cancel | undefined>
  running: number
}

const noChain: ReadonlyArray<string> = []

/**
 * One recipient's delivery of a `DeliverMany`. An object rather than a
 * delivery with closures: a worker makes one per recipient, and its answers
 * need only its batch and index.
 */
class Part implements Mailbox.Delivery {
  readonly messageId: string
  readonly tag: string
  readonly sender: AgentId | undefined
  readonly topic: TopicId
  readonly rpc = false
  readonly chain = noChain
  readonly parent: Tracer.AnySpan | undefined
  readonly batch: Batch
  readonly index: number
  readonly recipient: AgentId
  readonly spec: Spec
  readonly message: unknown
  ended = false
  constructor(batch: Batch, index: number, recipient: AgentId, spec: Spec, message: unknown, d: DeliverMany, parent: Tracer.AnySpan | undefined) {
    this.batch = batch
    this.index = index
    this.recipient = recipient
    this.spec = spec
    this.message = message
    this.messageId = `${d.messageId}:${recipient.type}`
    this.tag = d.message.type
    this.sender = d.sender
    this.topic = d.topic
    this.parent = parent
  }
  onDone(exit: Exit.Exit<unknown, AgentError>) {
    const { batch, index } = this
    this.ended = true
    batch.cancels[index] = undefined
    if (--batch.running === 0) batch.inbox.cancels.delete(batch.requestId)
    // an event's value is not sent back: only its failure is encoded
    batch.inbox.replyPart(batch.requestId, index, Exit.isSuccess(exit) ? handled : WireCodec.toOutcome(this.spec, exit, batch.inbox.limits))
  }
  onCancelledEnd() {
    this.batch.inbox.replyPart(this.batch.requestId, this.index, { _tag: "Failure", error: undeliverable(this.recipient, new Interrupted()) })
  }
}

const onDeliverMany = (inbox: Context, d: DeliverMany) => {
  // checked by the host too; checked here because nothing deeper may reach the decoder
  const refused = WireCodec.checkPayload(d.message.type, d.message.data, inbox.limits, "this worker's")
  if (refused !== undefined) return refuse(inbox, d.requestId, refused)
  const batch: Batch = { inbox, requestId: d.requestId, cancels: [], running: 0 }
  const parent = Telemetry.fromTraceparent(d.traceparent)
  // recipients of one type share a schema: the message is decoded once for them (as one publish is one value in a standalone runtime)
  const decodedBy = new Map<unknown, ReturnType<typeof WireCodec.fromWire>>()
  const fail = (index: number, error: AgentError) => inbox.replyPart(d.requestId, index, { _tag: "Failure", error })
  for (let index = 0; index < d.types.length; index++) {
    // both parts were checked as the message was decoded (an agent type, a topic's source)
    const recipient = trusted(d.types[index]!, d.topic.source)
    const type = inbox.instances.type(recipient.type)
    if (type === undefined) {
      fail(index, undeliverable(recipient, new NoSuchAgentType({ agentType: recipient.type })))
      continue
    }
    const spec = type.specs.get(d.message.type)
    if (spec === undefined) {
      fail(index, new CantHandleError({ recipient: recipient.toString(), messageType: d.message.type }))
      continue
    }
    let decoded = decodedBy.get(spec.message)
    if (decoded === undefined) decodedBy.set(spec.message, decoded = WireCodec.fromWire(spec, d.message))
    if (Result.isFailure(decoded)) {
      fail(index, decoded.failure)
      continue
    }
    batch.running++
    const part = new Part(batch, index, recipient, spec, decoded.success, d, parent)
    const cancel = inbox.instances.deliver(part)
    // one answered at once (refused by its instance) has nothing to cancel
    if (!part.ended) batch.cancels[index] = cancel
  }
  // the host never cancels an event, but a lost session cancels everything it pushed
  if (batch.running > 0) {
    inbox.cancels.set(d.requestId, () => {
      for (const cancel of batch.cancels) cancel?.()
    })
  }
}

const onControl = (inbox: Context, c: Control) => {
  if (c.state !== undefined && !WireCodec.depthWithin(c.state, inbox.limits.maxDepth)) {
    return refuse(inbox, c.requestId, new InvalidMessageError({ messageType: `state of ${c.agentId}`, issue: `nested deeper than ${inbox.limits.maxDepth}` }))
  }
  const op = c.op === "saveAll" ? inbox.instances.saveAll : inbox.instances.operate(c.op, c.agentId!, (c.state ?? {}) as AgentState)
  // all of this worker's state may be more than one message; the host bounds it
  const limits = c.op === "saveAll" ? { ...inbox.limits, maxBytes: Infinity } : inbox.limits
  inbox.run(Effect.map(Effect.exit(op), (exit) => inbox.reply(c.requestId, WireCodec.controlOutcome(c.op, exit, limits))))
}

const cancel = (inbox: Context, requestId: string) => {
  const cancel = inbox.cancels.get(requestId)
  inbox.cancels.delete(requestId)
  cancel?.()
}

const sessionLost = (inbox: Context) => {
  const lost = [...inbox.cancels.values()]
  inbox.cancels.clear()
  for (const cancel of lost) cancel()
}

interface ReplyEntry {
  readonly requestId: string
  readonly outcome: ProtocolSides.OutcomeJson
  readonly recipients?: Array<number>
}

/**
 * Replies that finish in the same tick go to the host in one call (of at
 * most `maxRepliesPerCall`); so do the successes of one `DeliverMany`, as
 * one entry naming their recipients (an event's value is not sent back).
 */
export const replies = (gateway: Pick<Gateway.Gateway, "client">, run: Context["run"]): Pick<Context, "reply" | "replyPart"> => {
  let batch: Array<ReplyEntry> = []
  // the success entry of each DeliverMany in this batch, which later successes join
  let successes = new Map<string, Array<number>>()
  const flush = () => {
    if (batch.length === 0) return
    const replies = batch
    batch = []
    successes = new Map()
    run(gateway.client.Reply({ replies }).pipe(
      // the host fails requests of a connection that dropped, so a lost reply is already answered there
      Effect.catchCause((cause) => Effect.logDebug("could not reply to the host", cause).pipe(Effect.annotateLogs({ replies: replies.length })))
    ))
  }
  const add = (entry: ReplyEntry) => {
    const size = batch.push(entry)
    if (size === 1) queueMicrotask(flush)
    // one call carries at most maxRepliesPerCall (more fails its schema and would kill the worker): a full batch goes now
    else if (size === maxRepliesPerCall) flush()
  }
  return {
    reply: (requestId, outcome) => add({ requestId, outcome: ProtocolSides.encodeOutcome(outcome) }),
    replyPart: (requestId, index, outcome) => {
      if (outcome._tag === "Failure") return add({ requestId, outcome: ProtocolSides.encodeOutcome(outcome), recipients: [index] })
      // a DeliverMany names at most maxRecipientsPerDelivery recipients, each answered once: the entry stays within its bound
      const joined = successes.get(requestId)
      if (joined !== undefined) return void joined.push(index)
      const recipients = [index]
      successes.set(requestId, recipients)
      add({ requestId, outcome: handled, recipients })
    }
  }
}

/** Takes the gateway's events for the life of the scope, which owns the fibers of replies and control operations. */
export const start = Effect.fnUntraced(function*(kernel: Kernel.Kernel, gateway: Gateway.Gateway, limits: WireCodec.Limits) {
  const run = yield* FiberSet.makeRuntime<never, unknown, never>()
  const inbox: Context = { instances: kernel.instances, limits, cancels: new Map(), ...replies(gateway, run), run }
  // streams share the inbox's cancels: a Cancel or a lost session reaches them as it reaches deliveries
  const streams = WorkerStreams.producer({ instances: kernel.instances, limits, gateway, run, cancels: inbox.cancels })
  const onEvent = (event: Gateway.Event): void => {
    switch (event._tag) {
      case "Deliver":
        return onDeliver(inbox, event)
      case "DeliverMany":
        return onDeliverMany(inbox, event)
      case "Cancel":
        return cancel(inbox, event.requestId)
      case "Control":
        return onControl(inbox, event)
      case "DeadLetter":
        return kernel.deadLetters.emit(DeadLetter.make(event.recipient, event.messageType, event.sender, event.topic, event.error))
      case "SessionLost":
        return sessionLost(inbox)
      case "DeliverStream":
        return streams.deliver(event)
      case "Credit":
        return streams.credit(event)
    }
  }
  yield* Effect.forkScoped(Stream.runForEachArray(gateway.events, (events) =>
    Effect.sync(() => {
      for (const event of events) onEvent(event)
    })))
})
