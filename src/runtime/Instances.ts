/**
 * The live agent instances of one runtime (standalone, or one worker): the
 * registered agent types, an instance per `AgentId` created by its type's
 * factory on its first message, a `Mailbox` each, call-cycle detection,
 * cancellation of handlers whose caller went away, state save and load in
 * mailbox order, and on close: drain, interrupt, run agent finalizers.
 *
 * It knows nothing of routing, encoding or the wire: a delivery comes in
 * decoded, and its outcome goes out through `onDone`.
 */
import { Cause, Clock, Context, type Duration, Effect, Exit, Fiber, FiberSet, Scope } from "effect"
import { InstanceState, type MessageContext, Self, type AnyHandler, type StateCell } from "../core/Agent.ts"
import {
  type AgentError,
  CantHandleError,
  DeadlockError,
  DuplicateAgentTypeError,
  HandlerError,
  Interrupted,
  NoSuchAgentKey,
  NoSuchAgentType,
  Overloaded,
  RuntimeStopping,
  undeliverable
} from "../core/AgentError.ts"
import { AgentId } from "../core/AgentId.ts"
import type { AgentMetadata, AgentState, RuntimeState } from "../core/AgentRuntime.ts"
import { Current } from "./Current.ts"
import type { Idle } from "./Idle.ts"
import * as Mailbox from "./Mailbox.ts"
import * as Outcome from "./Outcome.ts"
import type { Registration } from "./Registration.ts"
import * as StateCells from "./StateCells.ts"

export type { Cancel, Delivery } from "./Mailbox.ts"

interface Instance {
  readonly id: AgentId
  readonly type: RegisteredType
  readonly mailbox: Mailbox.Mailbox
  /** Sends waiting, in arrival order, for room in a full mailbox (each within its caller's deadline). */
  readonly parked: Set<Mailbox.Item>
  readonly scope: Scope.Closeable
  handlers: Record<string, AnyHandler> | undefined
  cells: ReadonlyArray<StateCell>
  fiber: Fiber.Fiber<unknown, unknown> | undefined
}

interface RegisteredType {
  readonly registration: Registration
  readonly keys: ReadonlySet<string> | undefined
}

export interface Options {
  readonly idle: Idle
  /** How many messages may wait in one instance's mailbox (default: no limit). */
  readonly mailboxCapacity?: number | undefined
  /** Where a failure with nobody waiting for it goes (event handler failures). */
  readonly deadLetter: (delivery: Mailbox.Delivery, error: AgentError) => void
}

export interface Instances {
  readonly register: (registration: Registration) => Effect.Effect<void, DuplicateAgentTypeError, Scope.Scope>
  readonly type: (name: string) => Registration | undefined
  /**
   * Enqueues a delivery (synchronously, preserving order). Errors that need
   * no handler (unknown type or key, no handler, deadlock, stopping) are
   * reported through `onDone` at once.
   */
  readonly deliver: (delivery: Mailbox.Delivery) => Mailbox.Cancel
  /** Creates the instance now if it does not exist. */
  readonly ensure: (id: AgentId) => Effect.Effect<void, AgentError>
  readonly metadata: (id: AgentId) => Effect.Effect<AgentMetadata, AgentError>
  readonly saveState: (id: AgentId) => Effect.Effect<AgentState, AgentError>
  readonly loadState: (id: AgentId, state: AgentState) => Effect.Effect<void, AgentError>
  /** The state of every live instance, by `type/key`. */
  readonly saveAll: Effect.Effect<RuntimeState, AgentError>
  /** One of the operations above, by name (as the kernel and the wire name them). */
  readonly operate: (op: Operation, id: AgentId, state?: AgentState) => Effect.Effect<unknown, AgentError>
  /**
   * Closes the engine, as its runtime's scope closes: stops intake from
   * outside agents (in-flight work may still send among agents), waits up to
   * `drainTimeout` for in-flight work, then interrupts what is left and runs
   * every instance's finalizers.
   */
  readonly close: (drainTimeout: Duration.Input) => Effect.Effect<void>
}

/** A runtime operation on one agent. */
export type Operation = "ensure" | "metadata" | "saveState" | "loadState"

const stopping = (recipient: AgentId) => undeliverable(recipient, new RuntimeStopping())

