/**
 * The kernel every runtime shares: send, publish, registration, state,
 * metadata, dead letters and idle exist here once. A runtime says only
 * where a message goes, by giving the kernel a `Transport`: the standalone
 * runtime's delivers to this process's instances through its router; a
 * worker's crosses to the host through its gateway.
 *
 * The kernel does, for every message, whatever the runtime: it names the
 * message (its `_tag`), finds its sender and call chain (the message the
 * calling fiber is handling), checks it against the contract the transport
 * finds for it, runs the interventions' hooks, applies the deadline.
 *
 * ```
 * agent code -> AgentRuntime (this) -> Transport -> instances | gateway -> host
 * ```
 */
import { Duration, Effect, Exit, Schedule, Schema, type Scope, type Stream, type Tracer } from "effect"
import type { Spec } from "../core/Agent.ts"
import {
  type AgentError,
  InvalidMessageError,
  isAgentError,
  type LimitExceededError,
  NoSuchAgentType,
  type NotAccessibleError,
  undeliverable
} from "../core/AgentError.ts"
import { AgentId } from "../core/AgentId.ts"
import { AgentRuntime, type AgentState, type PublishOptions, type RuntimeState, type SendOptions } from "../core/AgentRuntime.ts"
import type { Intervention } from "../core/Intervention.ts"
import { runHooks } from "../core/Intervention.ts"
import * as DeadLetter from "../core/DeadLetter.ts"
import * as RuntimeConfig from "../core/RuntimeConfig.ts"
import type { Subscription } from "../core/Subscription.ts"
import type { TopicId } from "../core/TopicId.ts"
import * as DeadLetters from "./DeadLetters.ts"
import * as Dispatch from "./Dispatch.ts"
import * as Idle from "./Idle.ts"
import * as Instances from "./Instances.ts"
import * as JsonLimits from "./JsonLimits.ts"
import type { Registration } from "./Registration.ts"
import * as Streams from "./Streams.ts"
import * as Telemetry from "./Telemetry.ts"

/** A checked send, on its way to the recipient. */
export interface SendRequest {
  readonly recipient: AgentId
  readonly tag: string
  readonly spec: Spec
  readonly message: unknown
  readonly sender: AgentId | undefined
  readonly chain: ReadonlyArray<string>
  readonly messageId: string
  /** The deadline the transport keeps (`Infinity`: the kernel keeps it, or there is none). */
  readonly timeoutMillis: number
  /** The send's span, when telemetry is on: the handler's span is its child, here or in another process. */
  readonly parent?: Tracer.AnySpan | undefined
}

/** A publish, on its way to the subscribers. */
export interface PublishRequest {
  readonly topic: TopicId
  readonly tag: string
  readonly message: unknown
  readonly sender: AgentId | undefined
  readonly messageId: string
  /** Acknowledged mode: return once every recipient handled it, fail if any could not. */
  readonly ack: boolean
  /** The publish's span, when telemetry is on: each delivery's handler span is its child. */
  readonly parent?: Tracer.AnySpan | undefined
}

/** A runtime operation on one agent, wherever it runs. */
export type ControlOp = Instances.Operation

