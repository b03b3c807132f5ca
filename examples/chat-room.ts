/**
 * A chat room: three agents take turns over one topic until the talk is
 * done; a function agent prints the transcript. The program exits when the
 * runtime is idle. This is `npm start`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Schema } from "effect"
import { Agent, AgentRuntime, StandaloneRuntime, Subscription, TopicId } from "../src/index.ts"

/** One line said in the room. Everyone in the room hears it. */
class Said extends Schema.TaggedClass<Said>()("Said", {
  speaker: Schema.String,
  text: Schema.String,
  turn: Schema.Number
}) {}

const speakers = ["ada", "grace", "linus"] as const
const lines: Record<(typeof speakers)[number], ReadonlyArray<string>> = {
  ada: ["Shall we design a runtime for agents?", "Then a mailbox each, one message at a time.", "Agreed. Ship it."],
  grace: ["Only if agents never share memory.", "And a deadline on every send: nothing waits forever.", "I'll write the tests."],
  linus: ["Messages must be checked at the door.", "Publish goes to every subscriber once, never back to the sender.", "Talk is cheap. Show me the code."]
}

/** A participant: when the previous turn was its neighbour's, it speaks the next line. */
const participant = (name: (typeof speakers)[number], index: number) => {
  const Participant = Agent.make(name, { Said: Agent.event(Said) })
  return Participant.toLayer(Effect.gen(function*() {
    const room = (yield* Agent.Self).key
    let next = 0
    return Participant.of({
      Said: ({ turn }) => {
        const mine = turn % speakers.length === index
        if (!mine || next >= lines[name].length) return Effect.void
        const text = lines[name][next++]!
        return AgentRuntime.publish(TopicId.make("chat", room), new Said({ speaker: name, text, turn: turn + 1 }))
      }
    })
  }), { subscriptions: [Subscription.type("chat")] })
}

/** The transcript: a function agent that hears everything on the topic. */
const Transcript = Agent.fromFunction(
  "transcript",
  [Said],
  (said) => Console.log(`${said.turn.toString().padStart(2)}  ${said.speaker.padEnd(6)} ${said.text}`),
  { subscriptions: [Subscription.type("chat")] }
)

const Room = Layer.mergeAll(Transcript, ...speakers.map(participant))

const program = Effect.gen(function*() {
  yield* Console.log("room-1:")
  // the host opens; the turn order then goes ada, grace, linus, ada, ...
  yield* AgentRuntime.publish(TopicId.make("chat", "room-1"), new Said({ speaker: "host", text: "Welcome! Ada, you start.", turn: 0 }))
  yield* AgentRuntime.awaitIdle
  yield* Console.log("(everyone has spoken; the room is idle)")
})

program.pipe(
  Effect.provide(Room),
  Effect.provide(StandaloneRuntime.layer()),
  NodeRuntime.runMain
)
