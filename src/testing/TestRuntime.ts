/**
 * A runtime for testing agents: the standalone runtime, driven by Effect's
 * clock (so `TestClock` moves deadlines and timeouts), that records every
 * send with its reply and every publish, gives typed access to what was
 * recorded, waits until an agent type is registered, and never makes a test
 * wait on close. The same agent layers run on it unchanged.
 *
 * ```ts
 * it.effect("the greeter answers and announces", () =>
 *   Effect.gen(function*() {
 *     const greeter = yield* Greeter.client
 *     assert.strictEqual((yield* greeter("a").Greet({ name: "Bob" })).text, "Hello, Bob")
 *     const test = yield* TestRuntime.TestRuntime
 *     assert.deepStrictEqual((yield* test.published(Joined)).map((p) => p.message.who), ["Bob"])
 *   }).pipe(Effect.provide(GreeterLive.pipe(Layer.provideMerge(TestRuntime.layer())))))
 * ```
 *
 * `stub` gives an agent type behaviour for a test: handlers, or canned
 * replies, without writing a factory.
 */
import { Context, Deferred, Effect, Layer, Ref } from "effect"
import type { AgentType, Handlers, Specs } from "../core/Agent.ts"
import type { AgentId } from "../core/AgentId.ts"
import { AgentRuntime } from "../core/AgentRuntime.ts"
import * as Intervention from "../core/Intervention.ts"
import { type MessageSchema, tagOf } from "../core/Message.ts"
import type { TopicId } from "../core/TopicId.ts"
import * as StandaloneRuntime from "../standalone/StandaloneRuntime.ts"

/** One recorded send: who sent what to whom, and the reply (absent until it came, or if it failed). */
export interface Sent<M = unknown> {
  readonly sender: AgentId | undefined
  readonly recipient: AgentId
  readonly message: M
  readonly reply?: unknown
}

/** One recorded publish. */
export interface Published<M = unknown> {
  readonly sender: AgentId | undefined
  readonly topic: TopicId
  readonly message: M
}

/** What a test asks of its runtime. */
export class TestRuntime extends Context.Service<TestRuntime, {
  /** Every send so far, in order. */
  readonly sends: Effect.Effect<ReadonlyArray<Sent>>
  /** Every publish so far, in order. */
  readonly publishes: Effect.Effect<ReadonlyArray<Published>>
  /** The sends of one message type, typed by its schema. */
  readonly sent: <S extends MessageSchema>(schema: S) => Effect.Effect<ReadonlyArray<Sent<S["Type"]>>>
  /** The publishes of one message type, typed by its schema. */
  readonly published: <S extends MessageSchema>(schema: S) => Effect.Effect<ReadonlyArray<Published<S["Type"]>>>
  /** Waits until an agent type is registered (a layer built in another fiber, say). */
  readonly awaitType: (type: string | { readonly name: string }) => Effect.Effect<void>
  /** Forgets what was recorded. */
  readonly clear: Effect.Effect<void>
}>()("effect-agents/TestRuntime") {}

const isOf = (schema: MessageSchema) => {
  const tag = tagOf(schema)
  return (message: unknown) => (message as { _tag?: unknown } | null)?._tag === tag
}

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
    const recorder = Intervention.make({
      onSend: (message, { recipient, sender }) => Effect.as(Ref.update(sends, (all) => [...all, { sender, recipient, message }]), message),
      onReply: (reply, { recipient, sender }) =>
        Effect.as(
          Ref.update(sends, (all) => {
            // the reply belongs to the latest send from this sender to this recipient that has none yet
            let i = all.length - 1
            while (i >= 0 && !(all[i]!.recipient === recipient && all[i]!.sender === sender && !("reply" in all[i]!))) i--
            return i < 0 ? all : all.map((s, j) => (j === i ? { ...s, reply } : s))
          }),
          reply
        ),
      onPublish: (message, { sender, topic }) => Effect.as(Ref.update(publishes, (all) => [...all, { sender, topic, message }]), message)
    })
    const runtime = StandaloneRuntime.layer({
      shutdownTimeout: 0,
      ...options,
      interventions: [recorder, ...(options.interventions ?? [])]
    })
    // registrations announce themselves, so a test can wait for a type instead of retrying
    const watched = Layer.effect(AgentRuntime, Effect.map(Effect.service(AgentRuntime), (inner) =>
      AgentRuntime.of({
        ...inner,
        register: (registration) =>
          Effect.tap(inner.register(registration), () =>
            Effect.sync(() => {
              registered.add(registration.name)
              Deferred.doneUnsafe(arrival(registration.name), Effect.void)
            }))
      }))).pipe(Layer.provide(runtime))
    const test = Layer.succeed(TestRuntime)({
      sends: Ref.get(sends),
      publishes: Ref.get(publishes),
      sent: (schema) => Effect.map(Ref.get(sends), (all) => all.filter((s) => isOf(schema)(s.message)) as never),
      published: (schema) => Effect.map(Ref.get(publishes), (all) => all.filter((p) => isOf(schema)(p.message)) as never),
      awaitType: (type) =>
        Effect.suspend(() => {
          const name = typeof type === "string" ? type : type.name
          return registered.has(name) ? Effect.void : Deferred.await(arrival(name))
        }),
      clear: Effect.andThen(Ref.set(sends, []), Ref.set(publishes, []))
    })
    return Layer.merge(watched, test)
  }))

/**
 * An agent type with test behaviour: its handlers (no state, no factory), or
 * for an rpc handler a canned reply.
 *
 * ```ts
 * const ModelStub = TestRuntime.stub(Model, { Complete: () => Effect.succeed(new Completion({ text: "42" })) })
 * ```
 */
export const stub = <Name extends string, Sp extends Specs>(agentType: AgentType<Name, Sp>, handlers: Handlers<Sp>) =>
  agentType.toLayer(Effect.succeed(handlers))
