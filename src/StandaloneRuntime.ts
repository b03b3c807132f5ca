/**
 * The standalone runtime: every agent in this process, messages in memory.
 * `StandaloneRuntime.layer()` provides `AgentRuntime`; agent layers
 * (`Greeter.toLayer(...)`) register their types with it.
 *
 * ```ts
 * program.pipe(
 *   Effect.provide(GreeterLive),
 *   Effect.provide(StandaloneRuntime.layer({ sendTimeout: "10 seconds" }))
 * )
 * ```
 *
 * Messages are checked against their schemas when they enter (a typed
 * client's messages already are values of their schema, which costs one
 * `Schema.is`); they are not copied or encoded.
 */
import { Duration, Effect, Exit, Layer, PubSub, Stream } from "effect"
import * as AccessPolicy from "./AccessPolicy.ts"
import {
  type AgentError,
  CantHandleError,
  NotAccessibleError,
  TimeoutError,
  UndeliverableError
} from "./AgentError.ts"
import { type AgentId, equals, fromString } from "./AgentId.ts"
import { AgentRuntime, type DeadLetter, type SendOptions } from "./AgentRuntime.ts"
import type { Intervention } from "./Intervention.ts"
import { runHooks } from "./Intervention.ts"
import type { TopicId } from "./TopicId.ts"
import * as Deadlines from "./internal/Deadlines.ts"
import * as Dispatch from "./internal/Dispatch.ts"
import * as Idle from "./internal/Idle.ts"
import * as Instances from "./internal/Instances.ts"
import * as Router from "./internal/Router.ts"

/** How the standalone runtime behaves. */
export interface Options {
  /** The deadline of a send that sets none (default 30 seconds). `Infinity` disables it. */
  readonly sendTimeout?: Duration.Input
  /** How long closing waits for in-flight work before interrupting it (default 5 seconds). */
  readonly shutdownTimeout?: Duration.Input
  /** Middleware over send, publish and reply, applied in order. */
  readonly interventions?: ReadonlyArray<Intervention>
  /** Who may send what to whom (default: everything is allowed). */
  readonly policy?: AccessPolicy.AccessPolicy
}

