/**
 * Defining agent types. An agent type is a name plus the messages it
 * handles: `rpc` handlers answer a `send` with a reply (or a declared error),
 * `stream` handlers answer a send with a `Stream` of chunks, `event`
 * handlers react to a `publish`. Each kind runs only for its own kind of
 * delivery (the routed-agent contract, see `runtime/Routes.ts`), and `match`
 * predicates choose among several handlers of one message type. The
 * contract (`Agent.make`) is separate from the behaviour (`toLayer`), so
 * callers can hold a typed client of an agent type that runs in another
 * process.
 *
 * ```ts
 * const Greeter = Agent.make("greeter", {
 *   Greet: Agent.rpc(Greet, { success: Greeting }),
 *   Joined: Agent.event(Joined)
 * })
 *
 * const GreeterLive = Greeter.toLayer(Effect.gen(function*() {
 *   const seen = yield* Agent.state(Schema.Number, 0)   // saved and loaded by the runtime
 *   return Greeter.of({
 *     Greet: ({ name }) => Effect.succeed(new Greeting({ text: `Hello, ${name}` })),
 *     Joined: () => Ref.update(seen, (n) => n + 1)
 *   })
 * }), { subscriptions: [Subscription.type("chat")] })
 *
 * const greeter = yield* Greeter.client
 * const reply = yield* greeter("alice").Greet({ name: "Bob" })
 * ```
 *
 * The factory runs once per instance, on the instance's first message; its
 * closure is the instance's state and its scope is the instance's life.
 */
import { Context, Duration, Effect, Exit, Layer, Ref, Schema, type Scope, Stream as EffectStream } from "effect"
import type { Registration } from "../runtime/Registration.ts"
import { AgentId, AgentType as AgentTypeName } from "./AgentId.ts"
import { AgentDefinitionError, type AgentError, type HandlerError, InvalidMessageError, type RegistrationError } from "./AgentError.ts"
import { AgentRuntime, type AgentState } from "./AgentRuntime.ts"
import { type MessageSchema, missingTag, tagOf } from "./Message.ts"
import type { Subscription, Template } from "./Subscription.ts"
import type { TopicId } from "./TopicId.ts"

// ---------------------------------------------------------------------------
// handler specs
// ---------------------------------------------------------------------------

/**
 * Chooses among several handlers of one message type (AutoGen's
 * `@message_handler(match=...)`): the first handler of the right kind whose
 * predicate accepts the message runs. It runs when the message is delivered,
 * before the message waits its turn, so it must be a pure, quick function.
 */
export type Match<A> = (message: A, context: MessageContext) => boolean

/** An rpc handler's contract: a message, its reply and its declared error. Runs only for a `send`. */
export interface Rpc<M extends MessageSchema, S extends Schema.Top, E extends Schema.Top> {
  readonly _tag: "Rpc"
  readonly tag: string
  readonly message: M
  readonly success: S
  readonly error: E
  readonly concurrent: boolean
  readonly match: Match<any> | undefined
}

/** An event handler's contract: a message it reacts to, with no reply. Runs only for a `publish`. */
export interface Event<M extends MessageSchema> {
  readonly _tag: "Event"
  readonly tag: string
  readonly message: M
  readonly success: Schema.Top
  readonly error: Schema.Top
  readonly concurrent: boolean
  readonly match: Match<any> | undefined
}

/**
 * A streaming handler's contract: a message, the schema of each chunk of its
 * reply (`success`), and its declared error. Runs only for a streaming send
 * (`sendStream`, or its typed client method).
 */
export interface Stream<M extends MessageSchema, S extends Schema.Top, E extends Schema.Top> {
  readonly _tag: "Stream"
  readonly tag: string
  readonly message: M
  /** The schema of one chunk. */
  readonly success: S
  readonly error: E
  readonly concurrent: boolean
  readonly match: Match<any> | undefined
}

/** Any handler contract. */
export type Spec = Rpc<MessageSchema, Schema.Top, Schema.Top> | Event<MessageSchema> | Stream<MessageSchema, Schema.Top, Schema.Top>

/** What an agent type handles, by handler name. */
export type Specs = { readonly [name: string]: Spec }

