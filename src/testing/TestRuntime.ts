/**
 * A runtime for testing agents: the standalone runtime, driven by Effect's
 * clock (so `TestClock` moves deadlines and timeouts), that records every
 * send with its reply and every publish, gives typed access to what was
 * recorded, waits until an agent type is registered, reads an agent's saved
 * state typed, and never makes a test wait on close. The same agent layers
 * run on it unchanged.
 *
 * ```ts
 * it.effect("the greeter answers and announces", () =>
 *   Effect.gen(function*() {
 *     const greeter = yield* Greeter.client
 *     assert.strictEqual((yield* greeter("a").Greet({ name: "Bob" })).text, "Hello, Bob")
 *     const test = yield* TestRuntime.TestRuntime
 *     assert.deepStrictEqual((yield* test.published(Joined)).map((p) => p.message.who), ["Bob"])
 *     assert.deepStrictEqual((yield* test.sent(Greeter, "Greet")).map((s) => s.reply?.text), ["Hello, Bob"])
 *   }).pipe(Effect.provide(GreeterLive.pipe(Layer.provideMerge(TestRuntime.layer())))))
 * ```
 *
 * `stub` gives an agent type behaviour for a test: handlers, canned replies
 * or a `script` of replies, without writing a factory.
 */
import { Cause, Context, Deferred, Effect, Exit, Layer, Ref, Schema, Stream } from "effect"
import type { AgentType, Handler, Rpc, Spec, Specs } from "../core/Agent.ts"
import { type AgentError, InvalidMessageError } from "../core/AgentError.ts"
import type { AgentId } from "../core/AgentId.ts"
import { AgentRuntime } from "../core/AgentRuntime.ts"
import { type MessageSchema, tagOf, tagOfValue } from "../core/Message.ts"
import type { TopicId } from "../core/TopicId.ts"
import { Current } from "../runtime/Current.ts"
import * as StandaloneRuntime from "../standalone/StandaloneRuntime.ts"

/**
 * One recorded send: who sent what to whom, and how it ended: `reply` once
 * it was answered, `failure` if it failed; neither while it is in flight
 * (or if it was interrupted). A `sendStream` is recorded as a send whose
 * `reply` is the array of chunks it gave, once the stream ended.
 */
export interface Sent<M = unknown, R = unknown> {
  /** The agent that sent it; `undefined` for a send from outside any agent (the test itself). */
  readonly sender: AgentId | undefined
  readonly recipient: AgentId
  readonly message: M
  readonly reply?: R
  readonly failure?: AgentError
}

/** One recorded publish. */
export interface Published<M = unknown> {
  readonly sender: AgentId | undefined
  readonly topic: TopicId
  readonly message: M
}

/** The message type of a handler spec. */
export type MessageOf<S extends Spec> = S extends { readonly message: infer M extends MessageSchema } ? M["Type"] : never

/** The recorded reply of a handler spec: an rpc's reply, a streaming handler's chunks, `void` for an event handler. */
export type ReplyOf<S extends Spec> = S extends Rpc<any, infer R, any> ? R["Type"]
  : S extends { readonly _tag: "Stream"; readonly success: infer C extends Schema.Top } ? ReadonlyArray<C["Type"]>
  : void

/** What a test asks of its runtime. */
export class TestRuntime extends Context.Service<TestRuntime, {
  /** Every send so far, in order. */
  readonly sends: Effect.Effect<ReadonlyArray<Sent>>
  /** Every publish so far, in order. */
  readonly publishes: Effect.Effect<ReadonlyArray<Published>>
  /**
   * The sends of one message type, typed by its schema; or, given an agent
   * type and one of its handlers, the sends to that handler, with replies
   * typed by its contract: `test.sent(Model, "Complete")`.
   */
  readonly sent: {
    <S extends MessageSchema>(schema: S): Effect.Effect<ReadonlyArray<Sent<S["Type"]>>>
    <Name extends string, Sp extends Specs, K extends keyof Sp & string>(
      agentType: AgentType<Name, Sp>,
      handler: K
    ): Effect.Effect<ReadonlyArray<Sent<MessageOf<Sp[K]>, ReplyOf<Sp[K]>>>>
  }
  /** The publishes of one message type, typed by its schema. */
  readonly published: <S extends MessageSchema>(schema: S) => Effect.Effect<ReadonlyArray<Published<S["Type"]>>>
  /** Waits until an agent type is registered (a layer built in another fiber, say). */
  readonly awaitType: (type: string | { readonly name: string }) => Effect.Effect<void>
  /** Waits until no message is queued or being handled (the runtime's `awaitIdle`). */
  readonly awaitIdle: Effect.Effect<void>
  /**
   * An agent's saved state, decoded with the schemas of its `Agent.state`
   * cells, by cell name: `test.saveState(Assistant.id("r1"), { heard: Schema.Number })`
   * is `{ heard: number }`. A state that does not fit them fails with
   * `InvalidMessageError`.
   */
  readonly saveState: <const Fields extends Schema.Struct.Fields>(
    agentId: AgentId,
    cells: Fields
  ) => Effect.Effect<Schema.Struct<Fields>["Type"], AgentError>
  /** Loads an agent's state from typed values of its cells (encoded with their schemas), in order with its messages. */
  readonly loadState: <const Fields extends Schema.Struct.Fields>(
    agentId: AgentId,
    cells: Fields,
    state: Schema.Struct<Fields>["Type"]
  ) => Effect.Effect<void, AgentError>
  /** Forgets what was recorded. */
  readonly clear: Effect.Effect<void>
}>()("effect-agents/TestRuntime") {}

