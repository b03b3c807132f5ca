/**
 * The conformance suite: what every runtime promises (see `AgentRuntime`),
 * written once against the public API only and run against each runtime
 * layer (`standalone.test.ts`, and the distributed setups).
 *
 * A runtime is given to the suite as a `MakeRuntime`: the suite hands it the
 * agent layers a test needs, as a list (a distributed setup may place them
 * on different workers), and gets back a layer providing the `AgentRuntime`
 * through which the test talks, with those agents registered.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Fiber, Layer, Option, Queue, Ref, Schema, Stream } from "effect"
import {
  type AccessPolicy,
  Agent,
  AgentId,
  AgentRuntime,
  Intervention,
  Subscription,
  TopicId
} from "../../src/index.ts"
import {
  Blocker,
  blockerLayer,
  Boom,
  Bouncer,
  BouncerLive,
  CallerLive,
  Cascade,
  cascaderLayer,
  cascaderType,
  cascadeTopic,
  Counter,
  CounterLive,
  Explode,
  Failing,
  FailingLive,
  Flaky,
  flakyLayer,
  Greet,
  Greeter,
  GreeterLive,
  Greeting,
  Hang,
  Identifier,
  IdentifierLive,
  Increment,
  makeProbe,
  Nope,
  Note,
  notesOf,
  Parallel,
  parallelLayer,
  PingAgent,
  PingLive,
  PongLive,
  recorderLayer,
  recorderType,
  Relay,
  RelayLive,
  Serial,
  SerialLive,
  shoutsTopic,
  Vault,
  vaultPolicy,
  VaultLive
} from "./fixtures.ts"
import { passivation } from "./topics/passivation.ts"
import { routing } from "./topics/routing.ts"
import { streaming } from "./topics/streaming.ts"

/** What a test may ask of the runtime it runs on. */
export interface RuntimeOptions {
  readonly sendTimeout?: Duration.Input
  readonly shutdownTimeout?: Duration.Input
  readonly interventions?: ReadonlyArray<Intervention.Intervention>
  readonly policy?: AccessPolicy.AccessPolicy
}

/** An agent layer: registers one agent type with the runtime it is given. */
export type AgentLayer = Layer.Layer<never, any, AgentRuntime.AgentRuntime>

/**
 * Builds the runtime under test with `agents` registered. The returned layer
 * provides the `AgentRuntime` the test uses as an outside caller; its scope
 * is the runtime's life.
 */
export type MakeRuntime = (
  agents: ReadonlyArray<AgentLayer>,
  options: RuntimeOptions
) => Layer.Layer<AgentRuntime.AgentRuntime, unknown>

const Runtime = AgentRuntime.AgentRuntime

/** Runs `effect` in a fresh runtime of `makeRuntime` with `agents`; short default deadlines so a hang fails fast. */
export const withAgentsOf = (makeRuntime: MakeRuntime) =>
(agents: ReadonlyArray<AgentLayer>, options: RuntimeOptions = {}) =>
<A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provide(effect, makeRuntime(agents, { sendTimeout: "5 seconds", shutdownTimeout: "1 second", ...options }))

/** Waits for `effect`, failing the test if it takes longer than `millis`. */
export const within = <A, E, R>(millis: number, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.timeoutOrElse({ duration: millis, orElse: () => Effect.die(new Error(`still waiting after ${millis} ms`)) }))

/** `Some` of what `effect` produces within `millis`, `None` if it produces nothing. */
export const soon = <A, E, R>(millis: number, effect: Effect.Effect<A, E, R>) => Effect.timeoutOption(effect, millis)

/** The string ids of the live instances, as `saveAll` lists them. */
export const liveIds = Runtime.use((runtime) => runtime.saveAll).pipe(Effect.map((state) => Object.keys(state).sort()))

/** The first dead letter after `trigger`. */
export const deadLetterAfter = <E, R>(trigger: Effect.Effect<unknown, E, R>) =>
  Effect.scoped(Effect.gen(function*() {
    const runtime = yield* Runtime
    const letters = yield* runtime.deadLetters
    yield* trigger
    const first = yield* within(5_000, Stream.runHead(letters))
    return Option.getOrThrow(first)
  }))

const greets = Effect.gen(function*() {
  const greeter = yield* Greeter.client
  return yield* greeter("check").Greet({ name: "still here" })
})