/** Builds a standalone runtime in the current scope (the scope is its life). */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const sendTimeout = options.sendTimeout ?? Duration.seconds(30)
  const policy = options.policy ?? AccessPolicy.allowAll
  const { onPublish, onReply, onSend } = Dispatch.hooks(options.interventions)

  const context = yield* Effect.context<never>()
  const deadLetterHub = yield* PubSub.unbounded<DeadLetter>()
  const deadLetter = Dispatch.deadLetters(deadLetterHub, context)
  const idle = Idle.make()
  const router = Router.make()
  const instances = Instances.make({
    idle,
    deadLetter: (d, error) => deadLetter(Dispatch.letter(d.recipient, d.tag, d.sender, d.topic, error))
  })
  const nextId = Dispatch.messageIds()
  const deadlines = Deadlines.make()
  const sendTimeoutMillis = Duration.toMillis(Duration.fromInputUnsafe(sendTimeout))

  yield* Effect.addFinalizer(() =>
    Effect.andThen(instances.close(options.shutdownTimeout ?? Duration.seconds(5)), Effect.sync(() => deadlines.close()))
  )

  const deliverAndWait = (
    recipient: AgentId,
    tag: string,
    message: unknown,
    sender: AgentId | undefined,
    chain: ReadonlyArray<string>,
    /** The deadline, kept in `deadlines` (no timer, no fiber per send); `Infinity` for none. */
    timeoutMillis: number
  ) =>
    Effect.callback<unknown, AgentError>((resume) => {
      idle.enter()
      let clear: (() => void) | undefined
      let done = false
      const cancel = instances.deliver({
        messageId: nextId(),
        recipient,
        tag,
        message,
        sender,
        topic: undefined,
        rpc: true,
        chain,
        onDone: (exit) => {
          done = true
          if (clear !== undefined) clear()
          idle.exit()
          resume(exit)
        }
      })
      if (!done && timeoutMillis !== Infinity) {
        clear = deadlines.add(timeoutMillis, () => {
          cancel()
          idle.exit()
          resume(Exit.fail(new TimeoutError({ recipient: recipient.toString(), messageType: tag, timeoutMillis })))
        })
      }
      return Effect.sync(() => {
        if (clear !== undefined) clear()
        cancel()
        idle.exit()
      })
    })

  const send = (recipient: AgentId, message: unknown, sendOptions?: SendOptions): Effect.Effect<unknown, AgentError> =>
    Dispatch.outgoing(message, (tag, current) => {
      const sender = current?.self
      const type = instances.type(recipient.type)
      if (type === undefined) {
        return Effect.fail(new UndeliverableError({ recipient: recipient.toString(), reason: `no agent type ${recipient.type} is registered` }))
      }
      const spec = type.specs.get(tag)
      if (spec === undefined) return Effect.fail(new CantHandleError({ recipient: recipient.toString(), messageType: tag }))
      const valid = Dispatch.validate(spec, message)
      if (Exit.isFailure(valid)) return valid
      if (!policy({ sender, recipient, messageType: tag, kind: "send" })) {
        return Effect.fail(new NotAccessibleError({ ...(sender ? { sender: sender.toString() } : {}), recipient: recipient.toString(), messageType: tag }))
      }
      const chain = current?.chain ?? []
      const timeout = sendOptions?.timeout === undefined ? sendTimeoutMillis : Duration.toMillis(Duration.fromInputUnsafe(sendOptions.timeout))
      // the common case: no hooks, and the deadline lives in the one callback
      if (onSend.length === 0 && onReply.length === 0) return deliverAndWait(recipient, tag, valid.value, sender, chain, timeout)
      const call = onSend.length === 0
        ? deliverAndWait(recipient, tag, valid.value, sender, chain, Infinity)
        : Effect.flatMap(runHooks(onSend, "send", valid.value, { sender, recipient }), (m) => deliverAndWait(recipient, tag, m, sender, chain, Infinity))
      const replied = onReply.length === 0
        ? call
        : Effect.flatMap(call, (reply) => runHooks(onReply, "reply", reply, { sender, recipient, requestType: tag }))
      return Dispatch.withDeadline(replied, recipient, tag, timeout)
    })

  const deliverPublish = (topic: TopicId, tag: string, message: unknown, sender: AgentId | undefined): Effect.Effect<void, AgentError> => {
    const recipients = router.recipients(topic)
    // check the message against every recipient's schema before delivering any: all or nothing
    const deliveries: Array<readonly [AgentId, unknown]> = []
    for (const recipient of recipients) {
      if (sender !== undefined && equals(recipient, sender)) continue
      const spec = instances.type(recipient.type)?.specs.get(tag)
      if (spec === undefined) {
        deliveries.push([recipient, message]) // the engine reports it as a dead letter
        continue
      }
      const valid = Dispatch.validate(spec, message)
      if (Exit.isFailure(valid)) return valid
      deliveries.push([recipient, valid.value])
    }
    for (const [recipient, value] of deliveries) {
      if (!policy({ sender, recipient, messageType: tag, kind: "publish" })) {
        deadLetter(Dispatch.letter(recipient, tag, sender, topic, new NotAccessibleError({ ...(sender ? { sender: sender.toString() } : {}), recipient: recipient.toString(), messageType: tag })))
        continue
      }
      instances.deliver({
        messageId: nextId(),
        recipient,
        tag,
        message: value,
        sender,
        topic,
        rpc: false,
        chain: [],
        onDone: noop
      })
    }
    return Effect.void
  }

  const publish = (topic: TopicId, message: unknown): Effect.Effect<void, AgentError> =>
    Dispatch.outgoing(message, (tag, current) => {
      const sender = current?.self
      if (onPublish.length === 0) return deliverPublish(topic, tag, message, sender)
      return Effect.flatMap(runHooks(onPublish, "publish", message, { sender, topic }), (m) => deliverPublish(topic, tag, m, sender))
    })

  return AgentRuntime.of({
    send,
    publish,
    addSubscription: (subscription) => Effect.sync(() => void router.add(subscription)),
    removeSubscription: (id) => Effect.sync(() => router.remove(id) !== undefined),
    subscriptions: Effect.sync(() => router.list()),
    register: (registration) =>
      Effect.gen(function*() {
        yield* instances.register(registration)
        for (const subscription of registration.subscriptions) router.add(subscription)
      }),
    agentId: (type, key = "default", agentOptions) =>
      Effect.gen(function*() {
        const id = fromString(`${type}/${key}`)
        yield* instances.metadata(id) // fails for an unknown type, or a key an explicit-keys type does not have
        if (agentOptions?.lazy === false) yield* instances.ensure(id)
        return id
      }),
    metadata: instances.metadata,
    saveState: instances.saveState,
    loadState: instances.loadState,
    saveAll: instances.saveAll,
    loadAll: (state) =>
      Effect.forEach(Object.entries(state), ([id, agentState]) => instances.loadState(fromString(id), agentState), { discard: true }),
    awaitIdle: idle.await,
    deadLetters: Effect.map(PubSub.subscribe(deadLetterHub), Stream.fromSubscription)
  })
})

const noop = () => {}

/**
 * The standalone runtime as a layer: provides `AgentRuntime` for the layer's
 * life. Closing it stops intake, waits up to `shutdownTimeout` for in-flight
 * work, then interrupts what is left and runs agent finalizers.
 */
export const layer = (options?: Options): Layer.Layer<AgentRuntime> => Layer.effect(AgentRuntime, make(options))
