/**
 * The subscriptions in force at the host, and which workers declared each.
 * Several workers may declare the same subscription (same content, same
 * id); it stays in force until the last of them leaves or removes it. A
 * worker removes only its own declaration. Routing is the `Router`'s: indexed
 * by topic type and prefix, its match cache bounded and dropped only where a
 * change affects it.
 */
import type { AgentId } from "../../core/AgentId.ts"
import * as Subscription from "../../core/Subscription.ts"
import type { TopicId } from "../../core/TopicId.ts"
import * as Router from "../../runtime/Router.ts"
import type { Connection } from "./Sessions.ts"

export interface HostSubscriptions {
  readonly add: (from: Connection, subscription: Subscription.Subscription) => void
  readonly get: (id: string) => Subscription.Subscription | undefined
  /** Withdraws `from`'s declaration of a subscription; `false` if it had none. */
  readonly remove: (from: Connection, id: string) => boolean
  readonly list: () => ReadonlyArray<Subscription.Subscription>
  readonly recipients: (topic: TopicId) => ReadonlyArray<AgentId>
  /** A worker left: what only it declared is gone. */
  readonly dropWorker: (connection: Connection) => void
  /** The ids of the workers that declared a subscription. */
  readonly owners: (id: string) => ReadonlyArray<string>
}

export const make = (): HostSubscriptions => {
  const router = Router.make()
  // subscription id -> ids of the workers that declared it (a Router.Table: churn on a large Map is slow in V8)
  const claims = new Router.Table<Set<string>>()
  return {
    add: (from, subscription) => {
      const id = Subscription.id(subscription)
      let claimers = claims.get(id)
      if (claimers === undefined) claims.set(id, claimers = new Set())
      claimers.add(from.workerId)
      from.subscriptions.add(id)
      router.add(subscription)
    },
    get: (id) => router.get(id),
    remove: (from, id) => {
      if (!from.subscriptions.delete(id)) return false
      const claimers = claims.get(id)
      claimers?.delete(from.workerId)
      if (claimers === undefined || claimers.size === 0) {
        claims.delete(id)
        router.remove(id)
      }
      return true
    },
    list: router.list,
    recipients: router.recipients,
    dropWorker: (connection) => {
      for (const id of connection.subscriptions) {
        const claimers = claims.get(id)
        claimers?.delete(connection.workerId)
        if (claimers !== undefined && claimers.size === 0) {
          claims.delete(id)
          router.remove(id)
        }
      }
    },
    owners: (id) => [...(claims.get(id) ?? [])]
  }
}
