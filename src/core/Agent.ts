/**
 * Defining agent types. An agent type is a name plus the messages it
 * handles: `rpc` handlers answer a `send` with a reply (or a declared error),
 * `event` handlers react to a `publish`. The contract (`Agent.make`) is
 * separate from the behaviour (`toLayer`), so callers can hold a typed
 * client of an agent type that runs in another process.
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
import { Context, Effect, Layer, Ref, Schema, type Duration, type Scope } from "effect"
import type { Registration } from "../runtime/Registration.ts"
import { AgentId, AgentType as AgentTypeName } from "./AgentId.ts"
import { AgentDefinitionError, type AgentError, InvalidMessageError, type RegistrationError } from "./AgentError.ts"
import { AgentRuntime } from "./AgentRuntime.ts"
import { type MessageSchema, missingTag, tagOf } from "./Message.ts"
import type { Subscription, Template } from "./Subscription.ts"
import type { TopicId } from "./TopicId.ts"

// ---------------------------------------------------------------------------
// handler specs
// ---------------------------------------------------------------------------

/** An rpc handler's contract: a message, its reply and its declared error. */
export interface Rpc<M extends MessageSchema, S extends Schema.Top, E extends Schema.Top> {
  readonly _tag: "Rpc"
  readonly tag: string
  readonly message: M
  readonly success: S
  readonly error: E
  readonly concurrent: boolean
}

/** An event handler's contract: a message it reacts to, with no reply. */
export interface Event<M extends MessageSchema> {
  readonly _tag: "Event"
  readonly tag: string
  readonly message: M
  readonly success: Schema.Top
  readonly error: Schema.Top
  readonly concurrent: boolean
}

/** Any handler contract. */
export type Spec = Rpc<MessageSchema, Schema.Top, Schema.Top> | Event<MessageSchema>

/** What an agent type handles, by handler name. */
export type Specs = { readonly [name: string]: Spec }

/**
 * Declares an rpc handler: `send` gets `success` back, or fails with `error`
 * (which keeps its type across processes). `concurrent: true` lets this
 * handler run beside others instead of waiting its turn in the mailbox (for
 * read-only queries).
 */
export const rpc = <
  M extends MessageSchema,
  S extends Schema.Top = typeof Schema.Void,
  E extends Schema.Top = typeof Schema.Never
>(message: M, options?: {
  readonly success?: S
  readonly error?: E
  readonly concurrent?: boolean
}): Rpc<M, NoInfer<S>, NoInfer<E>> => ({
  _tag: "Rpc",
  tag: tagOf(message) ?? "",
  message,
  success: (options?.success ?? Schema.Void) as S,
  error: (options?.error ?? Schema.Never) as E,
  concurrent: options?.concurrent ?? false
})

