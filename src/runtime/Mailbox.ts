/**
 * One instance's mailbox: what was delivered to it, waiting its turn, and
 * the loop that starts each item in arrival order. An instance handles one
 * message at a time unless its type allows more (`concurrency` slots); a
 * handler declared `concurrent` starts at once beside the others and holds
 * no slot. Control operations (state save/load) take their turn like
 * messages.
 *
 * The loop is the one fiber that starts an instance's work. Work starts
 * immediately (in the loop's turn, not on a scheduler tick), so an
 * uncontended request/reply round trip takes no event-loop turn. A handler's
 * exit, however it exits, frees its slot and, if work waits, wakes the loop.
 *
 * A mailbox holds at most `capacity` messages that have not started; `offer`
 * refuses more (the instances decide what a refusal means: a send waits for
 * room, a publish is a dead letter) and `onRoom` says when one has left.
 */
import { Effect, type Exit, type Fiber, Queue } from "effect"
import type { Spec } from "../core/Agent.ts"
import type { AgentError } from "../core/AgentError.ts"
import type { AgentId } from "../core/AgentId.ts"
import type { TopicId } from "../core/TopicId.ts"

/** One message on its way into an instance, already decoded and checked. */
export interface Delivery {
  readonly messageId: string
  readonly recipient: AgentId
  readonly tag: string
  readonly message: unknown
  readonly sender: AgentId | undefined
  readonly topic: TopicId | undefined
  readonly rpc: boolean
  /** The call chain of the sender (message ids waiting on this one). */
  readonly chain: ReadonlyArray<string>
  /** Receives the outcome once, unless the delivery was cancelled first. */
  readonly onDone: (exit: Exit.Exit<unknown, AgentError>) => void
}

/** Cancels a delivery: removes it from the mailbox, or interrupts its handler. */
export type Cancel = () => void

/** What waits in a mailbox: a delivery with its handler's spec, or a control operation. */
export interface Item {
  readonly delivery: Delivery | undefined
  readonly spec: Spec | undefined
  /** A control operation (state save/load) run in mailbox order. */
  readonly control: Effect.Effect<void> | undefined
  /** Tells a control operation's caller why it will never run (factory failed, runtime stopping). */
  readonly abandon?: ((error: AgentError) => void) | undefined
  cancelled: boolean
  finished: boolean
  fiber: Fiber.Fiber<unknown, unknown> | undefined
}

/** A delivery's item. */
export const deliveryItem = (delivery: Delivery, spec: Spec): Item => ({
  delivery,
  spec,
  control: undefined,
  cancelled: false,
  finished: false,
  fiber: undefined
})

/** A control operation's item. */
export const controlItem = (control: Effect.Effect<void>, abandon: (error: AgentError) => void): Item => ({
  delivery: undefined,
  spec: undefined,
  control,
  abandon,
  cancelled: false,
  finished: false,
  fiber: undefined
})

export interface Mailbox {
  /** Enqueues an item (synchronously, preserving order); `false` if the mailbox is full. Control items are always taken. */
  readonly offer: (item: Item) => boolean
  /** Whether a message would be taken now. */
  readonly hasRoom: () => boolean
  /** Message ids whose handlers hold a slot now (concurrent handlers hold none). */
  readonly running: ReadonlySet<string>
  readonly slots: number
  /** Takes out everything that has not started (the instance is going away). */
  readonly clear: Effect.Effect<Array<Item>>
  /** The loop: run it as the instance's fiber. */
  readonly run: Effect.Effect<never>
}

/** Put in a mailbox to make its loop start waiting work after a slot came free. */
const wake: Item = { delivery: undefined, spec: undefined, control: undefined, cancelled: false, finished: true, fiber: undefined }

/**
 * A mailbox whose loop runs each item's `start` effect as a child fiber
 * (recording it on the item first, so a cancel interrupts it) and reports
 * the fiber's exit to `onExit`.
 */
export const make = (
  slots: number,
  start: (item: Item) => Effect.Effect<unknown, unknown>,
  onExit: (item: Item, exit: Exit.Exit<unknown, unknown>) => void,
  capacity: number = Infinity,
  onRoom: () => void = () => {}
): Mailbox => {
  const queue = Effect.runSync(Queue.unbounded<Item>())
  /** Items taken from the queue, waiting for a free slot in arrival order. */
  const backlog: Array<Item> = []
  const running = new Set<string>()
  const holdsSlot = (item: Item) => !item.spec?.concurrent
  let busy = 0
  /** Messages offered and not yet started (or dropped as cancelled): what `capacity` bounds. */
  let waiting = 0
  const left = (item: Item) => {
    if (item.delivery === undefined) return
    if (waiting-- >= capacity) onRoom()
  }

  const launch = (item: Item) => {
    left(item)
    // before the handler's synchronous part runs: a send it makes back to this instance must see it running
    if (item.delivery !== undefined && holdsSlot(item)) running.add(item.delivery.messageId)
    return Effect.flatMap(Effect.forkChild(start(item), { startImmediately: true }), (fiber) =>
      Effect.sync(() => {
        fiber.addObserver((exit) => {
          if (item.delivery !== undefined && holdsSlot(item)) running.delete(item.delivery.messageId)
          onExit(item, exit)
          if (holdsSlot(item) && --busy < slots && backlog.length > 0) Queue.offerUnsafe(queue, wake)
        })
      }))
  }

  const startNext: Effect.Effect<void> = Effect.suspend(() => {
    while (backlog.length > 0 && backlog[0]!.cancelled) left(backlog.shift()!)
    if (backlog.length === 0 || busy >= slots) return Effect.void
    busy++
    return Effect.andThen(launch(backlog.shift()!), startNext)
  })

  const step = Effect.flatMap(Queue.take(queue), (item): Effect.Effect<void> => {
    if (item === wake) return startNext
    if (item.cancelled) {
      left(item)
      return Effect.void
    }
    if (!holdsSlot(item)) return launch(item)
    if (backlog.length === 0 && busy < slots) {
      busy++
      return launch(item)
    }
    backlog.push(item)
    return Effect.void
  })

  return {
    offer: (item) => {
      if (item.delivery !== undefined) {
        if (waiting >= capacity) return false
        waiting++
      }
      return Queue.offerUnsafe(queue, item)
    },
    hasRoom: () => waiting < capacity,
    running,
    slots,
    clear: Effect.map(Queue.clear(queue), (queued) => {
      const all = [...backlog.splice(0), ...queued]
      waiting = 0
      return all
    }),
    run: Effect.forever(step, { disableYield: true })
  }
}
