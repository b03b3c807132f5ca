/**
 * The messages and agents of the conformance suite. Agent contracts
 * (`Agent.make`) are plain values; their behaviours are layers, some built
 * from a `Probe` so a test can watch a handler start, stop or be finalized.
 *
 * Agents that a test observes only through messages (counters, recorders,
 * the gate, the ping-pong pair) need nothing from the test, so they would
 * also run in another process; probe-built agents must share the test's
 * process.
 */
import { Deferred, Effect, Latch, Queue, Ref, Schema } from "effect"
import { type AccessPolicy, Agent, AgentRuntime, Subscription, TopicId } from "../../src/index.ts"

// ---------------------------------------------------------------------------
// messages
// ---------------------------------------------------------------------------

export class Greet extends Schema.TaggedClass<Greet>()("Greet", { name: Schema.String }) {}
export class Greeting extends Schema.TaggedClass<Greeting>()("Greeting", { text: Schema.String }) {}

export class Increment extends Schema.TaggedClass<Increment>()("Increment", { by: Schema.Number }) {}
export class GetCount extends Schema.TaggedClass<GetCount>()("GetCount", {}) {}

export class Note extends Schema.TaggedClass<Note>()("Note", { text: Schema.String }) {}
export class GetNotes extends Schema.TaggedClass<GetNotes>()("GetNotes", {}) {}

export class Explode extends Schema.TaggedClass<Explode>()("Explode", {
  mode: Schema.Literals(["declared", "undeclared", "defect"])
}) {}
export class Boom extends Schema.TaggedError<Boom>()("Boom", { reason: Schema.String }) {}

export class Hang extends Schema.TaggedClass<Hang>()("Hang", { label: Schema.String }) {}
export class Quick extends Schema.TaggedClass<Quick>()("Quick", {}) {}
export class Forward extends Schema.TaggedClass<Forward>()("Forward", { label: Schema.String }) {}

export class Work extends Schema.TaggedClass<Work>()("Work", {}) {}
export class Wait extends Schema.TaggedClass<Wait>()("Wait", {}) {}
export class Open extends Schema.TaggedClass<Open>()("Open", {}) {}

export class Ping extends Schema.TaggedClass<Ping>()("Ping", {}) {}
export class Pong extends Schema.TaggedClass<Pong>()("Pong", {}) {}
export class CallSelf extends Schema.TaggedClass<CallSelf>()("CallSelf", {}) {}

export class Cascade extends Schema.TaggedClass<Cascade>()("Cascade", { round: Schema.Number }) {}

export class WhoAmI extends Schema.TaggedClass<WhoAmI>()("WhoAmI", {}) {}
export class Identity extends Schema.TaggedClass<Identity>()("Identity", {
  self: Schema.String,
  fromContext: Schema.String,
  sender: Schema.NullOr(Schema.String)
}) {}
export class AskWho extends Schema.TaggedClass<AskWho>()("AskWho", { key: Schema.String }) {}
export class Shout extends Schema.TaggedClass<Shout>()("Shout", { text: Schema.String }) {}
export class Secret extends Schema.TaggedClass<Secret>()("Secret", {}) {}
export class PassSecret extends Schema.TaggedClass<PassSecret>()("PassSecret", { key: Schema.String }) {}

/** A message no agent handles. */
export class Nope extends Schema.TaggedClass<Nope>()("Nope", {}) {}

// ---------------------------------------------------------------------------
// greeter: the hello-world agent
// ---------------------------------------------------------------------------

export const Greeter = Agent.make("greeter", {
  Greet: Agent.rpc(Greet, { success: Greeting })
})

export const GreeterLive = Greeter.toLayer(
  Effect.gen(function*() {
    const self = yield* Agent.Self
    return Greeter.of({
      Greet: ({ name }) => Effect.succeed(new Greeting({ text: `Hello, ${name} from ${self.key}` }))
    })
  }),
  { description: "says hello" }
)

// ---------------------------------------------------------------------------
// counter: Agent.state, saved and loaded by the runtime
// ---------------------------------------------------------------------------

export const Counter = Agent.make("counter", {
  Increment: Agent.rpc(Increment, { success: Schema.Number }),
  GetCount: Agent.rpc(GetCount, { success: Schema.Number })
})

export const CounterLive = Counter.toLayer(Effect.gen(function*() {
  const count = yield* Agent.state(Schema.Number, 0, { name: "count" })
  return Counter.of({
    Increment: ({ by }) => Ref.updateAndGet(count, (n) => n + by),
    GetCount: () => Ref.get(count)
  })
}))

