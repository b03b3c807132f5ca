/**
 * Subscriptions -> recipients. Shared by the standalone runtime and the host
 * servicer: given a topic, which agents get a message published on it, each
 * once, in the order their subscriptions were added.
 *
 * Nothing on the publish path is proportional to the number of subscriptions:
 *
 * - `TypeSubscription`s are indexed by topic type, `TypePrefixSubscription`s
 *   by prefix; the matches of a topic type are its own bucket plus one bucket
 *   per prefix length in use (at most 256: identifiers are at most 255
 *   characters), so a miss costs the matches found, not the subscriptions.
 * - A change costs the same at any size: the tables are `Table`s, not bare
 *   `Map`s (V8 makes a large `Map` slow when one key comes and goes).
 * - The agent types a topic type reaches are cached. A change drops only the
 *   entries it affects: a type subscription its one topic type, a prefix
 *   subscription the cached topic types starting with its prefix (a walk of
 *   the cache, bounded by `maxCachedTopicTypes`, never of the subscriptions).
 * - The cache is bounded twice: at most `maxCachedTopicTypes` topic types and
 *   at most `maxCachedRecipients` agent types over all of them (anyone may
 *   publish to any number of topic types, and none of them may cost memory for
 *   ever). When full it evicts by the clock algorithm (an approximation of
 *   least recently used that costs a hit one field write). A topic type that
 *   alone reaches more than `maxCachedRecipients` agent types is not cached:
 *   computing it costs about what delivering to that many agents costs anyway.
 */
import type { AgentId } from "../core/AgentId.ts"
import * as AgentIds from "../core/AgentId.ts"
import * as Subscription from "../core/Subscription.ts"
import type { TopicId } from "../core/TopicId.ts"

export interface Router {
  /** Adds a subscription; `false` if it was already there. */
  readonly add: (subscription: Subscription.Subscription) => boolean
  readonly remove: (id: string) => Subscription.Subscription | undefined
  readonly get: (id: string) => Subscription.Subscription | undefined
  readonly list: () => ReadonlyArray<Subscription.Subscription>
  /** The agents a publish on `topic` reaches, each once, in the order their subscriptions were added. */
  readonly recipients: (topic: TopicId) => ReadonlyArray<AgentId>
  /** What the match cache holds now (each figure within its bound). */
  readonly cached: () => { readonly topicTypes: number; readonly recipients: number }
}

/** How many topic types' matches the cache keeps at most. */
export const maxCachedTopicTypes = 4096

/** How many agent types the cache keeps at most, over all its topic types (one reference each: 8 MiB). */
export const maxCachedRecipients = 1 << 20

/** The cache's bounds; smaller ones only for tests of eviction. */
export interface Bounds {
  readonly maxCachedTopicTypes: number
  readonly maxCachedRecipients: number
}

/** A subscription in force, with its place in the order of additions. */
interface Entry {
  readonly subscription: Subscription.Subscription
  readonly seq: number
}

/** The agent types a topic type reaches, in order; `used` is the clock's reference bit. */
interface Cached {
  readonly agentTypes: ReadonlyArray<string>
  used: boolean
}

/**
 * A `Map` by string key whose removals leave a hole (the key, without a
 * value) until holes outnumber the live keys (and 1024), when it is rebuilt
 * without them: V8 slows a large `Map` down when one key is added and
 * deleted over and over (about 30 µs per change at 100,000 entries, against
 * 0.1 µs for overwriting a key), which is just what subscription churn does.
 * It holds at most twice its live keys, plus 1024. Iteration order is not
 * the order of insertion (a key that comes back keeps its old place).
 */
export class Table<V> {
  private map = new Map<string, V | undefined>()
  private live = 0
  private holes = 0

  get(key: string): V | undefined {
    return this.map.get(key)
  }

  set(key: string, value: V): void {
    if (this.map.get(key) === undefined) {
      if (this.map.has(key)) this.holes--
      this.live++
    }
    this.map.set(key, value)
  }

