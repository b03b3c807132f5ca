/**
 * The agents of the distributed example, shared by both workers: a writer
 * (run by worker B) drafts a text, an editor (run by worker A) reviews it.
 * They talk both ways by send and by publish.
 */
import { Console, Deferred, Effect, Ref, Schema } from "effect"
import { Agent, AgentRuntime, Subscription, TopicId } from "../../src/index.ts"

// messages
export class Assign extends Schema.TaggedClass<Assign>()("Assign", { subject: Schema.String }) {}
export class WriteDraft extends Schema.TaggedClass<WriteDraft>()("WriteDraft", { subject: Schema.String }) {}
export class Draft extends Schema.TaggedClass<Draft>()("Draft", { text: Schema.String, version: Schema.Number }) {}
export class Feedback extends Schema.TaggedClass<Feedback>()("Feedback", { note: Schema.String }) {}
export class Revised extends Schema.TaggedClass<Revised>()("Revised", { draft: Draft }) {}
export class Verdict extends Schema.TaggedClass<Verdict>()("Verdict", { accepted: Schema.Boolean, rounds: Schema.Number }) {}

// contracts
export const Writer = Agent.make("writer", {
  WriteDraft: Agent.rpc(WriteDraft, { success: Draft }),
  Feedback: Agent.event(Feedback)
})

export const Editor = Agent.make("editor", {
  Assign: Agent.rpc(Assign, { success: Verdict }),
  // concurrent: revisions arrive while Assign is still waiting for the outcome
  Revised: Agent.event(Revised, { concurrent: true })
})

// behaviours

/** Drafts on request (a send from the editor); revises on feedback (a publish) and publishes the revision. */
export const WriterLive = Writer.toLayer(Effect.gen(function*() {
  const self = yield* Agent.Self
  const version = yield* Agent.state(Schema.Number, 0)
  const subject = yield* Ref.make("")
  return Writer.of({
    WriteDraft: (message) =>
      Effect.gen(function*() {
        yield* Ref.set(subject, message.subject)
        const v = yield* Ref.updateAndGet(version, (n) => n + 1)
        yield* Console.log(`  ${self}: drafting "${message.subject}" (v${v})`)
        return new Draft({ text: `${message.subject}: a first try`, version: v })
      }),
    Feedback: ({ note }) =>
      Effect.gen(function*() {
        const v = yield* Ref.updateAndGet(version, (n) => n + 1)
        const text = `${yield* Ref.get(subject)}: revised after "${note}"`
        yield* Console.log(`  ${self}: revising (v${v})`)
        yield* AgentRuntime.publish(TopicId.make("revisions", self.key), new Revised({ draft: new Draft({ text, version: v }) }))
      })
  })
}), { subscriptions: [Subscription.type("feedback")] })

/**
 * Asks the writer for a draft (send), publishes feedback, accepts the second
 * revision it sees, and answers the assignment with what really happened.
 */
export const EditorLive = Editor.toLayer(Effect.gen(function*() {
  const self = yield* Agent.Self
  const writer = yield* Writer.client
  const rounds = yield* Agent.state(Schema.Number, 0, { name: "rounds" })
  const accepted = yield* Deferred.make<number>()
  return Editor.of({
    Assign: ({ subject }) =>
      Effect.gen(function*() {
        yield* Console.log(`  ${self}: assigned "${subject}", asking the writer`)
        const draft = yield* writer(self.key).WriteDraft({ subject })
        yield* Console.log(`  ${self}: got v${draft.version}: "${draft.text}"`)
        yield* AgentRuntime.publish(TopicId.make("feedback", self.key), new Feedback({ note: "more detail, please" }))
        // the verdict is the review's real outcome: it waits for the revisions to come in
        const n = yield* Deferred.await(accepted)
        return new Verdict({ accepted: true, rounds: n })
      }).pipe(Effect.orDie),
    Revised: ({ draft }) =>
      Effect.gen(function*() {
        const n = yield* Ref.updateAndGet(rounds, (r) => r + 1)
        yield* Console.log(`  ${self}: got v${draft.version}: "${draft.text}"`)
        if (n < 2) yield* Effect.orDie(AgentRuntime.publish(TopicId.make("feedback", self.key), new Feedback({ note: "tighter, please" })))
        else {
          yield* Console.log(`  ${self}: accepted after ${n} revisions`)
          yield* Deferred.succeed(accepted, n)
        }
      })
  })
}), { subscriptions: [Subscription.type("revisions")] })
