/**
 * When idle instances are passivated, for the price of three fields each.
 * An instance that goes idle (nothing waits, nothing runs) is linked at the
 * tail of its type's idle list with the time it went idle; one that gets
 * work is unlinked. Every instance of a type has the same `maxIdleTime`, so
 * each list is in expiry order and needs one timer, for its head: there is
 * no fiber, timer or closure per instance, and going idle or busy is a
 * clock read and a list link.
 *
 * As in `Deadlines`, a timer is not stopped when its head leaves the list
 * (an instance that is busy again): it finds nothing expired when it
 * fires, and re-arms for the new head. Time goes through Effect's `Clock`
 * (`TestClock` drives it in tests), and each timer is a fiber of the scope
 * `make` runs in, so nothing outlives the runtime.
 */
import { Clock, Duration, Effect, FiberSet, type Scope } from "effect"

/** What an idle list links: an instance, through fields of its own. */
export interface Node {
  idleSince: number
  idlePrev: Node | undefined
  idleNext: Node | undefined
  idleList: IdleList | undefined
}

/** The idle instances of one agent type, oldest first. */
export interface IdleList {
  readonly millis: number
  head: Node | undefined
  tail: Node | undefined
  armed: boolean
  /** Called for each instance idle for `millis`, after it is unlinked. */
  readonly expire: (node: Node) => void
}

export interface Timers {
  /** An idle list whose instances expire after `millis` of idleness. */
  readonly list: (millis: number, expire: (node: Node) => void) => IdleList
  /** Links `node` (it went idle now) at the tail of `list`. */
  readonly idle: (list: IdleList, node: Node) => void
  /** Unlinks `node` if it is in a list (it got work, or it is going away). */
  readonly busy: (node: Node) => void
}

/** Unlinks a node from its idle list, if it is in one. */
export const unlink = (node: Node): void => {
  const list = node.idleList
  if (list === undefined) return
  node.idleList = undefined
  if (node.idlePrev === undefined) list.head = node.idleNext
  else node.idlePrev.idleNext = node.idleNext
  if (node.idleNext === undefined) list.tail = node.idlePrev
  else node.idleNext.idlePrev = node.idlePrev
  node.idlePrev = node.idleNext = undefined
}

/** Idle timers for the life of the current scope; closing it stops them (nothing expires after). */
export const make: Effect.Effect<Timers, never, Scope.Scope> = Effect.gen(function*() {
  const clock = yield* Clock.Clock
  const run = yield* FiberSet.makeRuntime<never, void, never>()

  const arm = (list: IdleList, delay: number) => {
    list.armed = true
    run(Effect.andThen(Effect.sleep(Duration.millis(Math.max(0, delay))), Effect.sync(() => fire(list))))
  }

  const fire = (list: IdleList) => {
    list.armed = false
    const now = clock.currentTimeMillisUnsafe()
    while (list.head !== undefined && list.head.idleSince + list.millis <= now) {
      const node = list.head
      unlink(node)
      list.expire(node)
    }
    if (list.head !== undefined && !list.armed) arm(list, list.head.idleSince + list.millis - now)
  }

  return {
    list: (millis, expire) => ({ millis, head: undefined, tail: undefined, armed: false, expire }),
    idle: (list, node) => {
      unlink(node)
      node.idleSince = clock.currentTimeMillisUnsafe()
      node.idleList = list
      node.idlePrev = list.tail
      if (list.tail === undefined) list.head = node
      else list.tail.idleNext = node
      list.tail = node
      if (!list.armed) arm(list, list.millis)
    },
    busy: unlink
  }
})
