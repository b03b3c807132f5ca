/**
 * The receiving side of the cluster runtime: for each agent type registered
 * here, an effect/cluster entity whose handlers put the deliveries into the
 * kernel's instances, so mailbox order, concurrency, deadlock detection,
 * cancellation and state are the kernel's, as on every runtime. The entity
 * runs with unbounded concurrency: the instance's mailbox orders and limits.
 *
 * An entity activation is an instance's presence on this runner: it loads
 * the state saved for the agent (by the runner it lived on before, or when
 * it was passivated) and saves it when the entity goes (idle passivation,
 * shard moved, runner stopping). A persisted delivery saves the instance's
 * state, as its handler left it, in the same storage transaction as its
 * reply.
 */
import { Cause, type Duration, Effect, Exit, type Scope, Stream } from "effect"
import { Entity, Sharding } from "effect/cluster"
import type { AnyHandler, StateCell } from "../core/Agent.ts"
import { InstanceState } from "../core/Agent.ts"
import { type AgentError, InvalidMessageError } from "../core/AgentError.ts"
import { AgentId } from "../core/AgentId.ts"
import type { AgentState } from "../core/AgentRuntime.ts"
import * as DeadLetter from "../core/DeadLetter.ts"
import type { Outcome } from "../distributed/Protocol.ts"
import * as WireCodec from "../distributed/internal/WireCodec.ts"
import { issueOf } from "../runtime/Dispatch.ts"
import type * as Kernel from "../runtime/Kernel.ts"
import type { Registration } from "../runtime/Registration.ts"
import * as StateCells from "../runtime/StateCells.ts"
import * as Streams from "../runtime/Streams.ts"
import * as AgentEntity from "./AgentEntity.ts"
import type { Directory } from "./Directory.ts"

/** What the entities of one runtime share. */
export interface EntityHost {
  readonly kernel: Kernel.Kernel
  readonly directory: Directory["Service"]
  readonly limits: WireCodec.Limits
  /** Message ids of persisted deliveries whose handler should leave a state snapshot. */
  readonly snapshotWanted: Set<string>
  /** Snapshots left by handlers, by message id, until their delivery's reply takes them. */
  readonly snapshots: Map<string, AgentState>
  /** Deliveries sent from here, not awaited, to an entity on this runner: `awaitIdle` waits for them (see the transport). */
  readonly pendingLocal: Set<string>
  /** Instances whose entity left this runner: their kernel instance is stale until the entity comes back. */
  readonly departed: Set<string>
  /** The runtime's scope (what entities start in the background lives in it). */
  readonly scope: Scope.Scope
  /** The entities' idle time; `undefined`: the cluster's `entityMaxIdleTime`. */
  readonly maxIdleTime: Duration.Input | undefined
  readonly mailboxCapacity: number
}

/** The receiving side of one runtime. */
export const make = (options: Omit<EntityHost, "snapshotWanted" | "snapshots" | "pendingLocal" | "departed">): EntityHost => ({
  ...options,
  snapshotWanted: new Set(),
  snapshots: new Map(),
  pendingLocal: new Set(),
  departed: new Set()
})

/** A delivery from here reached its entity: it is the kernel's to count now. */
export const arrived = (host: EntityHost, messageId: string) => {
  if (host.pendingLocal.delete(messageId)) host.kernel.idle.exit()
}

/**
 * The registration as the kernel should run it here: every handler, when its
 * message is a persisted delivery, leaves a snapshot of the instance's
 * state cells as the handler left them (before the next message runs).
 */
export const withSnapshots = (host: EntityHost, registration: Registration): Registration => ({
  ...registration,
  build: InstanceState.use((store) =>
    Effect.map(registration.build, (handlers) => {
      const wrapped: Record<string, AnyHandler> = {}
      for (const [tag, handler] of Object.entries(handlers)) wrapped[tag] = snapshotting(host, store.cells, handler)
      return wrapped
    }))
})

const snapshotting = (host: EntityHost, cells: ReadonlyArray<StateCell>, handler: AnyHandler): AnyHandler => (message, context) => {
  if (!host.snapshotWanted.has(context.messageId)) return handler(message, context)
  return Effect.onExit(handler(message, context), (exit) =>
    Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) || cells.length === 0
      ? Effect.void
      : StateCells.save(context.self, cells).pipe(
        Effect.map((state) => void host.snapshots.set(context.messageId, state)),
        Effect.catchCause((cause) => Effect.logWarning("could not snapshot an agent's state", cause))
      ))
}

