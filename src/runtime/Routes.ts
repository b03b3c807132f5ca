/**
 * Which handler runs a delivery (AutoGen's routed-agent rule): among the
 * handlers of the message's tag, in declaration order, the first whose kind
 * fits how the message came (a send runs rpc handlers, a publish event
 * handlers) and whose `match` predicate, if any, accepts it. No such
 * handler is `CantHandleError`: the sender gets it, or, for a publish, it is
 * a dead letter.
 */
import type { MessageContext, Route } from "../core/Agent.ts"
import { CantHandleError, HandlerError } from "../core/AgentError.ts"
import type { Registration } from "./Registration.ts"
import type { Delivery } from "./Mailbox.ts"

/**
 * The route that runs `delivery`, or why none does: `CantHandleError`, or a
 * `HandlerError` when a `match` predicate threw (a bug of the agent's, which
 * its sender hears of; the runtime goes on).
 */
export const select = (registration: Registration, delivery: Delivery): Route | CantHandleError | HandlerError => {
  const routes = registration.routes.get(delivery.tag)
  if (routes === undefined) return cantHandle(delivery, undefined)
  let kindFits = false
  for (const route of routes) {
    if (!fits(route, delivery)) continue
    kindFits = true
    if (route.spec.match === undefined) return route
    try {
      if (route.spec.match(delivery.message, contextOf(delivery))) return route
    } catch (cause) {
      return new HandlerError({
        recipient: delivery.recipient.toString(),
        messageType: delivery.tag,
        reason: `the match predicate of handler ${route.handler} threw: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
    }
  }
  return cantHandle(
    delivery,
    kindFits
      ? `no handler's match accepts this ${delivery.rpc ? "send" : "publish"}`
      : delivery.sink !== undefined
      ? `${delivery.tag} is not answered with a stream: use send`
      : routes.some((route) => route.spec._tag === "Stream")
      ? `${delivery.tag} is answered with a stream: use sendStream (or its typed client method)`
      : delivery.rpc
      ? `${delivery.tag} is handled as an event: publish it on a topic ${delivery.recipient.type} subscribes to`
      : `${delivery.tag} is handled by an rpc handler, which runs only for a direct send`
  )
}

/** Whether a handler of this kind runs for a message that came this way. */
const fits = (route: Route, delivery: Delivery): boolean =>
  // a streaming handler runs only for a streaming send (one that brings a sink for its chunks), and only it does
  route.spec._tag === "Stream" ? delivery.sink !== undefined : delivery.sink === undefined && (route.spec._tag === "Rpc" ? delivery.rpc : !delivery.rpc)

const cantHandle = (delivery: Delivery, reason: string | undefined) =>
  new CantHandleError({ recipient: delivery.recipient.toString(), messageType: delivery.tag, ...(reason === undefined ? {} : { reason }) })

/** What a match predicate is told: the context the handler will get. */
export const contextOf = (delivery: Delivery): MessageContext => ({
  self: delivery.recipient,
  sender: delivery.sender,
  topic: delivery.topic,
  messageId: delivery.messageId,
  isRpc: delivery.rpc
})