/**
 * Declares an rpc handler: `send` gets `success` back, or fails with `error`
 * (which keeps its type across processes). It runs only for a direct send: a
 * message published on a topic never reaches it (the delivery is a dead
 * letter unless an event handler takes it). `concurrent: true` lets this
 * handler run beside others instead of waiting its turn in the mailbox (for
 * read-only queries). `match` chooses among several rpc handlers of one
 * message type; they must then share `success` and `error`.
 */
export const rpc = <
  M extends MessageSchema,
  S extends Schema.Top = typeof Schema.Void,
  E extends Schema.Top = typeof Schema.Never
>(message: M, options?: {
  readonly success?: S
  readonly error?: E
  readonly concurrent?: boolean
  readonly match?: Match<M["Type"]>
}): Rpc<M, NoInfer<S>, NoInfer<E>> => ({
  _tag: "Rpc",
  tag: tagOf(message) ?? "",
  message,
  success: (options?.success ?? Schema.Void) as S,
  error: (options?.error ?? Schema.Never) as E,
  concurrent: options?.concurrent ?? false,
  match: options?.match
})

/**
 * Declares an event handler: it reacts to messages published on the topics
 * its type subscribes to. It runs only for a publish: a direct send of its
 * message fails with `CantHandleError` (unless an rpc handler takes it), and
 * the typed client offers no method for it. `match` chooses among several
 * event handlers of one message type.
 */
export const event = <M extends MessageSchema>(message: M, options?: {
  readonly concurrent?: boolean
  readonly match?: Match<M["Type"]>
}): Event<M> => ({
  _tag: "Event",
  tag: tagOf(message) ?? "",
  message,
  success: Schema.Void,
  error: Schema.Never,
  concurrent: options?.concurrent ?? false,
  match: options?.match
})

/**
 * Declares a streaming handler: it answers a send with a `Stream` of chunks
 * (`success` is the schema of one chunk), as an LLM agent answers token by
 * token, and may fail mid-stream with `error` (which keeps its type across
 * processes). The typed client's method returns the chunks as a `Stream`
 * that the caller reads at its own pace: the handler waits while the
 * caller's buffer is full, and is cancelled when the caller stops reading.
 * Like an rpc handler, it holds the instance's turn until its stream ends
 * (`concurrent: true` lets it run beside others).
 *
 * ```ts
 * const Writer = Agent.make("writer", {
 *   Tokens: Agent.stream(Prompt, { success: Token, error: ModelError })
 * })
 * ```
 */
export const stream = <
  M extends MessageSchema,
  S extends Schema.Top,
  E extends Schema.Top = typeof Schema.Never
>(message: M, options: {
  readonly success: S
  readonly error?: E
  readonly concurrent?: boolean
  readonly match?: Match<M["Type"]>
}): Stream<M, NoInfer<S>, NoInfer<E>> => ({
  _tag: "Stream",
  tag: tagOf(message) ?? "",
  message,
  success: options.success,
  error: (options.error ?? Schema.Never) as E,
  concurrent: options.concurrent ?? false,
  match: options.match
})

// ---------------------------------------------------------------------------
// handlers
// ---------------------------------------------------------------------------

/** What a handler knows about the message it handles. */
export interface MessageContext {
  /** The instance handling the message. */
  readonly self: AgentId
  /** The agent that sent or published it; `undefined` when it came from outside any agent. */
  readonly sender: AgentId | undefined
  /** The topic it was published on; `undefined` for a direct send. */
  readonly topic: TopicId | undefined
  /** Unique per message, across the whole (distributed) runtime. */
  readonly messageId: string
  /** `true` for a `send` (the caller waits for a reply), `false` for a publish. */
  readonly isRpc: boolean
}

/** The handler of one spec. */
export type Handler<S extends Spec, R = never> = S extends Rpc<infer M, infer Success, infer E>
  ? (message: M["Type"], context: MessageContext) => Effect.Effect<Success["Type"], E["Type"], R>
  : S extends Event<infer M> ? (message: M["Type"], context: MessageContext) => Effect.Effect<void, unknown, R>
  : S extends Stream<infer M, infer Chunk, infer E> ? (message: M["Type"], context: MessageContext) => EffectStream.Stream<Chunk["Type"], E["Type"], R>
  : never

