/**
 * How messages, replies and errors cross processes. A message crosses as
 * `{ type, data }`: `type` its tag, `data` its Schema JSON encoding, checked
 * on the way out (and against the size limit) and decoded, hence validated,
 * on arrival. A handler's outcome crosses as `Success { value }` or
 * `Failure { error }`, the reply and a declared error encoded with the
 * handler's schemas. The host uses only `byteSize` and `fromOutcome`: it
 * never needs the agents' schemas.
 */
import { Exit, Predicate, Result, Schema } from "effect"
import type { Spec } from "../../core/Agent.ts"
import { type AgentError, HandlerError, Interrupted, InvalidMessageError, undeliverable } from "../../core/AgentError.ts"
import { jsonCodec, type MessageSchema } from "../../core/Message.ts"
import { firstError, issueOf } from "../../runtime/Dispatch.ts"
import { checkPayload, type Limits } from "../../runtime/JsonLimits.ts"
import type { Outcome, WireMessage } from "../Protocol.ts"

export const decode = (schema: Schema.Top, data: unknown) => Schema.decodeUnknownExit(jsonCodec(schema))(data)
export const encode = (schema: Schema.Top, value: unknown) => Schema.encodeUnknownExit(jsonCodec(schema))(value)

/** `undefined` (a void reply) crosses as JSON `null`. */
const toJson = (value: unknown): unknown => value === undefined ? null : value

export { byteSize, checkPayload, depthWithin, type Limits, sizeOf } from "../../runtime/JsonLimits.ts"

/** Encodes a message for the wire, within the limits. */
export const toWire = (spec: Spec, message: unknown, limits: Limits): Exit.Exit<WireMessage, InvalidMessageError> => {
  const encoded = encode(spec.message, message)
  if (Exit.isFailure(encoded)) return Exit.fail(new InvalidMessageError({ messageType: spec.tag, issue: issueOf(encoded.cause) }))
  const refused = checkPayload(spec.tag, encoded.value, limits, "this worker's")
  return refused === undefined ? Exit.succeed({ type: spec.tag, data: encoded.value }) : Exit.fail(refused)
}

/** A message from the wire, decoded with its handler's schema (hence validated). */
export const fromWire = (spec: Spec, message: WireMessage): Result.Result<unknown, InvalidMessageError> => {
  const decoded = decode(spec.message, message.data)
  return Exit.isSuccess(decoded)
    ? Result.succeed(decoded.value)
    : Result.fail(new InvalidMessageError({ messageType: message.type, issue: issueOf(decoded.cause) }))
}

/**
 * A message pushed to this worker, within its limits (the host checked them
 * too; checked here because nothing deeper may reach the decoder), decoded.
 */
export const fromWireWithin = (spec: Spec, message: WireMessage, limits: Limits): Result.Result<unknown, AgentError> => {
  const refused = checkPayload(message.type, message.data, limits, "this worker's")
  return refused === undefined ? fromWire(spec, message) : Result.fail(refused)
}

/** A reply from the wire, decoded with the contract's success schema. */
export const fromReply = (spec: Spec, value: unknown): Exit.Exit<unknown, AgentError> => {
  if (spec.success === Schema.Void) return Exit.void
  if (spec.success === Schema.Unknown) return Exit.succeed(value)
  const decoded = decode(spec.success, value)
  return Exit.isSuccess(decoded)
    ? Exit.succeed(decoded.value)
    : Exit.fail(new InvalidMessageError({ messageType: `reply to ${spec.tag}`, issue: issueOf(decoded.cause) }))
}

/** An error from the wire: a declared error arrives encoded, and is decoded with the contract's error schema. */
export const fromError = (spec: Spec, error: AgentError): AgentError => {
  if (error._tag !== "HandlerError" || !("error" in error) || spec.error === Schema.Unknown) return error
  const decoded = decode(spec.error, error.error)
  return Exit.isSuccess(decoded) ? new HandlerError({ ...error, error: decoded.value }) : error
}

const failure = (error: AgentError): Outcome => ({ _tag: "Failure", error })

/** A handler's outcome in wire form, its reply within the limits. */
export const toOutcome = (spec: Spec, exit: Exit.Exit<unknown, AgentError>, limits: Limits): Outcome => {
  if (Exit.isSuccess(exit)) {
    if (exit.value === undefined) return { _tag: "Success", value: null }
    const encoded = encode(spec.success, exit.value)
    if (Exit.isFailure(encoded)) return failure(new InvalidMessageError({ messageType: `reply to ${spec.tag}`, issue: issueOf(encoded.cause) }))
    const refused = checkPayload(`reply to ${spec.tag}`, encoded.value, limits, "this worker's")
    return refused === undefined ? { _tag: "Success", value: toJson(encoded.value) } : failure(refused)
  }
  const error = firstFailure(exit)
  if (error === undefined) return failure(undeliverable("worker", new Interrupted()))
  if (error._tag === "HandlerError" && "error" in error) {
    const encoded = encode(spec.error, error.error)
    const { error: _, ...rest } = error
    return failure(new HandlerError(Exit.isSuccess(encoded) ? { ...rest, error: encoded.value } : rest))
  }
  return failure(error)
}

/** A control operation's outcome in wire form (its value is already JSON), within the limits. */
export const controlOutcome = (op: string, exit: Exit.Exit<unknown, AgentError>, limits: Limits): Outcome => {
  if (Exit.isSuccess(exit)) {
    const refused = checkPayload(op, exit.value, limits, "this worker's")
    return refused === undefined ? { _tag: "Success", value: toJson(exit.value) } : failure(refused)
  }
  return failure(firstFailure(exit) ?? undeliverable("worker", new Interrupted()))
}

/** A worker's answer, checked like a message: one too large or too deep reaches its caller as an error instead. */
export const boundOutcome = (outcome: Outcome, limits: Limits): Outcome => {
  const refused = outcome._tag === "Success"
    ? checkPayload("reply", outcome.value, limits, "the host's")
    // an error carries payloads too (a declared error, a cause): bounded like a reply
    : checkPayload(`${outcome.error._tag} of a reply`, outcome.error, limits, "the host's")
  return refused === undefined ? outcome : { _tag: "Failure", error: refused }
}

/** An outcome from the wire as an exit. */
export const fromOutcome = (outcome: Outcome): Exit.Exit<unknown, AgentError> =>
  outcome._tag === "Success" ? Exit.succeed(outcome.value) : Exit.fail(outcome.error)

const firstFailure = <E>(exit: Exit.Exit<unknown, E>): E | undefined => Exit.isFailure(exit) ? firstError(exit.cause) : undefined

/** Plain JSON data sent without a schema: the recipient's worker decodes and checks it. */
const passThrough = Schema.Unknown as unknown as MessageSchema

/**
 * The contract of a message nothing here declares: a `Schema.Class` value
 * carries its own schema; a plain object crosses as it is, for the
 * recipient's worker to check; anything else cannot cross.
 */
export const contractOfValue = (tag: string, message: unknown): Spec | undefined => {
  const constructor = (message as { constructor?: unknown }).constructor
  const schema = Schema.isSchema(constructor)
    ? constructor as unknown as MessageSchema
    : Predicate.isObject(message) && Object.getPrototypeOf(message) === Object.prototype
    ? passThrough
    : undefined
  return schema === undefined ? undefined : { _tag: "Event", tag, message: schema, success: Schema.Unknown, error: Schema.Unknown, concurrent: false, match: undefined }
}