// ---------------------------------------------------------------------------
// recorders: remember the notes they are sent or published, in order
// ---------------------------------------------------------------------------

export const recorderType = <const Name extends string>(name: Name) =>
  Agent.make(name, {
    // one message type, two handlers: `Note` runs for a publish, `Record` for a send
    Note: Agent.event(Note),
    Record: Agent.rpc(Note),
    GetNotes: Agent.rpc(GetNotes, { success: Schema.Array(Schema.String) })
  })

export const recorderLayer = <const Name extends string>(
  type: ReturnType<typeof recorderType<Name>>,
  options?: Agent.LayerOptions
) =>
  type.toLayer(
    Effect.gen(function*() {
      const notes = yield* Agent.state(Schema.Array(Schema.String), [], { name: "notes" })
      return type.of({
        Note: ({ text }) => Ref.update(notes, (all) => [...all, text]),
        Record: ({ text }) => Ref.update(notes, (all) => [...all, text]),
        GetNotes: () => Ref.get(notes)
      })
    }),
    options
  )

/** Reads a recorder's notes. */
export const notesOf = (type: ReturnType<typeof recorderType<string>>, key: string) =>
  Effect.flatMap(type.client, (client) => client(key).GetNotes({}))

// ---------------------------------------------------------------------------
// failing: handlers that fail in each way
// ---------------------------------------------------------------------------

export const Failing = Agent.make("failing", {
  Explode: Agent.rpc(Explode, { success: Schema.String, error: Boom }),
  Note: Agent.event(Note)
})

export const FailingLive = Failing.toLayer(Effect.succeed(Failing.of({
  Explode: ({ mode }) =>
    mode === "declared"
      ? Effect.fail(new Boom({ reason: "as declared" }))
      : mode === "undeclared"
      // a failure the contract does not declare, as untyped code can produce
      ? Effect.fail(new Error("not declared")) as unknown as Effect.Effect<never, Boom>
      : Effect.die(new Error("a defect")),
  Note: ({ text }) => Effect.fail(new Boom({ reason: text }))
})))

/** Fails building every other instance: the first build fails, the next succeeds. */
export const Flaky = Agent.make("flaky", { Greet: Agent.rpc(Greet, { success: Greeting }) })
export const flakyLayer = (builds: Ref.Ref<number>) =>
  Flaky.toLayer(Effect.gen(function*() {
    const n = yield* Ref.updateAndGet(builds, (x) => x + 1)
    if (n === 1) return yield* Effect.fail(new Error("first build fails"))
    return Flaky.of({ Greet: ({ name }) => Effect.succeed(new Greeting({ text: name })) })
  }))

// ---------------------------------------------------------------------------
// blocker: a handler that never ends unless interrupted (watched by a probe)
// ---------------------------------------------------------------------------

/** What a test watches of probe-built agents. */
export interface Probe {
  /** Labels of `Hang` handlers that started. */
  readonly started: Queue.Queue<string>
  /** Labels of `Hang` handlers that were interrupted. */
  readonly interrupted: Queue.Queue<string>
  /** Ids of instances whose scope closed. */
  readonly finalized: Queue.Queue<string>
}

export const makeProbe: Effect.Effect<Probe> = Effect.gen(function*() {
  return {
    started: yield* Queue.unbounded<string>(),
    interrupted: yield* Queue.unbounded<string>(),
    finalized: yield* Queue.unbounded<string>()
  }
})

export const Blocker = Agent.make("blocker", {
  Hang: Agent.rpc(Hang, { success: Schema.String }),
  HangPublished: Agent.event(Hang),
  Quick: Agent.rpc(Quick, { success: Schema.String, concurrent: true })
})

export const blockerLayer = (probe: Probe, options?: Agent.LayerOptions) =>
  Blocker.toLayer(
    Effect.gen(function*() {
      const self = yield* Agent.Self
      yield* Effect.addFinalizer(() => Queue.offer(probe.finalized, self.toString()))
      const hang = (label: string) =>
        Queue.offer(probe.started, label).pipe(
          Effect.andThen(Effect.never),
          Effect.onInterrupt(() => Queue.offer(probe.interrupted, label))
        )
      return Blocker.of({
        Hang: ({ label }) => hang(label),
        HangPublished: ({ label }) => hang(label),
        Quick: () => Effect.succeed("quick")
      })
    }),
    options
  )

/** Forwards `Hang` to the blocker of the same key: a nested send. */
export const Relay = Agent.make("relay", {
  Forward: Agent.rpc(Forward, { success: Schema.String })
})