/** Declares an event handler: it reacts to published messages (and to sends, replying nothing). */
export const event = <M extends MessageSchema>(message: M, options?: {
  readonly concurrent?: boolean
}): Event<M> => ({
  _tag: "Event",
  tag: tagOf(message) ?? "",
  message,
  success: Schema.Void,
  error: Schema.Never,
  concurrent: options?.concurrent ?? false
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
}

/** Per-send options of a typed client. */
export interface CallOptions {
  /** Fails with `TimeoutError` (and cancels the handler) when no reply comes in time. */
  readonly timeout?: Duration.Input
}

/** The typed methods of one agent instance. */
export type InstanceClient<Sp extends Specs> = {
  readonly [K in keyof Sp]: Sp[K] extends Rpc<infer M, infer S, infer E> ? (
      payload: M["~type.make.in"],
      options?: CallOptions
    ) => Effect.Effect<S["Type"], E["Type"] | AgentError>
    : Sp[K] extends Event<infer M> ? (payload: M["~type.make.in"], options?: CallOptions) => Effect.Effect<void, AgentError>
    : never
}

/** A typed client of an agent type: pick an instance by key. */
export type Client<Sp extends Specs> = (key: string) => InstanceClient<Sp>

/** An agent type's contract; `toLayer` gives it behaviour in a runtime. */
export interface AgentType<Name extends string, Sp extends Specs> {
  readonly name: Name
  readonly specs: Sp
  /** The specs by message tag (the wire name), as runtimes look them up. */
  readonly byTag: ReadonlyMap<string, Spec>
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

/** Defines an agent type: its name and the messages it handles. */
export const make = <const Name extends string, const Sp extends Specs>(name: Name, specs: Sp): AgentType<Name, Sp> => {
  const byTag = new Map<string, Spec>()
  const nameByTag = new Map<string, string>()
  // mistakes are reported when the type's layer is built (a typed AgentDefinitionError), not thrown here
  let problem = nameProblem(name)
  for (const [handlerName, spec] of Object.entries(specs)) {
    if (spec.tag === "") problem ??= `handler ${handlerName}: ${missingTag}`
    else if (byTag.has(spec.tag)) problem ??= `message ${spec.tag} is declared twice`
    byTag.set(spec.tag, spec)
    nameByTag.set(spec.tag, handlerName)
  }
  const client = AgentRuntime.useSync((runtime): Client<Sp> => (key) => instanceClient(runtime, new AgentId({ type: name, key }), specs))
  return {
    name,
    specs,
    byTag,
    id: (key) => new AgentId({ type: name, key }),
    of: (handlers) => handlers,
    toLayer: (build, options) =>
      registrationLayer(name, problem, byTag, (handlers) => {
        const byTagHandlers: Record<string, AnyHandler> = {}
        for (const [tag, handlerName] of nameByTag) {
          byTagHandlers[tag] = (handlers as unknown as Record<string, AnyHandler>)[handlerName]!
        }
        return byTagHandlers
      }, build, options) as any,
    client
  }
}

const instanceClient = <Sp extends Specs>(runtime: AgentRuntime["Service"], recipient: AgentId, specs: Sp): InstanceClient<Sp> => {
  const methods: Record<string, (payload: unknown, options?: CallOptions) => Effect.Effect<unknown, unknown>> = {}
  for (const [handlerName, spec] of Object.entries(specs)) {
    methods[handlerName] = (payload, options) =>
      Effect.suspend(() => {
        let message: unknown
        try {
          message = (spec.message as unknown as { make: (input: unknown) => unknown }).make(payload ?? {})
        } catch (e) {
          return Effect.fail(new InvalidMessageError({ messageType: spec.tag, issue: String(e) }))
        }
        return runtime.send(recipient, message, { ...options, contract: spec }).pipe(
          // a declared error reaches a typed caller as itself
          Effect.catchTag("HandlerError", (e) => "error" in e ? Effect.fail(e.error) : Effect.fail(e))
        )
      })
  }
  return methods as InstanceClient<Sp>
}

const registrationLayer = <E, R>(
  name: string,
  problem: string | undefined,
  byTag: ReadonlyMap<string, Spec>,
  toHandlers: (handlers: unknown) => Record<string, AnyHandler>,
  build: Effect.Effect<unknown, E, R>,
  options: LayerOptions | undefined
): Layer.Layer<never, RegistrationError, AgentRuntime> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const issue = problem ?? concurrencyProblem(options)
    if (issue !== undefined) return yield* new AgentDefinitionError({ agentType: name, issue })
    const runtime = yield* AgentRuntime
    const context = yield* Effect.context<never>()
    const registration: Registration = {
      name,
      description: options?.description ?? "",
      specs: byTag,
      concurrency: options?.concurrency ?? 1,
      subscriptions: (options?.subscriptions ?? []).map((s) => typeof s === "function" ? s(name) : s),
      keys: options?.keys,
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

/**
 * A function agent: one function handles every message of the listed types
 * (as events; a send to it is answered with nothing once it has run). For
 * small cases, such as collecting what a test's agents publish.
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
  const byTag = new Map<string, Spec>(messages.map((m) => [tagOf(m) ?? "", event(m)]))
  const problem = nameProblem(name) ?? (byTag.has("") ? missingTag : undefined)
  return registrationLayer(name, problem, byTag, () => {
    const handlers: Record<string, AnyHandler> = {}
    // a send to a function agent is answered with nothing, whatever the function returns
    for (const tag of byTag.keys()) handlers[tag] = (message, context) => Effect.asVoid((handler as AnyHandler)(message, context))
    return handlers
  }, Effect.void, options) as Layer.Layer<never, RegistrationError, AgentRuntime | R>
}
