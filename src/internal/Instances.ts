/**
 * Live agent instances: one engine shared by the standalone runtime and the
 * distributed worker. It holds the registered agent types, creates an
 * instance on its first message, gives each instance a mailbox and a fiber
 * that handles one message at a time in arrival order (or up to the type's
 * `concurrency`), detects call cycles, cancels handlers whose caller went
 * away, saves and loads `Agent.state`, and on close drains, interrupts and
 * runs agent finalizers.
 *
 * It knows nothing of routing, encoding or the wire: a delivery comes in
 * decoded, and its outcome goes out through `onDone`.
 */
import { Cause, Context, type Duration, Effect, Exit, Fiber, Queue, Ref, Schema, Scope } from "effect"
import { type AnyHandler, InstanceState, type MessageContext, Self, type Spec, type StateCell } from "../Agent.ts"
import {
  type AgentError,
  CantHandleError,
  DeadlockError,
  DuplicateAgentTypeError,
  HandlerError,
  InvalidMessageError,
  UndeliverableError
} from "../AgentError.ts"
import { AgentId } from "../AgentId.ts"
import type { AgentMetadata, AgentState, Registration, RuntimeState as AgentRuntimeState } from "../AgentRuntime.ts"
import { jsonCodec } from "../Message.ts"
import type { TopicId } from "../TopicId.ts"
import { Current } from "./Current.ts"
import type { Idle } from "./Idle.ts"

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

interface Item {
  readonly delivery: Delivery | undefined
  readonly spec: Spec | undefined
  /** A control operation (state save/load) run in mailbox order. */
  readonly control: ((instance: Instance) => Effect.Effect<void>) | undefined
  /** Tells a control operation's caller why it will never run (factory failed, runtime stopping). */
  readonly abandon?: ((error: AgentError) => void) | undefined
  cancelled: boolean
  finished: boolean
  fiber: Fiber.Fiber<unknown, unknown> | undefined
}

interface Instance {
  readonly id: AgentId
  readonly type: RegisteredType
  readonly mailbox: Queue.Queue<Item>
  /** Non-concurrent items taken from the mailbox, waiting for a free slot in arrival order. */
  readonly backlog: Array<Item>
  readonly scope: Scope.Closeable
  /** Message ids whose handlers hold a mailbox slot now (concurrent handlers hold none). */
  readonly running: Set<string>
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
  /** Where a failure with nobody waiting for it goes (event handler failures). */
  readonly deadLetter: (delivery: Delivery, error: AgentError) => void
}

export interface Instances {
  readonly register: (registration: Registration) => Effect.Effect<void, DuplicateAgentTypeError, Scope.Scope>
  readonly type: (name: string) => Registration | undefined
  readonly types: () => ReadonlyArray<Registration>
  /**
   * Enqueues a delivery (synchronously, preserving order). Errors that need
   * no handler (unknown type or key, no handler, deadlock, stopping) are
   * reported through `onDone` at once.
   */
  readonly deliver: (delivery: Delivery) => Cancel
  /** Creates the instance now if it does not exist. */
  readonly ensure: (id: AgentId) => Effect.Effect<void, AgentError>
  readonly metadata: (id: AgentId) => Effect.Effect<AgentMetadata, AgentError>
  readonly saveState: (id: AgentId) => Effect.Effect<AgentState, AgentError>
  readonly loadState: (id: AgentId, state: AgentState) => Effect.Effect<void, AgentError>
  /** The state of every live instance, by `type/key`. */
  readonly saveAll: Effect.Effect<AgentRuntimeState, AgentError>
  /**
   * Closes the engine, as its runtime's scope closes: stops intake from
   * outside agents (in-flight work may still send among agents), waits up to
   * `drainTimeout` for in-flight work, then interrupts what is left and runs
   * every instance's finalizers.
   */
  readonly close: (drainTimeout: Duration.Input) => Effect.Effect<void>
}

const stopping = (recipient: AgentId) => new UndeliverableError({ recipient: recipient.toString(), reason: "the runtime is stopping" })