export const RelayLive = Relay.toLayer(Effect.gen(function*() {
  const self = yield* Agent.Self
  const blocker = yield* Blocker.client
  return Relay.of({
    Forward: ({ label }) => blocker(self.key).Hang({ label }).pipe(Effect.orDie)
  })
}))

// ---------------------------------------------------------------------------
// mailbox and concurrency
// ---------------------------------------------------------------------------

export const Serial = Agent.make("serial", {
  Work: Agent.rpc(Work, { success: Schema.Number }),
  Note: Agent.event(Note),
  GetNotes: Agent.rpc(GetNotes, { success: Schema.Array(Schema.String) })
})

/** `Work` answers the most handlers it saw running at once. */
export const SerialLive = Serial.toLayer(Effect.gen(function*() {
  let active = 0
  let most = 0
  const notes: Array<string> = []
  return Serial.of({
    Work: () =>
      Effect.gen(function*() {
        active++
        most = Math.max(most, active)
        yield* Effect.sleep("5 millis")
        active--
        return most
      }),
    Note: ({ text }) =>
      Effect.gen(function*() {
        notes.push(`start ${text}`)
        yield* Effect.yieldNow
        yield* Effect.sleep("1 millis")
        notes.push(`end ${text}`)
      }),
    GetNotes: () => Effect.sync(() => [...notes])
  })
}))

export const Parallel = Agent.make("parallel", {
  Work: Agent.rpc(Work, { success: Schema.Number })
})

/**
 * `Work` waits until `width` handlers run at once (or a second passes) and
 * answers the most it saw: `width` with enough concurrency, less without.
 */
export const parallelLayer = (width: number) =>
  Parallel.toLayer(
    Effect.gen(function*() {
      let active = 0
      let most = 0
      const allIn = yield* Latch.make(false)
      return Parallel.of({
        Work: () =>
          Effect.gen(function*() {
            active++
            most = Math.max(most, active)
            if (active >= width) yield* allIn.open
            yield* allIn.await.pipe(Effect.timeoutOption("1 second"))
            active--
            return most
          })
      })
    }),
    { concurrency: width }
  )

/** `Wait` waits for `Open`; `Open` is concurrent, so it can overtake `Wait`. */
export const Gate = Agent.make("gate", {
  Wait: Agent.rpc(Wait, { success: Schema.String }),
  Open: Agent.rpc(Open, { concurrent: true })
})

export const GateLive = Gate.toLayer(Effect.gen(function*() {
  const opened = yield* Deferred.make<void>()
  return Gate.of({
    Wait: () => Deferred.await(opened).pipe(Effect.as("opened")),
    Open: () => Deferred.succeed(opened, undefined).pipe(Effect.asVoid)
  })
}))

// ---------------------------------------------------------------------------
// ping-pong: call cycles
// ---------------------------------------------------------------------------

/** The tag of a failure, or "ok": how a handler reports what its own send met. */
const outcomeOf = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.match(effect, { onFailure: (e) => e._tag, onSuccess: () => "ok" })

export const PingAgent = Agent.make("ping", {
  Ping: Agent.rpc(Ping, { success: Schema.String }),
  CallSelf: Agent.rpc(CallSelf, { success: Schema.String })
})
export const PongAgent = Agent.make("pong", {
  Pong: Agent.rpc(Pong, { success: Schema.String })
})

/** `Ping` asks pong, which pings back: the second ping would wait forever. */
export const PingLive = PingAgent.toLayer(Effect.gen(function*() {
  const self = yield* Agent.Self
  const pong = yield* PongAgent.client
  const ping = yield* PingAgent.client
  return PingAgent.of({
    Ping: () => pong(self.key).Pong({}).pipe(Effect.catch((e) => Effect.succeed(`pong failed: ${e._tag}`))),
    CallSelf: () => outcomeOf(ping(self.key).Ping({}))
  })
}))

export const PongLive = PongAgent.toLayer(Effect.gen(function*() {
  const self = yield* Agent.Self
  const ping = yield* PingAgent.client
  return PongAgent.of({
    Pong: () => outcomeOf(ping(self.key).Ping({}))
  })
}))

// ---------------------------------------------------------------------------
// cascade: agents publishing in response to each other
// ---------------------------------------------------------------------------

export const cascadeTopic = "cascade"

export const cascaderType = (i: number) =>
  Agent.make(`cascade-${i}`, {
    Cascade: Agent.event(Cascade),
    GetCount: Agent.rpc(GetCount, { success: Schema.Number })
  })