/** The engine's tables, shared by the functions below. */
interface State {
  readonly options: Options
  readonly fibers: FiberSet.FiberSet<unknown, unknown>
  readonly types: Map<string, RegisteredType>
  readonly instances: Map<string, Instance>
  /** Outside callers may still deliver (false once closing began). */
  intake: boolean
  closed: boolean
}

/** Builds the engine in the current scope, which owns every instance's fiber. */
export const make = Effect.fnUntraced(function*(options: Options) {
  const state: State = { options, fibers: yield* FiberSet.make(), types: new Map(), instances: new Map(), intake: true, closed: false }
  const saveState = (id: AgentId) => control(state, id, (instance) => StateCells.save(id, instance.cells))
  const loadState = (id: AgentId, agentState: AgentState) => control(state, id, (instance) => StateCells.load(id, instance.cells, agentState))
  const ensure = (id: AgentId) => control(state, id, () => Effect.void)
  const metadata = (id: AgentId): Effect.Effect<AgentMetadata, AgentError> =>
    Effect.suspend(() => {
      const type = lookup(state, id)
      return "registration" in type
        ? Effect.succeed({ type: id.type, key: id.key, description: type.registration.description })
        : Effect.fail(type)
    })
  return {
    register: (registration) => register(state, registration),
    type: (name) => state.types.get(name)?.registration,
    deliver: (delivery) => deliver(state, delivery),
    ensure,
    metadata,
    saveState,
    loadState,
    operate: (op, id, agentState) =>
      op === "ensure" ? ensure(id) : op === "metadata" ? metadata(id) : op === "saveState" ? saveState(id) : loadState(id, agentState ?? {}),
    saveAll: Effect.gen(function*() {
      const all: Record<string, AgentState> = {}
      for (const id of [...state.instances.values()].map((i) => i.id)) all[id.toString()] = yield* saveState(id)
      return all
    }),
    close: (drainTimeout) =>
      Effect.gen(function*() {
        state.intake = false
        yield* drain(options.idle.await, drainTimeout)
        yield* shutdown(state)
      })
  } satisfies Instances
})

const register = (state: State, registration: Registration) =>
  Effect.gen(function*() {
    if (state.types.has(registration.name)) return yield* new DuplicateAgentTypeError({ agentType: registration.name })
    const type: RegisteredType = { registration, keys: registration.keys ? new Set(registration.keys) : undefined }
    state.types.set(registration.name, type)
    yield* Effect.addFinalizer(() => Effect.sync(() => state.types.delete(registration.name)))
    // explicit instances exist from registration on
    for (const key of registration.keys ?? []) spawn(state, new AgentId({ type: registration.name, key }), type)
  })

/** Ends an item once: tells its caller (or the dead letters), and the idle count. */
const finish = (state: State, item: Mailbox.Item, exit: Exit.Exit<unknown, AgentError>) => {
  if (item.finished) return
  item.finished = true
  state.options.idle.exit()
  if (item.delivery === undefined) {
    // a control operation answers its caller itself; one that ends any other way must still answer
    if (item.abandon !== undefined && Exit.isFailure(exit)) {
      const error = Cause.findErrorOption(exit.cause)
      item.abandon(error._tag === "Some" ? error.value : undeliverable("agent", new Interrupted()))
    }
    return
  }
  if (item.cancelled) return
  const delivery = item.delivery
  if (!delivery.rpc && Exit.isFailure(exit)) {
    const error = Cause.findErrorOption(exit.cause)
    if (error._tag === "Some") state.options.deadLetter(delivery, error.value)
  }
  delivery.onDone(exit)
}

/** Refuses a delivery before it reaches a mailbox. */
const fail = (state: State, delivery: Mailbox.Delivery, error: AgentError): Mailbox.Cancel => {
  if (!delivery.rpc) state.options.deadLetter(delivery, error)
  delivery.onDone(Exit.fail(error))
  return noop
}

/**
 * An item's work, as a fiber of its own. A delivery's fiber is recorded on
 * the item first thing (so a cancel, even during the handler's synchronous
 * part, interrupts it) and gets `Current` and `Self` set on it directly:
 * the fiber is the handler's alone, there is nothing to restore.
 */
