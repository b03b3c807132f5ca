/**
 * Agents of the streaming topic suite (`streaming.ts`). They are exported
 * from `fixtures.ts` too, so that worker processes can load them by name:
 * what a test observes of a producer (how far it ran, whether its stream's
 * finalizer ran) it asks the producer itself, with a concurrent rpc.
 */
import { Effect, Ref, Schema, Stream } from "effect"
import { Agent } from "../../../src/index.ts"

/** One chunk: its position in the stream. */
export class Tick extends Schema.TaggedClass<Tick>()("Tick", { i: Schema.Number }) {}

/** `n` ticks in order; with `failAt`, the stream fails with `StreamBroke` instead of emitting that one. */
export class CountTo extends Schema.TaggedClass<CountTo>()("CountTo", {
  n: Schema.Number,
  failAt: Schema.optional(Schema.Number)
}) {}

/** Ticks for ever, as fast as the consumer takes them. */
export class Endless extends Schema.TaggedClass<Endless>()("Endless", {}) {}

/** `after` ticks, then nothing, never ending. */
export class Stall extends Schema.TaggedClass<Stall>()("Stall", { after: Schema.Number }) {}

/** What the producer did so far. */
export class GetProduction extends Schema.TaggedClass<GetProduction>()("GetProduction", {}) {}

export class Production extends Schema.Class<Production>("Production")({
  /** Chunks its streams produced. */
  produced: Schema.Number,
  /** Streams whose finalizer ran (ended, failed or cancelled). */
  finalized: Schema.Number
}) {}

/** An ordinary (not concurrent) rpc: it takes its turn in the mailbox, and is logged when it runs. */
export class Mark extends Schema.TaggedClass<Mark>()("Mark", {}) {}

/** The instance's log: streams starting and ending, marks running, in order. */
export class GetLog extends Schema.TaggedClass<GetLog>()("GetLog", {}) {}

/** The declared error of a stream that breaks mid-way. */
export class StreamBroke extends Schema.TaggedError<StreamBroke>()("StreamBroke", { at: Schema.Number }) {}

export const Streamer = Agent.make("streamer", {
  CountTo: Agent.stream(CountTo, { success: Tick, error: StreamBroke }),
  Endless: Agent.stream(Endless, { success: Tick }),
  Stall: Agent.stream(Stall, { success: Tick }),
  // concurrent: it answers while a stream holds the instance's turn
  GetProduction: Agent.rpc(GetProduction, { success: Production, concurrent: true }),
  Mark: Agent.rpc(Mark),
  GetLog: Agent.rpc(GetLog, { success: Schema.Array(Schema.String), concurrent: true })
})

export const StreamerLive = Streamer.toLayer(Effect.gen(function*() {
  const produced = yield* Ref.make(0)
  const finalized = yield* Ref.make(0)
  /** One tick per pull, counted when it is produced: the producer is exactly as far as it was pulled. */
  const ticks = Stream.fromEffectRepeat(Effect.map(Ref.getAndUpdate(produced, (n) => n + 1), (i) => new Tick({ i })))
  const log = yield* Ref.make<ReadonlyArray<string>>([])
  const note = (entry: string) => Ref.update(log, (all) => [...all, entry])
  const observed = <E>(stream: Stream.Stream<Tick, E>) =>
    Stream.unwrap(Effect.as(note("stream started"), stream)).pipe(
      Stream.ensuring(Effect.andThen(Ref.update(finalized, (n) => n + 1), note("stream ended")))
    )
  return Streamer.of({
    CountTo: ({ failAt, n }) =>
      observed(Stream.range(0, n - 1).pipe(
        Stream.mapEffect((i) => i === failAt ? Effect.fail(new StreamBroke({ at: i })) : Effect.succeed(new Tick({ i })))
      )),
    Endless: () => observed(ticks),
    Stall: ({ after }) => observed(Stream.concat(Stream.take(ticks, after), Stream.never)),
    Mark: () => note("mark"),
    GetLog: () => Ref.get(log),
    GetProduction: () => Effect.all({ produced: Ref.get(produced), finalized: Ref.get(finalized) }).pipe(Effect.map((p) => new Production(p)))
  })
}))
