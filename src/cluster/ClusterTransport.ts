/**
 * The sending side of the cluster runtime: the kernel's `Transport` over
 * effect/cluster. A send is a call to the recipient's entity (volatile or
 * persisted, see `DeliveryMode`), wherever the shard lives; a publish looks
 * its recipients up in the directory's subscriptions and fans out as entity
 * deliveries, one per recipient; control operations go to the entity too.
 * This runtime checks the access policy before anything leaves, as the
 * standalone runtime does (every runner of a cluster should have the same
 * policy).
 */
import { Cause, Effect, Exit, Schedule, type Scope, Stream } from "effect"
import { Sharding } from "effect/cluster"
import type { AlreadyProcessingMessage, EntityNotAssignedToRunner, MailboxFull, PersistenceError } from "effect/cluster/ClusterError"
import type { EntityId } from "effect/cluster/EntityId"
import type { Spec } from "../core/Agent.ts"
import * as AccessPolicy from "../core/AccessPolicy.ts"
import {
  type AgentError,
  CantHandleError,
  HostUnreachable,
  Interrupted,
  InvalidMessageError,
  isAgentError,
  NoSuchAgentType,
  NoWorker,
  Overloaded,
  undeliverable
} from "../core/AgentError.ts"
import { type AgentId, equals, fromString } from "../core/AgentId.ts"
import type { AgentState, RuntimeState } from "../core/AgentRuntime.ts"
import * as DeadLetter from "../core/DeadLetter.ts"
import type { Outcome, WireMessage } from "../distributed/Protocol.ts"
import * as WireCodec from "../distributed/internal/WireCodec.ts"
import * as Dispatch from "../runtime/Dispatch.ts"
import type * as Kernel from "../runtime/Kernel.ts"
import type * as Streams from "../runtime/Streams.ts"
import type { Registration } from "../runtime/Registration.ts"
import * as AgentEntity from "./AgentEntity.ts"
import * as DeliveryMode from "./DeliveryMode.ts"
import * as EntityHost from "./EntityHost.ts"

type ClusterError = MailboxFull | AlreadyProcessingMessage | PersistenceError | EntityNotAssignedToRunner

/** What the cluster says, as the `AgentError` a caller of this runtime expects. */
const fromCluster = (recipient: AgentId, error: ClusterError, mailboxCapacity: number): AgentError => {
  switch (error._tag) {
    case "MailboxFull":
      return undeliverable(recipient, new Overloaded({ what: `the entity mailbox of ${recipient}`, limit: mailboxCapacity }))
    case "AlreadyProcessingMessage":
      return undeliverable(recipient, new Overloaded({ what: `the message ${error.envelopeId} (being processed already)`, limit: 1 }))
    case "PersistenceError":
      return undeliverable(recipient, new HostUnreachable({ url: "cluster message storage", detail: error.message }))
    case "EntityNotAssignedToRunner":
      return undeliverable(recipient, new NoWorker({ agentType: recipient.type }))
  }
}

type Client = ReturnType<Effect.Success<ReturnType<Sharding.Sharding["Service"]["makeClient"]>>>

/** What the transport is made of. */
export interface Options {
  /** The receiving side of this runtime (its kernel, directory, limits). */
  readonly host: EntityHost.EntityHost
  readonly policy: AccessPolicy.AccessPolicy
  readonly delivery: DeliveryMode.Policy
  /** Registers an agent type's entity with the cluster, for the life of the scope. */
  readonly registerEntity: (agentType: string) => Effect.Effect<void, never, Scope.Scope>
}

/** A call interrupted on the entity's side (not by its caller): retried when persisted. */
class RemoteInterrupt {
  readonly _tag = "RemoteInterrupt"
}
const isRemoteInterrupt = (e: AgentError | RemoteInterrupt): e is RemoteInterrupt => e instanceof RemoteInterrupt

const interrupted = (recipient: AgentId) => undeliverable(recipient, new Interrupted())

