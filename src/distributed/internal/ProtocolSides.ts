/**
 * The protocol as each side writes it. `Protocol` decodes everything with
 * its full schemas, and that stays so: what a peer sends is checked. But
 * effect/rpc also encodes what a side writes with the same schemas, and on
 * the hot messages that is a second walk of values this process built
 * itself from parts it had already checked (identifiers that were decoded,
 * payloads that were encoded and bounded). Here those messages are written
 * as they are: the host's pushes (`Connect`'s stream) and the replies it
 * passes on (`Send`'s success), a worker's `Send`, `Publish`, `PublishMany`
 * and `Reply`.
 *
 * What is written as it is must be plain JSON data when it is built: the
 * types say so (each value has its schema's encoded type), and the few
 * values that hold classes without a JSON form of their own (an
 * `AgentError`) are encoded where they are built, with `encodeError`.
 * Ids (`AgentId`, `TopicId`) are plain fields, written as they are.
 */
import { Schema } from "effect"
import { RpcSchema } from "effect/rpc"
import { AgentError } from "../../core/AgentError.ts"
import { Connect, HostMessage, Outcome, Protocol, Publish, PublishMany, Reply, Send } from "../Protocol.ts"

/**
 * A schema that writes a value as it is: for what this process built from
 * checked parts. Only for the side that writes; a side that reads uses the
 * full schema.
 */
const asBuilt = <S extends Schema.Top>(_schema: S) =>
  Schema.declare<S["Encoded"]>((_: unknown): _ is S["Encoded"] => true, { toCodecJson: () => undefined })

/** A message the host pushes, in the form it is written in. */
export type HostMessageJson = typeof HostMessage.Encoded

/** A handler's outcome, in the form a worker writes it. */
export type OutcomeJson = typeof Outcome.Encoded

const agentErrorJson = Schema.encodeSync(Schema.toCodecJson(AgentError))

/** An error in the JSON form it crosses in. */
export const encodeError = (error: AgentError): typeof AgentError.Encoded => agentErrorJson(error) as typeof AgentError.Encoded

/** An outcome in the JSON form it crosses in (a success's value is JSON already). */
export const encodeOutcome = (outcome: Outcome): OutcomeJson =>
  outcome._tag === "Success" ? outcome : { _tag: "Failure", error: encodeError(outcome.error) }

/** The protocol as the host serves it: what it pushes and the replies it passes on are written as they are. */
export const HostProtocol = Protocol.omit("Connect", "Send").add(
  Connect.setSuccess(RpcSchema.Stream(asBuilt(HostMessage), AgentError)),
  Send.setSuccess(asBuilt(Send.successSchema))
)

/** The protocol as a worker calls it: its sends, publishes and replies are written as they are. */
export const WorkerProtocol = Protocol.omit("Send", "Publish", "PublishMany", "Reply").add(
  Send.setPayload(asBuilt(Send.payloadSchema)),
  Publish.setPayload(asBuilt(Publish.payloadSchema)),
  PublishMany.setPayload(asBuilt(PublishMany.payloadSchema)),
  Reply.setPayload(asBuilt(Reply.payloadSchema))
)