/** Records how a send ended: its reply, or its typed failure (an interrupted send stays without either). */
const settled = <A>(settle: (outcome: Partial<Sent>) => Effect.Effect<void>, reply: (value: A) => unknown) =>
  (exit: Exit.Exit<A, AgentError>): Effect.Effect<void> => {
    if (Exit.isSuccess(exit)) return settle({ reply: reply(exit.value) })
    const failure = Cause.findErrorOption(exit.cause)
    return failure._tag === "Some" ? settle({ failure: failure.value }) : Effect.void
  }

const hasTag = (tag: string | undefined) => (message: unknown) => tag !== undefined && tagOfValue(message) === tag

/** The JSON codec of a state's cells, as the runtime saves them. */
const stateCodec = (cells: Schema.Struct.Fields) => Schema.toCodecJson(Schema.Struct(cells)) as unknown as Schema.Codec<unknown, unknown>

/**
 * The test runtime as a layer: `AgentRuntime` and `TestRuntime`. Options are
 * the standalone runtime's; `shutdownTimeout` defaults to zero, so a test
 * that ends with work still running closes at once.
 */
export const layer = (options: StandaloneRuntime.Options = {}): Layer.Layer<AgentRuntime | TestRuntime> =>
  Layer.unwrap(Effect.gen(function*() {
    const sends = yield* Ref.make<ReadonlyArray<Sent>>([])
    const publishes = yield* Ref.make<ReadonlyArray<Published>>([])
    const arrivals = new Map<string, Deferred.Deferred<void>>()
    const registered = new Set<string>()
    const arrival = (name: string) => {
      let deferred = arrivals.get(name)
      if (deferred === undefined) arrivals.set(name, deferred = Deferred.makeUnsafe<void>())
      return deferred
    }
    const runtime = StandaloneRuntime.layer({ shutdownTimeout: 0, ...options })
    // every call goes through here, agents' included (their clients use this service): the record
    // keeps each send beside its own outcome, and the sender is the agent whose handler is running
    const recorded = Layer.effect(AgentRuntime, Effect.map(Effect.service(AgentRuntime), (inner) =>
      AgentRuntime.of({
        ...inner,
        send: (recipient, message, sendOptions) =>
          Effect.gen(function*() {
            const sender = (yield* Current)?.self
            const record: Sent = { sender, recipient, message }
            yield* Ref.update(sends, (all) => [...all, record])
            const settle = (outcome: Partial<Sent>) =>
              Ref.update(sends, (all) => all.map((s) => (s === record ? { ...record, ...outcome } : s)))
            return yield* inner.send(recipient, message, sendOptions).pipe(Effect.onExit(settled(settle, (reply) => reply)))
          }),
        // a stream send is recorded as a send whose reply is the chunks it gave, once it ended
        sendStream: (recipient, message, streamOptions) =>
          Stream.unwrap(Effect.gen(function*() {
            const sender = (yield* Current)?.self
            const record: Sent = { sender, recipient, message }
            yield* Ref.update(sends, (all) => [...all, record])
            const settle = (outcome: Partial<Sent>) =>
              Ref.update(sends, (all) => all.map((s) => (s === record ? { ...record, ...outcome } : s)))
            const chunks: Array<unknown> = []
            return inner.sendStream(recipient, message, streamOptions).pipe(
              Stream.tap((chunk) => Effect.sync(() => chunks.push(chunk))),
              Stream.onExit(settled(settle, () => chunks))
            )
          })),
        publish: (topic, message, publishOptions) =>
          Effect.gen(function*() {
            const sender = (yield* Current)?.self
            yield* Ref.update(publishes, (all) => [...all, { sender, topic, message }])
            return yield* inner.publish(topic, message, publishOptions)
          }),
        // registrations announce themselves, so a test can wait for a type instead of retrying
        register: (registration) =>
          Effect.tap(inner.register(registration), () =>
            Effect.sync(() => {
              registered.add(registration.name)
              Deferred.doneUnsafe(arrival(registration.name), Effect.void)
            }))
      }))).pipe(Layer.provide(runtime))
    const test = Layer.effect(TestRuntime, Effect.map(Effect.service(AgentRuntime), (agents) =>
      TestRuntime.of({
        sends: Ref.get(sends),
        publishes: Ref.get(publishes),
        sent: ((target: MessageSchema | AgentType<string, Specs>, handler?: string) => {
          const matches = handler === undefined
            ? hasTag(tagOf(target as MessageSchema))
            : (() => {
              const agentType = target as AgentType<string, Specs>
              const spec = agentType.specs[handler]
              const tag = hasTag(spec === undefined ? undefined : tagOf(spec.message))
              return (message: unknown, recipient?: AgentId) => recipient?.type === agentType.name && tag(message)
            })()
          return Effect.map(Ref.get(sends), (all) => all.filter((s) => matches(s.message, s.recipient)))
        }) as TestRuntime["Service"]["sent"],
        published: <S extends MessageSchema>(schema: S) =>
          Effect.map(Ref.get(publishes), (all) => all.filter((p): p is Published<S["Type"]> => hasTag(tagOf(schema))(p.message))),
        awaitType: (type) =>
          Effect.suspend(() => {
            const name = typeof type === "string" ? type : type.name
            return registered.has(name) ? Effect.void : Deferred.await(arrival(name))
          }),
        awaitIdle: agents.awaitIdle,
        saveState: (agentId, cells) =>
          Effect.flatMap(agents.saveState(agentId), (state) =>
            Schema.decodeUnknownEffect(stateCodec(cells))(state).pipe(
              Effect.mapError((e) => new InvalidMessageError({ messageType: `state of ${agentId}`, issue: e.message }))
            )) as Effect.Effect<never, AgentError>,
        loadState: (agentId, cells, state) =>
          Schema.encodeUnknownEffect(stateCodec(cells))(state).pipe(
            Effect.mapError((e) => new InvalidMessageError({ messageType: `state of ${agentId}`, issue: e.message })),
            Effect.flatMap((encoded) => agents.loadState(agentId, encoded as Record<string, unknown>))
          ),
        clear: Effect.andThen(Ref.set(sends, []), Ref.set(publishes, []))
      }))).pipe(Layer.provide(recorded))
    return Layer.merge(recorded, test)
  }))

