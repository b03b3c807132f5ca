/**
 * Subscriptions -> recipients. Shared by the standalone runtime and the host
 * servicer: given a topic, which agents get a message published on it, each
 * once. Matches are cached per topic type and the cache is dropped on every
 * subscription change (changes are rare, publishes are not). The cache holds
 * at most `maxCachedTopicTypes` entries: anyone may publish to any number of
 * topic types, and none of them may cost memory for ever.
 */
import type { AgentId } from "../core/AgentId.ts"
import * as Subscription from "../core/Subscription.ts"
import type { TopicId } from "../core/TopicId.ts"

export interface Router {
  /** Adds a subscription; `false` if it was already there. */
  readonly add: (subscription: Subscription.Subscription) => boolean
  readonly remove: (id: string) => Subscription.Subscription | undefined
  readonly get: (id: string) => Subscription.Subscription | undefined
  readonly list: () => ReadonlyArray<Subscription.Subscription>
  /** The agents a publish on `topic` reaches, each once. */
  readonly recipients: (topic: TopicId) => ReadonlyArray<AgentId>
}

/** How many topic types' matches the cache keeps (it starts over when full). */
export const maxCachedTopicTypes = 4096

export const make = (): Router => {
  const byId = new Map<string, Subscription.Subscription>()
  const cache = new Map<string, ReadonlyArray<Subscription.Subscription>>()
  const matching = (topic: TopicId) => {
    let subs = cache.get(topic.type)
    if (subs === undefined) {
      subs = [...byId.values()].filter((s) => Subscription.matches(s, topic))
      if (cache.size >= maxCachedTopicTypes) cache.clear()
      cache.set(topic.type, subs)
    }
    return subs
  }
  return {
    add: (subscription) => {
      const id = Subscription.id(subscription)
      if (byId.has(id)) return false
      byId.set(id, subscription)
      cache.clear()
      return true
    },
    remove: (id) => {
      const subscription = byId.get(id)
      if (subscription !== undefined) {
        byId.delete(id)
        cache.clear()
      }
      return subscription
    },
    get: (id) => byId.get(id),
    list: () => [...byId.values()],
    recipients: (topic) => {
      const subs = matching(topic)
      if (subs.length === 1) return [Subscription.mapToAgent(subs[0]!, topic)]
      const seen = new Set<string>()
      const out: Array<AgentId> = []
      for (const s of subs) {
        // two subscriptions may map to the same agent: it gets the message once
        const key = `${s.agentType}/${topic.source}`
        if (!seen.has(key)) {
          seen.add(key)
          out.push(Subscription.mapToAgent(s, topic))
        }
      }
      return out
    }
  }
}