const failure = (error: AgentError): Outcome => ({ _tag: "Failure", error })

/** Puts one delivery into the kernel and waits for its outcome, in wire form. */
const deliver = (host: EntityHost, id: AgentId, delivery: AgentEntity.Delivery, persisted: boolean): Effect.Effect<Outcome> =>
  Effect.suspend(() => {
    const { instances } = host.kernel
    arrived(host, delivery.messageId)
    const tag = delivery.message.type
    const spec = instances.type(id.type)?.specs.get(tag)
    const refuse = (error: AgentError) => {
      if (!delivery.rpc) host.kernel.deadLetters.emit(DeadLetter.make(id, tag, delivery.sender, delivery.topic, error))
      return Effect.succeed(failure(error))
    }
    let message: unknown = delivery.message.data
    if (spec !== undefined) {
      const refused = WireCodec.checkPayload(tag, delivery.message.data, host.limits, "this runner's")
      if (refused !== undefined) return refuse(refused)
      const decoded = WireCodec.decode(spec.message, delivery.message.data)
      if (Exit.isFailure(decoded)) return refuse(new InvalidMessageError({ messageType: tag, issue: issueOf(decoded.cause) }))
      message = decoded.value
    }
    // without a spec the kernel refuses it (no such type, no handler), as a dead letter for a publish
    const outcome = Effect.callback<Outcome>((resume) => {
      if (persisted) host.snapshotWanted.add(delivery.messageId)
      const cancel = instances.deliver({
        messageId: delivery.messageId,
        recipient: id,
        tag,
        message,
        sender: delivery.sender,
        topic: delivery.topic,
        rpc: delivery.rpc,
        chain: delivery.chain,
        onDone: (exit) => resume(Effect.succeed(WireCodec.toOutcome(spec ?? eventSpec(tag), exit, host.limits)))
      })
      return Effect.sync(cancel)
    })
    if (!persisted) return outcome
    return outcome.pipe(
      Effect.flatMap((outcome) => {
        // the runtime is stopping: leave the message in storage for the shard's next owner
        if (outcome._tag === "Failure" && isStopping(outcome.error)) return Effect.never
        const state = host.snapshots.get(delivery.messageId)
        host.snapshots.delete(delivery.messageId)
        if (state === undefined) return Effect.succeed(outcome)
        // inside the delivery's storage transaction (WithTransaction): the state and the reply commit together
        return host.directory.saveState(id, state).pipe(
          Effect.as(outcome),
          Effect.catchCause((cause) => Effect.as(Effect.logError("could not save an agent's state with its reply", cause), outcome))
        )
      }),
      // however it ends (interrupted too), nothing of this delivery stays behind
      Effect.ensuring(Effect.sync(() => {
        host.snapshotWanted.delete(delivery.messageId)
        host.snapshots.delete(delivery.messageId)
      }))
    )
  })

const isStopping = (error: AgentError) => error._tag === "UndeliverableError" && error.reason._tag === "RuntimeStopping"

const eventSpec = (tag: string) => WireCodec.contractOfValue(tag, {})!