/** The handlers of an agent type, one per spec. */
export type Handlers<Sp extends Specs, R = never> = { readonly [K in keyof Sp]: Handler<Sp[K], R> }

/** A handler as the runtime holds it, without types. */
export type AnyHandler = (message: any, context: MessageContext) => Effect.Effect<unknown, unknown>

// ---------------------------------------------------------------------------
// instance services
// ---------------------------------------------------------------------------

/** The `AgentId` of the instance being built (in a factory) or handling a message. */
export class Self extends Context.Service<Self, AgentId>()("effect-agents/Agent/Self") {}

/** Where an instance's `Agent.state` cells are recorded, so the runtime can save and load them. */
export interface StateCell {
  readonly name: string
  readonly schema: Schema.Top
  readonly ref: Ref.Ref<unknown>
}

/** The state cells of the instance being built. */
export class InstanceState extends Context.Service<InstanceState, {
  readonly cells: Array<StateCell>
}>()("effect-agents/Agent/InstanceState") {}

/**
 * A piece of an instance's state, held in a `Ref` that the runtime saves and
 * loads (with `schema`) on `saveState` / `loadState`: agents write no
 * save/load code. Call it in the factory; cells are named in order (`s0`,
 * `s1`, ...) unless `name` is given, and names must not change between the
 * version that saved and the one that loads.
 */
export const state = <S extends Schema.Top>(
  schema: S,
  initial: S["Type"],
  options?: { readonly name?: string }
): Effect.Effect<Ref.Ref<S["Type"]>, never, InstanceState> =>
  Effect.gen(function*() {
    const store = yield* InstanceState
    const ref = yield* Ref.make<S["Type"]>(initial)
    store.cells.push({ name: options?.name ?? `s${store.cells.length}`, schema, ref: ref as Ref.Ref<unknown> })
    return ref
  })

// ---------------------------------------------------------------------------
// agent types
// ---------------------------------------------------------------------------

/** How `toLayer` registers an agent type. */
export interface LayerOptions {
  /** Topics this type listens on; templates get the type's name filled in. */
  readonly subscriptions?: ReadonlyArray<Subscription | Template>
  /** How many messages one instance handles at once (default 1: strictly one at a time, in arrival order). */
  readonly concurrency?: number
  /**
   * Only these keys exist, each built when the type is registered (explicit
   * instance registration); a message to any other key is undeliverable.
   */
  readonly keys?: ReadonlyArray<string>
  readonly description?: string
  /**
   * Passivation: an instance idle this long (no message waiting or running)
   * has its `Agent.state` cells saved to the `StateStore`, its scope closed
   * (its finalizers run) and is dropped; its next message builds it again
   * with that state loaded. At shutdown its live instances are saved too,
   * so on a persistent store a restarted program finds them again.
   *
   * Default: off (instances live as long as the runtime). Passivation is
   * only correct for an agent whose state is all in `Agent.state` cells:
   * anything else its factory's closure holds (a counter in a `let`, an open
   * connection) is lost and rebuilt, so a runtime cannot turn it on behind
   * an agent's back. Turn it on for types with many keys (one per user,
   * per conversation), where idle instances would otherwise grow the heap
   * without bound.
   */
  readonly maxIdleTime?: Duration.Input
  /**
   * The version written with this type's stored state (a whole number,
   * default 1). Bump it when cells change incompatibly; state stored by
   * another version goes through `migrateState`, or is an error for the
   * agent (`HandlerError` with a `StateStoreError` cause) without it.
   */
  readonly stateVersion?: number
  /** Turns stored cells written by `fromVersion` into this version's. */
  readonly migrateState?: (state: AgentState, fromVersion: number) => Effect.Effect<AgentState, unknown>
}

/** Per-send options of a typed client. */
export interface CallOptions {
  /** Fails with `TimeoutError` (and cancels the handler) when no reply comes in time. */
  readonly timeout?: Duration.Input
}

/** Per-call options of a typed client's streaming method (see `AgentRuntime.StreamOptions`). */
export interface StreamCallOptions {
  /** The deadline of the whole stream (default: the runtime's send timeout): past it, `TimeoutError` and the handler is cancelled. */
  readonly timeout?: Duration.Input
  /** The longest gap allowed between two chunks (and before the first): past it, `TimeoutError`. */
  readonly idleTimeout?: Duration.Input
  /** How many chunks may be on their way at once (default 16, at most 256). */
  readonly buffer?: number
}