/** Counts what it receives; below `maxRound` publishes the next round on the same topic. */
export const cascaderLayer = (type: ReturnType<typeof cascaderType>, maxRound: number) =>
  type.toLayer(
    Effect.gen(function*() {
      const received = yield* Ref.make(0)
      return type.of({
        Cascade: ({ round }, ctx) =>
          Effect.gen(function*() {
            yield* Ref.update(received, (n) => n + 1)
            if (round < maxRound && ctx.topic !== undefined) {
              yield* AgentRuntime.publish(ctx.topic, new Cascade({ round: round + 1 }))
            }
          }),
        GetCount: () => Ref.get(received)
      })
    }),
    { subscriptions: [Subscription.type(cascadeTopic)] }
  )

// ---------------------------------------------------------------------------
// identity: what a handler knows about itself and its sender
// ---------------------------------------------------------------------------

export const Identifier = Agent.make("identifier", {
  WhoAmI: Agent.rpc(WhoAmI, { success: Identity }),
  AskWho: Agent.rpc(AskWho, { success: Identity }),
  Shout: Agent.rpc(Shout),
  PassSecret: Agent.rpc(PassSecret, { success: Schema.String }),
  Note: Agent.event(Note),
  GetNotes: Agent.rpc(GetNotes, { success: Schema.Array(Schema.String) })
})

export const Vault = Agent.make("vault", {
  Secret: Agent.rpc(Secret, { success: Schema.String })
})

export const VaultLive = Vault.toLayer(Effect.succeed(Vault.of({
  Secret: (_, ctx) => Effect.succeed(`told ${ctx.sender?.toString() ?? "nobody"}`)
})))

/** Where identifiers shout. */
export const shoutsTopic = "shouts"

/**
 * `WhoAmI` answers `Agent.Self` read inside the handler and the context's
 * `self` and `sender`; `AskWho` asks another identifier (so the answer names
 * this one as sender); `Shout` publishes a note on `shouts/<own key>`, a
 * topic it listens on itself; `PassSecret` asks the vault and answers what
 * the vault said.
 */
export const IdentifierLive = Identifier.toLayer(
  Effect.gen(function*() {
    const client = yield* Identifier.client
    const vault = yield* Vault.client
    const runtime = yield* AgentRuntime.AgentRuntime
    const notes: Array<string> = []
    return Identifier.of({
      WhoAmI: (_, ctx) =>
        Effect.gen(function*() {
          const self = yield* Agent.Self
          return new Identity({
            self: self.toString(),
            fromContext: ctx.self.toString(),
            sender: ctx.sender?.toString() ?? null
          })
        }),
      AskWho: ({ key }) => client(key).WhoAmI({}).pipe(Effect.orDie),
      Shout: ({ text }, ctx) => runtime.publish(TopicId.make(shoutsTopic, ctx.self.key), new Note({ text })).pipe(Effect.orDie),
      PassSecret: ({ key }) => vault(key).Secret({}).pipe(Effect.catch((e) => Effect.succeed(e._tag))),
      Note: ({ text }) => Effect.sync(() => void notes.push(text)),
      GetNotes: () => Effect.sync(() => [...notes])
    })
  }),
  { subscriptions: [Subscription.type(shoutsTopic)] }
)

/**
 * The access policy of the suite's policy tests: only identifiers may ask
 * the vault; nobody may publish to listeners. A module-level export, so a
 * host in another process can load it (`effect-agents host --policy`).
 */
export const vaultPolicy: AccessPolicy.AccessPolicy = ({ kind, messageType, recipient, sender }) =>
  (messageType !== "Secret" || sender?.type === "identifier") && !(kind === "publish" && recipient.type === "listener")

/**
 * A concurrent handler that calls out and is called back with a serial
 * message: no deadlock, the serial slot is free.
 */
export class Ask extends Schema.TaggedClass<Ask>()("Ask", {}) {}
export class CallBack extends Schema.TaggedClass<CallBack>()("CallBack", {}) {}
export class Plain extends Schema.TaggedClass<Plain>()("Plain", {}) {}

export const Bouncer = Agent.make("bouncer", {
  Ask: Agent.rpc(Ask, { success: Schema.String, concurrent: true }),
  Plain: Agent.rpc(Plain, { success: Schema.String })
})
export const Caller = Agent.make("caller", { CallBack: Agent.rpc(CallBack, { success: Schema.String }) })

