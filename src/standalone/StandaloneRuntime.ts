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
 * It is the shared kernel with an in-process transport: a send goes straight
 * into the recipient's mailbox, a publish to every subscriber the router
 * finds, and this runtime enforces the access policy itself. Messages are
 * checked against their schemas when they enter (a typed client's messages
 * already are values of their schema, which costs one `Schema.is`); they are
 * not copied or encoded.
 */
import { type Duration, Effect, Exit, Layer, Stream, type Tracer } from "effect"
import * as AccessPolicy from "../core/AccessPolicy.ts"
import { type AgentError, CantHandleError, NoSuchAgentType, TimeoutError, undeliverable } from "../core/AgentError.ts"
import { type AgentId, equals, fromString } from "../core/AgentId.ts"
import { AgentRuntime } from "../core/AgentRuntime.ts"
import * as DeadLetter from "../core/DeadLetter.ts"
import type { Intervention } from "../core/Intervention.ts"
import * as Deadlines from "../runtime/Deadlines.ts"
import * as Dispatch from "../runtime/Dispatch.ts"
import * as Kernel from "../runtime/Kernel.ts"
import type * as Mailbox from "../runtime/Mailbox.ts"
import * as Router from "../runtime/Router.ts"
import * as Streams from "../runtime/Streams.ts"

/** How the standalone runtime behaves; anything left out comes from `RuntimeConfig`. */
export interface Options {
  /** The deadline of a send that sets none (default 30 seconds). `Infinity` disables it. */
  readonly sendTimeout?: Duration.Input | undefined
  /** How long closing waits for in-flight work before interrupting it (default 5 seconds). */
  readonly shutdownTimeout?: Duration.Input | undefined
  /**
   * How many messages may wait in one instance's mailbox (default 4096). A
   * send to a full mailbox waits for room within its deadline; a publish to
   * it is a dead letter (`UndeliverableError`, reason `Overloaded`).
   */
  readonly mailboxCapacity?: number | undefined
  /** Middleware over send, publish and reply, applied in order. */
  readonly interventions?: ReadonlyArray<Intervention> | undefined
  /** Who may send what to whom (default: everything is allowed). */
  readonly policy?: AccessPolicy.AccessPolicy | undefined
}

/**
 * A send as the mailbox takes it: a call to one instance, outside any topic.
 * A plain send and a streaming send differ only in where the outcome goes
 * (`onDone`, and the `sink` for a stream's chunks) and in the span they carry.
 */
const callDelivery = (
  request: Kernel.SendRequest | Streams.StreamRequest,
  parent: Tracer.AnySpan | undefined,
  onDone: Mailbox.Delivery["onDone"],
  sink?: Mailbox.Delivery["sink"]
): Mailbox.Delivery => ({
  messageId: request.messageId,
  recipient: request.recipient,
  tag: request.tag,
  message: request.message,
  sender: request.sender,
  topic: undefined,
  rpc: true,
  chain: request.chain,
  parent,
  sink,
  onDone
})

/** Delivers and waits, with the deadline in the same callback: no timer and no fiber per send. */
const deliverAndWait = (kernel: Kernel.Kernel, deadlines: Deadlines.Deadlines, request: Kernel.SendRequest) =>
  Effect.callback<unknown, AgentError>((resume) => {
    const { idle, instances } = kernel
    idle.enter()
    let clear: (() => void) | undefined
    let done = false
    const cancel = instances.deliver(callDelivery(request, request.parent, (exit) => {
      done = true
      clear?.()
      idle.exit()
      resume(exit)
    }))
    const { recipient, tag: messageType, timeoutMillis } = request
    if (!done && timeoutMillis !== Infinity) {
      clear = deadlines.add(timeoutMillis, () => {
        cancel()
        idle.exit()
        resume(Exit.fail(new TimeoutError({ recipient: recipient.toString(), messageType, timeoutMillis })))
      })
    }
    return Effect.sync(() => {
      clear?.()
      cancel()
      idle.exit()
    })
  })

/** Delivers a streaming send with a sink in front of a bounded queue the caller reads. */
const deliverStream = (kernel: Kernel.Kernel, request: Streams.StreamRequest) =>
  Streams.local(request.buffer, (sink, onDone) => kernel.instances.deliver(callDelivery(request, undefined, onDone, sink)))

/**
 * Delivers a publish to every subscriber but the publisher, after checking
 * it against every recipient's schema: all or nothing. A delivery the policy
 * denies is a dead letter. In acknowledged mode it waits for every delivery
 * and fails with the first failure.
 */
