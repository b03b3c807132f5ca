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

/** A placement table that remembers at most `maxPlacements` agents (`RuntimeConfig.maxPlacements`). */
export const make = <W>(maxPlacements: number = 1_000_000): Placement<W> => {
  const workersByType = new Map<string, Map<string, W>>()
  // "type/key" -> workerId, in two generations (see above)
  let young = new Map<string, string>()
  let old = new Map<string, string>()
  const generation = Math.max(1, Math.floor(maxPlacements / 2))
  const byWorker = new Map<string, Set<string>>() // workerId -> placed "type/key"
  const forget = (id: string) => {
    young.delete(id)
    old.delete(id)
  }
  const record = (id: string, workerId: string) => {
    if (young.size >= generation) {
      for (const [dropped, w] of old) byWorker.get(w)?.delete(dropped)
      old = young
      young = new Map()
    }
    young.set(id, workerId)
  }
  /** Where `id` stays, if it was placed on a worker that still runs its type (a placement of the previous generation moves to the current one). */
  const stuck = (workers: ReadonlyMap<string, W>, id: string, touch: boolean): W | undefined => {
    let current = young.get(id)
    if (current === undefined) {
      current = old.get(id)
      if (current === undefined) return undefined
      if (touch && workers.has(current)) {
        old.delete(id)
        record(id, current)
      }
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
      const placed = byWorker.get(workerId)
      if (placed === undefined) return
      for (const id of placed) {
        if (id.startsWith(`${type}/`)) {
          placed.delete(id)
          forget(id)
        }
      }
    },
    removeWorker: (workerId) => {
      for (const [type, workers] of workersByType) {
        workers.delete(workerId)
        if (workers.size === 0) workersByType.delete(type)
      }
      for (const id of byWorker.get(workerId) ?? []) forget(id)
      byWorker.delete(workerId)
    },
    place: (type, key) => {
      const workers = workersByType.get(type)
      if (workers === undefined) return undefined
      const id = `${type}/${key}`
      const current = stuck(workers, id, true)
      if (current !== undefined) return current
      const best = rendezvous(workers, id)
      old.delete(id)
      record(id, best)
      let placed = byWorker.get(best)
      if (placed === undefined) byWorker.set(best, placed = new Set())
      placed.add(id)
      return workers.get(best)
    },
    choose: (type, key) => {
      const workers = workersByType.get(type)
      if (workers === undefined) return undefined
      const id = `${type}/${key}`
      return stuck(workers, id, false) ?? workers.get(rendezvous(workers, id))
    },
    hasType: (type) => workersByType.has(type),
    size: () => young.size + old.size,
    types: () => {
      const placed = new Map<string, number>()
      // "type/key": an agent type has no "/"
      for (const table of [young, old]) {
        for (const id of table.keys()) {
          const type = id.slice(0, id.indexOf("/"))
          placed.set(type, (placed.get(type) ?? 0) + 1)
        }
      }
      return [...workersByType].map(([type, workers]) => ({ type, workers: [...workers.keys()], placements: placed.get(type) ?? 0 }))
    }
  }
}
