/**
 * The live agent instances of one runtime (standalone, or one worker): the
 * registered agent types, an instance per `AgentId` created by its type's
 * factory on its first message, a `Mailbox` each, call-cycle detection,
 * cancellation of handlers whose caller went away, state save and load in
 * mailbox order, passivation of idle instances, and on close: drain,
 * interrupt, run agent finalizers.
 *
 * An instance of a type with `maxIdleMillis` that stays idle that long (no
 * message waiting or running) is passivated: its `Agent.state` cells are
 * saved to the `StateStore`, its scope closes (its finalizers run) and it
 * leaves the table. Its next message or state operation builds it again,
 * with the stored state loaded before anything runs. Messages that arrive
 * while it passivates wait, and go to the instance built after.
 *
 * An idle instance is small: its mailbox is one object with no fiber and
 * no collections (see `Mailbox`), its idle timer three fields (see
 * `Passivation`); what is left is its scope and what its factory built.
 *
 * It knows nothing of routing, encoding or the wire: a delivery comes in
 * decoded, and its outcome goes out through `onDone`.
 */
import { Cause, Clock, Context, type Duration, Effect, Exit, Fiber, FiberSet, Option, Scope } from "effect"
import { InstanceState, type MessageContext, Self, type AnyHandler, type StateCell } from "../core/Agent.ts"
import {
  type AgentError,
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
import * as StateStore from "../core/StateStore.ts"
import { Current } from "./Current.ts"
import type { Idle } from "./Idle.ts"
import { InstanceTable } from "./InstanceTable.ts"
import * as Mailbox from "./Mailbox.ts"
import * as Outcome from "./Outcome.ts"
import * as Passivation from "./Passivation.ts"
import * as Routes from "./Routes.ts"
import type { Registration } from "./Registration.ts"
import * as StateCells from "./StateCells.ts"
import * as Streams from "./Streams.ts"
import * as Telemetry from "./Telemetry.ts"

export type { Cancel, Delivery } from "./Mailbox.ts"

/** Where an instance is in its life. */
type Phase = "starting" | "live" | "passivating" | "gone"

const noCells: ReadonlyArray<StateCell> = []

/** One instance: its own mailbox's owner, and a node of its type's idle list. */
class Instance implements Mailbox.Owner, Passivation.Node {
  readonly mailbox: Mailbox.Mailbox
  /** Sends waiting, in arrival order, for room in a full mailbox (each within its caller's deadline); made on first use. */
  parked: Set<Mailbox.Item> | undefined = undefined
  readonly scope: Scope.Closeable = Scope.makeUnsafe()
  handlers: Record<string, AnyHandler> | undefined = undefined
  cells: ReadonlyArray<StateCell> = noCells
  /** The factory's or the passivation's fiber while one runs. */
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  phase: Phase = "starting"
  idleSince = 0
  idlePrev: Passivation.Node | undefined = undefined
  idleNext: Passivation.Node | undefined = undefined
  idleList: Passivation.IdleList | undefined = undefined

  readonly state: State
  readonly id: AgentId
  readonly type: RegisteredType

  constructor(state: State, id: AgentId, type: RegisteredType) {
    this.state = state
    this.id = id
    this.type = type
    this.mailbox = new Mailbox.Mailbox(this, Math.max(1, type.registration.concurrency), state.options.mailboxCapacity ?? Infinity)
  }

  get context(): Context.Context<never> {
    return this.type.registration.context
  }

  work(item: Mailbox.Item, fiber: Fiber.Fiber<unknown, unknown>): Effect.Effect<unknown, unknown> {
    return work(this, item, fiber)
  }

  exited(item: Mailbox.Item, exit: Exit.Exit<unknown, unknown>): void {
    finish(this.state, item, item.delivery === undefined
      ? (Exit.isSuccess(exit) ? Exit.void : Exit.fail(stopping(this.id)))
      : Outcome.ofHandler(item.delivery, item.spec, exit))
  }

  room(): void {
    unpark(this)
  }

  quiet(): void {
    const list = this.type.idle
    if (list !== undefined && this.phase === "live" && (this.parked === undefined || this.parked.size === 0)) this.state.timers.idle(list, this)
  }
}

interface RegisteredType {
  readonly registration: Registration
  readonly keys: ReadonlySet<string> | undefined
  /** Its idle instances, when its instances are passivated. */
  readonly idle: Passivation.IdleList | undefined
  readonly stateVersion: number
}

export interface Options {
  readonly idle: Idle
  /** How many messages may wait in one instance's mailbox (default: no limit). */
  readonly mailboxCapacity?: number | undefined
  /** Where a failure with nobody waiting for it goes (event handler failures). */
  readonly deadLetter: (delivery: Mailbox.Delivery, error: AgentError) => void
  /** Handler spans and metrics, when telemetry is on. */
  readonly telemetry?: Telemetry.Telemetry | undefined
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
  /** Creates the instance now if it does not exist (reactivating it if it was passivated). */
  readonly ensure: (id: AgentId) => Effect.Effect<void, AgentError>
  readonly metadata: (id: AgentId) => Effect.Effect<AgentMetadata, AgentError>
  /** The instance's state; for a passivated instance, its stored state (it stays passivated). */
  readonly saveState: (id: AgentId) => Effect.Effect<AgentState, AgentError>
  /** Sets the instance's state, reactivating it first if it was passivated. */
  readonly loadState: (id: AgentId, state: AgentState) => Effect.Effect<void, AgentError>
  /** The state of every live instance, by `type/key` (passivated ones are in the `StateStore`). */
  readonly saveAll: Effect.Effect<RuntimeState, AgentError>
  /** One of the operations above, by name (as the kernel and the wire name them). */
  readonly operate: (op: Operation, id: AgentId, state?: AgentState) => Effect.Effect<unknown, AgentError>
  /**
   * Closes the engine, as its runtime's scope closes: stops intake from
   * outside agents (in-flight work may still send among agents), waits up to
   * `drainTimeout` for in-flight work, then interrupts what is left, saves
   * the state of instances whose type passivates and runs every instance's
   * finalizers.
   */
  readonly close: (drainTimeout: Duration.Input) => Effect.Effect<void>
  /** How many instances are live now (for the telemetry's gauge). */
  readonly liveCount: () => number
}

/** A runtime operation on one agent. */
export type Operation = "ensure" | "metadata" | "saveState" | "loadState"

const stopping = (recipient: AgentId) => undeliverable(recipient, new RuntimeStopping())

/** The engine's tables, shared by the functions below. */
interface State {
  readonly options: Options
  readonly fibers: FiberSet.FiberSet<unknown, unknown>
  readonly types: Map<string, RegisteredType>
  readonly instances: InstanceTable<Instance>
  readonly store: StateStore.Service
  readonly timers: Passivation.Timers
  /** Outside callers may still deliver (false once closing began). */
  intake: boolean
  closed: boolean
}

/**
 * Builds the engine in the current scope, which owns every instance's
 * fiber. Passivated state goes to the `StateStore` in the context, or to
 * one in memory for the engine's life.
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  const store = Option.getOrElse(yield* Effect.serviceOption(StateStore.StateStore), StateStore.makeMemory)
  const state: State = {
    options,
    fibers: yield* FiberSet.make(),
    types: new Map(),
    instances: new InstanceTable(),
    store,
    timers: yield* Passivation.make,
    intake: true,
    closed: false
  }
  const saveState = (id: AgentId) =>
    Effect.suspend(() => {
      const type = state.types.get(id.type)
      const existing = state.instances.get(id)
      // an idle instance's state is read as it is: looking at an agent is no activity that keeps it from passivating
      if (existing?.phase === "live" && existing.mailbox.isQuiet() && (existing.parked?.size ?? 0) === 0) return StateCells.save(id, existing.cells)
      // a passivated instance answers from the store, and stays passivated
      if (type?.idle === undefined || existing !== undefined) return control(state, id, (instance) => StateCells.save(id, instance.cells))
      return Effect.flatMap(
        Effect.mapError(store.load(id), (e) => loadFailed(id, "saveState", e)),
        (stored) => stored === undefined ? control(state, id, (instance) => StateCells.save(id, instance.cells)) : Effect.succeed(stored.state)
      )
    })
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
    liveCount: () => state.instances.size,
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
      // an instance passivating now is as good as passivated: asking for its state must not build it again
      const ids = state.instances.values().filter((i) => i.phase !== "passivating").map((i) => i.id)
      for (const id of ids) all[id.toString()] = yield* saveState(id)
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

/** The milliseconds of a `maxIdleMillis`, when it passivates at all. */
const idleMillis = (registration: Registration): number | undefined => {
  const millis = registration.maxIdleMillis
  return millis === undefined || !Number.isFinite(millis) ? undefined : Math.max(0, millis)
}

const register = (state: State, registration: Registration) =>
  Effect.gen(function*() {
    if (state.types.has(registration.name)) return yield* new DuplicateAgentTypeError({ agentType: registration.name })
    const millis = idleMillis(registration)
    const type: RegisteredType = {
      registration,
      keys: registration.keys ? new Set(registration.keys) : undefined,
      idle: millis === undefined ? undefined : state.timers.list(millis, (node) => passivate(state, node as Instance)),
      stateVersion: registration.stateVersion ?? 1
    }
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
  if (item.cancelled) return item.delivery.onCancelledEnd?.()
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
 * An item's work, built in the fiber of its own that runs it (recorded on
 * the item already, so a cancel, even during the handler's synchronous
 * part, interrupts it). A delivery's fiber gets `Current` and `Self` set on
 * it directly: the fiber is the handler's alone, there is nothing to restore
 * (and an idle instance keeps no context of its own).
 */
const work = (instance: Instance, item: Mailbox.Item, fiber: Fiber.Fiber<unknown, unknown>): Effect.Effect<unknown, unknown> => {
  if (item.control !== undefined) return item.control
  const delivery = item.delivery!
  const handler = instance.handlers![item.handler!]!
  const context: MessageContext = {
    self: instance.id,
    sender: delivery.sender,
    topic: delivery.topic,
    messageId: delivery.messageId,
    isRpc: delivery.rpc
  }
  // a publisher is not waiting: an event handler starts a new call chain
  const chain = delivery.rpc ? [...delivery.chain, delivery.messageId] : [delivery.messageId]
  const telemetry = instance.state.options.telemetry
  // without telemetry, the trace context it came with rides along for what the handler sends
  const current = telemetry === undefined && delivery.parent !== undefined ? { self: instance.id, chain, span: delivery.parent } : { self: instance.id, chain }
  fiber.setContext(Context.add(Context.add(fiber.context, Current, current), Self, instance.id))
  // a streaming handler's work is its stream, run into the caller's sink: it holds its turn until the stream ends
  const run = delivery.sink === undefined ? handler(delivery.message, context) : Streams.drain(handler(delivery.message, context), delivery.sink)
  return telemetry === undefined ? run : traced(telemetry, delivery, run)
}

/** A handler's run as a span, the child of the send or publish that brought its message (from wherever it came). */
const traced = (telemetry: Telemetry.Telemetry, delivery: Mailbox.Delivery, run: Effect.Effect<unknown, unknown>) => {
  const attributes = Telemetry.attributes({
    messageType: delivery.tag,
    messageId: delivery.messageId,
    recipient: delivery.recipient,
    sender: delivery.sender,
    topic: delivery.topic
  })
  const started = performance.now()
  return Telemetry.spanned(telemetry, `handle ${delivery.tag}`, { kind: delivery.rpc ? "server" : "consumer", attributes, parent: delivery.parent }, () => run).pipe(
    Effect.onExit((exit) =>
      Effect.sync(() => {
        telemetry.handled(delivery.tag, performance.now() - started)
        if (Exit.isSuccess(exit)) telemetry.count("delivered", delivery.tag)
        else telemetry.count("failed", delivery.tag, Cause.hasInterruptsOnly(exit.cause) ? "Interrupted" : errorTag(exit.cause))
      }))
  )
}

const errorTag = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.findErrorOption(cause)
  if (error._tag === "None") return "Defect"
  const tag = (error.value as { readonly _tag?: unknown } | null)?._tag
  return typeof tag === "string" ? tag.slice(0, 64) : "Error"
}

/** Runs the factory and, for a type that passivates, loads the stored state; then the mailbox starts taking work. */
const start = (state: State, instance: Instance): Effect.Effect<void> => {
  const cells: Array<StateCell> = []
  return instance.type.registration.build.pipe(
    Effect.provideService(Self, instance.id),
    Effect.provideService(InstanceState, { cells }),
    Scope.provide(instance.scope),
    Effect.matchCauseEffect({
      onFailure: (cause) => startFailed(state, instance, `the agent factory failed: ${Cause.pretty(cause)}`, Cause.squash(cause), cause),
      onSuccess: (handlers) =>
        Effect.matchCauseEffect(restore(state, instance, cells), {
          onFailure: (cause) => {
            const error = Cause.squash(cause)
            return startFailed(state, instance, `its stored state could not be loaded: ${error instanceof Error ? error.message : String(error)}`, error, cause)
          },
          onSuccess: () =>
            Effect.sync(() => {
              instance.handlers = handlers
              instance.cells = cells.length === 0 ? noCells : cells
              instance.fiber = undefined
              if (instance.phase !== "starting") return // closed meanwhile
              instance.phase = "live"
              instance.mailbox.start()
            })
        })
    })
  )
}

/** Loads the stored state of a type that passivates into a new instance's cells, migrating it from another version if the type can. */
const restore = (state: State, instance: Instance, cells: ReadonlyArray<StateCell>): Effect.Effect<void, StateStore.StateStoreError> => {
  const { id, type } = instance
  if (type.idle === undefined) return Effect.void
  return Effect.gen(function*() {
    const stored = yield* state.store.load(id)
    if (stored === undefined) return
    let cellState = stored.state
    if (stored.version !== type.stateVersion) {
      const migrate = type.registration.migrateState
      if (migrate === undefined) {
        return yield* storeError(id, `it was stored by state version ${stored.version} and this type reads version ${type.stateVersion} (give migrateState to read other versions)`)
      }
      cellState = yield* Effect.catchCause(migrate(stored.state, stored.version), (cause) =>
        storeError(id, `migrating it from state version ${stored.version} failed: ${Cause.pretty(cause)}`))
    }
    yield* Effect.mapError(StateCells.load(id, cells, cellState), (e) => new StateStore.StateStoreError({ agentId: id.toString(), operation: "load", issue: e.issue }))
  })
}

const storeError = (id: AgentId, issue: string) => Effect.fail(new StateStore.StateStoreError({ agentId: id.toString(), operation: "load", issue }))

/** The typed error a state operation gets when the store fails. */
const loadFailed = (id: AgentId, messageType: string, error: StateStore.StateStoreError) =>
  new HandlerError({ recipient: id.toString(), messageType, reason: `its stored state could not be loaded: ${error.message}`, cause: error })

/** A failing factory (or state that does not load) answers everyone waiting, and the next message tries again. */
const startFailed = (state: State, instance: Instance, reason: string, error: unknown, cause: Cause.Cause<unknown>) =>
  Effect.gen(function*() {
    instance.fiber = undefined
    remove(state, instance)
    const left = [...instance.mailbox.clear(), ...instance.parked ?? []]
    instance.parked = undefined
    for (const item of left) {
      const messageType = item.delivery?.tag ?? "state or lifecycle operation"
      finish(state, item, Exit.fail(new HandlerError({ recipient: instance.id.toString(), messageType, reason, cause: error })))
    }
    yield* Scope.close(instance.scope, Exit.void)
    yield* Effect.logError(reason.startsWith("the agent factory") ? "agent factory failed" : "agent state could not be loaded", cause).pipe(
      Effect.annotateLogs("agent", instance.id.toString())
    )
  })

/** Takes an instance out of the table (if it is still the one there). */
const remove = (state: State, instance: Instance) => {
  instance.phase = "gone"
  Passivation.unlink(instance)
  state.instances.deleteIf(instance.id, instance)
}

/**
 * Passivates an idle instance: pauses its mailbox, saves its state, closes
 * its scope, drops it. Work that arrives meanwhile waits and then goes to a
 * new instance, which loads the state just saved. If the save fails, the
 * instance stays live (and tries again after another idle period).
 */
const passivate = (state: State, instance: Instance) => {
  if (instance.phase !== "live" || !instance.mailbox.isQuiet() || state.closed) return
  instance.phase = "passivating"
  instance.mailbox.pause()
  state.options.idle.enter()
  const fiber = Effect.runForkWith(instance.context)(Effect.gen(function*() {
    const saved = yield* Effect.exit(save(state, instance))
    if (Exit.isFailure(saved)) {
      yield* Effect.logWarning("agent not passivated: its state could not be saved", saved.cause).pipe(Effect.annotateLogs("agent", instance.id.toString()))
      instance.fiber = undefined
      if (instance.phase !== "passivating") return
      instance.phase = "live"
      instance.mailbox.start()
      return
    }
    yield* Scope.close(instance.scope, Exit.void)
    instance.fiber = undefined
    if (instance.phase !== "passivating") return // closed meanwhile
    remove(state, instance)
    // what arrived while it passivated goes to its next incarnation, in order
    const waiting = instance.mailbox.clear()
    const parked = instance.parked
    instance.parked = undefined
    if (waiting.length === 0 && (parked === undefined || parked.size === 0)) return
    const next = spawn(state, instance.id, instance.type)
    for (const item of waiting) if (!item.cancelled) transfer(next, item)
    for (const item of parked ?? []) if (!item.cancelled) transfer(next, item)
  }).pipe(Effect.ensuring(Effect.sync(() => state.options.idle.exit()))))
  if (fiber.pollUnsafe() === undefined) {
    instance.fiber = fiber
    FiberSet.addUnsafe(state.fibers, fiber)
  }
}

/** Puts an item that waited for a passivating instance into the next one, parked if its mailbox is full. */
const transfer = (instance: Instance, item: Mailbox.Item) => {
  if (item.delivery !== undefined && ((instance.parked?.size ?? 0) > 0 || !instance.mailbox.hasRoom())) (instance.parked ??= new Set()).add(item)
  else instance.mailbox.offer(item)
}

/** Writes an instance's cells to the store, with its type's state version (an instance without cells has nothing to write). */
const save = (state: State, instance: Instance): Effect.Effect<void, unknown> =>
  instance.cells.length === 0 || instance.handlers === undefined
    ? Effect.void
    : Effect.flatMap(StateCells.save(instance.id, instance.cells), (cells) => state.store.save(instance.id, { version: instance.type.stateVersion, state: cells }))

/** The registered type behind an id, or why there is none. */
const lookup = (state: State, id: AgentId): RegisteredType | AgentError => {
  const type = state.types.get(id.type)
  if (type === undefined) return undeliverable(id, new NoSuchAgentType({ agentType: id.type }))
  if (type.keys !== undefined && !type.keys.has(id.key)) return undeliverable(id, new NoSuchAgentKey({ agentType: id.type, key: id.key }))
  return type
}

/** The instance of an id, created (or reactivated) if its type allows. */
const instanceFor = (state: State, id: AgentId): Instance | AgentError => {
  const existing = state.instances.get(id)
  if (existing !== undefined) return existing
  const type = lookup(state, id)
  return "registration" in type ? spawn(state, id, type) : type
}

const spawn = (state: State, id: AgentId, type: RegisteredType): Instance => {
  const instance = new Instance(state, id, type)
  state.instances.set(id, instance)
  // start after the caller has enqueued: a factory that fails at once must not clear the mailbox before the first message is in it
  const fiber = Effect.runForkWith(type.registration.context)(Effect.andThen(Effect.yieldNow, start(state, instance)))
  if (fiber.pollUnsafe() === undefined) {
    instance.fiber = fiber
    FiberSet.addUnsafe(state.fibers, fiber)
  }
  return instance
}

const enqueue = (state: State, instance: Instance, item: Mailbox.Item) => {
  state.options.idle.enter()
  Passivation.unlink(instance)
  instance.mailbox.offer(item)
}

/** Moves waiting sends into the mailbox while it has room. */
const unpark = (instance: Instance) => {
  const parked = instance.parked
  if (parked === undefined) return
  for (const item of parked) {
    if (!instance.mailbox.hasRoom()) return
    parked.delete(item)
    if (!item.cancelled) instance.mailbox.offer(item)
  }
  if (parked.size === 0) instance.parked = undefined
}

const deliver = (state: State, delivery: Mailbox.Delivery): Mailbox.Cancel => {
  if (state.closed || (!state.intake && delivery.sender === undefined)) return fail(state, delivery, stopping(delivery.recipient))
  const instance = instanceFor(state, delivery.recipient)
  if (!(instance instanceof Instance)) return fail(state, delivery, instance)
  const route = Routes.select(instance.type.registration, delivery)
  if (!("spec" in route)) return fail(state, delivery, route)
  const spec = route.spec
  if (delivery.rpc && delivery.chain.length > 0 && !spec.concurrent && instance.mailbox.blockedBy(delivery.chain)) {
    return fail(state, delivery, new DeadlockError({ recipient: delivery.recipient.toString(), messageType: delivery.tag }))
  }
  const item = Mailbox.deliveryItem(delivery, spec, route.handler)
  let owner = instance
  if ((instance.parked?.size ?? 0) > 0 || !instance.mailbox.hasRoom()) {
    // a full mailbox: a publisher is not waiting (a dead letter), a sender waits its turn within its deadline
    const full = undeliverable(delivery.recipient, new Overloaded({ what: `the mailbox of ${delivery.recipient}`, limit: state.options.mailboxCapacity ?? Infinity }))
    if (!delivery.rpc) return fail(state, delivery, full)
    state.options.idle.enter()
    ;(instance.parked ??= new Set()).add(item)
  } else enqueue(state, instance, item)
  return () => {
    if (item.finished || item.cancelled) return
    item.cancelled = true
    // it may have moved to the next incarnation of a passivated instance
    owner = state.instances.get(delivery.recipient) ?? owner
    instance.parked?.delete(item)
    owner.parked?.delete(item)
    if (item.fiber !== undefined) item.fiber.interruptUnsafe()
    else finish(state, item, Exit.void)
  }
}

/** Runs `f` in the instance's mailbox order, creating the instance if needed. */
const control = <A>(state: State, id: AgentId, f: (instance: Instance) => Effect.Effect<A, AgentError>): Effect.Effect<A, AgentError> =>
  Effect.suspend(() => {
    if (state.closed) return Effect.fail(stopping(id))
    const instance = instanceFor(state, id)
    if (!(instance instanceof Instance)) return Effect.fail(instance)
    return Effect.callback<A, AgentError>((resume) => {
      let answered = false
      const answer = (exit: Exit.Exit<A, AgentError>) => {
        if (answered) return
        answered = true
        resume(exit)
      }
      // built when its turn comes, not now: the factory may not have run yet (and the instance may be the next incarnation)
      const item = Mailbox.controlItem(
        Effect.suspend(() => f(state.instances.get(id) ?? instance)).pipe(Effect.exit, Effect.map(answer)),
        (error) => answer(Exit.fail(error))
      )
      enqueue(state, instance, item)
    })
  })

/** Interrupts what is left, saves the state of types that passivate, runs every instance's finalizers. */
const shutdown = (state: State) =>
  Effect.suspend(() => {
    state.closed = true
    const all = state.instances.values()
    state.instances.clear()
    return Effect.forEach(all, (instance) =>
      Effect.gen(function*() {
        const wasLive = instance.phase === "live" || instance.phase === "passivating"
        instance.phase = "gone"
        Passivation.unlink(instance)
        instance.mailbox.pause()
        if (instance.fiber !== undefined) yield* Fiber.interrupt(instance.fiber)
        yield* Fiber.interruptAll(instance.mailbox.fibers())
        const left = [...instance.mailbox.clear(), ...instance.parked ?? []]
        instance.parked = undefined
        for (const item of left) finish(state, item, Exit.fail(stopping(instance.id)))
        // a program that restarts on a persistent store finds these agents where they were
        if (wasLive && instance.type.idle !== undefined) {
          yield* Effect.catchCause(save(state, instance), (cause) =>
            Effect.logWarning("agent state could not be saved at shutdown", cause).pipe(Effect.annotateLogs("agent", instance.id.toString())))
        }
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

const noop: Mailbox.Cancel = () => {}