const publish = (kernel: Kernel.Kernel, router: Router.Router, policy: AccessPolicy.AccessPolicy, request: Kernel.PublishRequest): Effect.Effect<void, AgentError> => {
  const { message, messageId, sender, tag, topic } = request
  // the recipients and the message as each one's schema types it (all checked before any is delivered)
  const recipients: Array<AgentId> = []
  const values: Array<unknown> = []
  for (const recipient of router.recipients(topic)) {
    if (sender !== undefined && equals(recipient, sender)) continue
    const spec = kernel.instances.type(recipient.type)?.specs.get(tag)
    if (spec === undefined) {
      recipients.push(recipient)
      values.push(message) // the instances report it as a dead letter
      continue
    }
    const valid = Dispatch.validate(spec, message)
    if (Exit.isFailure(valid)) return valid
    recipients.push(recipient)
    values.push(valid.value)
  }
  const deliverAll = (settled: (exit: Exit.Exit<unknown, AgentError>) => void) => {
    for (let i = 0; i < recipients.length; i++) {
      const recipient = recipients[i]!
      const denied = AccessPolicy.judge(policy, "publish", sender, recipient, tag)
      if (denied !== undefined) {
        kernel.deadLetters.emit(DeadLetter.make(recipient, tag, sender, topic, denied))
        settled(Exit.fail(denied))
        continue
      }
      kernel.instances.deliver({
        messageId: `${messageId}:${recipient.type}`,
        recipient,
        tag,
        message: values[i],
        sender,
        topic,
        rpc: false,
        chain: noChain,
        parent: request.parent,
        onDone: settled
      })
    }
  }
  if (!request.ack) return Effect.sync(() => deliverAll(noop))
  return Effect.callback<void, AgentError>((resume) => {
    let outstanding = recipients.length + 1
    let first: AgentError | undefined
    const settled = (exit: Exit.Exit<unknown, AgentError>) => {
      if (Exit.isFailure(exit) && first === undefined) first = Dispatch.firstError(exit.cause)
      if (--outstanding === 0) resume(first === undefined ? Effect.void : Effect.fail(first))
    }
    deliverAll(settled)
    settled(Exit.void)
  })
}

/** A publish starts no call chain (one array for all of them). */
const noChain: ReadonlyArray<string> = []

/** The access policy over the runtime's operations on agents and subscriptions. */
const guarded = (policy: AccessPolicy.AccessPolicy, instances: Kernel.Kernel["instances"], router: Router.Router) => {
  const allowed = (operation: AccessPolicy.Operation, caller: AgentId | undefined, recipient: AgentId) =>
    policy(AccessPolicy.request(operation, caller, recipient))
  const check = <A>(operation: AccessPolicy.Operation, caller: AgentId | undefined, recipient: AgentId, effect: Effect.Effect<A, AgentError>) => {
    const denied = AccessPolicy.judge(policy, operation, caller, recipient)
    return denied === undefined ? effect : Effect.fail(denied)
  }
  const forType = (agentType: string) => AccessPolicy.subscriptionRecipient(agentType)
  return {
    control: (op, id, caller, state) => check(op, caller, id, instances.operate(op, id, state)),
    saveAll: (caller) =>
      Effect.map(instances.saveAll, (all) =>
        Object.fromEntries(Object.entries(all).filter(([id]) => allowed("saveState", caller, fromString(id))))),
    addSubscription: (subscription, caller) =>
      check("addSubscription", caller, forType(subscription.agentType), Effect.sync(() => void router.add(subscription))),
    removeSubscription: (id, caller) => {
      const subscription = router.get(id)
      if (subscription === undefined) return Effect.succeed(false)
      return check("removeSubscription", caller, forType(subscription.agentType), Effect.sync(() => router.remove(id) !== undefined))
    },
    subscriptions: (caller) => Effect.sync(() => router.list().filter((s) => allowed("listSubscriptions", caller, forType(s.agentType))))
  } satisfies Partial<Kernel.Transport>
}

/** The in-process transport: this process's instances, its router, its policy. */
const transport = Effect.fnUntraced(function*(kernel: Kernel.Kernel, policy: AccessPolicy.AccessPolicy) {
  const { instances } = kernel
  const router = Router.make()
  const deadlines = yield* Deadlines.make
  return {
    contract: (recipient, tag) => {
      const type = instances.type(recipient.type)
      if (type === undefined) return undeliverable(recipient, new NoSuchAgentType({ agentType: recipient.type }))
      return type.specs.get(tag) ?? new CantHandleError({ recipient: recipient.toString(), messageType: tag })
    },
    send: (request) => {
      const denied = AccessPolicy.judge(policy, "send", request.sender, request.recipient, request.tag)
      return denied === undefined ? deliverAndWait(kernel, deadlines, request) : Effect.fail(denied)
    },
    sendStream: (request) => {
      const denied = AccessPolicy.judge(policy, "send", request.sender, request.recipient, request.tag)
      return denied === undefined ? deliverStream(kernel, request) : Stream.fail(denied)
    },
    publish: (request) => publish(kernel, router, policy, request),
    ...guarded(policy, instances, router),
    announce: (registration) =>
      Effect.sync(() => {
        for (const subscription of registration.subscriptions) router.add(subscription)
      }),
    awaitIdle: Effect.void
  } satisfies Kernel.Transport
})

/** Builds a standalone runtime in the current scope (the scope is its life). */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const kernelOptions: Kernel.Options = { ...options, emitLocalDeadLetters: true }
  const kernel = yield* Kernel.make(kernelOptions)
  return yield* Kernel.runtime(kernel, yield* transport(kernel, options.policy ?? AccessPolicy.allowAll), kernelOptions)
})

const noop = () => {}

/**
 * The standalone runtime as a layer: provides `AgentRuntime` for the layer's
 * life. Closing it stops intake, waits up to `shutdownTimeout` for in-flight
 * work, then interrupts what is left and runs agent finalizers.
 */
export const layer = (options?: Options): Layer.Layer<AgentRuntime> => Layer.effect(AgentRuntime, make(options))