/** Builds the engine; `shutdown` must be called when its owner closes. */
export const make = (options: Options): Instances => {
  const { idle } = options
  const types = new Map<string, RegisteredType>()
  const instances = new Map<string, Instance>()
  let intake = true
  let closed = false

  const finish = (item: Item, exit: Exit.Exit<unknown, AgentError>) => {
    if (item.finished) return
    item.finished = true
    idle.exit()
    if (item.delivery === undefined) {
      // a control operation answers its caller itself; one that ends any other way must still answer
      if (item.abandon !== undefined && Exit.isFailure(exit)) {
        const error = Cause.findErrorOption(exit.cause)
        item.abandon(error._tag === "Some" ? error.value : new UndeliverableError({ recipient: "agent", reason: "the operation was interrupted" }))
      }
      return
    }
    if (item.cancelled) return
    const delivery = item.delivery
    if (!delivery.rpc && Exit.isFailure(exit)) {
      const error = Cause.findErrorOption(exit.cause)
      if (error._tag === "Some") options.deadLetter(delivery, error.value)
    }
    delivery.onDone(exit)
  }

  const fail = (delivery: Delivery, error: AgentError) => {
    if (!delivery.rpc) options.deadLetter(delivery, error)
    delivery.onDone(Exit.fail(error))
  }

  /** What a handler's exit means for its caller. */
  const outcome = (delivery: Delivery, spec: Spec | undefined, exit: Exit.Exit<unknown, unknown>): Exit.Exit<unknown, AgentError> => {
    if (Exit.isSuccess(exit)) return exit as Exit.Exit<unknown, never>
    const recipient = delivery.recipient.toString()
    const failure = Cause.findErrorOption(exit.cause)
    if (failure._tag === "Some") {
      const error = failure.value
      // only a declared error travels as itself; an undeclared one is described by `reason`
      const declared = spec !== undefined && Schema.is(spec.error as Schema.Codec<unknown, unknown>)(error)
      return Exit.fail(
        declared
          ? new HandlerError({ recipient, messageType: delivery.tag, reason: reasonOf(error), error })
          : new HandlerError({ recipient, messageType: delivery.tag, reason: reasonOf(error) })
      )
    }
    if (Cause.hasInterruptsOnly(exit.cause)) return Exit.fail(stopping(delivery.recipient))
    return Exit.fail(new HandlerError({ recipient, messageType: delivery.tag, reason: Cause.pretty(exit.cause) }))
  }

  /**
   * An item's work, to run as a fiber of its own. A delivery's fiber is
   * recorded on the item first thing (so a cancel, even one during the
   * handler's synchronous part, interrupts it) and gets `Current` and `Self`
   * set on it directly: the fiber is the handler's alone, nothing to restore.
   */
  const work = (instance: Instance, item: Item): Effect.Effect<unknown, unknown> => {
    if (item.control !== undefined) return item.control(instance)
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
    if (!item.spec?.concurrent) instance.running.add(delivery.messageId)
    return Effect.withFiber((fiber) => {
      item.fiber = fiber
      fiber.setContext(Context.add(Context.add(fiber.context, Current, { self: instance.id, chain }), Self, instance.id))
      return handler(delivery.message, context)
    })
  }

  /**
   * The mailbox loop, the one fiber that starts an instance's work, in
   * arrival order. A `concurrent` handler starts at once; anything else
   * starts at once if a slot is free and nothing is waiting before it, else
   * waits in the backlog. A handler's exit (observed, however it exits) frees
   * its slot and, if the backlog is not empty, wakes the loop to start the
   * next. Work starts immediately (in this fiber's turn, not on a scheduler
   * tick), so an uncontended request/reply round trip takes no event-loop turn.
   */
  const loop = (instance: Instance): Effect.Effect<never> => {
    const slots = Math.max(1, instance.type.registration.concurrency)
    const backlog = instance.backlog
    let busy = 0
    const launch = (item: Item) =>
      Effect.flatMap(Effect.forkChild(work(instance, item), { startImmediately: true }), (fiber) =>
        Effect.sync(() => {
          fiber.addObserver((exit) => {
            if (item.delivery === undefined) finish(item, Exit.isSuccess(exit) ? Exit.void : Exit.fail(stopping(instance.id)))
            else {
              if (!item.spec?.concurrent) instance.running.delete(item.delivery.messageId)
              finish(item, outcome(item.delivery, item.spec, exit))
            }
            if (!item.spec?.concurrent && --busy < slots && backlog.length > 0) Queue.offerUnsafe(instance.mailbox, wake)
          })
        }))
    const startNext: Effect.Effect<void> = Effect.suspend(() => {
      while (backlog.length > 0 && backlog[0]!.cancelled) backlog.shift()
      if (backlog.length === 0 || busy >= slots) return Effect.void
      busy++
      return Effect.andThen(launch(backlog.shift()!), startNext)
    })
    return Effect.forever(Effect.gen(function*() {
      const item = yield* Queue.take(instance.mailbox)
      if (item === wake) return yield* startNext
      if (item.cancelled) return
      if (item.spec?.concurrent) return yield* launch(item)
      if (backlog.length === 0 && busy < slots) {
        busy++
        return yield* launch(item)
      }
      backlog.push(item)
    }), { disableYield: true })
  }

  const start = (instance: Instance): Effect.Effect<void> => {
    const cells: Array<StateCell> = []
    return instance.type.registration.build.pipe(
      Effect.provideService(Self, instance.id),
      Effect.provideService(InstanceState, { cells }),
      Scope.provide(instance.scope),
      Effect.matchCauseEffect({
        onFailure: (cause) => {
          // the factory failed: everyone waiting hears why; the next message tries again
          instances.delete(instance.id.toString())
          const reason = `the agent factory failed: ${Cause.pretty(cause)}`
          return Effect.gen(function*() {
            const items = yield* Queue.clear(instance.mailbox)
            for (const item of items) {
              const messageType = item.delivery?.tag ?? "state or lifecycle operation"
              finish(item, Exit.fail(new HandlerError({ recipient: instance.id.toString(), messageType, reason })))
            }
            yield* Scope.close(instance.scope, Exit.void)
            yield* Effect.logError("agent factory failed", cause).pipe(Effect.annotateLogs("agent", instance.id.toString()))
          })
        },
        onSuccess: (handlers) => {
          instance.handlers = handlers
          instance.cells = cells
          return loop(instance)
        }
      })
    )
  }

  const instanceFor = (id: AgentId): Instance | AgentError => {
    const key = id.toString()
    const existing = instances.get(key)
    if (existing !== undefined) return existing
    const type = types.get(id.type)
    if (type === undefined) return new UndeliverableError({ recipient: key, reason: `no agent type ${id.type} is registered` })
    if (type.keys !== undefined && !type.keys.has(id.key)) {
      return new UndeliverableError({ recipient: key, reason: `${id.type} has no instance ${id.key}` })
    }
    return spawn(id, type)
  }

  const spawn = (id: AgentId, type: RegisteredType): Instance => {
    const instance: Instance = {
      id,
      type,
      mailbox: Effect.runSync(Queue.unbounded<Item>()),
      backlog: [],
      scope: Scope.makeUnsafe(),
      running: new Set(),
      handlers: undefined,
      cells: [],
      fiber: undefined
    }
    instances.set(id.toString(), instance)
    // start after the caller has enqueued: runFork runs synchronously, and a factory that
    // fails at once would otherwise clear the mailbox before the first message is in it
    instance.fiber = Effect.runForkWith(type.registration.context)(Effect.andThen(Effect.yieldNow, start(instance)))
    return instance
  }

  const enqueue = (instance: Instance, item: Item) => {
    idle.enter()
    Queue.offerUnsafe(instance.mailbox, item)
  }

  const deliver = (delivery: Delivery): Cancel => {
    if (closed || (!intake && delivery.sender === undefined)) {
      fail(delivery, stopping(delivery.recipient))
      return noop
    }
    const instance = instanceFor(delivery.recipient)
    if (!("mailbox" in instance)) {
      fail(delivery, instance)
      return noop
    }
    const spec = instance.type.registration.specs.get(delivery.tag)
    if (spec === undefined) {
      fail(delivery, new CantHandleError({ recipient: delivery.recipient.toString(), messageType: delivery.tag }))
      return noop
    }
    if (delivery.rpc && delivery.chain.length > 0 && !spec.concurrent && wouldDeadlock(instance, delivery.chain)) {
      fail(delivery, new DeadlockError({ recipient: delivery.recipient.toString(), messageType: delivery.tag }))
      return noop
    }
    const item: Item = { delivery, spec, control: undefined, cancelled: false, finished: false, fiber: undefined }
    enqueue(instance, item)
    return () => {
      if (item.finished || item.cancelled) return
      item.cancelled = true
      if (item.fiber !== undefined) item.fiber.interruptUnsafe()
      else finish(item, Exit.void)
    }
  }

  /** Every mailbox slot is taken, and each slot's handler waits on this chain: the message could never run. */
  const wouldDeadlock = (instance: Instance, chain: ReadonlyArray<string>): boolean => {
    if (instance.running.size < Math.max(1, instance.type.registration.concurrency)) return false
    for (const id of instance.running) if (!chain.includes(id)) return false
    return true
  }

  /** Runs `f` in the instance's mailbox order, creating the instance if needed. */
  const control = <A>(id: AgentId, f: (instance: Instance) => Effect.Effect<A, AgentError>): Effect.Effect<A, AgentError> =>
    Effect.suspend(() => {
      if (closed) return Effect.fail(stopping(id))
      const instance = instanceFor(id)
      if (!("mailbox" in instance)) return Effect.fail(instance)
      return Effect.callback<A, AgentError>((resume) => {
        let answered = false
        const answer = (exit: Exit.Exit<A, AgentError>) => {
          if (answered) return
          answered = true
          resume(exit)
        }
        const item: Item = {
          delivery: undefined,
          spec: undefined,
          control: (inst) => f(inst).pipe(Effect.exit, Effect.map(answer)),
          abandon: (error) => answer(Exit.fail(error)),
          cancelled: false,
          finished: false,
          fiber: undefined
        }
        enqueue(instance, item)
      })
    })

  const saveState = (id: AgentId) =>
    control(id, (instance) =>
      Effect.gen(function*() {
        const state: Record<string, unknown> = {}
        for (const cell of instance.cells) {
          const value = yield* Ref.get(cell.ref)
          state[cell.name] = yield* Schema.encodeUnknownEffect(jsonCodec(cell.schema))(value).pipe(
            Effect.mapError((e) => new InvalidMessageError({ messageType: `state of ${id}`, issue: e.message }))
          )
        }
        return state as AgentState
      }))

  const loadState = (id: AgentId, state: AgentState) =>
    control(id, (instance) =>
      Effect.gen(function*() {
        // decode every cell before touching any, so a bad state changes nothing
        const decoded: Array<readonly [StateCell, unknown]> = []
        for (const cell of instance.cells) {
          if (!(cell.name in state)) continue
          const value = yield* Schema.decodeUnknownEffect(jsonCodec(cell.schema))(state[cell.name]).pipe(
            Effect.mapError((e) => new InvalidMessageError({ messageType: `state of ${id}`, issue: e.message }))
          )
          decoded.push([cell, value])
        }
        for (const [cell, value] of decoded) yield* Ref.set(cell.ref, value)
      }))

  /** Interrupts what is left and runs every instance's finalizers. */
  const shutdown = Effect.suspend(() => {
    closed = true
    const all = [...instances.values()]
    instances.clear()
    return Effect.forEach(all, (instance) =>
      Effect.gen(function*() {
        if (instance.fiber !== undefined) yield* Fiber.interrupt(instance.fiber)
        const left = [...instance.backlog.splice(0), ...yield* Queue.clear(instance.mailbox)]
        for (const item of left) {
          finish(item, Exit.fail(stopping(instance.id)))
        }
        yield* Scope.close(instance.scope, Exit.void)
      }), { discard: true, concurrency: "unbounded" })
  })

  return {
    register: (registration) =>
      Effect.gen(function*() {
        if (types.has(registration.name)) return yield* new DuplicateAgentTypeError({ agentType: registration.name })
        const type: RegisteredType = { registration, keys: registration.keys ? new Set(registration.keys) : undefined }
        types.set(registration.name, type)
        yield* Effect.addFinalizer(() => Effect.sync(() => types.delete(registration.name)))
        // explicit instances exist from registration on
        for (const key of registration.keys ?? []) spawn(new AgentId({ type: registration.name, key }), type)
      }),
    type: (name) => types.get(name)?.registration,
    types: () => [...types.values()].map((t) => t.registration),
    deliver,
    ensure: (id) => control(id, () => Effect.void),
    metadata: (id) =>
      Effect.suspend(() => {
        const type = types.get(id.type)
        if (type === undefined) {
          return Effect.fail(new UndeliverableError({ recipient: id.toString(), reason: `no agent type ${id.type} is registered` }))
        }
        if (type.keys !== undefined && !type.keys.has(id.key)) {
          return Effect.fail(new UndeliverableError({ recipient: id.toString(), reason: `${id.type} has no instance ${id.key}` }))
        }
        return Effect.succeed({ type: id.type, key: id.key, description: type.registration.description })
      }),
    saveState,
    loadState,
    saveAll: Effect.gen(function*() {
      const state: Record<string, AgentState> = {}
      for (const id of [...instances.values()].map((i) => i.id)) state[id.toString()] = yield* saveState(id)
      return state
    }),
    close: (drainTimeout) => Effect.gen(function*() {
      intake = false
      yield* idle.await.pipe(Effect.timeoutOrElse({ duration: drainTimeout, orElse: () => Effect.void }))
      yield* shutdown
    })
  }
}

const noop: Cancel = () => {}

/** Put in a mailbox to make its loop start backlog work after a slot came free. */
const wake: Item = { delivery: undefined, spec: undefined, control: undefined, cancelled: false, finished: true, fiber: undefined }

/** A short description of a handler's failure: its message, else its tag. */
const reasonOf = (error: unknown): string => {
  if (error instanceof Error && error.message !== "") return error.message
  const tag = (error as { _tag?: unknown } | null)?._tag
  return typeof tag === "string" ? tag : String(error)
}
