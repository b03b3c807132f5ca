/**
 * A worker's transport: where the kernel's messages go on the distributed
 * runtime. Every send and publish crosses to the host through the gateway
 * (even to an agent on this worker: the host places agents, enforces the
 * policy and stamps senders), encoded as `{ type, data }`; replies and
 * declared errors come back encoded and are decoded with the contract.
 */
import { Effect, Exit, Stream } from "effect"
import type { Spec } from "../../core/Agent.ts"
import { type AgentError, InvalidMessageError } from "../../core/AgentError.ts"
import type { AgentId } from "../../core/AgentId.ts"
import type { AgentState, RuntimeState } from "../../core/AgentRuntime.ts"
import type * as Deadlines from "../../runtime/Deadlines.ts"
import * as Dispatch from "../../runtime/Dispatch.ts"
import type * as Kernel from "../../runtime/Kernel.ts"
import type * as Streams from "../../runtime/Streams.ts"
import type { Registration } from "../../runtime/Registration.ts"
import type * as Gateway from "./Gateway.ts"
import type * as Publishes from "./Publishes.ts"
import * as WireCodec from "./WireCodec.ts"
import * as Telemetry from "../../runtime/Telemetry.ts"
import * as WorkerStreams from "./WorkerStreams.ts"

/** Declares a type registered here to the host (and learns its contracts) for the life of the scope. */
const announce = (gateway: Gateway.Gateway, known: Map<string, Spec>, registration: Registration) =>
  Effect.gen(function*() {
    for (const spec of registration.specs.values()) known.set(spec.tag, spec)
    // a host that cannot be told now is told on the next join: the gateway keeps the declarations
    const declare = Effect.andThen(
      gateway.registerType(registration.name, registration.description),
      Effect.forEach(registration.subscriptions, (subscription) => gateway.addSubscription(subscription, undefined), { discard: true })
    )
    // a refusal (credential, limit) fails the agent layer; anything else is a host that cannot be told now
    yield* declare.pipe(Effect.catch((error) =>
      error._tag === "NotAccessibleError" || error._tag === "LimitExceededError"
        ? Effect.fail(error)
        : Effect.logWarning("could not declare an agent type to the host; it is declared again on the next join", error).pipe(
          Effect.annotateLogs({ agentType: registration.name })
        )
    ))
    yield* Effect.addFinalizer(() => Effect.ignore(gateway.unregisterType(registration.name)))
  })

export const make = (
  kernel: Kernel.Kernel,
  gateway: Gateway.Gateway,
  limits: WireCodec.Limits,
  deadlines: Deadlines.Deadlines,
  publishes: Publishes.Publishes
): Kernel.Transport => {
  const { idle, instances } = kernel
  const { call, client } = gateway
  /** Message contracts by tag, from the agent types registered here. */
  const known = new Map<string, Spec>()

  /** The contract: the caller's, the local recipient type's, any local type's, or the value's own. */
  const contractFor = (recipientType: string | undefined, tag: string, message: unknown, contract: Spec | undefined): Spec | undefined =>
    contract ??
      (recipientType === undefined ? undefined : instances.type(recipientType)?.specs.get(tag)) ??
      known.get(tag) ??
      WireCodec.contractOfValue(tag, message)

  const noContract = (tag: string, how: string) =>
    new InvalidMessageError({ messageType: tag, issue: `no schema is known for this message type here: ${how}` })

  const tracked = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.acquireUseRelease(Effect.sync(() => idle.enter()), () => effect, () => Effect.sync(() => idle.exit()))

  const send = (request: Kernel.SendRequest): Effect.Effect<unknown, AgentError> => {
    const { chain, messageId, recipient, sender, spec, tag } = request
    const wire = WireCodec.toWire(spec, request.message, limits)
    if (Exit.isFailure(wire)) return wire
    const traceparent = request.parent === undefined ? undefined : Telemetry.toTraceparent(request.parent)
    const sent = call(recipient.toString(), client.Send({ recipient, ...(sender ? { sender } : {}), messageId, chain, message: wire.value, ...(traceparent ? { traceparent } : {}) })).pipe(
      Effect.mapError((error) => WireCodec.fromError(spec, error)),
      Effect.flatMap((value) => WireCodec.fromReply(spec, value))
    )
    return tracked(Dispatch.withDeadlineIn(deadlines, sent, recipient, tag, request.timeoutMillis))
  }

  const publish = ({ ack, message, messageId, parent, sender, tag, topic }: Kernel.PublishRequest): Effect.Effect<void, AgentError> => {
    const spec = contractFor(undefined, tag, message, undefined)
    if (spec === undefined) return Effect.fail(noContract(tag, "publish a Schema.Class value or register a type that handles it"))
    const valid = Dispatch.validate(spec, message)
    if (Exit.isFailure(valid)) return valid
    const wire = WireCodec.toWire(spec, valid.value, limits)
    if (Exit.isFailure(wire)) return wire
    const traceparent = parent === undefined ? undefined : Telemetry.toTraceparent(parent)
    const item = { topic, ...(sender ? { sender } : {}), messageId, message: wire.value, ...(traceparent ? { traceparent } : {}) }
    // plain publishes of one tick share a call, when the host takes that; an acknowledged one waits for its deliveries alone
    if (!ack && gateway.publishMany()) return tracked(publishes.publish(item))
    return tracked(Effect.suspend(() => {
      publishes.flush()
      return call(topic.toString(), client.Publish({ ...item, ...(ack ? { ack } : {}) }))
    }))
  }

  // runtime operations get the send deadline too: a worker that never answers must not hold the caller forever
  const control = (op: Kernel.ControlOp, agentId: AgentId, sender: AgentId | undefined, state?: AgentState) =>
    Dispatch.withDeadline(
      call(agentId.toString(), client.AgentControl({ op, agentId, ...(state !== undefined ? { state } : {}), ...(sender ? { sender } : {}) })),
      agentId,
      op,
      kernel.sendTimeoutMillis
    )

  const streams = WorkerStreams.caller(gateway, limits)
  // a stream being read counts as this worker's work in flight, as a send being waited for does
  const sendStream = (request: Streams.StreamRequest) =>
    Stream.unwrap(Effect.as(Effect.acquireRelease(Effect.sync(() => idle.enter()), () => Effect.sync(() => idle.exit())), streams.open(request)))

  return {
    contract: (recipient, tag, message, contract) =>
      contractFor(recipient.type, tag, message, contract) ?? noContract(tag, "send it with a typed client"),
    send,
    sendStream,
    publish,
    addSubscription: gateway.addSubscription,
    removeSubscription: gateway.removeSubscription,
    subscriptions: (sender) => call("host", client.ListSubscriptions({ ...(sender ? { sender } : {}) })),
    announce: (registration) => announce(gateway, known, registration),
    control,
    saveAll: (sender) =>
      Effect.map(
        Dispatch.withDeadline(call("host", client.SaveAll({ ...(sender ? { sender } : {}) })), "host", "SaveAll", kernel.sendTimeoutMillis),
        (state) => state as RuntimeState
      ),
    awaitIdle: Effect.ignore(call("host", client.AwaitIdle()))
  }
}
