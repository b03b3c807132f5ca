/**
 * A worker of the distributed runtime: `WorkerRuntime.layer({ url })`
 * provides the same `AgentRuntime` service as the standalone runtime, so the
 * same agent layers run on it unchanged. Its agents run on the same instance
 * engine as the standalone runtime's (mailboxes, cancellation, deadlock
 * detection, state); what changes is the path between them: every send and
 * publish goes through the `Gateway` to the host servicer, which places the
 * recipient on a worker and routes the message there.
 *
 * ```ts
 * program.pipe(
 *   Effect.provide(GreeterLive),
 *   Effect.provide(WorkerRuntime.layer({ url: "ws://127.0.0.1:7700/" }))
 * )
 * ```
 *
 * Messages cross as `{ type, data }`: `data` is the message's Schema JSON
 * encoding, checked on the way out and decoded (hence validated) on arrival.
 */
import * as Os from "node:os"
import type { SocketError } from "effect/socket/Socket"
import { Duration, Effect, Exit, Layer, Predicate, PubSub, Schema, Stream } from "effect"
import type { Spec } from "./Agent.ts"
import {
  type AgentError,
  CantHandleError,
  HandlerError,
  InvalidMessageError,
  UndeliverableError
} from "./AgentError.ts"
import { type AgentId, fromString } from "./AgentId.ts"
import { type AgentMetadata, AgentRuntime, type AgentState, type DeadLetter, type RuntimeState, type SendOptions } from "./AgentRuntime.ts"
import * as Gateway from "./Gateway.ts"
import { type Intervention, runHooks } from "./Intervention.ts"
import { jsonCodec, type MessageSchema } from "./Message.ts"
import type { Control, Deliver, HostMessage, Outcome, WireMessage } from "./Protocol.ts"
import type { TopicId } from "./TopicId.ts"
import * as Dispatch from "./internal/Dispatch.ts"
import * as Idle from "./internal/Idle.ts"
import * as Instances from "./internal/Instances.ts"

/** How a worker reaches its host and behaves. */
export interface Options {
  /** The host: `ws://host:port/` (default transport) or `tcp://host:port`. */
  readonly url: string
  /** This worker's identity (default: hostname, pid and a random suffix). */
  readonly workerId?: string
  /** Presented to a host that requires a token. */
  readonly token?: string
  /** The deadline of a send that sets none (default 30 seconds). */
  readonly sendTimeout?: Duration.Input
  /** How long closing waits for in-flight work before interrupting it (default 5 seconds). */
  readonly shutdownTimeout?: Duration.Input
  /** Middleware over send, publish and reply, applied on this worker. */
  readonly interventions?: ReadonlyArray<Intervention>
  /** Largest message this worker sends, in bytes of JSON (default 1 MiB, as the host's default). */
  readonly maxMessageBytes?: number
  /** Pause between attempts to reach the host (default 250 ms). */
  readonly reconnectInterval?: Duration.Input
  /** How long the first connection may take (default 10 seconds). */
  readonly connectTimeout?: Duration.Input
}

/** The message schema behind a tag, when nothing better is known: a Schema.Class instance carries its own. */
const schemaOfValue = (message: unknown): MessageSchema | undefined => {
  const constructor = (message as { constructor?: unknown }).constructor
  return Schema.isSchema(constructor) ? constructor as unknown as MessageSchema : undefined
}

const decode = (schema: Schema.Top, data: unknown) => Schema.decodeUnknownExit(jsonCodec(schema))(data)
const encode = (schema: Schema.Top, value: unknown) => Schema.encodeUnknownExit(jsonCodec(schema))(value)

/** Plain JSON data sent without a schema: the recipient's worker decodes and checks it. */
const passThrough = Schema.Unknown as unknown as MessageSchema

/** `undefined` (a void reply) crosses as JSON `null`. */
const toJson = (value: unknown): unknown => value === undefined ? null : value

