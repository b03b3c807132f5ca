/**
 * Deadlines of pending work, cheaper than a timer each. Entries with the
 * same timeout expire in the order they were added, so each timeout duration
 * keeps a FIFO list and one timer for its oldest entry. Adding and cancelling
 * are a clock read and a list link. The timer is not stopped when its list
 * empties (request/reply traffic empties it every round trip): it finds
 * nothing when it fires and is not re-armed.
 *
 * Time goes through Effect's `Clock` (`TestClock` drives it in tests), and
 * each timer is a fiber owned by the scope `make` runs in, so nothing
 * outlives the runtime that made it.
 */
import { Clock, Duration, Effect, FiberSet, type Scope } from "effect"

export interface Deadlines {
  /** Calls `onExpire` after `millis` unless the returned function is called first. */
  readonly add: (millis: number, onExpire: () => void) => () => void
}

interface Node {
  readonly at: number
  readonly fire: () => void
  prev: Node | undefined
  next: Node | undefined
  list: List | undefined
}

interface List {
  readonly millis: number
  head: Node | undefined
  tail: Node | undefined
  armed: boolean
}

const unlink = (node: Node) => {
  const list = node.list
  if (list === undefined) return
  node.list = undefined
  if (node.prev === undefined) list.head = node.next
  else node.prev.next = node.next
  if (node.next === undefined) list.tail = node.prev
  else node.next.prev = node.prev
  node.prev = node.next = undefined
}

/** Deadlines for the life of the current scope; closing it stops every timer (pending entries never fire). */
export const make: Effect.Effect<Deadlines, never, Scope.Scope> = Effect.gen(function*() {
  const clock = yield* Clock.Clock
  const run = yield* FiberSet.makeRuntime<never, void, never>()
  const lists = new Map<number, List>()

  const arm = (list: List, delay: number) => {
    list.armed = true
    run(Effect.andThen(Effect.sleep(Duration.millis(Math.max(0, delay))), Effect.sync(() => expire(list))))
  }

  const expire = (list: List) => {
    list.armed = false
    const now = clock.currentTimeMillisUnsafe()
    while (list.head !== undefined && list.head.at <= now) {
      const node = list.head
      unlink(node)
      node.fire()
    }
    // a fired callback may have added (and armed) already; an empty list is forgotten, so odd timeouts leave nothing behind
    if (list.head === undefined) {
      if (!list.armed && lists.get(list.millis) === list) lists.delete(list.millis)
    } else if (!list.armed) arm(list, list.head.at - now)
  }

  return {
    add: (millis, onExpire) => {
      let list = lists.get(millis)
      if (list === undefined) lists.set(millis, list = { millis, head: undefined, tail: undefined, armed: false })
      const node: Node = { at: clock.currentTimeMillisUnsafe() + millis, fire: onExpire, prev: list.tail, next: undefined, list }
      if (list.tail === undefined) list.head = node
      else list.tail.next = node
      list.tail = node
      if (!list.armed) arm(list, millis)
      return () => unlink(node)
    }
  }
})