/**
 * The typed methods of one agent instance: one per rpc handler (an
 * `Effect` of the reply) and one per streaming handler (a `Stream` of its
 * chunks); event handlers are reached by publishing.
 */
export type InstanceClient<Sp extends Specs> = {
  readonly [K in keyof Sp as Sp[K] extends Rpc<any, any, any> | Stream<any, any, any> ? K : never]: Sp[K] extends Rpc<infer M, infer S, infer E> ? (
      payload: M["~type.make.in"],
      options?: CallOptions
    ) => Effect.Effect<S["Type"], E["Type"] | AgentError>
    : Sp[K] extends Stream<infer M, infer S, infer E> ? (
      payload: M["~type.make.in"],
      options?: StreamCallOptions
    ) => EffectStream.Stream<S["Type"], E["Type"] | AgentError>
    : never
}

/** A typed client of an agent type: pick an instance by key. */
export type Client<Sp extends Specs> = (key: string) => InstanceClient<Sp>

/** An agent type's contract; `toLayer` gives it behaviour in a runtime. */
export interface AgentType<Name extends string, Sp extends Specs> {
  readonly name: Name
  readonly specs: Sp
  /**
   * The contract of each message tag (the wire name), as runtimes look it
   * up to check and encode a message: its rpc spec if it has one (the reply's
   * contract), else its first event spec.
   */
  readonly byTag: ReadonlyMap<string, Spec>
  /** Every handler of each message tag, in declaration order: how a delivery finds the one that runs. */
  readonly routes: Routes
  /** The id of the instance with this key. */
  id(key: string): AgentId
  /** Type-checks handlers against the contract. */
  of<R>(handlers: Handlers<Sp, R>): Handlers<Sp, R>
  /**
   * Registers the type with the runtime for the life of the layer. `build`
   * runs once per instance with `Agent.Self`, `Agent.state` and a `Scope`
   * (the instance's life) available; what else it and the handlers need is
   * required by the layer.
   */
  toLayer<E, R, RH = never>(
    build: Effect.Effect<Handlers<Sp, RH>, E, R>,
    options?: LayerOptions
  ): Layer.Layer<never, RegistrationError, Exclude<R, Self | InstanceState | Scope.Scope> | Exclude<RH, Self> | AgentRuntime>
  /** A typed client: `(yield* Greeter.client)("alice").Greet({ name: "Bob" })`. */
  readonly client: Effect.Effect<Client<Sp>, never, AgentRuntime>
}

/** One handler of a message tag: its contract and its name in the type's handlers. */
export interface Route {
  readonly spec: Spec
  readonly handler: string
}

/** Every handler of each message tag, in declaration order. */
export type Routes = ReadonlyMap<string, ReadonlyArray<Route>>

/**
 * The contract and routes of a set of handler specs, or what is wrong with
 * them: a message type may have several handlers (an rpc and an event one,
 * or several chosen by `match`), but one schema, and one reply contract.
 */
const routesOf = (specs: Specs): { byTag: Map<string, Spec>; routes: Map<string, Array<Route>>; problem: string | undefined } => {
  const byTag = new Map<string, Spec>()
  const routes = new Map<string, Array<Route>>()
  let problem: string | undefined
  for (const [handler, spec] of Object.entries(specs)) {
    if (spec.tag === "") {
      problem ??= `handler ${handler}: ${missingTag}`
      continue
    }
    const same = routes.get(spec.tag)
    if (same === undefined) {
      routes.set(spec.tag, [{ spec, handler }])
      byTag.set(spec.tag, spec)
      continue
    }
    const first = same[0]!.spec
    if (first.message !== spec.message) problem ??= `message ${spec.tag} is declared with two different schemas (handlers ${same[0]!.handler} and ${handler})`
    for (const other of same) {
      if (other.spec._tag !== spec._tag) continue
      if (other.spec.match === undefined) {
        problem ??= `handler ${handler} can never run: ${other.handler} takes every ${spec.tag} ${spec._tag === "Rpc" ? "send" : spec._tag === "Stream" ? "streaming send" : "publish"} before it (give ${other.handler} a match predicate)`
      }
      if (spec._tag !== "Event" && (other.spec.success !== spec.success || other.spec.error !== spec.error)) {
        problem ??= `${spec._tag === "Rpc" ? "rpc" : "streaming"} handlers ${other.handler} and ${handler} of ${spec.tag} must declare the same success and error schemas: a caller cannot know which one answers`
      }
    }
    same.push({ spec, handler })
    // the reply's contract is the rpc one
    if (spec._tag === "Rpc" && byTag.get(spec.tag)!._tag !== "Rpc") byTag.set(spec.tag, spec)
  }
  return { byTag, routes, problem }
}

