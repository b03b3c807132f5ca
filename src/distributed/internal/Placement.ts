/**
 * Which worker runs which agent. Several workers may run one agent type; an
 * `AgentId` is placed on one of them by rendezvous hashing of its key (every
 * host that sees the same workers makes the same choice, so a restarted host
 * finds agents where they were) and then stays there while that worker
 * lives, even when workers join later.
 *
 * The table of sticky placements is bounded (`maxPlacements`): a hostile or
 * careless worker that sends to millions of distinct keys must not grow the
 * host without end. It keeps two generations: a placement used in the
 * current or the previous generation stays; when the current one fills half
 * the bound, the previous one (placements nobody used for a whole
 * generation) is forgotten. A forgotten agent is placed again by the same
 * rule on its next message: on the same worker, unless workers joined its
 * type since it was placed.
 */

export interface Placement<W> {
  /** Worker `w` runs agent type `type`. */
  readonly addType: (type: string, workerId: string, worker: W) => void
  readonly removeType: (type: string, workerId: string) => void
  /** Forgets a worker: its types and every placement on it. */
  readonly removeWorker: (workerId: string) => void
  /** The worker that runs `type/key` (placing it now if needed), or `undefined` if no worker runs the type. */
  readonly place: (type: string, key: string) => W | undefined
  /** The worker `place` would give, without placing anything. */
  readonly choose: (type: string, key: string) => W | undefined
  readonly hasType: (type: string) => boolean
  /** How many agents are placed (what the table holds). */
  readonly size: () => number
  /** Every agent type, the workers that run it and how many of its agents are placed (a walk of the table: for status, not for message paths). */
  readonly types: () => ReadonlyArray<{ readonly type: string; readonly workers: ReadonlyArray<string>; readonly placements: number }>
}

/** FNV-1a, 32 bits: fast and spreads short keys well enough for placement. */
const hash = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The worker with the highest score for `id` (ties go to the smallest worker id). */
const rendezvous = (workers: ReadonlyMap<string, unknown>, id: string): string => {
  let best = ""
  let bestScore = -1
  for (const workerId of workers.keys()) {
    const score = hash(`${workerId}\u0000${id}`)
    if (score > bestScore || (score === bestScore && workerId < best)) {
      best = workerId
      bestScore = score
    }
  }
  return best
}

/**
 * One generation of placements: "type/key" -> workerId, and the reverse
 * index a leaving worker is looked up by. Each generation has its own
 * index, so forgetting one is dropping it: no walk over half the table in
 * the middle of a message.
 */
class Generation {
  readonly placed = new Map<string, string>()
  private readonly byWorker = new Map<string, Set<string>>()

  get(id: string): string | undefined {
    return this.placed.get(id)
  }

  set(id: string, workerId: string): void {
    this.delete(id)
    this.placed.set(id, workerId)
    let ids = this.byWorker.get(workerId)
    if (ids === undefined) this.byWorker.set(workerId, ids = new Set())
    ids.add(id)
  }

  delete(id: string): void {
    const workerId = this.placed.get(id)
    if (workerId === undefined) return
    this.placed.delete(id)
    this.byWorker.get(workerId)?.delete(id)
  }

  /** Forgets the placements on `workerId` (of one agent type, or all of them). */
  dropWorker(workerId: string, type?: string): void {
    const ids = this.byWorker.get(workerId)
    if (ids === undefined) return
    for (const id of ids) {
      if (type !== undefined && !id.startsWith(`${type}/`)) continue
      ids.delete(id)
      this.placed.delete(id)
    }
    if (ids.size === 0) this.byWorker.delete(workerId)
  }
}

/** A placement table that remembers at most `maxPlacements` agents (`RuntimeConfig.maxPlacements`). */
export const make = <W>(maxPlacements: number = 1_000_000): Placement<W> => {
  const workersByType = new Map<string, Map<string, W>>()
  // the current and the previous generation (see above); an agent is in one of them at most
  let young = new Generation()
  let old = new Generation()
  const generation = Math.max(1, Math.floor(maxPlacements / 2))
  const record = (id: string, workerId: string) => {
    old.delete(id)
    if (young.placed.size >= generation) {
      old = young
      young = new Generation()
    }
    young.set(id, workerId)
  }
  /** Where `id` stays, if it was placed on a worker that still runs its type (`touch`: a placement of the previous generation moves to the current one). */
  const stuck = (workers: ReadonlyMap<string, W>, id: string, touch: boolean): W | undefined => {
    let current = young.get(id)
    if (current === undefined) {
      current = old.get(id)
      if (current === undefined) return undefined
      if (touch && workers.has(current)) record(id, current)
    }
    return workers.get(current)
  }
  return {
    addType: (type, workerId, worker) => {
      let workers = workersByType.get(type)
      if (workers === undefined) workersByType.set(type, workers = new Map())
      workers.set(workerId, worker)
    },
    removeType: (type, workerId) => {
      workersByType.get(type)?.delete(workerId)
      if (workersByType.get(type)?.size === 0) workersByType.delete(type)
      young.dropWorker(workerId, type)
      old.dropWorker(workerId, type)
    },
    removeWorker: (workerId) => {
      for (const [type, workers] of workersByType) {
        workers.delete(workerId)
        if (workers.size === 0) workersByType.delete(type)
      }
      young.dropWorker(workerId)
      old.dropWorker(workerId)
    },
    place: (type, key) => {
      const workers = workersByType.get(type)
      if (workers === undefined) return undefined
      const id = `${type}/${key}`
      const current = stuck(workers, id, true)
      if (current !== undefined) return current
      const best = rendezvous(workers, id)
      record(id, best)
      return workers.get(best)
    },
    choose: (type, key) => {
      const workers = workersByType.get(type)
      if (workers === undefined) return undefined
      const id = `${type}/${key}`
      return stuck(workers, id, false) ?? workers.get(rendezvous(workers, id))
    },
    hasType: (type) => workersByType.has(type),
    size: () => young.placed.size + old.placed.size,
    types: () => {
      const placed = new Map<string, number>()
      // "type/key": an agent type has no "/"
      for (const table of [young.placed, old.placed]) {
        for (const id of table.keys()) {
          const type = id.slice(0, id.indexOf("/"))
          placed.set(type, (placed.get(type) ?? 0) + 1)
        }
      }
      return [...workersByType].map(([type, workers]) => ({ type, workers: [...workers.keys()], placements: placed.get(type) ?? 0 }))
    }
  }
}