// ---------------------------------------------------------------------------
// stubs
// ---------------------------------------------------------------------------

const ScriptTypeId = Symbol.for("effect-agents/TestRuntime/Script")

/** Replies given one after another, one per message, by each instance of a stub (see `script`). */
export interface Script<A> {
  readonly [ScriptTypeId]: typeof ScriptTypeId
  readonly replies: ReadonlyArray<A>
}

/**
 * Replies in order: the first message an instance gets is answered with the
 * first reply, the second with the second, and so on; a message past the
 * last fails the handler (the caller gets `HandlerError` saying so). A
 * scripted model, for an agent that asks one.
 */
export const script = <const A extends ReadonlyArray<unknown>>(...replies: A): Script<A[number]> => ({ [ScriptTypeId]: ScriptTypeId, replies })

const isScript = (u: unknown): u is Script<unknown> => typeof u === "object" && u !== null && ScriptTypeId in u

/** What a stub takes for one handler: the handler itself; for an rpc handler, also a canned reply or a `script` of replies. */
export type StubHandler<S extends Spec> = Handler<S> | (S extends Rpc<any, infer R, any> ? R["Type"] | Script<R["Type"]> : never)

/** A stub's handlers, one per spec. */
export type StubHandlers<Sp extends Specs> = { readonly [K in keyof Sp]: StubHandler<Sp[K]> }

/**
 * An agent type with test behaviour: its handlers (no state, no factory),
 * or for an rpc handler a canned reply or a `script` of replies. Each
 * instance plays its own copy of a script.
 *
 * ```ts
 * const ModelStub = TestRuntime.stub(Model, {
 *   Complete: TestRuntime.script(new Completion({ text: "hello" }), new Completion({ text: "goodbye" })),
 *   Count: ({ items }) => Effect.succeed(items.length)
 * })
 * ```
 */
export const stub = <Name extends string, Sp extends Specs>(agentType: AgentType<Name, Sp>, handlers: StubHandlers<Sp>) =>
  agentType.toLayer(Effect.sync(() => {
    const built: Record<string, unknown> = {}
    for (const [name, given] of Object.entries(handlers as Record<string, unknown>)) {
      if (typeof given === "function") built[name] = given
      else if (isScript(given)) {
        let next = 0
        built[name] = () =>
          next < given.replies.length
            ? Effect.succeed(given.replies[next++])
            : Effect.die(new Error(`the script of ${agentType.name}.${name} has no reply left (it had ${given.replies.length})`))
      } else built[name] = () => Effect.succeed(given)
    }
    return built as unknown as Parameters<typeof agentType.of<never>>[0]
  }))
