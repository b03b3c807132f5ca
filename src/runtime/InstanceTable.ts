/**
 * The live instances of a runtime by `AgentId`: a table per agent type,
 * keyed by the agent's key. Looking an instance up by its parts does not
 * build (and hash) the `type/key` string on every message: with a million
 * live agents that lookup was a quarter of a send.
 */
import type { AgentId } from "../core/AgentId.ts"

export class InstanceTable<A> {
  private readonly byType = new Map<string, Map<string, A>>()
  private count = 0

  get(id: AgentId): A | undefined {
    return this.byType.get(id.type)?.get(id.key)
  }

  set(id: AgentId, value: A): void {
    let keys = this.byType.get(id.type)
    if (keys === undefined) this.byType.set(id.type, keys = new Map())
    const size = keys.size
    keys.set(id.key, value)
    this.count += keys.size - size
  }

  /** Removes the entry of `id` if it is `value` (an instance's next incarnation may have taken its place). */
  deleteIf(id: AgentId, value: A): void {
    const keys = this.byType.get(id.type)
    if (keys === undefined || keys.get(id.key) !== value) return
    keys.delete(id.key)
    this.count--
    if (keys.size === 0) this.byType.delete(id.type)
  }

  get size(): number {
    return this.count
  }

  values(): Array<A> {
    const all: Array<A> = []
    for (const keys of this.byType.values()) for (const value of keys.values()) all.push(value)
    return all
  }

  clear(): void {
    this.byType.clear()
    this.count = 0
  }
}