/** Where messages go: what a runtime gives the kernel. */
export interface Transport {
  /** The contract a message for `recipient` is checked against, or why it cannot go. */
  readonly contract: (recipient: AgentId, tag: string, message: unknown, contract: Spec | undefined) => Spec | AgentError
  /** Carries a checked send and waits for the reply; keeps `timeoutMillis` when finite. */
  readonly send: (request: SendRequest) => Effect.Effect<unknown, AgentError>
  /**
   * Carries a checked streaming send (`Agent.stream`) and returns its chunks,
   * with at most `request.buffer` of them on their way at once; closing the
   * stream early cancels the handler. The kernel keeps the deadlines. A
   * transport without it refuses streaming sends (`CantHandleError`).
   */
  readonly sendStream?: (request: Streams.StreamRequest) => Stream.Stream<unknown, AgentError>
  /** Carries a publish to every subscriber (except the publisher); returns once accepted. */
  readonly publish: (request: PublishRequest) => Effect.Effect<void, AgentError>
  // `caller` below: the agent asking (the handler the calling fiber runs), which the access policy judges
  readonly addSubscription: (subscription: Subscription, caller: AgentId | undefined) => Effect.Effect<void, AgentError>
  readonly removeSubscription: (id: string, caller: AgentId | undefined) => Effect.Effect<boolean, AgentError>
  readonly subscriptions: (caller: AgentId | undefined) => Effect.Effect<ReadonlyArray<Subscription>, AgentError>
  /** Makes a type registered here reachable (and its subscriptions active) for the life of the scope. */
  readonly announce: (registration: Registration) => Effect.Effect<void, NotAccessibleError | LimitExceededError, Scope.Scope>
  readonly control: (op: ControlOp, id: AgentId, caller: AgentId | undefined, state?: AgentState) => Effect.Effect<unknown, AgentError>
  readonly saveAll: (caller: AgentId | undefined) => Effect.Effect<RuntimeState, AgentError>
  /** Waits until work elsewhere (the host, other workers) is idle too; `Effect.void` when there is no elsewhere. */
  readonly awaitIdle: Effect.Effect<void>
}

/** How a runtime configures its kernel. */
export interface Options {
  readonly sendTimeout?: Duration.Input | undefined
  readonly shutdownTimeout?: Duration.Input | undefined
  readonly interventions?: ReadonlyArray<Intervention> | undefined
  /** How many messages may wait in one instance's mailbox. */
  readonly mailboxCapacity?: number | undefined
  /**
   * Whether failed event deliveries to this runtime's instances are emitted
   * here (`true`: the publisher is here) or only logged (a worker: the host
   * tells the publisher's runtime).
   */
  readonly emitLocalDeadLetters: boolean
}

/** The parts of a kernel a transport is built from. */
export interface Kernel {
  readonly instances: Instances.Instances
  readonly idle: Idle.Idle
  readonly deadLetters: DeadLetters.DeadLetters
  readonly config: RuntimeConfig.RuntimeConfig
  readonly sendTimeoutMillis: number
  readonly nextId: () => string
  /** Spans and metrics, when the runtime's context turns them on (`Telemetry.TelemetryEnabled`). */
  readonly telemetry: Telemetry.Telemetry | undefined
}

/** A kernel for the life of the current scope (its instances' fibers belong to it). */
export const make = Effect.fnUntraced(function*(options: Options) {
  const config = yield* RuntimeConfig.RuntimeConfig
  const idle = Idle.make()
  const deadLetters = yield* DeadLetters.make
  const telemetry = yield* Telemetry.make
  const instances = yield* Instances.make({
    idle,
    telemetry,
    mailboxCapacity: options.mailboxCapacity ?? config.mailboxCapacity,
    deadLetter: (d, error) => {
      const letter = DeadLetter.make(d.recipient, d.tag, d.sender, d.topic, error)
      if (options.emitLocalDeadLetters) deadLetters.emit(letter)
      else deadLetters.log(letter)
    }
  })
  const sendTimeout = RuntimeConfig.duration(options.sendTimeout, config.sendTimeout)
  if (telemetry !== undefined) {
    // gauges are sampled, not updated per message: the message path stays as it is
    yield* Effect.forkScoped(Effect.repeat(Effect.sync(() => telemetry.gauge("instances", instances.liveCount())), Schedule.spaced("1 second")))
  }
  return {
    instances,
    idle,
    deadLetters,
    config,
    sendTimeoutMillis: Duration.toMillis(sendTimeout),
    nextId: Dispatch.messageIds(),
    telemetry
  } satisfies Kernel
})

