/**
 * One instance's mailbox: what was delivered to it, waiting its turn, and
 * what has started. An instance handles one message at a time unless its
 * type allows more (`concurrency` slots); a handler declared `concurrent`
 * starts at once beside the others and holds no slot. Control operations
 * (state save/load) take their turn like messages.
 *
 * Each item runs as a fiber of its own, started when its turn comes: on
 * `offer` when a slot is free (immediately, in the caller's turn, so an
 * uncontended request/reply round trip takes no event-loop turn), or when
 * an earlier item's fiber exits. There is no loop fiber, so an idle
 * instance costs no fiber, and the lists are linked through the items, so
 * an empty mailbox allocates nothing but itself. Nothing starts before
 * `start` (the instance's factory has run) or while paused (passivating).
 *
 * A mailbox holds at most `capacity` messages that have not started; `offer`
 * refuses more (the instances decide what a refusal means: a send waits for
 * room, a publish is a dead letter) and the owner's `room` says when one has
 * left.
 */
import { Context, Effect, type Exit, type Fiber, type Tracer } from "effect"
import type { Spec } from "../core/Agent.ts"
import type { AgentError } from "../core/AgentError.ts"
import type { AgentId } from "../core/AgentId.ts"
import type { TopicId } from "../core/TopicId.ts"
import type { Sink } from "./Streams.ts"

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
  /** The span of the send or publish that brought it (telemetry on): the handler's span is its child. */
  readonly parent?: Tracer.AnySpan | undefined
  /** Receives the outcome once, unless the delivery was cancelled first. */
  readonly onDone: (exit: Exit.Exit<unknown, AgentError>) => void
  /**
   * Told once a cancelled delivery is over: its handler has ended (finalizers
   * run), or it never started. A worker tells its host, which counts the
   * request as in flight until then.
   */
  readonly onCancelledEnd?: (() => void) | undefined
  /** Where a streaming handler's chunks go (a `sendStream`); absent for every other delivery. */
  readonly sink?: Sink | undefined
}

/** Cancels a delivery: removes it from the mailbox, or interrupts its handler. */
export type Cancel = () => void

/** What waits in a mailbox: a delivery with its handler's spec, or a control operation. */
export interface Item {
  readonly delivery: Delivery | undefined
  readonly spec: Spec | undefined
  /** The name of the handler that runs the delivery (chosen by `Routes.select`). */
  readonly handler: string | undefined
  /** A control operation (state save/load) run in mailbox order. */
  readonly control: Effect.Effect<void> | undefined
  /** Tells a control operation's caller why it will never run (factory failed, runtime stopping). */
  readonly abandon?: ((error: AgentError) => void) | undefined
  cancelled: boolean
  finished: boolean
  fiber: Fiber.Fiber<unknown, unknown> | undefined
  /** Links of the mailbox list the item is in (waiting, or started). */
  prev: Item | undefined
  next: Item | undefined
}

/** A delivery's item. */
export const deliveryItem = (delivery: Delivery, spec: Spec, handler: string): Item => ({
  delivery,
  spec,
  handler,
  control: undefined,
  cancelled: false,
  finished: false,
  fiber: undefined,
  prev: undefined,
  next: undefined
})

/** A control operation's item. */
export const controlItem = (control: Effect.Effect<void>, abandon: (error: AgentError) => void): Item => ({
  delivery: undefined,
  spec: undefined,
  handler: undefined,
  control,
  abandon,
  cancelled: false,
  finished: false,
  fiber: undefined,
  prev: undefined,
  next: undefined
})

/** Who a mailbox works for: where its items' fibers start and what it says about them. */
export interface Owner {
  /** The context an item's fiber runs in. */
  readonly context: Context.Context<never>
  /** An item's work, built in its own fiber (`fiber`, recorded on the item first), which runs it. */
  readonly work: (item: Item, fiber: Fiber.Fiber<unknown, unknown>) => Effect.Effect<unknown, unknown>
  /** An item's fiber exited. */
  readonly exited: (item: Item, exit: Exit.Exit<unknown, unknown>) => void
  /** A waiting message left a full mailbox: there is room again. */
  readonly room: () => void
  /** Nothing waits and nothing runs any more. */
  readonly quiet: () => void
}

/**
 * A mailbox. It holds no fiber and allocates nothing while it is empty: its
 * lists are linked through the items, so an idle instance's mailbox is this
 * one object.
 */
export class Mailbox {
  /** Taking work (after the instance's factory ran; not while it is passivating or stopping). */
  private open = false
  /** Items started and holding a slot. */
  private busy = 0
  /** Messages offered and not yet started (or dropped as cancelled): what `capacity` bounds. */
  private waiting = 0
  /** In `pump` now: an item that exits synchronously while one starts must not start the next itself. */
  private pumping = false
  private queueHead: Item | undefined = undefined
  private queueTail: Item | undefined = undefined
  /** Started items (holding a slot or not) whose fibers have not exited. */
  private startedHead: Item | undefined = undefined

  private readonly owner: Owner
  /** How many items hold a slot at once (at least 1). */
  readonly slots: number
  private readonly capacity: number

  constructor(owner: Owner, slots: number, capacity: number = Infinity) {
    this.owner = owner
    this.slots = slots
    this.capacity = capacity
  }