export const conformance = (name: string, makeRuntime: MakeRuntime) =>
  describe(`conformance: ${name}`, () => {
    const withAgents = withAgentsOf(makeRuntime)

    describe("registration", () => {
      it.live("a registered factory builds an instance that answers a send", () =>
        Effect.gen(function*() {
          const greeter = yield* Greeter.client
          const reply = yield* greeter("alice").Greet({ name: "Bob" })
          assert.instanceOf(reply, Greeting)
          assert.strictEqual(reply.text, "Hello, Bob from alice")
        }).pipe(withAgents([GreeterLive])))

      it.live("each key gets its own instance, which keeps its state between messages", () =>
        Effect.gen(function*() {
          const counter = yield* Counter.client
          yield* counter("a").Increment({ by: 1 })
          yield* counter("a").Increment({ by: 2 })
          yield* counter("b").Increment({ by: 5 })
          assert.strictEqual(yield* counter("a").GetCount({}), 3)
          assert.strictEqual(yield* counter("b").GetCount({}), 5)
        }).pipe(withAgents([CounterLive])))

      it.live("registering an agent type name twice fails with DuplicateAgentTypeError", () =>
        Effect.gen(function*() {
          const again = yield* Layer.build(Layer.fresh(GreeterLive)).pipe(Effect.scoped, Effect.flip)
          assert.strictEqual(again._tag, "DuplicateAgentTypeError")
          assert.strictEqual(again._tag === "DuplicateAgentTypeError" && again.agentType, "greeter")
          const asFunction = yield* Layer.build(Agent.fromFunction("greeter", [Greet], () => Effect.void)).pipe(
            Effect.scoped,
            Effect.flip
          )
          assert.strictEqual(asFunction._tag, "DuplicateAgentTypeError")
          // the first registration is untouched
          assert.strictEqual((yield* greets).text, "Hello, still here from check")
        }).pipe(withAgents([GreeterLive])))

      it.live("an agent type registered while the runtime runs is reachable until its layer closes", () =>
        Effect.gen(function*() {
          const counter = yield* Counter.client
          const during = yield* Effect.scoped(Effect.gen(function*() {
            yield* Layer.build(CounterLive)
            return yield* counter("a").Increment({ by: 1 })
          }))
          assert.strictEqual(during, 1)
          const after = yield* counter("a").GetCount({}).pipe(Effect.flip)
          assert.strictEqual(after._tag, "UndeliverableError")
        }).pipe(withAgents([GreeterLive])))

      it.live("an agent type with explicit keys has exactly those instances, built at registration", () => {
        const Fixed = recorderType("fixed")
        return Effect.gen(function*() {
          assert.deepStrictEqual(yield* liveIds, ["fixed/a", "fixed/b"])
          const fixed = yield* Fixed.client
          yield* fixed("a").Record({ text: "to a" })
          yield* fixed("b").Record({ text: "to b" })
          const other = yield* fixed("c").Record({ text: "to c" }).pipe(Effect.flip)
          assert.strictEqual(other._tag, "UndeliverableError")
          const noId = yield* Runtime.use((runtime) => runtime.agentId("fixed", "c")).pipe(Effect.flip)
          assert.strictEqual(noId._tag, "UndeliverableError")
          assert.deepStrictEqual(yield* notesOf(Fixed, "a"), ["to a"])
          assert.deepStrictEqual(yield* liveIds, ["fixed/a", "fixed/b"])
        }).pipe(withAgents([recorderLayer(Fixed, { keys: ["a", "b"] })]))
      })

      it.live("a factory failure reaches the sender as HandlerError and the next message builds again", () =>
        Effect.gen(function*() {
          const builds = yield* Ref.make(0)
          yield* Effect.gen(function*() {
            const flaky = yield* Flaky.client
            const first = yield* flaky("a").Greet({ name: "x" }).pipe(Effect.flip)
            assert.strictEqual(first._tag, "HandlerError")
            const second = yield* flaky("a").Greet({ name: "y" })
            assert.strictEqual(second.text, "y")
            assert.strictEqual(yield* Ref.get(builds), 2)
          }).pipe(withAgents([flakyLayer(builds)]))
        }))

      it.live("a state or lifecycle operation on an instance whose factory fails gets the failure, not a hang", () =>
        Effect.gen(function*() {
          const builds = yield* Ref.make(0)
          yield* Effect.gen(function*() {
            const runtime = yield* Runtime
            const eager = yield* within(5_000, runtime.agentId("flaky", "a", { lazy: false }).pipe(Effect.flip))
            assert.strictEqual(eager._tag, "HandlerError")
            // the next operation builds again, and works
            assert.deepStrictEqual(yield* within(5_000, runtime.saveState(Flaky.id("a"))), {})
          }).pipe(withAgents([flakyLayer(builds)]))
        }))
    })

    describe("send and replies", () => {
      it.live("a declared error reaches a typed client as itself", () =>
        Effect.gen(function*() {
          const failing = yield* Failing.client
          const error = yield* failing("x").Explode({ mode: "declared" }).pipe(Effect.flip)
          assert.instanceOf(error, Boom)
          assert.strictEqual((error as Boom).reason, "as declared")
        }).pipe(withAgents([FailingLive])))

      it.live("an untyped send sees a declared error inside HandlerError", () =>
        Effect.gen(function*() {
          const error = yield* AgentRuntime.send(Failing.id("x"), new Explode({ mode: "declared" })).pipe(Effect.flip)
          assert.strictEqual(error._tag, "HandlerError")
          assert.strictEqual(error._tag === "HandlerError" && (error.error as { _tag?: string })._tag, "Boom")
        }).pipe(withAgents([FailingLive])))

      it.live("an undeclared failure reaches a typed client as HandlerError without an error", () =>
        Effect.gen(function*() {
          const failing = yield* Failing.client
          const error = yield* failing("x").Explode({ mode: "undeclared" }).pipe(Effect.flip)
          assert.strictEqual(error._tag, "HandlerError")
          assert.isFalse("error" in error)
          assert.include((error as { reason: string }).reason, "not declared")
        }).pipe(withAgents([FailingLive])))

      it.live("a defect in a handler reaches the sender as HandlerError and the instance keeps working", () =>
        Effect.gen(function*() {
          const failing = yield* Failing.client
          const error = yield* failing("x").Explode({ mode: "defect" }).pipe(Effect.flip)
          assert.strictEqual(error._tag, "HandlerError")
          assert.isFalse("error" in error)
          const next = yield* failing("x").Explode({ mode: "declared" }).pipe(Effect.flip)
          assert.strictEqual(next._tag, "Boom")
        }).pipe(withAgents([FailingLive])))

      it.live("a send to a void rpc handler returns once the handler ran", () => {
        const Recorder = recorderType("recorder")
        return Effect.gen(function*() {
          const recorder = yield* Recorder.client
          const reply = yield* recorder("a").Record({ text: "one" })
          assert.isUndefined(reply)
          assert.deepStrictEqual(yield* notesOf(Recorder, "a"), ["one"])
        }).pipe(withAgents([recorderLayer(Recorder)]))
      })

      it.live("Agent.Self inside a handler is the instance handling the message", () =>
        Effect.gen(function*() {
          const identifier = yield* Identifier.client
          const who = yield* identifier("k").WhoAmI({})
          assert.strictEqual(who.self, "identifier/k")
          assert.strictEqual(who.fromContext, "identifier/k")
          assert.isNull(who.sender)
        }).pipe(withAgents([IdentifierLive, VaultLive])))

      it.live("a send from inside a handler names the sending agent", () =>
        Effect.gen(function*() {
          const identifier = yield* Identifier.client
          const who = yield* identifier("a").AskWho({ key: "b" })
          assert.strictEqual(who.self, "identifier/b")
          assert.strictEqual(who.sender, "identifier/a")
        }).pipe(withAgents([IdentifierLive, VaultLive])))
    })

    describe("publish", () => {
      const Listener = recorderType("listener")
      const Other = recorderType("other")

      it.live("a publish reaches each subscribed instance, keyed by the topic source", () =>
        Effect.gen(function*() {
          yield* AgentRuntime.publish(TopicId.make("notes", "a"), new Note({ text: "1" }))
          yield* AgentRuntime.publish(TopicId.make("notes", "b"), new Note({ text: "2" }))
          yield* AgentRuntime.publish(TopicId.make("notes", "a"), new Note({ text: "3" }))
          yield* AgentRuntime.awaitIdle
          assert.deepStrictEqual(yield* notesOf(Listener, "a"), ["1", "3"])
          assert.deepStrictEqual(yield* notesOf(Listener, "b"), ["2"])
        }).pipe(withAgents([recorderLayer(Listener, { subscriptions: [Subscription.type("notes")] })])))

      it.live("a publish reaches every subscribed agent type, each once", () =>
        Effect.gen(function*() {
          yield* AgentRuntime.publish(TopicId.make("notes", "x"), new Note({ text: "hi" }))
          yield* AgentRuntime.awaitIdle
          assert.deepStrictEqual(yield* notesOf(Listener, "x"), ["hi"])
          assert.deepStrictEqual(yield* notesOf(Other, "x"), ["hi"])
        }).pipe(withAgents([
          // two subscriptions of listener match: it still gets the message once
          recorderLayer(Listener, { subscriptions: [Subscription.type("notes"), Subscription.typePrefix("no")] }),
          recorderLayer(Other, { subscriptions: [Subscription.type("notes")] })
        ])))

      it.live("a default subscription receives what is published on the default topic type", () =>
        Effect.gen(function*() {
          yield* AgentRuntime.publish(TopicId.make(TopicId.defaultType, "k"), new Note({ text: "d" }))
          yield* AgentRuntime.publish(TopicId.make("notdefault", "k"), new Note({ text: "x" }))
          yield* AgentRuntime.awaitIdle
          assert.deepStrictEqual(yield* notesOf(Listener, "k"), ["d"])
        }).pipe(withAgents([recorderLayer(Listener, { subscriptions: [Subscription.defaultFor("listener")] })])))

      it.live("a type prefix subscription receives every topic type with the prefix", () =>
        Effect.gen(function*() {
          for (const type of ["alerts.fire", "alerts.flood", "alerts", "alertsX", "other.alerts.x"]) {
            yield* AgentRuntime.publish(TopicId.make(type, "k"), new Note({ text: type }))
          }
          yield* AgentRuntime.awaitIdle
          assert.deepStrictEqual(yield* notesOf(Listener, "k"), ["alerts.fire", "alerts.flood"])
        }).pipe(withAgents([recorderLayer(Listener, { subscriptions: [Subscription.typePrefix("alerts.")] })])))

      it.live("publishing on a new source creates a new instance", () =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* liveIds, [])
          yield* AgentRuntime.publish(TopicId.make("notes", "fresh"), new Note({ text: "hi" }))
          yield* AgentRuntime.awaitIdle
          assert.deepStrictEqual(yield* liveIds, ["listener/fresh"])
          const runtime = yield* Runtime
          assert.deepStrictEqual(yield* runtime.saveState(Listener.id("fresh")), { notes: ["hi"] })
        }).pipe(withAgents([recorderLayer(Listener, { subscriptions: [Subscription.type("notes")] })])))

      it.live("a publish nobody subscribes to succeeds and reaches nobody", () =>
        Effect.gen(function*() {
          yield* AgentRuntime.publish(TopicId.make("nobody", "k"), new Note({ text: "lost" }))
          yield* AgentRuntime.awaitIdle
          assert.deepStrictEqual(yield* liveIds, [])
        }).pipe(withAgents([recorderLayer(Listener, { subscriptions: [Subscription.type("notes")] })])))

      it.live("a publisher does not receive its own publish", () =>
        Effect.gen(function*() {
          const identifier = yield* Identifier.client
          yield* identifier("k").Shout({ text: "mine" })
          yield* AgentRuntime.awaitIdle
          assert.deepStrictEqual(yield* notesOf(Listener, "k"), ["mine"])
          assert.deepStrictEqual(yield* identifier("k").GetNotes({}), [])
          // the same topic from someone else does reach it
          yield* AgentRuntime.publish(TopicId.make(shoutsTopic, "k"), new Note({ text: "yours" }))
          yield* AgentRuntime.awaitIdle
          assert.deepStrictEqual(yield* identifier("k").GetNotes({}), ["yours"])
        }).pipe(withAgents([
          IdentifierLive,
          VaultLive,
          recorderLayer(Listener, { subscriptions: [Subscription.type(shoutsTopic)] })
        ])))

      it.live("agents publishing in response to each other cascade until they stop", () => {
        const agents = 3
        const maxRound = 3
        const types = Array.from({ length: agents }, (_, i) => cascaderType(i))
        return Effect.gen(function*() {
          yield* AgentRuntime.publish(TopicId.make(cascadeTopic, "run"), new Cascade({ round: 0 }))
          yield* AgentRuntime.awaitIdle
          // round r reaches each agent from the (agents - 1) others that got round r - 1
          let expected = 0
          for (let round = 0; round <= maxRound; round++) expected += (agents - 1) ** round
          for (const type of types) {
            const client = yield* type.client
            assert.strictEqual(yield* client("run").GetCount({}), expected)
          }
        }).pipe(withAgents(types.map((type) => cascaderLayer(type, maxRound))))
      })

      it.live("subscriptions added at runtime route publishes until removed", () =>
        Effect.gen(function*() {
          const subscription = Subscription.type("late", "listener")
          yield* AgentRuntime.addSubscription(subscription)
          yield* AgentRuntime.addSubscription(subscription)
          const runtime = yield* Runtime
          const ids = (yield* runtime.subscriptions).map(Subscription.id)
          assert.strictEqual(ids.filter((id) => id === Subscription.id(subscription)).length, 1)
          yield* AgentRuntime.publish(TopicId.make("late", "a"), new Note({ text: "1" }))
          yield* AgentRuntime.awaitIdle
          assert.isTrue(yield* AgentRuntime.removeSubscription(Subscription.id(subscription)))
          assert.isFalse(yield* AgentRuntime.removeSubscription(Subscription.id(subscription)))
          yield* AgentRuntime.publish(TopicId.make("late", "a"), new Note({ text: "2" }))
          yield* AgentRuntime.awaitIdle
          assert.deepStrictEqual(yield* notesOf(Listener, "a"), ["1"])
          assert.notInclude((yield* runtime.subscriptions).map(Subscription.id), Subscription.id(subscription))
        }).pipe(withAgents([recorderLayer(Listener)])))

      it.live("the subscriptions of registered agent types are in force", () =>
        Effect.gen(function*() {
          const runtime = yield* Runtime
          const ids = (yield* runtime.subscriptions).map(Subscription.id)
          assert.include(ids, Subscription.id(Subscription.type("notes", "listener")))
        }).pipe(withAgents([recorderLayer(Listener, { subscriptions: [Subscription.type("notes")] })])))

      it.live("an event handler's failure is emitted on deadLetters", () =>
        Effect.gen(function*() {
          yield* AgentRuntime.addSubscription(Subscription.type("fail", "failing"))
          const letter = yield* deadLetterAfter(AgentRuntime.publish(TopicId.make("fail", "x"), new Note({ text: "bad" })))
          assert.strictEqual(letter.recipient, "failing/x")
          assert.strictEqual(letter.messageType, "Note")
          assert.strictEqual(letter.topic, "fail/x")
          assert.isUndefined(letter.sender)
          assert.strictEqual(letter.error._tag, "HandlerError")
        }).pipe(withAgents([FailingLive])))

      it.live("a published message its subscriber cannot handle is a dead letter", () =>
        Effect.gen(function*() {
          yield* AgentRuntime.addSubscription(Subscription.type("notes", "greeter"))
          const letter = yield* deadLetterAfter(AgentRuntime.publish(TopicId.make("notes", "x"), new Note({ text: "?" })))
          assert.strictEqual(letter.recipient, "greeter/x")
          assert.strictEqual(letter.error._tag, "CantHandleError")
        }).pipe(withAgents([GreeterLive])))
    })

    describe("function agents", () => {
      it.live("a function agent handles every listed message type, published or sent", () =>
        Effect.gen(function*() {
          const seen = yield* Queue.unbounded<string>()
          const collector = Agent.fromFunction("collector", [Note, Greet], (message, ctx) =>
            Queue.offer(
              seen,
              [message._tag, ctx.self.toString(), ctx.topic?.toString() ?? "-", ctx.sender?.toString() ?? "-", String(ctx.isRpc)].join(" ")
            ), { subscriptions: [Subscription.type("col")] })
          const run = Effect.gen(function*() {
            yield* AgentRuntime.publish(TopicId.make("col", "x"), new Note({ text: "n" }))
            assert.strictEqual(yield* within(2000, Queue.take(seen)), "Note collector/x col/x - false")
            const reply = yield* AgentRuntime.send(AgentId.make("collector", "y"), new Greet({ name: "g" }))
            assert.isUndefined(reply)
            assert.strictEqual(yield* Queue.take(seen), "Greet collector/y - - true")
            const refused = yield* AgentRuntime.send(AgentId.make("collector", "y"), new Increment({ by: 1 })).pipe(Effect.flip)
            assert.strictEqual(refused._tag, "CantHandleError")
          })
          yield* run.pipe(withAgents([collector]))
        }))
    })

    describe("interventions", () => {
      it.live("interventions see every send, publish and reply", () =>
        Effect.gen(function*() {
          const counts = yield* Ref.make({ send: 0, publish: 0, reply: 0 })
          const count = (stage: "send" | "publish" | "reply") => (message: unknown) =>
            Ref.update(counts, (c) => ({ ...c, [stage]: c[stage] + 1 })).pipe(Effect.as(message))
          const counting = Intervention.make({ onSend: count("send"), onPublish: count("publish"), onReply: count("reply") })
          const Listener = recorderType("listener")
          yield* Effect.gen(function*() {
            yield* greets
            yield* AgentRuntime.publish(TopicId.make("notes", "a"), new Note({ text: "p" }))
            yield* AgentRuntime.awaitIdle
          }).pipe(withAgents([GreeterLive, recorderLayer(Listener, { subscriptions: [Subscription.type("notes")] })], {
            interventions: [counting]
          }))
          assert.deepStrictEqual(yield* Ref.get(counts), { send: 1, publish: 1, reply: 1 })
        }))

      it.live("an intervention can replace a message on its way", () =>
        Effect.gen(function*() {
          const greeter = yield* Greeter.client
          const reply = yield* greeter("a").Greet({ name: "Bob" })
          assert.strictEqual(reply.text, "Hello, Intercepted from a")
        }).pipe(withAgents([GreeterLive], {
          interventions: [Intervention.make({
            onSend: (message) => Effect.succeed(message instanceof Greet ? new Greet({ name: "Intercepted" }) : message)
          })]
        })))

      it.live("a send dropped by an intervention fails with MessageDroppedError and never reaches the handler", () =>
        Effect.gen(function*() {
          const counter = yield* Counter.client
          const error = yield* counter("a").Increment({ by: 1 }).pipe(Effect.flip)
          assert.strictEqual(error._tag, "MessageDroppedError")
          assert.strictEqual(error._tag === "MessageDroppedError" && error.stage, "send")
          assert.strictEqual(yield* counter("a").GetCount({}), 0)
        }).pipe(withAgents([CounterLive], {
          interventions: [Intervention.make({
            onSend: (message) => message instanceof Increment ? Intervention.drop(message, "send", "no increments") : Effect.succeed(message)
          })]
        })))

      it.live("a reply dropped by an intervention fails the send after the handler ran", () =>
        Effect.gen(function*() {
          const counter = yield* Counter.client
          const error = yield* counter("a").Increment({ by: 1 }).pipe(Effect.flip)
          assert.strictEqual(error._tag, "MessageDroppedError")
          assert.strictEqual(error._tag === "MessageDroppedError" && error.stage, "reply")
          assert.strictEqual(yield* counter("a").GetCount({}), 1)
        }).pipe(withAgents([CounterLive], {
          interventions: [Intervention.make({
            onReply: (reply, info) => info.requestType === "Increment" ? Intervention.drop(reply, "reply", "no answers") : Effect.succeed(reply)
          })]
        })))

      it.live("a publish dropped by an intervention fails and reaches nobody", () => {
        const Listener = recorderType("listener")
        return Effect.gen(function*() {
          const error = yield* AgentRuntime.publish(TopicId.make("notes", "a"), new Note({ text: "p" })).pipe(Effect.flip)
          assert.strictEqual(error._tag, "MessageDroppedError")
          yield* AgentRuntime.awaitIdle
          assert.deepStrictEqual(yield* liveIds, [])
        }).pipe(withAgents([recorderLayer(Listener, { subscriptions: [Subscription.type("notes")] })], {
          interventions: [Intervention.make({ onPublish: (message) => Intervention.drop(message, "publish", "quiet") })]
        }))
      })

      it.live("an intervention that dies drops the message and the runtime keeps working", () =>
        Effect.gen(function*() {
          const greeter = yield* Greeter.client
          const error = yield* greeter("a").Greet({ name: "crash" }).pipe(Effect.flip)
          assert.strictEqual(error._tag, "MessageDroppedError")
          assert.include(error.message, "intervention failed")
          assert.strictEqual((yield* greets).text, "Hello, still here from check")
        }).pipe(withAgents([GreeterLive], {
          interventions: [Intervention.make({
            onSend: (message) =>
              Effect.sync(() => {
                if (message instanceof Greet && message.name === "crash") throw new Error("hook bug")
                return message
              })
          })]
        })))
    })

    describe("state", () => {
      it.live("one agent's state can be saved and loaded", () =>
        Effect.gen(function*() {
          const runtime = yield* Runtime
          const counter = yield* Counter.client
          yield* counter("a").Increment({ by: 3 })
          assert.deepStrictEqual(yield* runtime.saveState(Counter.id("a")), { count: 3 })
          yield* runtime.loadState(Counter.id("b"), { count: 10 })
          assert.strictEqual(yield* counter("b").GetCount({}), 10)
          yield* runtime.loadState(Counter.id("a"), { count: 0 })
          assert.strictEqual(yield* counter("a").GetCount({}), 0)
        }).pipe(withAgents([CounterLive])))

      it.live("loading a state that does not fit the schema fails and changes nothing", () =>
        Effect.gen(function*() {
          const runtime = yield* Runtime
          const counter = yield* Counter.client
          yield* counter("a").Increment({ by: 3 })
          const error = yield* runtime.loadState(Counter.id("a"), { count: "three" }).pipe(Effect.flip)
          assert.strictEqual(error._tag, "InvalidMessageError")
          assert.strictEqual(yield* counter("a").GetCount({}), 3)
        }).pipe(withAgents([CounterLive])))

      it.live("saveAll and loadAll carry every agent's state to a new runtime", () => {
        const Listener = recorderType("listener")
        const agents = [CounterLive, recorderLayer(Listener, { subscriptions: [Subscription.type("notes")] })]
        return Effect.gen(function*() {
          const saved = yield* Effect.gen(function*() {
            const counter = yield* Counter.client
            yield* counter("a").Increment({ by: 1 })
            yield* counter("b").Increment({ by: 2 })
            yield* AgentRuntime.publish(TopicId.make("notes", "n"), new Note({ text: "kept" }))
            yield* AgentRuntime.awaitIdle
            return yield* Runtime.use((runtime) => runtime.saveAll)
          }).pipe(withAgents(agents))
          assert.deepStrictEqual(Object.keys(saved).sort(), ["counter/a", "counter/b", "listener/n"])
          // the saved state is plain JSON
          assert.deepStrictEqual(JSON.parse(JSON.stringify(saved)), saved)
          yield* Effect.gen(function*() {
            yield* Runtime.use((runtime) => runtime.loadAll(saved))
            const counter = yield* Counter.client
            assert.strictEqual(yield* counter("a").GetCount({}), 1)
            assert.strictEqual(yield* counter("b").GetCount({}), 2)
            assert.deepStrictEqual(yield* notesOf(Listener, "n"), ["kept"])
          }).pipe(withAgents(agents))
        })
      })
    })

    describe("cancellation and deadlines", () => {
      it.live("interrupting a send interrupts its handler", () =>
        Effect.gen(function*() {
          const probe = yield* makeProbe
          yield* Effect.gen(function*() {
            const blocker = yield* Blocker.client
            const call = yield* Effect.forkChild(blocker("a").Hang({ label: "h1" }))
            assert.strictEqual(yield* within(2000, Queue.take(probe.started)), "h1")
            yield* Fiber.interrupt(call)
            assert.strictEqual(yield* within(2000, Queue.take(probe.interrupted)), "h1")
          }).pipe(withAgents([blockerLayer(probe)]))
        }))

      it.live("interrupting a send interrupts the nested sends its handler made", () =>
        Effect.gen(function*() {
          const probe = yield* makeProbe
          yield* Effect.gen(function*() {
            const relay = yield* Relay.client
            const call = yield* Effect.forkChild(relay("a").Forward({ label: "nested" }))
            assert.strictEqual(yield* within(2000, Queue.take(probe.started)), "nested")
            yield* Fiber.interrupt(call)
            assert.strictEqual(yield* within(2000, Queue.take(probe.interrupted)), "nested")
          }).pipe(withAgents([blockerLayer(probe), RelayLive]))
        }))

      it.live("interrupting a queued send takes it out of the mailbox", () =>
        Effect.gen(function*() {
          const probe = yield* makeProbe
          yield* Effect.gen(function*() {
            const blocker = yield* Blocker.client
            const first = yield* Effect.forkChild(blocker("a").Hang({ label: "first" }))
            assert.strictEqual(yield* within(2000, Queue.take(probe.started)), "first")
            const second = yield* Effect.forkChild(blocker("a").Hang({ label: "second" }))
            // give the second send time to reach the mailbox (if it does not, it must not start either)
            yield* Effect.sleep("20 millis")
            yield* Fiber.interrupt(second)
            yield* Fiber.interrupt(first)
            assert.strictEqual(yield* within(2000, Queue.take(probe.interrupted)), "first")
            assert.isTrue(Option.isNone(yield* soon(100, Queue.take(probe.started))))
          }).pipe(withAgents([blockerLayer(probe)]))
        }))

      it.live("a send with no reply within the runtime's sendTimeout fails with TimeoutError and cancels the handler", () =>
        Effect.gen(function*() {
          const probe = yield* makeProbe
          yield* Effect.gen(function*() {
            const blocker = yield* Blocker.client
            const error = yield* blocker("a").Hang({ label: "slow" }).pipe(Effect.flip)
            assert.strictEqual(error._tag, "TimeoutError")
            assert.strictEqual(error._tag === "TimeoutError" && error.timeoutMillis, 150)
            assert.strictEqual(yield* within(2000, Queue.take(probe.interrupted)), "slow")
          }).pipe(withAgents([blockerLayer(probe)], { sendTimeout: "150 millis" }))
        }))

      it.live("a per-call timeout overrides the runtime's default deadline", () =>
        Effect.gen(function*() {
          const probe = yield* makeProbe
          yield* Effect.gen(function*() {
            const blocker = yield* Blocker.client
            const typed = yield* blocker("a").Hang({ label: "t" }, { timeout: "50 millis" }).pipe(Effect.flip)
            assert.strictEqual(typed._tag === "TimeoutError" && typed.timeoutMillis, 50)
            const untyped = yield* AgentRuntime.send(Blocker.id("b"), new Hang({ label: "u" }), { timeout: "60 millis" }).pipe(Effect.flip)
            assert.strictEqual(untyped._tag === "TimeoutError" && untyped.timeoutMillis, 60)
          }).pipe(withAgents([blockerLayer(probe)], { sendTimeout: "30 seconds" }))
        }))

      it.live("a call cycle fails with DeadlockError instead of waiting forever", () =>
        Effect.gen(function*() {
          const ping = yield* PingAgent.client
          assert.strictEqual(yield* ping("k").Ping({}), "DeadlockError")
          // and both agents are free again
          assert.strictEqual(yield* ping("k").Ping({}), "DeadlockError")
        }).pipe(withAgents([PingLive, PongLive], { sendTimeout: "2 seconds" })))

      it.live("a handler sending to its own instance fails with DeadlockError", () =>
        Effect.gen(function*() {
          const ping = yield* PingAgent.client
          assert.strictEqual(yield* ping("k").CallSelf({}), "DeadlockError")
        }).pipe(withAgents([PingLive, PongLive], { sendTimeout: "2 seconds" })))
    })

    describe("mailbox and concurrency", () => {
      it.live("a concurrent handler called back with a serial message does not deadlock: the serial slot is free", () =>
        Effect.gen(function*() {
          const bouncer = yield* Bouncer.client
          assert.strictEqual(yield* bouncer("b").Ask({}), "plain")
        }).pipe(withAgents([BouncerLive, CallerLive])))

      it.live("an instance handles one message at a time", () =>
        Effect.gen(function*() {
          const serial = yield* Serial.client
          const most = yield* Effect.all(Array.from({ length: 5 }, () => serial("a").Work({})), { concurrency: "unbounded" })
          assert.deepStrictEqual(most, [1, 1, 1, 1, 1])
        }).pipe(withAgents([SerialLive])))

      it.live("an instance handles messages in arrival order, each to its end", () =>
        Effect.gen(function*() {
          yield* AgentRuntime.addSubscription(Subscription.type("serial", "serial"))
          for (let i = 0; i < 5; i++) yield* AgentRuntime.publish(TopicId.make("serial", "a"), new Note({ text: `${i}` }))
          yield* AgentRuntime.awaitIdle
          const serial = yield* Serial.client
          assert.deepStrictEqual(yield* serial("a").GetNotes({}), [0, 1, 2, 3, 4].flatMap((i) => [`start ${i}`, `end ${i}`]))
        }).pipe(withAgents([SerialLive])))

      it.live("different instances work at the same time", () =>
        Effect.gen(function*() {
          const probe = yield* makeProbe
          yield* Effect.gen(function*() {
            const blocker = yield* Blocker.client
            yield* Effect.forkChild(blocker("a").Hang({ label: "a" }))
            yield* Effect.forkChild(blocker("b").Hang({ label: "b" }))
            const started = [yield* within(2000, Queue.take(probe.started)), yield* within(2000, Queue.take(probe.started))]
            assert.deepStrictEqual(started.sort(), ["a", "b"])
          }).pipe(withAgents([blockerLayer(probe)]))
        }))

      it.live("concurrency: n lets an instance handle n messages at once", () =>
        Effect.gen(function*() {
          const parallel = yield* Parallel.client
          const most = yield* Effect.all(Array.from({ length: 3 }, () => parallel("a").Work({})), { concurrency: "unbounded" })
          assert.deepStrictEqual(most, [3, 3, 3])
        }).pipe(withAgents([parallelLayer(3)])))

      it.live("a concurrent handler answers while the instance is busy", () =>
        Effect.gen(function*() {
          const probe = yield* makeProbe
          yield* Effect.gen(function*() {
            const blocker = yield* Blocker.client
            yield* Effect.forkChild(blocker("a").Hang({ label: "busy" }))
            assert.strictEqual(yield* within(2000, Queue.take(probe.started)), "busy")
            assert.strictEqual(yield* blocker("a").Quick({}, { timeout: "1 second" }), "quick")
          }).pipe(withAgents([blockerLayer(probe)]))
        }))
    })

    describe("idle and lifecycle", () => {
      it.live("awaitIdle returns at once when nothing is going on", () =>
        Effect.gen(function*() {
          yield* within(1000, AgentRuntime.awaitIdle)
          yield* greets
          yield* within(1000, AgentRuntime.awaitIdle)
        }).pipe(withAgents([GreeterLive])))

      it.live("awaitIdle waits for published messages still being handled", () =>
        Effect.gen(function*() {
          yield* AgentRuntime.addSubscription(Subscription.type("serial", "serial"))
          for (let i = 0; i < 20; i++) yield* AgentRuntime.publish(TopicId.make("serial", `k${i % 4}`), new Note({ text: `${i}` }))
          yield* AgentRuntime.awaitIdle
          const serial = yield* Serial.client
          for (let k = 0; k < 4; k++) assert.strictEqual((yield* serial(`k${k}`).GetNotes({})).length, 10)
        }).pipe(withAgents([SerialLive])))

      it.live("closing the runtime runs the finalizers of every instance", () =>
        Effect.gen(function*() {
          const probe = yield* makeProbe
          yield* Effect.gen(function*() {
            const blocker = yield* Blocker.client
            yield* blocker("a").Quick({})
            yield* blocker("b").Quick({})
            assert.isTrue(Option.isNone(yield* Queue.poll(probe.finalized)))
          }).pipe(withAgents([blockerLayer(probe)]))
          const finalized = [yield* within(2000, Queue.take(probe.finalized)), yield* within(2000, Queue.take(probe.finalized))]
          assert.deepStrictEqual(finalized.sort(), ["blocker/a", "blocker/b"])
        }))

      it.live("closing the runtime interrupts handlers that are still running", () =>
        Effect.gen(function*() {
          const probe = yield* makeProbe
          yield* Effect.gen(function*() {
            // a published message: no caller waits for it, so only closing can stop it
            yield* AgentRuntime.publish(TopicId.make("hang", "a"), new Hang({ label: "left running" }))
            assert.strictEqual(yield* within(2000, Queue.take(probe.started)), "left running")
          }).pipe(withAgents([blockerLayer(probe, { subscriptions: [Subscription.type("hang")] })], { shutdownTimeout: "50 millis" }))
          assert.strictEqual(yield* within(2000, Queue.take(probe.interrupted)), "left running")
          assert.strictEqual(yield* within(2000, Queue.take(probe.finalized)), "blocker/a")
        }))
    })

    describe("bad input", () => {
      it.live("an untyped send of a plain object is checked against the message schema", () =>
        Effect.gen(function*() {
          const bad = yield* AgentRuntime.send(Greeter.id("a"), { _tag: "Greet", name: 1 }).pipe(Effect.flip)
          assert.strictEqual(bad._tag, "InvalidMessageError")
          assert.strictEqual(bad._tag === "InvalidMessageError" && bad.messageType, "Greet")
          const good = yield* AgentRuntime.send(Greeter.id("a"), { _tag: "Greet", name: "Ann" })
          assert.strictEqual(Schema.decodeUnknownSync(Greeting)(good).text, "Hello, Ann from a")
          assert.strictEqual((yield* greets).text, "Hello, still here from check")
        }).pipe(withAgents([GreeterLive])))

      it.live("a typed client refuses a payload that fails the schema", () =>
        Effect.gen(function*() {
          const greeter = yield* Greeter.client
          const bad = yield* greeter("a").Greet({ name: 1 as unknown as string }).pipe(Effect.flip)
          assert.strictEqual(bad._tag, "InvalidMessageError")
          assert.strictEqual((yield* greets).text, "Hello, still here from check")
        }).pipe(withAgents([GreeterLive])))

      it.live("a value without a string _tag is an InvalidMessageError", () =>
        Effect.gen(function*() {
          for (const value of ["hello", 42, null, { name: "x" }, { _tag: 7 }]) {
            const error = yield* AgentRuntime.send(Greeter.id("a"), value).pipe(Effect.flip)
            assert.strictEqual(error._tag, "InvalidMessageError")
          }
          const published = yield* AgentRuntime.publish(TopicId.make("notes", "a"), "hello").pipe(Effect.flip)
          assert.strictEqual(published._tag, "InvalidMessageError")
          assert.strictEqual((yield* greets).text, "Hello, still here from check")
        }).pipe(withAgents([GreeterLive])))

      it.live("a send to an agent type nobody registered fails with UndeliverableError", () =>
        Effect.gen(function*() {
          const error = yield* AgentRuntime.send(AgentId.make("ghost", "a"), new Greet({ name: "x" })).pipe(Effect.flip)
          assert.strictEqual(error._tag, "UndeliverableError")
          assert.strictEqual(error._tag === "UndeliverableError" && error.recipient, "ghost/a")
          assert.strictEqual((yield* greets).text, "Hello, still here from check")
        }).pipe(withAgents([GreeterLive])))

      it.live("a message the recipient has no handler for fails with CantHandleError", () =>
        Effect.gen(function*() {
          const error = yield* AgentRuntime.send(Greeter.id("a"), new Nope()).pipe(Effect.flip)
          assert.strictEqual(error._tag, "CantHandleError")
          assert.strictEqual(error._tag === "CantHandleError" && error.messageType, "Nope")
          assert.strictEqual((yield* greets).text, "Hello, still here from check")
        }).pipe(withAgents([GreeterLive])))

      it.live("a published plain object that fails a subscriber's schema is refused", () => {
        const Listener = recorderType("listener")
        return Effect.gen(function*() {
          const error = yield* AgentRuntime.publish(TopicId.make("notes", "a"), { _tag: "Note", text: 1 }).pipe(Effect.flip)
          assert.strictEqual(error._tag, "InvalidMessageError")
          yield* AgentRuntime.publish(TopicId.make("notes", "a"), { _tag: "Note", text: "plain" })
          yield* AgentRuntime.awaitIdle
          assert.deepStrictEqual(yield* notesOf(Listener, "a"), ["plain"])
        }).pipe(withAgents([recorderLayer(Listener, { subscriptions: [Subscription.type("notes")] })]))
      })
    })

    describe("access policy", () => {
      // only identifiers may ask the vault; nobody may publish to listeners
      const policy = vaultPolicy

      it.live("a send the policy denies fails with NotAccessibleError", () =>
        Effect.gen(function*() {
          const vault = yield* Vault.client
          const denied = yield* vault("v").Secret({}).pipe(Effect.flip)
          assert.strictEqual(denied._tag, "NotAccessibleError")
          assert.strictEqual(denied._tag === "NotAccessibleError" && denied.recipient, "vault/v")
          const identifier = yield* Identifier.client
          assert.strictEqual(yield* identifier("k").PassSecret({ key: "v" }), "told identifier/k")
        }).pipe(withAgents([IdentifierLive, VaultLive], { policy })))

      it.live("a publish delivery the policy denies goes to the dead letters", () => {
        const Listener = recorderType("listener")
        return Effect.gen(function*() {
          const letter = yield* deadLetterAfter(AgentRuntime.publish(TopicId.make("notes", "a"), new Note({ text: "denied" })))
          assert.strictEqual(letter.recipient, "listener/a")
          assert.strictEqual(letter.error._tag, "NotAccessibleError")
          yield* AgentRuntime.awaitIdle
          assert.deepStrictEqual(yield* notesOf(Listener, "a"), [])
        }).pipe(withAgents([recorderLayer(Listener, { subscriptions: [Subscription.type("notes")] })], { policy }))
      })
    })

    describe("ids and metadata", () => {
      it.live("metadata tells an agent's type, key and description", () =>
        Effect.gen(function*() {
          const runtime = yield* Runtime
          assert.deepStrictEqual(yield* runtime.metadata(Greeter.id("alice")), {
            type: "greeter",
            key: "alice",
            description: "says hello"
          })
          const unknown = yield* runtime.metadata(AgentId.make("ghost", "a")).pipe(Effect.flip)
          assert.strictEqual(unknown._tag, "UndeliverableError")
        }).pipe(withAgents([GreeterLive])))

      it.live("agentId is lazy by default and creates the instance when asked to be eager", () =>
        Effect.gen(function*() {
          const runtime = yield* Runtime
          const lazy = yield* runtime.agentId("counter", "lazy")
          assert.isTrue(AgentId.equals(lazy, Counter.id("lazy")))
          assert.deepStrictEqual(yield* liveIds, [])
          const eager = yield* runtime.agentId("counter", "eager", { lazy: false })
          assert.strictEqual(AgentId.toString(eager), "counter/eager")
          assert.deepStrictEqual(yield* liveIds, ["counter/eager"])
          const unknown = yield* runtime.agentId("ghost", "a").pipe(Effect.flip)
          assert.strictEqual(unknown._tag, "UndeliverableError")
        }).pipe(withAgents([CounterLive])))
    })

    // Topic suites, each in its own file under topics/, on the same runtime.
    // (one line per topic below)
    routing(makeRuntime)
    streaming(makeRuntime)
    passivation(makeRuntime)
  })