/** What the transport's operations share: its options, the cluster, and what it learns as it runs. */
interface TransportContext {
  readonly options: Options
  readonly sharding: Sharding.Sharding["Service"]
  readonly host: EntityHost.EntityHost
  readonly policy: AccessPolicy.AccessPolicy
  readonly directory: EntityHost.EntityHost["directory"]
  readonly kernel: EntityHost.EntityHost["kernel"]
  readonly limits: EntityHost.EntityHost["limits"]
  readonly instances: EntityHost.EntityHost["kernel"]["instances"]
  /** Message contracts by tag, from the agent types registered here. */
  readonly known: Map<string, Spec>
  /** The entity clients made so far, by agent type (made once each). */
  readonly clients: Map<string, (entityId: string) => Client>
}

const clientOf = (ctx: TransportContext, agentType: string) =>
  Effect.suspend(() => {
    const client = ctx.clients.get(agentType)
    if (client !== undefined) return Effect.succeed(client)
    return Effect.map(ctx.sharding.makeClient(AgentEntity.of(agentType)), (made) => {
      ctx.clients.set(agentType, made as unknown as (entityId: string) => Client)
      return made as unknown as (entityId: string) => Client
    })
  })

/** Fails unless some runner runs the recipient's type (this one, or one the directory knows). */
const reachable = (ctx: TransportContext, recipient: AgentId): Effect.Effect<void, AgentError> =>
  ctx.instances.type(recipient.type) !== undefined
    ? Effect.void
    : Effect.flatMap(ctx.directory.hasType(recipient.type), (has) =>
      has ? Effect.void : Effect.fail(undeliverable(recipient, new NoSuchAgentType({ agentType: recipient.type }))))

const isLocal = (ctx: TransportContext, recipient: AgentId) =>
  ctx.sharding.hasShardId(ctx.sharding.getShardId(recipient.key as EntityId, "default"))

const mode = (ctx: TransportContext, tag: string) =>
  Effect.withFiber<DeliveryMode.DeliveryMode>((fiber) =>
    Effect.succeed(DeliveryMode.choose(ctx.options.delivery, fiber.getRef(DeliveryMode.Current), tag))
  )

/** One delivery to one entity; `wait: false` returns once the cluster accepted it. */
const carry = (
  ctx: TransportContext,
  recipient: AgentId,
  delivery: AgentEntity.Delivery,
  persisted: boolean,
  wait: boolean
): Effect.Effect<Outcome | undefined, AgentError> => {
  const { host, kernel } = ctx
  return Effect.flatMap(clientOf(ctx, recipient.type), (client) => {
    const entity = client(recipient.key) as unknown as Record<string, (payload: AgentEntity.Delivery, options?: { readonly discard?: boolean }) => Effect.Effect<Outcome | void, ClusterError>>
    const rpc = persisted ? entity.DeliverPersisted! : entity.Deliver!
    if (wait) {
      const call = Effect.mapError(rpc(delivery), (e) => fromCluster(recipient, e, host.mailboxCapacity)) as Effect.Effect<Outcome, AgentError>
      return answered(recipient, call, persisted)
    }
    // a delivery not awaited to an entity here counts as work here until the entity takes it
    const tracked = isLocal(ctx, recipient)
    if (tracked) {
      host.pendingLocal.add(delivery.messageId)
      kernel.idle.enter()
    }
    return rpc(delivery, { discard: true }).pipe(
      Effect.mapError((e) => fromCluster(recipient, e, host.mailboxCapacity)),
      Effect.onError(() => Effect.sync(() => tracked && EntityHost.arrived(host, delivery.messageId))),
      Effect.as(undefined)
    )
  })
}

/**
 * A call the entity's side interrupted (its runner stopping as the call
 * reached it) is never handed to the caller as an interruption: a
 * persisted one is sent again under the same message id (the entity
 * applies it once), until the caller's deadline; a volatile one fails
 * with `UndeliverableError` (`Interrupted`), as at most once allows.
 */
const answered = (recipient: AgentId, call: Effect.Effect<Outcome, AgentError>, persisted: boolean): Effect.Effect<Outcome, AgentError> => {
  const interruptedThere: Effect.Effect<Outcome, AgentError | RemoteInterrupt> = Effect.catchCause(call, (cause) =>
    Cause.hasInterruptsOnly(cause)
      ? Effect.fail<AgentError | RemoteInterrupt>(new RemoteInterrupt())
      : Effect.failCause<AgentError | RemoteInterrupt>(cause))
  const typed = (e: AgentError | RemoteInterrupt): AgentError => isRemoteInterrupt(e) ? interrupted(recipient) : e
  return persisted
    ? Effect.mapError(Effect.retry(interruptedThere, { while: isRemoteInterrupt, schedule: Schedule.spaced("200 millis") }), typed)
    : Effect.mapError(interruptedThere, typed)
}