  delete(key: string): void {
    if (this.map.get(key) === undefined) return
    this.map.set(key, undefined)
    this.live--
    if (++this.holes > 1024 && this.holes > this.live) {
      const next = new Map<string, V | undefined>()
      for (const [k, v] of this.map) if (v !== undefined) next.set(k, v)
      this.map = next
      this.holes = 0
    }
  }

  /** The live values, in no particular order. */
  values(): Array<V> {
    const out: Array<V> = []
    for (const v of this.map.values()) if (v !== undefined) out.push(v)
    return out
  }

  /** Keys held, live or holes (for tests of the bound). */
  get held(): number {
    return this.map.size
  }

  get size(): number {
    return this.live
  }
}

type Buckets = Table<Map<string, Entry>>

const put = (buckets: Buckets, key: string, id: string, entry: Entry) => {
  let bucket = buckets.get(key)
  if (bucket === undefined) buckets.set(key, bucket = new Map())
  bucket.set(id, entry)
  return bucket.size === 1
}

/** Removes `id` from its bucket; `true` if the bucket is now gone. */
const take = (buckets: Buckets, key: string, id: string) => {
  const bucket = buckets.get(key)
  if (bucket === undefined) return false
  bucket.delete(id)
  if (bucket.size > 0) return false
  buckets.delete(key)
  return true
}

const bySeq = (a: Entry, b: Entry) => a.seq - b.seq

/** A router's indexes and match cache; `make` closes over one. */
interface State {
  readonly maxTypes: number
  readonly maxRecipients: number
  seq: number
  readonly byId: Table<Entry>
  readonly byType: Buckets
  readonly byPrefix: Buckets
  /** How many distinct prefixes of each length are in use. */
  readonly prefixesOfLength: Map<number, number>
  /** The lengths in `prefixesOfLength`, ascending. */
  prefixLengths: ReadonlyArray<number>
  readonly cache: Map<string, Cached>
  cachedRecipients: number
}

const uncache = (state: State, topicType: string) => {
  const cached = state.cache.get(topicType)
  if (cached !== undefined) {
    state.cache.delete(topicType)
    state.cachedRecipients -= cached.agentTypes.length
  }
}

/** Drops the cached matches `subscription` may change. */
const invalidate = (state: State, subscription: Subscription.Subscription) => {
  if (subscription._tag === "TypeSubscription") return uncache(state, subscription.topicType)
  const prefix = subscription.prefix
  if (prefix === "") {
    state.cache.clear()
    state.cachedRecipients = 0
    return
  }
  // deleting the entry being visited is safe while iterating a Map
  for (const topicType of state.cache.keys()) if (topicType.startsWith(prefix)) uncache(state, topicType)
}

/** Counts a prefix of `length` in or out of use, keeping `prefixLengths` in step. */
const prefixLength = (state: State, length: number, delta: 1 | -1) => {
  const count = (state.prefixesOfLength.get(length) ?? 0) + delta
  if (count === 0) state.prefixesOfLength.delete(length)
  else state.prefixesOfLength.set(length, count)
  if (count === 0 || (delta === 1 && count === 1)) {
    state.prefixLengths = [...state.prefixesOfLength.keys()].sort((a, b) => a - b)
  }
}

/** The agent types `topicType` reaches, in order of the subscriptions, each once: the indexes, no scan. */
const compute = (state: State, topicType: string): ReadonlyArray<string> => {
  const buckets: Array<Map<string, Entry>> = []
  const exact = state.byType.get(topicType)
  if (exact !== undefined) buckets.push(exact)
  for (const length of state.prefixLengths) {
    if (length > topicType.length) break
    const bucket = state.byPrefix.get(length === topicType.length ? topicType : topicType.slice(0, length))
    if (bucket !== undefined) buckets.push(bucket)
  }
  if (buckets.length === 0) return []
  let entries: Iterable<Entry>
  if (buckets.length === 1) {
    // one bucket is already in order of addition (a Map keeps insertion order)
    if (buckets[0]!.size === 1) return [buckets[0]!.values().next().value!.subscription.agentType]
    entries = buckets[0]!.values()
  } else {
    const all: Array<Entry> = []
    for (const bucket of buckets) for (const entry of bucket.values()) all.push(entry)
    entries = all.sort(bySeq)
  }
  // two subscriptions may map a topic to the same agent: it gets the message once
  const seen = new Set<string>()
  const out: Array<string> = []
  for (const { subscription: { agentType } } of entries) {
    if (!seen.has(agentType)) {
      seen.add(agentType)
      out.push(agentType)
    }
  }
  return out
}