/** Sends and publishes over the transport: checked, stamped, traced, through the interventions' hooks. */
const messaging = (kernel: Kernel, transport: Transport, hooks: ReturnType<typeof Dispatch.hooks>) => {
  const send = (recipient: AgentId, message: unknown, sendOptions?: SendOptions): Effect.Effect<unknown, AgentError> =>
    Dispatch.outgoing(message, (tag, current) => {
      const spec = transport.contract(recipient, tag, message, sendOptions?.contract)
      if (isAgentError(spec)) return Effect.fail(spec)
      const valid = Dispatch.validate(spec, message)
      if (Exit.isFailure(valid)) return valid
      const sender = current?.self
      const timeout = sendOptions?.timeout === undefined ? kernel.sendTimeoutMillis : Duration.toMillis(Duration.fromInputUnsafe(sendOptions.timeout))
      const messageId = kernel.nextId()
      if (kernel.telemetry !== undefined) {
        const telemetry = kernel.telemetry
        telemetry.count("sent", tag)
        const attributes = Telemetry.attributes({ messageType: tag, messageId, recipient, sender })
        return Telemetry.spanned(telemetry, `send ${tag}`, { kind: "client", attributes }, (parent) =>
          sendWith(recipient, tag, spec, valid.value, sender, current?.chain ?? [], messageId, timeout, parent))
      }
      return sendWith(recipient, tag, spec, valid.value, sender, current?.chain ?? [], messageId, timeout, current?.span)
    })

  /** A checked send on its way: interventions' hooks, the transport, the deadline. */
  const sendWith = (
    recipient: AgentId,
    tag: string,
    spec: Spec,
    message: unknown,
    sender: AgentId | undefined,
    chain: ReadonlyArray<string>,
    messageId: string,
    timeout: number,
    parent: Tracer.AnySpan | undefined
  ): Effect.Effect<unknown, AgentError> => {
    const carry = (m: unknown, timeoutMillis: number) =>
      transport.send({ recipient, tag, spec, message: m, sender, chain, messageId, timeoutMillis, parent })
    // the common case: no hooks, and the transport keeps the deadline in its own callback
    if (hooks.onSend.length === 0 && hooks.onReply.length === 0) return carry(message, timeout)
    const call = hooks.onSend.length === 0
      ? carry(message, Infinity)
      : Effect.flatMap(runHooks(hooks.onSend, "send", message, { sender, recipient }), (m) => carry(m, Infinity))
    const replied = hooks.onReply.length === 0
      ? call
      : Effect.flatMap(call, (reply) => runHooks(hooks.onReply, "reply", reply, { sender, recipient, requestType: tag }))
    return Dispatch.withDeadline(replied, recipient, tag, timeout)
  }

  const publish = (topic: TopicId, message: unknown, publishOptions?: PublishOptions): Effect.Effect<void, AgentError> =>
    Dispatch.outgoing(message, (tag, current) => {
      const sender = current?.self
      const ack = publishOptions?.ack === true
      const messageId = kernel.nextId()
      const publishWith = (parent: Tracer.AnySpan | undefined) => {
        const carry = (m: unknown) => transport.publish({ topic, tag, message: m, sender, messageId, ack, parent })
        return hooks.onPublish.length === 0
          ? carry(message)
          : Effect.flatMap(runHooks(hooks.onPublish, "publish", message, { sender, topic }), carry)
      }
      if (kernel.telemetry === undefined) return publishWith(current?.span)
      kernel.telemetry.count("published", tag)
      const attributes = Telemetry.attributes({ messageType: tag, messageId, sender, topic })
      return Telemetry.spanned(kernel.telemetry, `publish ${tag}`, { kind: "producer", attributes }, publishWith)
    })

  return { send, publish }
}

/**
 * The `AgentRuntime` of a kernel and its transport. Closing the current
 * scope closes the instances (drain up to `shutdownTimeout`, interrupt,
 * finalizers) before anything the transport needs is torn down.
 */