/** Defines an agent type: its name and the messages it handles. */
export const make = <const Name extends string, const Sp extends Specs>(name: Name, specs: Sp): AgentType<Name, Sp> => {
  // mistakes are reported when the type's layer is built (a typed AgentDefinitionError), not thrown here
  const { byTag, problem: routeProblem, routes } = routesOf(specs)
  const problem = nameProblem(name) ?? routeProblem
  const client = AgentRuntime.useSync((runtime): Client<Sp> => (key) => instanceClient(runtime, new AgentId({ type: name, key }), specs))
  return {
    name,
    specs,
    byTag,
    routes,
    id: (key) => new AgentId({ type: name, key }),
    of: (handlers) => handlers,
    toLayer: (build, options) =>
      registrationLayer(name, problem, byTag, routes, (handlers) => handlers as unknown as Record<string, AnyHandler>, build, options) as any,
    client
  }
}

const instanceClient = <Sp extends Specs>(runtime: AgentRuntime["Service"], recipient: AgentId, specs: Sp): InstanceClient<Sp> => {
  const methods: Record<string, unknown> = {}
  for (const [handlerName, spec] of Object.entries(specs)) {
    if (spec._tag === "Rpc") methods[handlerName] = rpcMethod(runtime, recipient, spec)
    else if (spec._tag === "Stream") methods[handlerName] = streamMethod(runtime, recipient, spec)
  }
  return methods as InstanceClient<Sp>
}

/** The message a typed client's method sends, made from its payload by the message's class; a payload it refuses is an `InvalidMessageError`. */
const messageOf = (spec: Spec, payload: unknown): Exit.Exit<unknown, InvalidMessageError> => {
  try {
    return Exit.succeed((spec.message as unknown as { make: (input: unknown) => unknown }).make(payload ?? {}))
  } catch (e) {
    return Exit.fail(new InvalidMessageError({ messageType: spec.tag, issue: String(e) }))
  }
}

/** A declared error reaches a typed caller as itself; any other handler failure stays a `HandlerError`. */
const declaredError = (e: HandlerError): unknown => "error" in e ? e.error : e

/** A typed client's method for an rpc handler: the message made from its payload, the handler's answer as the result. */
const rpcMethod = (runtime: AgentRuntime["Service"], recipient: AgentId, spec: Spec) =>
(payload: unknown, options?: CallOptions): Effect.Effect<unknown, unknown> =>
  Effect.suspend(() => {
    const message = messageOf(spec, payload)
    if (Exit.isFailure(message)) return message
    return runtime.send(recipient, message.value, { ...options, contract: spec }).pipe(
      Effect.catchTag("HandlerError", (e) => Effect.fail(declaredError(e)))
    )
  })

/** A typed client's method for a streaming handler: the message made from its payload, the chunks as a `Stream`. */
const streamMethod = (runtime: AgentRuntime["Service"], recipient: AgentId, spec: Spec) =>
(payload: unknown, options?: StreamCallOptions): EffectStream.Stream<unknown, unknown> =>
  EffectStream.suspend(() => {
    const message = messageOf(spec, payload)
    if (Exit.isFailure(message)) return EffectStream.failCause(message.cause)
    return runtime.sendStream(recipient, message.value, { ...options, contract: spec }).pipe(
      EffectStream.catchTag("HandlerError", (e) => EffectStream.fail(declaredError(e)))
    )
  })