const work = (instance: Instance, item: Mailbox.Item): Effect.Effect<unknown, unknown> => {
  if (item.control !== undefined) return item.control
  const delivery = item.delivery!
  const handler = instance.handlers![delivery.tag]!
  const context: MessageContext = {
    self: instance.id,
    sender: delivery.sender,
    topic: delivery.topic,
    messageId: delivery.messageId,
    isRpc: delivery.rpc
  }
  // a publisher is not waiting: an event handler starts a new call chain
  const chain = delivery.rpc ? [...delivery.chain, delivery.messageId] : [delivery.messageId]
  return Effect.withFiber((fiber) => {
    item.fiber = fiber
    fiber.setContext(Context.add(Context.add(fiber.context, Current, { self: instance.id, chain }), Self, instance.id))
    return handler(delivery.message, context)
  })
}

/** Runs the factory, then the mailbox loop. */
const start = (state: State, instance: Instance): Effect.Effect<void> => {
  const cells: Array<StateCell> = []
  return instance.type.registration.build.pipe(
    Effect.provideService(Self, instance.id),
    Effect.provideService(InstanceState, { cells }),
    Scope.provide(instance.scope),
    Effect.matchCauseEffect({
      onFailure: (cause) => factoryFailed(state, instance, cause),
      onSuccess: (handlers) => {
        instance.handlers = handlers
        instance.cells = cells
        return instance.mailbox.run
      }
    })
  )
}

/** A failing factory answers everyone waiting, and the next message tries again. */
const factoryFailed = (state: State, instance: Instance, cause: Cause.Cause<unknown>) =>
  Effect.gen(function*() {
    state.instances.delete(instance.id.toString())
    const reason = `the agent factory failed: ${Cause.pretty(cause)}`
    for (const item of yield* instance.mailbox.clear) {
      const messageType = item.delivery?.tag ?? "state or lifecycle operation"
      finish(state, item, Exit.fail(new HandlerError({ recipient: instance.id.toString(), messageType, reason, cause: Cause.squash(cause) })))
    }
    yield* Scope.close(instance.scope, Exit.void)
    yield* Effect.logError("agent factory failed", cause).pipe(Effect.annotateLogs("agent", instance.id.toString()))
  })

/** The registered type behind an id, or why there is none. */
const lookup = (state: State, id: AgentId): RegisteredType | AgentError => {
  const type = state.types.get(id.type)
  if (type === undefined) return undeliverable(id, new NoSuchAgentType({ agentType: id.type }))
  if (type.keys !== undefined && !type.keys.has(id.key)) return undeliverable(id, new NoSuchAgentKey({ agentType: id.type, key: id.key }))
  return type
}

/** The live instance of an id, created if its type allows. */
const instanceFor = (state: State, id: AgentId): Instance | AgentError => {
  const existing = state.instances.get(id.toString())
  if (existing !== undefined) return existing
  const type = lookup(state, id)
  return "registration" in type ? spawn(state, id, type) : type
}

const spawn = (state: State, id: AgentId, type: RegisteredType): Instance => {
  const slots = Math.max(1, type.registration.concurrency)
  const instance: Instance = {
    id,
    type,
    mailbox: Mailbox.make(
      slots,
      (item) => work(instance, item),
      (item, exit) =>
        finish(state, item, item.delivery === undefined
          ? (Exit.isSuccess(exit) ? Exit.void : Exit.fail(stopping(instance.id)))
          : Outcome.ofHandler(item.delivery, item.spec, exit)),
      state.options.mailboxCapacity ?? Infinity,
      () => unpark(instance)
    ),
    parked: new Set(),
    scope: Scope.makeUnsafe(),
    handlers: undefined,
    cells: [],
    fiber: undefined
  }
  state.instances.set(id.toString(), instance)
  // start after the caller has enqueued: a factory that fails at once must not clear the mailbox before the first message is in it
  const fiber = Effect.runForkWith(type.registration.context)(Effect.andThen(Effect.yieldNow, start(state, instance)))
  FiberSet.addUnsafe(state.fibers, fiber)
  instance.fiber = fiber
  return instance
}

const enqueue = (state: State, instance: Instance, item: Mailbox.Item) => {
  state.options.idle.enter()
  instance.mailbox.offer(item)
}

/** Moves waiting sends into the mailbox while it has room. */
const unpark = (instance: Instance) => {
  for (const item of instance.parked) {
    if (!instance.mailbox.hasRoom()) return
    instance.parked.delete(item)
    if (!item.cancelled) instance.mailbox.offer(item)
  }
}

