/**
 * The TypeScript side of the polyglot example: a writer agent, and the
 * contract of the Python analyst (examples/polyglot/analyst.py). The
 * messages are declared on both sides by their `_tag` and fields; nothing
 * else is shared between the languages.
 */
import { Console, Deferred, Effect, Ref, Schema } from "effect"
import { Agent, AgentRuntime, Subscription, TopicId } from "../../src/index.ts"

// messages, as analyst.py declares them
export class Analyze extends Schema.TaggedClass<Analyze>()("Analyze", { text: Schema.String }) {}
export class Analysis extends Schema.TaggedClass<Analysis>()("Analysis", { words: Schema.Number, longest: Schema.String }) {}
export class TooShort extends Schema.TaggedError<TooShort>()("TooShort", { words: Schema.Number, minimum: Schema.Number }) {}
export class Draft extends Schema.TaggedClass<Draft>()("Draft", { text: Schema.String }) {}
export class Subject extends Schema.TaggedClass<Subject>()("Subject", {}) {}
export class Review extends Schema.TaggedClass<Review>()("Review", { note: Schema.String }) {}
export class Write extends Schema.TaggedClass<Write>()("Write", { subject: Schema.String }) {}
export class Report extends Schema.TaggedClass<Report>()("Report", { attempts: Schema.Number, words: Schema.Number, longest: Schema.String, review: Schema.String }) {}

/** The Python agent, as a TypeScript caller sees it. */
export const Analyst = Agent.make("analyst", {
  Analyze: Agent.rpc(Analyze, { success: Analysis, error: TooShort })
})

export const Writer = Agent.make("writer", {
  Write: Agent.rpc(Write, { success: Report }),
  // both arrive while Write is still running (it waits for the review): they must not queue behind it
  /** Python asks what the draft is about (a read-only query). */
  Subject: Agent.rpc(Subject, { success: Schema.String, concurrent: true }),
  Review: Agent.event(Review, { concurrent: true })
})

/**
 * Writes a text on a subject: asks the Python analyst to check it (a send),
 * lengthens it while the analyst refuses it as too short (a declared error,
 * typed here), publishes the draft for Python to review, and answers once
 * Python's review came back by publish.
 */
export const WriterLive = Writer.toLayer(Effect.gen(function*() {
  const self = yield* Agent.Self
  const analyst = yield* Analyst.client
  const subject = yield* Ref.make("")
  const reviewed = yield* Deferred.make<string>()
  return Writer.of({
    Write: (message) =>
      Effect.gen(function*() {
        yield* Ref.set(subject, message.subject)
        let text = message.subject
        let attempts = 0
        while (true) {
          attempts++
          yield* Console.log(`  [typescript] ${self}: asking the Python analyst about "${text}"`)
          const analysis = yield* analyst(self.key).Analyze({ text }).pipe(
            Effect.catchTag("TooShort", (short) =>
              Effect.as(Console.log(`  [typescript] ${self}: Python refused it: TooShort(words=${short.words}, minimum=${short.minimum})`), undefined))
          )
          if (analysis !== undefined) {
            yield* Console.log(`  [typescript] ${self}: Python counted ${analysis.words} words, the longest "${analysis.longest}"`)
            yield* AgentRuntime.publish(TopicId.make("drafts", self.key), new Draft({ text }))
            const review = yield* Deferred.await(reviewed)
            return new Report({ attempts, words: analysis.words, longest: analysis.longest, review })
          }
          text = `${text}, explained in plain words for everyone`
        }
      }).pipe(Effect.orDie),
    Subject: () => Ref.get(subject),
    Review: ({ note }) =>
      Effect.andThen(Console.log(`  [typescript] ${self}: heard Python's review: ${note}`), Deferred.succeed(reviewed, note))
  })
}), { subscriptions: [Subscription.type("reviews")] })
