/**
 * The access policy decides which sender may reach which recipient with which
 * message type. The runtime enforces it on every send and every publish
 * delivery — in the distributed runtime the host does, so a worker cannot
 * bypass it. A denied send fails with `NotAccessibleError`; a denied publish
 * delivery goes to the dead letters.
 *
 * ```ts
 * // only agents of type "admin" may send Shutdown
 * const policy: AccessPolicy.AccessPolicy = ({ sender, messageType }) =>
 *   messageType !== "Shutdown" || sender?.type === "admin"
 * ```
 */
import { NotAccessibleError } from "./AgentError.ts"
import type { AgentId } from "./AgentId.ts"

/** One access decision's input. `sender` is `undefined` for calls from outside any agent. */
export interface Request {
  readonly sender: AgentId | undefined
  readonly recipient: AgentId
  readonly messageType: string
  readonly kind: "send" | "publish"
}

/** `true` lets the message through. Policies are pure and synchronous: they run on every message. */
export type AccessPolicy = (request: Request) => boolean

/** Lets everything through (the default). */
export const allowAll: AccessPolicy = () => true

/** All of the policies must allow. */
export const all = (...policies: ReadonlyArray<AccessPolicy>): AccessPolicy => (request) =>
  policies.every((policy) => policy(request))

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