const deliver = (state: State, delivery: Mailbox.Delivery): Mailbox.Cancel => {
  if (state.closed || (!state.intake && delivery.sender === undefined)) return fail(state, delivery, stopping(delivery.recipient))
  const instance = instanceFor(state, delivery.recipient)
  if (!("mailbox" in instance)) return fail(state, delivery, instance)
  const spec = instance.type.registration.specs.get(delivery.tag)
  if (spec === undefined) return fail(state, delivery, new CantHandleError({ recipient: delivery.recipient.toString(), messageType: delivery.tag }))
  if (delivery.rpc && delivery.chain.length > 0 && !spec.concurrent && wouldDeadlock(instance.mailbox, delivery.chain)) {
    return fail(state, delivery, new DeadlockError({ recipient: delivery.recipient.toString(), messageType: delivery.tag }))
  }
  const item = Mailbox.deliveryItem(delivery, spec)
  if (instance.parked.size > 0 || !instance.mailbox.hasRoom()) {
    // a full mailbox: a publisher is not waiting (a dead letter), a sender waits its turn within its deadline
    const full = undeliverable(delivery.recipient, new Overloaded({ what: `the mailbox of ${delivery.recipient}`, limit: state.options.mailboxCapacity ?? Infinity }))
    if (!delivery.rpc) return fail(state, delivery, full)
    state.options.idle.enter()
    instance.parked.add(item)
  } else enqueue(state, instance, item)
  return () => {
    if (item.finished || item.cancelled) return
    item.cancelled = true
    instance.parked.delete(item)
    if (item.fiber !== undefined) item.fiber.interruptUnsafe()
    else finish(state, item, Exit.void)
  }
}

/** Runs `f` in the instance's mailbox order, creating the instance if needed. */
const control = <A>(state: State, id: AgentId, f: (instance: Instance) => Effect.Effect<A, AgentError>): Effect.Effect<A, AgentError> =>
  Effect.suspend(() => {
    if (state.closed) return Effect.fail(stopping(id))
    const instance = instanceFor(state, id)
    if (!("mailbox" in instance)) return Effect.fail(instance)
    return Effect.callback<A, AgentError>((resume) => {
      let answered = false
      const answer = (exit: Exit.Exit<A, AgentError>) => {
        if (answered) return
        answered = true
        resume(exit)
      }
      // built when its turn comes, not now: the factory may not have run yet
      const run = Effect.suspend(() => f(instance)).pipe(Effect.exit, Effect.map(answer))
      enqueue(state, instance, Mailbox.controlItem(run, (error) => answer(Exit.fail(error))))
    })
  })

/** Interrupts what is left and runs every instance's finalizers. */
const shutdown = (state: State) =>
  Effect.suspend(() => {
    state.closed = true
    const all = [...state.instances.values()]
    state.instances.clear()
    return Effect.forEach(all, (instance) =>
      Effect.gen(function*() {
        if (instance.fiber !== undefined) yield* Fiber.interrupt(instance.fiber)
        const left = [...yield* instance.mailbox.clear, ...instance.parked]
        instance.parked.clear()
        for (const item of left) finish(state, item, Exit.fail(stopping(instance.id)))
        yield* Scope.close(instance.scope, Exit.void)
      }), { discard: true, concurrency: "unbounded" })
  })

/**
 * Waits for in-flight work, up to `timeout` on the clock. Under a `TestClock`
 * the wait also ends once `timeout` passes on the real clock: a test that
 * ends with work still running must not wait for a clock nobody advances.
 */
const drain = (idle: Effect.Effect<void>, timeout: Duration.Input) =>
  Clock.clockWith((clock) => {
    const waited = Effect.timeoutOrElse(idle, { duration: timeout, orElse: () => Effect.void })
    const withLive = (clock as { readonly withLive?: <A>(effect: Effect.Effect<A>) => Effect.Effect<A> }).withLive
    return withLive === undefined ? waited : Effect.raceFirst(waited, withLive.call(clock, Effect.sleep(timeout)))
  })

/** Every mailbox slot is taken, and each slot's handler waits on this chain: the message could never run. */
const wouldDeadlock = (mailbox: Mailbox.Mailbox, chain: ReadonlyArray<string>): boolean => {
  if (mailbox.running.size < mailbox.slots) return false
  for (const id of mailbox.running) if (!chain.includes(id)) return false
  return true
}

const noop: Mailbox.Cancel = () => {}