/** A streaming delivery: the handler's chunks, encoded with the chunk schema, through a bounded channel. */
const deliverStream = (host: EntityHost, id: AgentId, delivery: Omit<typeof AgentEntity.DeliverStream.payloadSchema.Type, "buffer">): Stream.Stream<unknown, AgentError> =>
  Stream.suspend(() => {
    const { instances } = host.kernel
    const tag = delivery.message.type
    const spec = instances.type(id.type)?.specs.get(tag)
    let message: unknown = delivery.message.data
    if (spec !== undefined) {
      const refused = WireCodec.checkPayload(tag, delivery.message.data, host.limits, "this runner's")
      if (refused !== undefined) return Stream.fail(refused)
      const decoded = WireCodec.decode(spec.message, delivery.message.data)
      if (Exit.isFailure(decoded)) return Stream.fail(new InvalidMessageError({ messageType: tag, issue: issueOf(decoded.cause) }))
      message = decoded.value
    }
    const chunkSchema = spec?.success
    // one chunk waits here, the rest of the caller's `buffer` on the caller's side: a slow consumer stops the producer
    return Streams.local(1, (sink, onDone) =>
      instances.deliver({
        messageId: delivery.messageId,
        recipient: id,
        tag,
        message,
        sender: delivery.sender,
        topic: undefined,
        rpc: true,
        chain: delivery.chain,
        sink: {
          // each chunk in its schema's JSON, within the limits, before it is taken
          offer: (chunks) =>
            Effect.suspend(() => {
              const encoded: Array<unknown> = []
              for (const chunk of chunks) {
                const value = chunkSchema === undefined ? Exit.succeed(chunk) : WireCodec.encode(chunkSchema, chunk)
                if (Exit.isFailure(value)) return Effect.fail(new InvalidMessageError({ messageType: `chunk of ${tag}`, issue: issueOf(value.cause) }))
                const refused = WireCodec.checkPayload(`chunk of ${tag}`, value.value, host.limits, "this runner's")
                if (refused !== undefined) return Effect.fail(refused)
                encoded.push(value.value)
              }
              return sink.offer(encoded)
            })
        },
        onDone: (exit) => {
          if (Exit.isSuccess(exit)) return onDone(exit)
          const outcome = WireCodec.toOutcome(spec ?? eventSpec(tag), exit, host.limits)
          onDone(outcome._tag === "Failure" ? Exit.fail(outcome.error) : Exit.void)
        }
      }))
  })

/** Runs a control operation on the instance, in its mailbox order. */
const control = (host: EntityHost, id: AgentId, op: typeof AgentEntity.Control.payloadSchema.Type) =>
  Effect.suspend(() => {
    if (op.state !== undefined && !WireCodec.depthWithin(op.state, host.limits.maxDepth)) {
      return Effect.succeed(failure(new InvalidMessageError({ messageType: `state of ${id}`, issue: `nested deeper than ${host.limits.maxDepth}` })))
    }
    return Effect.map(
      Effect.exit(host.kernel.instances.operate(op.op, id, (op.state ?? {}) as AgentState)),
      (exit) => WireCodec.controlOutcome(op.op, exit, host.limits)
    )
  })

/** One activation of an agent's entity on this runner: restore its saved state, save it when the entity goes. */
const activate = (host: EntityHost, agentType: string) =>
  Effect.gen(function*() {
    const address = yield* Entity.CurrentAddress
    const id = new AgentId({ type: agentType, key: address.entityId })
    const key = id.toString()
    const { instances } = host.kernel
    const saved = yield* host.directory.loadState(id).pipe(
      Effect.catchCause((cause) => Effect.as(Effect.logWarning("could not load an agent's saved state", cause), undefined))
    )
    // queued now, so it runs before the message that activated the entity
    if (saved !== undefined && instances.type(agentType) !== undefined) {
      yield* Effect.forkIn(
        instances.loadState(id, saved).pipe(Effect.catchCause((cause) => Effect.logWarning("could not restore an agent's saved state", cause))),
        host.scope,
        // started now: the load is in the mailbox before the message that activated the entity
        { startImmediately: true }
      )
    }
    host.departed.delete(key)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        host.departed.add(key)
        if (instances.type(agentType) === undefined) return
        const state = yield* instances.saveState(id)
        yield* host.directory.saveState(id, state)
      }).pipe(Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logDebug("did not save the state of a departing agent", cause)
      ))
    )
    const entity = AgentEntity.of(agentType)
    return entity.of({
      Deliver: (request) => deliver(host, id, request.payload, false),
      DeliverPersisted: (request) => deliver(host, id, request.payload, true),
      DeliverStream: (request) => deliverStream(host, id, request.payload),
      Control: (request) => control(host, id, request.payload)
    })
  })

/**
 * Registers the entity of `agentType` for the life of the current scope (the
 * agent layer's): when the layer closes, the entity stops taking messages
 * and waits for its handlers (up to `entityTerminationTimeout`) before the
 * kernel forgets the type, so nothing in flight is answered "no such type".
 * (effect/cluster registers an entity type once per `Sharding`: a type
 * registered again on the same runner is not reachable there.)
 */
export const register = (host: EntityHost, agentType: string) =>
  Effect.gen(function*() {
    const sharding = yield* Sharding.Sharding
    yield* sharding.registerEntity(AgentEntity.of(agentType), activate(host, agentType), {
      ...(host.maxIdleTime !== undefined ? { maxIdleTime: host.maxIdleTime } : {}),
      concurrency: "unbounded",
      mailboxCapacity: host.mailboxCapacity
    })
  })
