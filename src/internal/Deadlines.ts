/**
 * Deadlines of pending sends, cheaper than a timer each. Sends with the same
 * timeout expire in the order they started, so each timeout duration keeps a
 * FIFO list and one timer for the oldest entry. Adding and cancelling are a
 * monotonic clock read and a list link; the timer is not cleared when its list empties
 * (request/reply traffic empties it every round trip), it just finds nothing
 * when it fires and is not re-armed; while its list is empty it is unref'd,
 * so a leftover timer never keeps the process alive. `close` clears them all.
 */
export interface Deadlines {
  /** Calls `onExpire` after `millis` unless the returned function is called first. */
  readonly add: (millis: number, onExpire: () => void) => () => void
  /** Clears every timer (the runtime closed); pending entries never fire. */
  readonly close: () => void
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
  timer: ReturnType<typeof setTimeout> | undefined
}

export const make = (): Deadlines => {
  const lists = new Map<number, List>()

  const unlink = (node: Node) => {
    const list = node.list
    if (list === undefined) return
    node.list = undefined
    if (node.prev === undefined) list.head = node.next
    else node.prev.next = node.next
    if (node.next === undefined) list.tail = node.prev
    else node.next.prev = node.prev
    node.prev = node.next = undefined
    if (list.head === undefined) list.timer?.unref()
  }

  const arm = (list: List, delay: number) => {
    list.timer = setTimeout(() => expire(list), Math.max(0, delay))
  }

  const expire = (list: List) => {
    list.timer = undefined
    const now = performance.now()
    while (list.head !== undefined && list.head.at <= now) {
      const node = list.head
      unlink(node)
      node.fire()
    }
    // a fired callback may have added (and armed) already
    if (list.head !== undefined && list.timer === undefined) arm(list, list.head.at - now)
  }

  return {
    add: (millis, onExpire) => {
      let list = lists.get(millis)
      if (list === undefined) lists.set(millis, list = { millis, head: undefined, tail: undefined, timer: undefined })
      const node: Node = { at: performance.now() + millis, fire: onExpire, prev: list.tail, next: undefined, list }
      if (list.tail === undefined) {
        list.head = node
        list.timer?.ref()
      } else list.tail.next = node
      list.tail = node
      if (list.timer === undefined) arm(list, millis)
      return () => unlink(node)
    },
    close: () => {
      for (const list of lists.values()) {
        if (list.timer !== undefined) clearTimeout(list.timer)
        list.timer = undefined
        list.head = list.tail = undefined
      }
      lists.clear()
    }
  }
}
