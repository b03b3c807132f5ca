/**
 * The access policy decides who may do what to which agent. The runtime asks
 * it for every operation: a send, every delivery of a publish, reading or
 * writing an agent's state, its metadata, creating it, and adding, removing
 * or listing subscriptions. In the distributed runtime the host asks it, so
 * a worker cannot bypass it. A denied request fails with
 * `NotAccessibleError`; a denied publish delivery goes to the dead letters;
 * agents a caller may not read are left out of `saveAll` and
 * `subscriptions`.
 *
 * ```ts
 * // only agents of type "admin" may send Shutdown; nobody reads the vault's state from outside
 * const policy: AccessPolicy.AccessPolicy = ({ operation, sender, recipient, messageType }) =>
 *   (messageType !== "Shutdown" || sender?.type === "admin") &&
 *   !(recipient.type === "vault" && operation !== "send" && sender?.type !== "vault")
 * ```
 */
import { NotAccessibleError } from "./AgentError.ts"
import { AgentId } from "./AgentId.ts"

/** What a caller asks to do. */
export type Operation =
  | "send"
  | "publish"
  | "saveState"
  | "loadState"
  | "metadata"
  | "ensure"
  | "addSubscription"
  | "removeSubscription"
  | "listSubscriptions"

/**
 * One access decision's input.
 *
 * - `sender` is the agent asking (`undefined` for calls from outside any agent);
 * - `recipient` the agent it concerns; for subscription operations, the
 *   subscription's agent type with the key `*`;
 * - `messageType` the message's tag for `send` and `publish`, the operation's
 *   name otherwise;
 * - `worker` the id of the worker the request came from (distributed runtime only).
 *
 * `saveAll` asks `saveState` for each agent, `loadAll` `loadState`.
 */
export interface Request {
  readonly operation: Operation
  /** The same as `operation` (the name older policies read). */
  readonly kind: Operation
  readonly sender: AgentId | undefined
  readonly recipient: AgentId
  readonly messageType: string
  readonly worker?: string | undefined
}

/** `true` lets the request through. Policies are pure and synchronous: they run on every message. */
export type AccessPolicy = (request: Request) => boolean

/** Lets everything through (the default). */
export const allowAll: AccessPolicy = () => true

/** All of the policies must allow. */
export const all = (...policies: ReadonlyArray<AccessPolicy>): AccessPolicy => (request) =>
  policies.every((policy) => policy(request))

/** A request: `messageType` defaults to the operation's name. */
export const request = (
  operation: Operation,
  sender: AgentId | undefined,
  recipient: AgentId,
  messageType: string = operation,
  worker?: string
): Request =>
  // two literal shapes, not a spread: a request is built for every message a policy judges
  worker === undefined
    ? { operation, kind: operation, sender, recipient, messageType }
    : { operation, kind: operation, sender, recipient, messageType, worker }

/** The agent a subscription operation concerns: its agent type, any key. */
export const subscriptionRecipient = (agentType: string): AgentId => new AgentId({ type: agentType, key: "*" })

/** The error a denied request fails with. */
export const denied = (request: Request): NotAccessibleError =>
  new NotAccessibleError({
    ...(request.sender !== undefined ? { sender: request.sender.toString() } : {}),
    recipient: request.recipient.toString(),
    messageType: request.messageType
  })

/** Asks `policy`: `undefined` when the request may go on, else the error it fails with. */
export const check = (policy: AccessPolicy, request: Request): NotAccessibleError | undefined =>
  policy(request) ? undefined : denied(request)

/**
 * `check` of the request of these parts, which the default policy
 * (`allowAll`) lets through without one being built: the runtimes ask on
 * every message.
 */
export const judge = (
  policy: AccessPolicy,
  operation: Operation,
  sender: AgentId | undefined,
  recipient: AgentId,
  messageType?: string,
  worker?: string
): NotAccessibleError | undefined => policy === allowAll ? undefined : check(policy, request(operation, sender, recipient, messageType, worker))
