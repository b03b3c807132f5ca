/**
 * Type-level tests: each `@ts-expect-error` line must fail to compile
 * (`tsc --noEmit` reports an unused directive otherwise). The one runtime
 * test checks that the well-typed program beside them runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Agent, type AgentError, StandaloneRuntime } from "../../src/index.ts"

class Greet extends Schema.TaggedClass<Greet>()("Greet", { name: Schema.String }) {}
class Greeting extends Schema.TaggedClass<Greeting>()("Greeting", { text: Schema.String }) {}
class Joined extends Schema.TaggedClass<Joined>()("Joined", { who: Schema.String }) {}
class Refused extends Schema.TaggedError<Refused>()("Refused", {}) {}

const Greeter = Agent.make("greeter", {
  Greet: Agent.rpc(Greet, { success: Greeting, error: Refused }),
  Joined: Agent.event(Joined)
})

const GreeterLive = Greeter.toLayer(Effect.succeed(Greeter.of({
  Greet: ({ name }) => name === "" ? Effect.fail(new Refused()) : Effect.succeed(new Greeting({ text: `Hello, ${name}` })),
  Joined: () => Effect.void
})))

export const wellTyped = Effect.gen(function*() {
  const greeter = yield* Greeter.client
  const reply: Greeting = yield* greeter("k").Greet({ name: "Bob" })
  return reply
})

export const illTyped = Effect.gen(function*() {
  const greeter = yield* Greeter.client
  // @ts-expect-error the agent type has no handler Nope
  yield* greeter("k").Nope({})
  // @ts-expect-error Joined is an event handler: it is reached by publishing, not by a client method
  yield* greeter("k").Joined({ who: "Ann" })
  // @ts-expect-error name must be a string
  yield* greeter("k").Greet({ name: 1 })
  // @ts-expect-error the payload misses name
  yield* greeter("k").Greet({})
  // @ts-expect-error Greet answers a Greeting, not a string
  const wrong: string = yield* greeter("k").Greet({ name: "Bob" })
  // @ts-expect-error an event replies nothing to use
  const nothing: Greeting = yield* greeter("k").Joined({ who: "Ann" })
  return [wrong, nothing]
})

// the declared error reaches the typed caller in the error channel, with its type
export const declaredErrorIsTyped = Effect.gen(function*() {
  const greeter = yield* Greeter.client
  return yield* greeter("k").Greet({ name: "" }).pipe(
    Effect.catchTag("Refused", (e) => Effect.succeed(new Greeting({ text: e._tag })))
  )
})

// specs written inline keep their defaults: no declared error, a void reply
const Plain = Agent.make("plain", { Joined: Agent.rpc(Joined), Greet: Agent.rpc(Greet, { success: Greeting }) })
export const inlineDefaults = Effect.gen(function*() {
  const plain = yield* Plain.client
  const joined: Effect.Effect<void, AgentError.AgentError> = plain("k").Joined({ who: "Ann" })
  const greeted: Effect.Effect<Greeting, AgentError.AgentError> = plain("k").Greet({ name: "Bob" })
  return [joined, greeted]
})

export const badHandlers = [
  Greeter.of({
    // @ts-expect-error Greet must answer a Greeting
    Greet: () => Effect.succeed("hello"),
    Joined: () => Effect.void
  }),
  Greeter.of({
    // @ts-expect-error Greet may only fail with its declared error
    Greet: () => Effect.fail(new Error("undeclared")),
    Joined: () => Effect.void
  }),
  // @ts-expect-error the Joined handler is missing
  Greeter.of({
    Greet: ({ name }) => Effect.succeed(new Greeting({ text: name }))
  }),
  Greeter.of({
    // @ts-expect-error the handler's message is a Greet, which has no `who`
    Greet: ({ who }) => Effect.succeed(new Greeting({ text: who })),
    Joined: () => Effect.void
  })
]

describe("types", () => {
  it.live("the well-typed program runs and its declared error is caught by tag", () =>
    Effect.gen(function*() {
      const reply = yield* wellTyped
      assert.strictEqual(reply.text, "Hello, Bob")
      const refused = yield* declaredErrorIsTyped
      assert.strictEqual(refused.text, "Refused")
    }).pipe(Effect.provide(GreeterLive), Effect.provide(StandaloneRuntime.layer())))
})