const registrationLayer = <E, R>(
  name: string,
  problem: string | undefined,
  byTag: ReadonlyMap<string, Spec>,
  routes: Routes,
  toHandlers: (handlers: unknown) => Record<string, AnyHandler>,
  build: Effect.Effect<unknown, E, R>,
  options: LayerOptions | undefined
): Layer.Layer<never, RegistrationError, AgentRuntime> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const issue = problem ?? concurrencyProblem(options) ?? passivationProblem(options)
    if (issue !== undefined) return yield* new AgentDefinitionError({ agentType: name, issue })
    const runtime = yield* AgentRuntime
    const context = yield* Effect.context<never>()
    const registration: Registration = {
      name,
      description: options?.description ?? "",
      specs: byTag,
      routes,
      concurrency: options?.concurrency ?? 1,
      subscriptions: (options?.subscriptions ?? []).map((s) => typeof s === "function" ? s(name) : s),
      keys: options?.keys,
      maxIdleMillis: options?.maxIdleTime === undefined ? undefined : Duration.toMillis(Duration.fromInputUnsafe(options.maxIdleTime)),
      stateVersion: options?.stateVersion,
      migrateState: options?.migrateState,
      context,
      build: build.pipe(Effect.map(toHandlers)) as Effect.Effect<Record<string, AnyHandler>, unknown, Self | InstanceState | Scope.Scope>
    }
    yield* runtime.register(registration)
  }))

const isAgentTypeName = Schema.is(AgentTypeName)

/** What is wrong with an agent type name, if anything. */
const nameProblem = (name: string): string | undefined =>
  isAgentTypeName(name) ? undefined : `"${name}" is not an agent type name (letters, digits, '_', '-' or '.')`

/** A type's mailbox slots must be a whole number of at least 1. */
const concurrencyProblem = (options: LayerOptions | undefined): string | undefined => {
  const n = options?.concurrency ?? 1
  return Number.isInteger(n) && n >= 1 ? undefined : `concurrency must be a whole number of at least 1, got ${n}`
}

/** A passivating type's idle time must be a duration, and its state version a whole number. */
const passivationProblem = (options: LayerOptions | undefined): string | undefined => {
  if (options?.maxIdleTime !== undefined) {
    const idle = Duration.fromInput(options.maxIdleTime)
    if (idle._tag === "None" || Duration.toMillis(idle.value) < 0) return `maxIdleTime must be a duration of at least 0, got ${String(options.maxIdleTime)}`
  }
  const version = options?.stateVersion ?? 1
  return Number.isInteger(version) && version >= 0 ? undefined : `stateVersion must be a whole number of at least 0, got ${version}`
}

/**
 * A function agent: one function handles every message of the listed types,
 * published or sent (a send is answered with nothing once it has run), as
 * AutoGen's closure agent does. For small cases, such as collecting what a
 * test's agents publish.
 *
 * ```ts
 * const Collector = Agent.fromFunction("collector", [Joined], (message) => Queue.offer(seen, message), {
 *   subscriptions: [Subscription.type("chat")]
 * })
 * ```
 */
export const fromFunction = <const Ms extends ReadonlyArray<MessageSchema>, R = never>(
  name: string,
  messages: Ms,
  handler: (message: Ms[number]["Type"], context: MessageContext) => Effect.Effect<unknown, unknown, R>,
  options?: LayerOptions
): Layer.Layer<never, RegistrationError, AgentRuntime | R> => {
  // each message type gets an rpc route (a send, answered with nothing) and an event route (a publish), one function
  const specs: Record<string, Spec> = {}
  messages.forEach((m, i) => {
    specs[`send${i}`] = rpc(m)
    specs[`publish${i}`] = event(m)
  })
  const { byTag, problem: routeProblem, routes } = routesOf(specs)
  const problem = nameProblem(name) ?? routeProblem
  return registrationLayer(name, problem, byTag, routes, () => {
    const handlers: Record<string, AnyHandler> = {}
    // whatever the function returns, a send is answered with nothing
    const run: AnyHandler = (message, context) => Effect.asVoid((handler as AnyHandler)(message, context))
    for (const name of Object.keys(specs)) handlers[name] = run
    return handlers
  }, Effect.void, options) as Layer.Layer<never, RegistrationError, AgentRuntime | R>
}