/** Counts `effect` as work in progress of the kernel while it runs. */
const tracked = <A, E>(ctx: TransportContext, effect: Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(Effect.sync(() => ctx.kernel.idle.enter()), () => effect, () => Effect.sync(() => ctx.kernel.idle.exit()))

const contractFor = (ctx: TransportContext, recipientType: string | undefined, tag: string, message: unknown, contract: Spec | undefined): Spec | undefined =>
  contract ??
    (recipientType === undefined ? undefined : ctx.instances.type(recipientType)?.specs.get(tag)) ??
    ctx.known.get(tag) ??
    WireCodec.contractOfValue(tag, message)

const noContract = (tag: string, how: string) =>
  new InvalidMessageError({ messageType: tag, issue: `no schema is known for this message type here: ${how}` })

/** The contract of a message to `recipient`: a type registered here answers from its own specs only. */
const contract = (ctx: TransportContext): Kernel.Transport["contract"] => (recipient, tag, message, given) => {
  const type = ctx.instances.type(recipient.type)
  if (type !== undefined && given === undefined) {
    return type.specs.get(tag) ?? new CantHandleError({ recipient: recipient.toString(), messageType: tag })
  }
  return contractFor(ctx, recipient.type, tag, message, given) ?? noContract(tag, "send it with a typed client")
}

const send = (ctx: TransportContext, request: Kernel.SendRequest): Effect.Effect<unknown, AgentError> => {
  const { chain, messageId, recipient, sender, spec, tag } = request
  const denied = AccessPolicy.judge(ctx.policy, "send", sender, recipient, tag)
  if (denied !== undefined) return Effect.fail(denied)
  const wire = WireCodec.toWire(spec, request.message, ctx.limits)
  if (Exit.isFailure(wire)) return wire
  const delivery: AgentEntity.Delivery = { messageId, ...(sender ? { sender } : {}), message: wire.value, rpc: true, chain }
  const sent = reachable(ctx, recipient).pipe(
    Effect.andThen(mode(ctx, tag)),
    Effect.flatMap((m) => carry(ctx, recipient, delivery, m === "persisted", true)),
    Effect.flatMap((outcome) => WireCodec.fromOutcome(outcome!)),
    Effect.mapError((error) => WireCodec.fromError(spec, error)),
    Effect.flatMap((value) => WireCodec.fromReply(spec, value))
  )
  return tracked(ctx, Dispatch.withDeadline(sent, recipient, tag, request.timeoutMillis))
}

/** A streaming send: the entity's chunk stream, each chunk decoded with the contract's chunk schema. */
const sendStream = (ctx: TransportContext, request: Streams.StreamRequest): Stream.Stream<unknown, AgentError> => {
  const { buffer, chain, messageId, recipient, sender, spec, tag } = request
  const denied = AccessPolicy.judge(ctx.policy, "send", sender, recipient, tag)
  if (denied !== undefined) return Stream.fail(denied)
  const wire = WireCodec.toWire(spec, request.message, ctx.limits)
  if (Exit.isFailure(wire)) return Stream.fromEffect(wire)
  const delivery = { messageId, ...(sender ? { sender } : {}), message: wire.value, rpc: true, chain, buffer }
  return Stream.unwrap(Effect.map(Effect.andThen(reachable(ctx, recipient), clientOf(ctx, recipient.type)), (client) => {
    const entity = client(recipient.key) as unknown as {
      readonly DeliverStream: (payload: typeof delivery, options: { readonly streamBufferSize: number }) => Stream.Stream<unknown, AgentError | ClusterError>
    }
    // `buffer` chunks on their way: one waits on the runner's side (see EntityHost), the rest here
    return entity.DeliverStream(delivery, { streamBufferSize: Math.max(1, buffer - 1) }).pipe(
      Stream.mapError((error) => isAgentError(error) ? WireCodec.fromError(spec, error) : fromCluster(recipient, error as ClusterError, ctx.host.mailboxCapacity)),
      Stream.mapEffect((chunk) => WireCodec.fromReply(spec, chunk))
    )
  }))
}

/**
 * The deliveries of a publish, one per recipient of its topic (not the
 * sender itself), each message validated and encoded once per contract;
 * fails, with nothing sent, if any recipient's cannot be.
 */
const publishDeliveries = (
  ctx: TransportContext,
  request: Kernel.PublishRequest
): Effect.Effect<Array<readonly [AgentId, AgentEntity.Delivery]>, AgentError> =>
  Effect.gen(function*() {
    const { message, messageId, sender, tag, topic } = request
    const recipients = yield* ctx.directory.recipients(topic)
    const deliveries: Array<readonly [AgentId, AgentEntity.Delivery]> = []
    const encoded = new Map<Spec, WireMessage>()
    for (const recipient of recipients) {
      if (sender !== undefined && equals(recipient, sender)) continue
      const spec = contractFor(ctx, recipient.type, tag, message, undefined)
      if (spec === undefined) return yield* noContract(tag, "publish a Schema.Class value or register a type that handles it")
      let wire = encoded.get(spec)
      if (wire === undefined) {
        const valid = Dispatch.validate(spec, message)
        if (Exit.isFailure(valid)) return yield* Effect.failCause(valid.cause)
        const toWire = WireCodec.toWire(spec, valid.value, ctx.limits)
        if (Exit.isFailure(toWire)) return yield* Effect.failCause(toWire.cause)
        encoded.set(spec, wire = toWire.value)
      }
      deliveries.push([recipient, {
        messageId: `${messageId}:${recipient.type}`,
        ...(sender ? { sender } : {}),
        topic,
        message: wire,
        rpc: false,
        chain: []
      }])
    }
    return deliveries
  })

/**
 * A publish: every recipient's delivery is checked first (all or none),
 * then each goes to its entity. Without `ack` it returns once the cluster
 * accepted every delivery (so publishes made one after another reach an
 * instance in that order); a delivery the policy denies, or the cluster
 * refuses, is a dead letter here.
 */
const publish = (ctx: TransportContext, request: Kernel.PublishRequest): Effect.Effect<void, AgentError> =>
  Effect.gen(function*() {
    const { ack, sender, tag, topic } = request
    const deliveries = yield* publishDeliveries(ctx, request)
    const persisted = (yield* mode(ctx, tag)) === "persisted"
    const letter = (recipient: AgentId, error: AgentError) =>
      ctx.kernel.deadLetters.emit(DeadLetter.make(recipient, tag, sender, topic, error))
    const one = (recipient: AgentId, delivery: AgentEntity.Delivery): Effect.Effect<void, AgentError> => {
      const denied = AccessPolicy.judge(ctx.policy, "publish", sender, recipient, tag)
      if (denied !== undefined) {
        letter(recipient, denied)
        return ack ? Effect.fail(denied) : Effect.void
      }
      const carried = carry(ctx, recipient, delivery, persisted, ack)
      return ack
        ? Effect.flatMap(carried, (outcome) => Effect.asVoid(WireCodec.fromOutcome(outcome!)))
        : Effect.catch(carried, (error) => Effect.sync(() => letter(recipient, error)))
    }
    // every delivery is tried; acknowledged mode then fails with the first failure
    const exits = yield* Effect.forEach(deliveries, ([recipient, delivery]) => Effect.exit(one(recipient, delivery)), { concurrency: "unbounded" })
    for (const exit of exits) if (Exit.isFailure(exit)) return yield* exit
  })

const forType = (agentType: string) => AccessPolicy.subscriptionRecipient(agentType)

const allowed = (ctx: TransportContext, operation: AccessPolicy.Operation, caller: AgentId | undefined, recipient: AgentId) =>
  ctx.policy(AccessPolicy.request(operation, caller, recipient))

/** `effect`, unless the policy denies `operation` by `caller` on `recipient`. */
const check = <A>(ctx: TransportContext, operation: AccessPolicy.Operation, caller: AgentId | undefined, recipient: AgentId, effect: Effect.Effect<A, AgentError>) => {
  const denied = AccessPolicy.judge(ctx.policy, operation, caller, recipient)
  return denied === undefined ? effect : Effect.fail(denied)
}

/** The subscription operations, on the directory, each checked against the policy. */
const subscriptionOps = (ctx: TransportContext): Pick<Kernel.Transport, "addSubscription" | "removeSubscription" | "subscriptions"> => {
  const { directory } = ctx
  return {
    addSubscription: (subscription, caller) =>
      check(ctx, "addSubscription", caller, forType(subscription.agentType), Effect.asVoid(directory.addSubscription(subscription))),
    removeSubscription: (id, caller) =>
      Effect.flatMap(directory.subscription(id), (subscription) =>
        subscription === undefined
          ? Effect.succeed(false)
          : check(ctx, "removeSubscription", caller, forType(subscription.agentType), Effect.map(directory.removeSubscription(id), (s) => s !== undefined))),
    subscriptions: (caller) =>
      Effect.map(directory.subscriptions, (all) => all.filter((s) => allowed(ctx, "listSubscriptions", caller, forType(s.agentType))))
  }
}

const control = (ctx: TransportContext, op: Kernel.ControlOp, id: AgentId, caller: AgentId | undefined, state?: AgentState): Effect.Effect<unknown, AgentError> =>
  check(ctx, op, caller, id, reachable(ctx, id).pipe(
    Effect.andThen(clientOf(ctx, id.type)),
    Effect.flatMap((client) => {
      const entity = client(id.key) as unknown as { readonly Control: (payload: { op: Kernel.ControlOp; state?: unknown }) => Effect.Effect<Outcome, ClusterError> }
      return Effect.mapError(entity.Control({ op, ...(state !== undefined ? { state } : {}) }), (e) => fromCluster(id, e, ctx.host.mailboxCapacity))
    }),
    Effect.flatMap(WireCodec.fromOutcome),
    (effect) => Dispatch.withDeadline(effect, id, op, ctx.kernel.sendTimeoutMillis)
  ))

/** Saved states overlaid with the live state of the instances that live here. */
const saveAll = (ctx: TransportContext, caller: AgentId | undefined): Effect.Effect<RuntimeState, AgentError> =>
  Effect.gen(function*() {
    const saved = yield* ctx.directory.savedStates
    const live = yield* ctx.instances.saveAll
    const all: Record<string, AgentState> = { ...saved }
    for (const [id, state] of Object.entries(live)) if (!ctx.host.departed.has(id)) all[id] = state
    return Object.fromEntries(Object.entries(all).filter(([id]) => allowed(ctx, "saveState", caller, fromString(id))))
  })

const announce = (ctx: TransportContext, registration: Registration) =>
  Effect.gen(function*() {
    for (const spec of registration.specs.values()) ctx.known.set(spec.tag, spec)
    // registered in the agent layer's scope, after the kernel's type: it closes first (see EntityHost.register)
    yield* ctx.options.registerEntity(registration.name)
    const declare = Effect.andThen(
      ctx.directory.announceType(registration.name, registration.description),
      Effect.forEach(registration.subscriptions, ctx.directory.addSubscription, { discard: true })
    )
    // a directory that cannot be written is a runner that cannot serve: the agent layer fails to build
    yield* Effect.orDie(declare)
  })

/** The cluster transport of one runtime, on the `Sharding` in the context. */
export const make = Effect.fnUntraced(function*(options: Options) {
  const sharding = yield* Sharding.Sharding
  const { host, policy } = options
  const ctx: TransportContext = {
    options,
    sharding,
    host,
    policy,
    directory: host.directory,
    kernel: host.kernel,
    limits: host.limits,
    instances: host.kernel.instances,
    known: new Map(),
    clients: new Map()
  }
  return {
    contract: contract(ctx),
    send: (request) => send(ctx, request),
    sendStream: (request) => sendStream(ctx, request),
    publish: (request) => publish(ctx, request),
    ...subscriptionOps(ctx),
    announce: (registration) => announce(ctx, registration),
    control: (op, id, caller, state) => control(ctx, op, id, caller, state),
    saveAll: (caller) => saveAll(ctx, caller),
    awaitIdle: Effect.void
  } satisfies Kernel.Transport
})