  /** Enqueues an item (synchronously, preserving order); `false` if the mailbox is full. Control items are always taken. */
  offer(item: Item): boolean {
    if (item.delivery !== undefined) {
      if (this.waiting >= this.capacity) return false
      this.waiting++
    }
    // a concurrent handler starts at once beside the others, ahead of what waits for a slot
    if (this.open && !holdsSlot(item)) this.launch(item)
    else {
      item.next = undefined
      if (this.queueTail === undefined) this.queueHead = item
      else this.queueTail.next = item
      this.queueTail = item
      if (this.open) this.pump()
    }
    return true
  }

  /** Whether a message would be taken now. */
  hasRoom(): boolean {
    return this.waiting < this.capacity
  }

  /** Nothing waits and nothing runs. */
  isQuiet(): boolean {
    return this.queueHead === undefined && this.startedHead === undefined
  }

  /** Message ids whose handlers hold a slot now (concurrent handlers hold none). */
  running(): Array<string> {
    const ids: Array<string> = []
    for (let item = this.startedHead; item !== undefined; item = item.next) {
      if (item.delivery !== undefined && holdsSlot(item)) ids.push(item.delivery.messageId)
    }
    return ids
  }

  /** Whether every slot is held by a handler whose message id is in `chain` (a send on it could never run). */
  blockedBy(chain: ReadonlyArray<string>): boolean {
    if (this.busy < this.slots) return false
    for (let item = this.startedHead; item !== undefined; item = item.next) {
      if (!holdsSlot(item)) continue
      if (item.delivery === undefined || !chain.includes(item.delivery.messageId)) return false
    }
    return true
  }

  /** Starts taking work: what waits starts now, in arrival order. */
  start(): void {
    this.open = true
    // concurrent items that waited for the factory start first, as they would have on arrival
    let prev: Item | undefined
    for (let item = this.queueHead; item !== undefined;) {
      const next = item.next
      if (holdsSlot(item) || item.cancelled) prev = item
      else {
        if (prev === undefined) this.queueHead = next
        else prev.next = next
        if (this.queueTail === item) this.queueTail = prev
        this.launch(item)
      }
      item = next
    }
    this.pump()
  }

  /** Stops starting work (what runs goes on; what waits, waits). */
  pause(): void {
    this.open = false
  }

  /** Takes out everything that has not started (the instance is going away), in order. */
  clear(): Array<Item> {
    const all: Array<Item> = []
    for (let item = this.queueHead; item !== undefined; item = item.next) all.push(item)
    this.queueHead = this.queueTail = undefined
    this.waiting = 0
    return all
  }

  /** The fibers of the started items. */
  fibers(): Array<Fiber.Fiber<unknown, unknown>> {
    const fibers: Array<Fiber.Fiber<unknown, unknown>> = []
    for (let item = this.startedHead; item !== undefined; item = item.next) if (item.fiber !== undefined) fibers.push(item.fiber)
    return fibers
  }

  private left(item: Item): void {
    if (item.delivery === undefined) return
    if (this.waiting-- >= this.capacity) this.owner.room()
  }

  /** Starts what may start; a loop, not a recursion, however many items exit synchronously. */
  private pump(): void {
    if (this.pumping) return
    this.pumping = true
    try {
      while (this.open && this.queueHead !== undefined) {
        const item = this.queueHead
        if (item.cancelled) {
          this.dequeue()
          this.left(item)
          continue
        }
        if (this.busy >= this.slots) break
        this.dequeue()
        this.busy++
        this.launch(item)
      }
    } finally {
      this.pumping = false
    }
    if (this.isQuiet()) this.owner.quiet()
  }

  private dequeue(): void {
    const item = this.queueHead!
    this.queueHead = item.next
    if (this.queueHead === undefined) this.queueTail = undefined
    item.next = undefined
  }

  private launch(item: Item): void {
    this.left(item)
    // linked before the work's synchronous part runs: a send it makes back to this instance must see it running
    item.prev = undefined
    item.next = this.startedHead
    if (this.startedHead !== undefined) this.startedHead.prev = item
    this.startedHead = item
    const fiber = Effect.runForkWith(this.owner.context)(Effect.withFiber((fiber) => {
      item.fiber = fiber
      return this.owner.work(item, fiber)
    }))
    fiber.addObserver((exit) => this.ended(item, exit))
  }

  private ended(item: Item, exit: Exit.Exit<unknown, unknown>): void {
    if (item.prev === undefined) this.startedHead = item.next
    else item.prev.next = item.next
    if (item.next !== undefined) item.next.prev = item.prev
    item.prev = item.next = undefined
    if (holdsSlot(item)) this.busy--
    this.owner.exited(item, exit)
    this.pump()
  }
}

const holdsSlot = (item: Item) => !item.spec?.concurrent

const noop = () => {}

/** A mailbox whose items run `work` and report to `exited`, in `context` (for owners that are no instance, such as tests). */
export const make = (
  slots: number,
  work: (item: Item, fiber: Fiber.Fiber<unknown, unknown>) => Effect.Effect<unknown, unknown>,
  exited: (item: Item, exit: Exit.Exit<unknown, unknown>) => void,
  capacity: number = Infinity,
  room: () => void = noop,
  context: Context.Context<never> = Context.empty()
): Mailbox => new Mailbox({ context, work, exited, room, quiet: noop }, slots, capacity)