/** Makes room for `size` more agent types by the clock: a recently used entry gets a second chance. */
const evictFor = (state: State, size: number) => {
  const cache = state.cache
  while (cache.size > 0 && (cache.size >= state.maxTypes || state.cachedRecipients + size > state.maxRecipients)) {
    const [topicType, cached] = cache.entries().next().value!
    cache.delete(topicType)
    if (cached.used) {
      cached.used = false
      cache.set(topicType, cached)
    } else {
      state.cachedRecipients -= cached.agentTypes.length
    }
  }
}

/** The agent types `topicType` reaches: from the cache, else computed and cached (unless too many). */
const agentTypes = (state: State, topicType: string): ReadonlyArray<string> => {
  const cached = state.cache.get(topicType)
  if (cached !== undefined) {
    cached.used = true
    return cached.agentTypes
  }
  const computed = compute(state, topicType)
  if (computed.length > state.maxRecipients) return computed
  evictFor(state, computed.length)
  state.cache.set(topicType, { agentTypes: computed, used: false })
  state.cachedRecipients += computed.length
  return computed
}

const addSubscription = (state: State, subscription: Subscription.Subscription): boolean => {
  const id = Subscription.id(subscription)
  if (state.byId.get(id) !== undefined) return false
  const entry: Entry = { subscription, seq: state.seq++ }
  state.byId.set(id, entry)
  if (subscription._tag === "TypeSubscription") put(state.byType, subscription.topicType, id, entry)
  else if (put(state.byPrefix, subscription.prefix, id, entry)) prefixLength(state, subscription.prefix.length, 1)
  invalidate(state, subscription)
  return true
}

const removeSubscription = (state: State, id: string): Subscription.Subscription | undefined => {
  const entry = state.byId.get(id)
  if (entry === undefined) return undefined
  const { subscription } = entry
  state.byId.delete(id)
  if (subscription._tag === "TypeSubscription") take(state.byType, subscription.topicType, id)
  else if (take(state.byPrefix, subscription.prefix, id)) prefixLength(state, subscription.prefix.length, -1)
  invalidate(state, subscription)
  return subscription
}

/**
 * The hot path: one cache lookup, then only the returned ids are allocated.
 * A recipient's parts were checked already (its agent type when the
 * subscription was made or decoded, its key, the topic's source, when the
 * topic was), so its id is made without a schema pass.
 */
const recipients = (state: State, topic: TopicId): ReadonlyArray<AgentId> => {
  const types = agentTypes(state, topic.type)
  if (types.length === 0) return []
  if (types.length === 1) return [AgentIds.trusted(types[0]!, topic.source)]
  return types.map((type) => AgentIds.trusted(type, topic.source))
}

/** An empty router; `bounds` are the cache's (the defaults unless a test needs eviction sooner). */
export const make = (bounds: Bounds = { maxCachedTopicTypes, maxCachedRecipients }): Router => {
  const state: State = {
    maxTypes: bounds.maxCachedTopicTypes,
    maxRecipients: bounds.maxCachedRecipients,
    seq: 0,
    byId: new Table<Entry>(),
    byType: new Table(),
    byPrefix: new Table(),
    prefixesOfLength: new Map(),
    prefixLengths: [],
    cache: new Map(),
    cachedRecipients: 0
  }
  return {
    add: (subscription) => addSubscription(state, subscription),
    remove: (id) => removeSubscription(state, id),
    get: (id) => state.byId.get(id)?.subscription,
    // in order of addition (the table's order is not)
    list: () => state.byId.values().sort(bySeq).map((entry) => entry.subscription),
    recipients: (topic) => recipients(state, topic),
    cached: () => ({ topicTypes: state.cache.size, recipients: state.cachedRecipients })
  }
}
