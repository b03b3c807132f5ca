/**
 * Hello world: one agent type, one typed request/reply, on the standalone runtime.
 *
 *   node examples/hello.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Schema } from "effect"
import { Agent, StandaloneRuntime } from "../src/index.ts"

// Messages are schemas with a _tag: their wire name.
class Greet extends Schema.TaggedClass<Greet>()("Greet", { name: Schema.String }) {}
class Greeting extends Schema.TaggedClass<Greeting>()("Greeting", { text: Schema.String }) {}

// The contract: an agent type and what each message answers.
const Greeter = Agent.make("greeter", {
  Greet: Agent.rpc(Greet, { success: Greeting })
})

// The behaviour: built once per instance; `self` is this instance's id.
const GreeterLive = Greeter.toLayer(Effect.gen(function*() {
  const self = yield* Agent.Self
  return Greeter.of({
    Greet: ({ name }) => Effect.succeed(new Greeting({ text: `Hello, ${name}! (from ${self})` }))
  })
}))

const program = Effect.gen(function*() {
  const greeter = yield* Greeter.client
  const reply = yield* greeter("alice").Greet({ name: "Bob" })
  yield* Console.log(reply.text)
})

program.pipe(
  Effect.provide(GreeterLive),
  Effect.provide(StandaloneRuntime.layer()),
  NodeRuntime.runMain
)
