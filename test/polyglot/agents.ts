/**
 * The cross-language tests' contracts and TypeScript agents. The Python
 * agents (python/tests/agents.py, test/polyglot/py_worker.py) declare the
 * same messages as dataclasses: a message is its `_tag` and fields on both
 * sides, nothing else is shared. `TsEchoLive` and `TsCycleLive` run in a
 * TypeScript worker process (test/support/worker-process.ts).
 */
import { Effect, Ref, Schema } from "effect"
import { Agent, AgentError, AgentRuntime, Subscription, TopicId } from "../../src/index.ts"

const { DeadlockError } = AgentError

// messages, as python/tests/agents.py and test/polyglot/py_worker.py declare them
export class Greet extends Schema.TaggedClass<Greet>()("Greet", { name: Schema.String }) {}
export class Refused extends Schema.TaggedError<Refused>()("Refused", { why: Schema.String }) {}
export class Said extends Schema.TaggedClass<Said>()("Said", { text: Schema.String }) {}
export class Slow extends Schema.TaggedClass<Slow>()("Slow", { seconds: Schema.Number }) {}
export class History extends Schema.TaggedClass<History>()("History", {}) {}
export class Ping extends Schema.TaggedClass<Ping>()("Ping", { hops: Schema.Number }) {}
export class Echo extends Schema.TaggedClass<Echo>()("Echo", { text: Schema.String }) {}
export class Risky extends Schema.TaggedClass<Risky>()("Risky", { fail: Schema.Boolean }) {}
export class Tidy extends Schema.TaggedClass<Tidy>()("Tidy", { seconds: Schema.Number, cleanup: Schema.Number }) {}
export class CallTs extends Schema.TaggedClass<CallTs>()("CallTs", { text: Schema.String }) {}
export class AskPython extends Schema.TaggedClass<AskPython>()("AskPython", { name: Schema.String }) {}
export class TellPython extends Schema.TaggedClass<TellPython>()("TellPython", { text: Schema.String }) {}

// the Python agents' contracts: what a TypeScript caller needs to call them typed
export const PyGreeter = Agent.make("py-greeter", {
  Greet: Agent.rpc(Greet, { success: Schema.String, error: Refused }),
  Said: Agent.event(Said),
  History: Agent.rpc(History, { success: Schema.Array(Schema.String) })
})
export const PySleeper = Agent.make("py-sleeper", {
  Slow: Agent.rpc(Slow, { success: Schema.Number }),
  History: Agent.rpc(History, { success: Schema.Array(Schema.Number) })
})
/** Works for `seconds`; cancelled, it cleans up for `cleanup` seconds; `History` says when each cleanup ended (ms since the epoch). */
export const PyTidier = Agent.make("py-tidier", {
  Tidy: Agent.rpc(Tidy, { success: Schema.Number }),
  History: Agent.rpc(History, { success: Schema.Array(Schema.Number) })
})
export const PyBridge = Agent.make("py-bridge", { CallTs: Agent.rpc(CallTs, { success: Schema.String }) })
export const PyCycle = Agent.make("py-cycle", { Ping: Agent.rpc(Ping, { success: Schema.String, error: DeadlockError }) })

/** A TypeScript agent that Python calls, and that calls Python. */
export const TsEcho = Agent.make("ts-echo", {
  Echo: Agent.rpc(Echo, { success: Schema.String }),
  Risky: Agent.rpc(Risky, { success: Schema.String, error: Refused }),
  Said: Agent.event(Said),
  History: Agent.rpc(History, { success: Schema.Array(Schema.String) }),
  /** TS -> Python: a send, and Python's declared error typed here. */
  AskPython: Agent.rpc(AskPython, { success: Schema.String }),
  /** TS -> Python: a publish on the topic py-greeter subscribes to, acknowledged. */
  TellPython: Agent.rpc(TellPython)
})

export const TsEchoLive = TsEcho.toLayer(Effect.gen(function*() {
  const self = yield* Agent.Self
  const heard = yield* Agent.state(Schema.Array(Schema.String), [], { name: "heard" })
  const greeter = yield* PyGreeter.client
  return TsEcho.of({
    Echo: ({ text }) => Effect.succeed(`ts-echo/${self.key} heard "${text}"`),
    Risky: ({ fail }) => fail ? Effect.fail(new Refused({ why: "ts says no" })) : Effect.succeed("fine"),
    Said: ({ text }) => Ref.update(heard, (all) => [...all, text]),
    History: () => Ref.get(heard),
    AskPython: ({ name }) =>
      greeter(self.key).Greet({ name }).pipe(
        Effect.catchTag("Refused", (refused) => Effect.succeed(`ts caught Refused(${refused.why}) from python`)),
        Effect.orDie
      ),
    TellPython: ({ text }) => Effect.orDie(AgentRuntime.publish(TopicId.make("py-chat", self.key), new Said({ text }), { ack: true }))
  })
}), { subscriptions: [Subscription.type("ts-chat")] })

/** The cycle's ends: ts-cycle/k calls py-cycle/k, which calls ts-cycle/k, busy waiting for it. */
export const TsCycle = Agent.make("ts-cycle", { Ping: Agent.rpc(Ping, { success: Schema.String, error: DeadlockError }) })

export const TsCycleLive = TsCycle.toLayer(Effect.gen(function*() {
  const self = yield* Agent.Self
  const python = yield* PyCycle.client
  return TsCycle.of({
    Ping: ({ hops }) =>
      hops <= 0
        ? Effect.succeed("done")
        : python(self.key).Ping({ hops: hops - 1 }).pipe(
          Effect.catch((error) => error._tag === "DeadlockError" ? Effect.fail(error) : Effect.die(error))
        )
  })
}))