/** Builds a worker runtime in the current scope (the scope is its life). */
export const make = Effect.fnUntraced(function*(options: Options) {
  const sendTimeout = options.sendTimeout ?? Duration.seconds(30)
  const maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024
  const { onPublish, onReply, onSend } = Dispatch.hooks(options.interventions)

  const context = yield* Effect.context<never>()
  const deadLetterHub = yield* PubSub.unbounded<DeadLetter>()
  const deadLetter = Dispatch.deadLetters(deadLetterHub, context)
  const logDeadLetter = Dispatch.logDeadLetter(context)
  const idle = Idle.make()
  const instances = Instances.make({
    idle,
    // logged here; the publisher's runtime emits it on deadLetters, through the host
    deadLetter: (d, error) => logDeadLetter(Dispatch.letter(d.recipient, d.tag, d.sender, d.topic, error))
  })
  const nextId = Dispatch.messageIds()
  const cancels = new Map<string, Instances.Cancel>()
  /** Message schemas by tag, from the agent types registered here. */
  const known = new Map<string, Spec>()

  // ---- what the host pushes ------------------------------------------------

  let gateway: Gateway.Gateway | undefined
  // answers that finish in the same tick go to the host in one call
  let replies: Array<{ readonly requestId: string; readonly outcome: Outcome }> = []
  const flushReplies = () => {
    const batch = replies
    replies = []
    Effect.runForkWith(context)(
      gateway!.client.Reply({ replies: batch }).pipe(
        // the host fails requests of a connection that dropped, so a lost reply is already answered there
        Effect.catchCause((cause) => Effect.logDebug("could not reply to the host", cause).pipe(Effect.annotateLogs({ replies: batch.length })))
      )
    )
  }
  const reply = (requestId: string, outcome: Outcome) => {
    if (replies.push({ requestId, outcome }) === 1) queueMicrotask(flushReplies)
  }
  const failure = (error: AgentError): Outcome => ({ _tag: "Failure", error })

  /** A handler's outcome in wire form: the reply and declared errors encoded with the handler's schemas. */
  const toOutcome = (spec: Spec, exit: Exit.Exit<unknown, AgentError>): Outcome => {
    if (Exit.isSuccess(exit)) {
      if (exit.value === undefined) return { _tag: "Success", value: null }
      const encoded = encode(spec.success, exit.value)
      return Exit.isSuccess(encoded)
        ? { _tag: "Success", value: toJson(encoded.value) }
        : failure(new InvalidMessageError({ messageType: `reply to ${spec.tag}`, issue: Dispatch.issueOf(encoded.cause) }))
    }
    const error = Exit.isFailure(exit) ? Dispatch.firstError(exit.cause) : undefined
    if (error === undefined) return failure(new UndeliverableError({ recipient: "worker", reason: "the handler was interrupted" }))
    if (error._tag === "HandlerError" && "error" in error) {
      const encoded = encode(spec.error, error.error)
      const { error: _, ...rest } = error
      return failure(new HandlerError(Exit.isSuccess(encoded) ? { ...rest, error: encoded.value } : rest))
    }
    return failure(error)
  }

  const onDeliver = (d: Deliver) => {
    const recipient = d.recipient.toString()
    const type = instances.type(d.recipient.type)
    if (type === undefined) {
      return reply(d.requestId, failure(new UndeliverableError({ recipient, reason: `this worker does not run ${d.recipient.type}` })))
    }
    const spec = type.specs.get(d.message.type)
    if (spec === undefined) return reply(d.requestId, failure(new CantHandleError({ recipient, messageType: d.message.type })))
    const decoded = decode(spec.message, d.message.data)
    if (Exit.isFailure(decoded)) {
      return reply(d.requestId, failure(new InvalidMessageError({ messageType: d.message.type, issue: Dispatch.issueOf(decoded.cause) })))
    }
    let done = false
    const cancel = instances.deliver({
      messageId: d.messageId,
      recipient: d.recipient,
      tag: d.message.type,
      message: decoded.value,
      sender: d.sender,
      topic: d.topic,
      rpc: d.rpc,
      chain: d.chain,
      onDone: (exit) => {
        done = true
        cancels.delete(d.requestId)
        // an event's failure goes back too: the host tells the publisher
        reply(d.requestId, toOutcome(spec, exit))
      }
    })
    if (!done) cancels.set(d.requestId, cancel)
  }

  const onControl = (c: Control) => {
    const id = c.agentId!
    const run: Effect.Effect<unknown, AgentError> = c.op === "ensure"
      ? instances.ensure(id)
      : c.op === "metadata"
      ? instances.metadata(id)
      : c.op === "saveState"
      ? instances.saveState(id)
      : c.op === "loadState"
      ? instances.loadState(id, (c.state ?? {}) as AgentState)
      : instances.saveAll
    Effect.runForkWith(context)(
      Effect.exit(run).pipe(Effect.map((exit) =>
        reply(c.requestId, Exit.isSuccess(exit) ? { _tag: "Success", value: toJson(exit.value) } : failure(Dispatch.firstError(exit.cause)!))
      ))
    )
  }

  const onHostMessage = (message: HostMessage) => {
    switch (message._tag) {
      case "Deliver":
        return onDeliver(message)
      case "Cancel": {
        const cancel = cancels.get(message.requestId)
        cancels.delete(message.requestId)
        return cancel?.()
      }
      case "Control":
        return onControl(message)
      case "DeadLetter":
        return deadLetter(Dispatch.letter(message.recipient, message.messageType, message.sender, message.topic, message.error))
    }
  }

  const workerId = options.workerId ?? `${Os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`
  gateway = yield* Gateway.make({
    url: options.url,
    workerId,
    token: options.token,
    reconnectInterval: options.reconnectInterval,
    connectTimeout: options.connectTimeout
  }, onHostMessage, () => {
    // the host failed the callers of everything it pushed here: their handlers are cancelled too
    const lost = [...cancels.values()]
    cancels.clear()
    for (const cancel of lost) cancel()
  })
  const { client, call } = gateway

  yield* Effect.addFinalizer(() => instances.close(options.shutdownTimeout ?? Duration.seconds(5)))

  // ---- what this worker's agents and callers do ------------------------------

  /** The contract for a message: the caller's, the local recipient type's, any local type's, or the value's own class. */
  const contractFor = (recipientType: string | undefined, tag: string, message: unknown, contract: Spec | undefined): Spec | undefined => {
    if (contract !== undefined) return contract
    const local = recipientType === undefined ? undefined : instances.type(recipientType)?.specs.get(tag)
    if (local !== undefined) return local
    const registered = known.get(tag)
    if (registered !== undefined) return registered
    // no schema here: a Schema.Class value carries its own; plain data crosses as it is, and the recipient's worker checks it
    const schema = schemaOfValue(message) ?? (Predicate.isObject(message) && Object.getPrototypeOf(message) === Object.prototype ? passThrough : undefined)
    return schema === undefined ? undefined : { _tag: "Event", tag, message: schema, success: Schema.Unknown, error: Schema.Unknown, concurrent: false }
  }

  /** Checks, then encodes a message for the wire. */
  const toWire = (spec: Spec, message: unknown): Exit.Exit<WireMessage, InvalidMessageError> => {
    const valid = Dispatch.validate(spec, message)
    if (Exit.isFailure(valid)) return Exit.failCause(valid.cause)
    const encoded = encode(spec.message, valid.value)
    if (Exit.isFailure(encoded)) return Exit.fail(new InvalidMessageError({ messageType: spec.tag, issue: Dispatch.issueOf(encoded.cause) }))
    let bytes: number
    try {
      bytes = Buffer.byteLength(JSON.stringify(encoded.value))
    } catch (e) {
      return Exit.fail(new InvalidMessageError({ messageType: spec.tag, issue: `not JSON: ${String(e)}` }))
    }
    if (bytes > maxMessageBytes) {
      return Exit.fail(new InvalidMessageError({ messageType: spec.tag, issue: `${bytes} bytes exceeds the limit of ${maxMessageBytes}` }))
    }
    return Exit.succeed({ type: spec.tag, data: encoded.value })
  }

  const fromReply = (spec: Spec, value: unknown): Effect.Effect<unknown, AgentError> => {
    if (spec.success === Schema.Void) return Effect.void
    if (spec.success === Schema.Unknown) return Effect.succeed(value)
    const decoded = decode(spec.success, value)
    return Exit.isSuccess(decoded)
      ? Effect.succeed(decoded.value)
      : Effect.fail(new InvalidMessageError({ messageType: `reply to ${spec.tag}`, issue: Dispatch.issueOf(decoded.cause) }))
  }

  /** A declared error arrives encoded: decode it with the contract's schema. */
  const fromError = (spec: Spec, error: AgentError): AgentError => {
    if (error._tag !== "HandlerError" || !("error" in error) || spec.error === Schema.Unknown) return error
    const decoded = decode(spec.error, error.error)
    return Exit.isSuccess(decoded) ? new HandlerError({ ...error, error: decoded.value }) : error
  }

  const tracked = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.acquireUseRelease(Effect.sync(() => idle.enter()), () => effect, () => Effect.sync(() => idle.exit()))

  const send = (recipient: AgentId, message: unknown, sendOptions?: SendOptions): Effect.Effect<unknown, AgentError> =>
    Dispatch.outgoing(message, (tag, current) => {
      const sender = current?.self
      const spec = contractFor(recipient.type, tag, message, sendOptions?.contract)
      if (spec === undefined) {
        return Effect.fail(new InvalidMessageError({ messageType: tag, issue: "no schema is known for this message type here: send it with a typed client" }))
      }
      const go = (m: unknown) => {
        const wire = toWire(spec, m)
        if (Exit.isFailure(wire)) return wire
        return call(recipient.toString(), client.Send({
          recipient,
          ...(sender ? { sender } : {}),
          messageId: nextId(),
          chain: current?.chain ?? [],
          message: wire.value
        })).pipe(
          Effect.mapError((error) => fromError(spec, error)),
          Effect.flatMap((value) => fromReply(spec, value))
        )
      }
      const call1 = onSend.length === 0 ? go(message) : Effect.flatMap(runHooks(onSend, "send", message, { sender, recipient }), go)
      const replied = onReply.length === 0
        ? call1
        : Effect.flatMap(call1, (r) => runHooks(onReply, "reply", r, { sender, recipient, requestType: tag }))
      return tracked(Dispatch.withDeadline(replied, recipient, tag, sendOptions?.timeout ?? sendTimeout))
    })

  const publish = (topic: TopicId, message: unknown): Effect.Effect<void, AgentError> =>
    Dispatch.outgoing(message, (tag, current) => {
      const sender = current?.self
      const go = (m: unknown) => {
        const spec = contractFor(undefined, tag, m, undefined)
        if (spec === undefined) {
          return Effect.fail(new InvalidMessageError({ messageType: tag, issue: "no schema is known for this message type here: publish a Schema.Class value or register a type that handles it" }))
        }
        const wire = toWire(spec, m)
        if (Exit.isFailure(wire)) return wire
        return call(topic.toString(), client.Publish({ topic, ...(sender ? { sender } : {}), messageId: nextId(), message: wire.value }))
      }
      return tracked(onPublish.length === 0 ? go(message) : Effect.flatMap(runHooks(onPublish, "publish", message, { sender, topic }), go))
    })

  // runtime operations get the send deadline too: a worker that never answers must not hold the caller forever
  const control = (op: "ensure" | "metadata" | "saveState" | "loadState", agentId: AgentId, state?: AgentState) =>
    Dispatch.withDeadline(
      call(agentId.toString(), client.AgentControl({ op, agentId, ...(state !== undefined ? { state } : {}) })),
      agentId,
      op,
      sendTimeout
    )

  return AgentRuntime.of({
    send,
    publish,
    addSubscription: gateway.addSubscription,
    removeSubscription: gateway.removeSubscription,
    subscriptions: call("host", client.ListSubscriptions()),
    register: (registration) =>
      Effect.gen(function*() {
        yield* instances.register(registration)
        for (const spec of registration.specs.values()) known.set(spec.tag, spec)
        yield* Effect.orDie(gateway!.registerType(registration.name, registration.description))
        for (const subscription of registration.subscriptions) yield* Effect.orDie(gateway!.addSubscription(subscription))
        yield* Effect.addFinalizer(() => Effect.ignore(gateway!.unregisterType(registration.name)))
      }),
    agentId: (type, key = "default", agentOptions) =>
      Effect.gen(function*() {
        const id = fromString(`${type}/${key}`)
        yield* control(agentOptions?.lazy === false ? "ensure" : "metadata", id)
        return id
      }),
    metadata: (id) => Effect.map(control("metadata", id), (m) => m as unknown as AgentMetadata),
    saveState: (id) => Effect.map(control("saveState", id), (s) => s as AgentState),
    loadState: (id, state) => Effect.asVoid(control("loadState", id, state)),
    saveAll: Effect.map(Dispatch.withDeadline(call("host", client.SaveAll()), "host", "SaveAll", sendTimeout), (s) => s as RuntimeState),
    loadAll: (state) =>
      Effect.forEach(Object.entries(state), ([id, agentState]) => control("loadState", fromString(id), agentState), { discard: true }),
    awaitIdle: idle.await.pipe(
      Effect.andThen(Effect.ignore(call("host", client.AwaitIdle()))),
      Effect.andThen(idle.await)
    ),
    deadLetters: Effect.map(PubSub.subscribe(deadLetterHub), Stream.fromSubscription)
  })
})

/**
 * A worker as a layer: joins the host at `url` (waiting up to
 * `connectTimeout`), provides `AgentRuntime` for the layer's life, and leaves
 * the host when closed.
 */
export const layer = (options: Options): Layer.Layer<AgentRuntime, AgentError | SocketError> =>
  Layer.effect(AgentRuntime, make(options))