export const runtime = Effect.fnUntraced(function*(kernel: Kernel, transport: Transport, options: Options) {
  const { idle, instances } = kernel
  const shutdownTimeout = RuntimeConfig.duration(options.shutdownTimeout, kernel.config.shutdownTimeout)
  yield* Effect.addFinalizer(() => instances.close(shutdownTimeout))
  const hooks = Dispatch.hooks(options.interventions)

  const { send, publish } = messaging(kernel, transport, hooks)

  // nothing nested deeper than the limit gets near a decoder or encoder
  const control = (op: ControlOp, id: AgentId, state?: AgentState) =>
    state !== undefined && !JsonLimits.depthWithin(state, kernel.config.maxDepth)
      ? Effect.fail(new InvalidMessageError({ messageType: `state of ${id}`, issue: `nested deeper than the limit of ${kernel.config.maxDepth}` }))
      : Dispatch.caller((caller) => transport.control(op, id, caller, state))

  const streamCaller: Streams.Caller = {
    contract: transport.contract,
    open: transport.sendStream,
    sendTimeoutMillis: kernel.sendTimeoutMillis,
    nextId: kernel.nextId,
    hooks
  }

  return AgentRuntime.of({
    send,
    sendStream: (recipient, message, streamOptions) => Streams.sendStream(streamCaller, recipient, message, streamOptions),
    publish,
    addSubscription: (subscription) => Dispatch.caller((caller) => transport.addSubscription(subscription, caller)),
    removeSubscription: (id) => Dispatch.caller((caller) => transport.removeSubscription(id, caller)),
    subscriptions: Dispatch.caller(transport.subscriptions),
    register: (registration) => Effect.andThen(instances.register(registration), transport.announce(registration)),
    agentId: (type, key = "default", agentOptions) =>
      Effect.flatMap(parseId(type, key), (id) => Effect.as(control(agentOptions?.lazy === false ? "ensure" : "metadata", id), id)),
    metadata: (id) => control("metadata", id) as Effect.Effect<never, AgentError>,
    saveState: (id) => control("saveState", id) as Effect.Effect<AgentState, AgentError>,
    loadState: (id, state) => Effect.asVoid(control("loadState", id, state)),
    saveAll: Dispatch.caller(transport.saveAll),
    loadAll: (state) =>
      Effect.forEach(Object.entries(state), ([id, agentState]) =>
        Effect.flatMap(parseIdString(id), (agentId) => control("loadState", agentId, agentState)), { discard: true }),
    // wait here, then elsewhere, then here again: work elsewhere may have sent more here
    awaitIdle: idle.await.pipe(Effect.andThen(transport.awaitIdle), Effect.andThen(idle.await)),
    deadLetters: kernel.deadLetters.subscribe
  })
})

const decodeId = Schema.decodeUnknownExit(AgentId)

/** An `AgentId` from its parts, or why it is none: an unknown type for a bad type name, an invalid message otherwise. */
const parseId = (type: string, key: string): Effect.Effect<AgentId, AgentError> => {
  const id = decodeId({ type, key })
  if (Exit.isSuccess(id)) return Effect.succeed(id.value)
  return Effect.fail(
    Schema.is(AgentId.fields.type)(type)
      ? new InvalidMessageError({ messageType: "AgentId", issue: Dispatch.issueOf(id.cause) })
      : undeliverable(`${type}/${key}`, new NoSuchAgentType({ agentType: type }))
  )
}

/** An `AgentId` from its string form `type/key`. */
const parseIdString = (s: string): Effect.Effect<AgentId, AgentError> => {
  const i = s.indexOf("/")
  return i < 0 ? Effect.fail(new InvalidMessageError({ messageType: "AgentId", issue: `"${s}" must look like type/key` })) : parseId(s.slice(0, i), s.slice(i + 1))
}