export const BouncerLive = Bouncer.toLayer(Effect.gen(function*() {
  const caller = yield* Caller.client
  const self = yield* Agent.Self
  return Bouncer.of({
    Ask: () => Effect.orDie(caller(self.key).CallBack({})),
    Plain: () => Effect.succeed("plain")
  })
}))

export const CallerLive = Caller.toLayer(Effect.gen(function*() {
  const bouncer = yield* Bouncer.client
  const self = yield* Agent.Self
  return Caller.of({ CallBack: () => Effect.orDie(bouncer(self.key).Plain({})) })
}))

// ---------------------------------------------------------------------------
// routing: which handler runs (by kind and by match), and a slow cancellation
// ---------------------------------------------------------------------------

export class Parcel extends Schema.TaggedClass<Parcel>()("Parcel", { size: Schema.Number }) {}

/** A predicate with a bug: it throws for a negative size. */
const isSmall = (p: Parcel): boolean => {
  if (p.size < 0) throw new Error("negative size")
  return p.size < 10
}

/** Sorts parcels by size: two rpc handlers and an event handler of one message, chosen by `match`. */
export const Sorter = Agent.make("sorter", {
  Small: Agent.rpc(Parcel, { success: Schema.String, match: (p) => isSmall(p) }),
  Large: Agent.rpc(Parcel, { success: Schema.String, match: (p) => p.size >= 100 }),
  SmallPublished: Agent.event(Parcel, { match: (p, context) => isSmall(p) && context.topic !== undefined }),
  GetNotes: Agent.rpc(GetNotes, { success: Schema.Array(Schema.String) })
})

export const SorterLive = Sorter.toLayer(Effect.gen(function*() {
  const seen = yield* Agent.state(Schema.Array(Schema.String), [])
  return Sorter.of({
    Small: ({ size }) => Effect.as(Ref.update(seen, (all) => [...all, `small ${size}`]), "small"),
    Large: ({ size }) => Effect.as(Ref.update(seen, (all) => [...all, `large ${size}`]), "large"),
    SmallPublished: ({ size }) => Ref.update(seen, (all) => [...all, `published ${size}`]),
    GetNotes: () => Ref.get(seen)
  })
}), { subscriptions: [Subscription.type("parcels")] })

const notesSchema = Schema.Array(Schema.String)

/** Only an event handler of `Note`: a send of a `Note` finds no handler. */
export const EventsOnly = Agent.make("events-only", {
  Note: Agent.event(Note),
  GetNotes: Agent.rpc(GetNotes, { success: notesSchema })
})

export const EventsOnlyLive = EventsOnly.toLayer(Effect.gen(function*() {
  const notes = yield* Agent.state(notesSchema, [])
  return EventsOnly.of({ Note: ({ text }) => Ref.update(notes, (all) => [...all, text]), GetNotes: () => Ref.get(notes) })
}), { subscriptions: [Subscription.type("notes")] })

/** Only an rpc handler of `Note`: a publish of a `Note` finds no handler. */
export const RpcOnly = Agent.make("rpc-only", {
  Note: Agent.rpc(Note),
  GetNotes: Agent.rpc(GetNotes, { success: notesSchema })
})

export const RpcOnlyLive = RpcOnly.toLayer(Effect.gen(function*() {
  const notes = yield* Agent.state(notesSchema, [])
  return RpcOnly.of({ Note: ({ text }) => Ref.update(notes, (all) => [...all, text]), GetNotes: () => Ref.get(notes) })
}), { subscriptions: [Subscription.type("notes")] })

export class Linger extends Schema.TaggedClass<Linger>()("Linger", { millis: Schema.Number }) {}
export class WasCleaned extends Schema.TaggedClass<WasCleaned>()("WasCleaned", {}) {}

/** A handler that never ends by itself and, when cancelled, takes `millis` to clean up. */
export const Lingerer = Agent.make("lingerer", {
  Linger: Agent.rpc(Linger),
  WasCleaned: Agent.rpc(WasCleaned, { success: Schema.Boolean, concurrent: true })
})

export const LingererLive = Lingerer.toLayer(Effect.gen(function*() {
  const cleaned = yield* Ref.make(false)
  return Lingerer.of({
    Linger: ({ millis }) =>
      Effect.never.pipe(Effect.onInterrupt(() => Effect.sleep(millis).pipe(Effect.andThen(Ref.set(cleaned, true))))),
    WasCleaned: () => Ref.get(cleaned)
  })
}))

// the topic suites' agents, loadable by name in worker processes
export * from "./topics/streaming-fixtures.ts"
export * from "./topics/passivation-fixtures.ts"
