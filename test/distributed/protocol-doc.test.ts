/**
 * docs/protocol.md, checked against a real host: every test drives an
 * in-process host servicer with raw JSON frames over a WebSocket, written
 * from the document alone (raw-client.ts; no effect/rpc client). When the
 * host and the document disagree, one of them is wrong.
 */
import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Net from "node:net"
import { Context, Deferred, Duration, Effect, Layer, Schema, Stream } from "effect"
import { Agent, HostServicer, Subscription } from "../../src/index.ts"
import { cancelGraceMillis } from "../../src/distributed/internal/HostRequests.ts"
import { Telemetry } from "../../src/telemetry/index.ts"
import * as Harness from "../support/harness.ts"
import * as Raw from "./raw-client.ts"

/** The `error` of an exit's first `Fail`. */
const failure = (exit: any): any => {
  assert.strictEqual(exit._tag, "Failure", `expected a Failure, got ${JSON.stringify(exit)}`)
  const fail = exit.cause.find((c: any) => c._tag === "Fail")
  assert.isDefined(fail, `expected a Fail in ${JSON.stringify(exit.cause)}`)
  return fail.error
}

/** The `defect` of an exit's `Die`. */
const defect = (exit: any): unknown => {
  assert.strictEqual(exit._tag, "Failure", `expected a Failure, got ${JSON.stringify(exit)}`)
  const die = exit.cause.find((c: any) => c._tag === "Die")
  assert.isDefined(die, `expected a Die in ${JSON.stringify(exit.cause)}`)
  return die.defect
}

const ok = (value: unknown = null) => ({ _tag: "Success", value })
const greet = (name: string) => ({ type: "Greet", data: { _tag: "Greet", name } })
const said = { type: "Said", data: { _tag: "Said", text: "hi" } }
const nest = (levels: number): unknown => {
  let value: unknown = 0
  for (let i = 0; i < levels; i++) value = [value]
  return value
}
const isExitOf = (id: string | number) => (f: Raw.Frame) => f._tag === "Exit" && f.requestId === id

// A TypeScript agent type with several handlers of one message type, for the routed-agent contract on the wire
class Note extends Schema.TaggedClass<Note>()("Note", { text: Schema.String }) {}
class Heard extends Schema.TaggedClass<Heard>()("Heard", { text: Schema.String }) {}
class Ask extends Schema.TaggedClass<Ask>()("Ask", { text: Schema.String }) {}
class Hold extends Schema.TaggedClass<Hold>()("Hold", {}) {}
class Prompt extends Schema.TaggedClass<Prompt>()("Prompt", { text: Schema.String }) {}
const Routed = Agent.make("routed", {
  Urgent: Agent.rpc(Note, { success: Schema.String, match: (note) => note.text.startsWith("urgent") }),
  Logged: Agent.event(Note),
  Heard: Agent.event(Heard),
  Ask: Agent.rpc(Ask, { success: Schema.String }),
  Hold: Agent.rpc(Hold),
  Tokens: Agent.stream(Prompt, { success: Schema.String })
})

/** What the `Hold` handler went through: it never ends by itself; its finalizer waits for `release`. */
interface Holding {
  readonly started: Deferred.Deferred<void>
  readonly interrupted: Deferred.Deferred<void>
  readonly release: Deferred.Deferred<void>
  cleaned: boolean
}

const makeHolding = Effect.gen(function*(): Effect.fn.Return<Holding> {
  return { started: yield* Deferred.make<void>(), interrupted: yield* Deferred.make<void>(), release: yield* Deferred.make<void>(), cleaned: false }
})

const routedLive = (holding: Holding) =>
  Routed.toLayer(Effect.succeed(Routed.of({
    Urgent: ({ text }) => Effect.succeed(`urgent handler: ${text}`),
    Logged: () => Effect.void,
    Heard: () => Effect.void,
    Ask: ({ text }) => Effect.succeed(`asked ${text}`),
    Tokens: ({ text }) => Stream.make(text),
    Hold: () =>
      Deferred.succeed(holding.started, undefined).pipe(
        Effect.andThen(Effect.never),
        // a slow cleanup: the host must count the request in flight until it has run
        Effect.onInterrupt(() =>
          Deferred.succeed(holding.interrupted, undefined).pipe(
            Effect.andThen(Deferred.await(holding.release)),
            Effect.andThen(Effect.sync(() => (holding.cleaned = true)))
          )
        )
      )
  })), { subscriptions: [Subscription.type("notes")] })

const wire = (type: string, fields: Record<string, unknown> = {}) => ({ type, data: { _tag: type, ...fields } })
const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/** A raw newline-delimited JSON client over TCP, for the life of the scope. */
const tcpClient = (port: number) =>
  Effect.acquireRelease(
    Effect.callback<{
      readonly frames: ReadonlyArray<Raw.Frame>
      readonly write: (value: unknown) => void
      readonly writeLine: (line: string) => void
      readonly frame: (predicate: (f: Raw.Frame) => boolean) => Effect.Effect<Raw.Frame>
      readonly socket: Net.Socket
    }>((resume) => {
      const frames: Array<Raw.Frame> = []
      const waiters = new Set<() => void>()
      let buffer = ""
      const socket = Net.connect(port, "127.0.0.1")
      socket.on("data", (chunk) => {
        buffer += chunk.toString()
        let nl
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl)
          buffer = buffer.slice(nl + 1)
          if (line.trim() !== "") frames.push(JSON.parse(line))
        }
        for (const waiter of waiters) waiter()
      })
      const writeLine = (line: string) => socket.write(`${line}\n`)
      const frame = (predicate: (f: Raw.Frame) => boolean) =>
        Effect.callback<Raw.Frame>((done) => {
          const check = () => {
            const found = frames.find(predicate)
            if (found !== undefined) {
              waiters.delete(check)
              done(Effect.succeed(found))
            }
          }
          waiters.add(check)
          check()
          return Effect.sync(() => waiters.delete(check))
        }).pipe(Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.die(new Error("no matching TCP frame within 5 s")) }))
      socket.on("connect", () => resume(Effect.succeed({ frames, write: (value) => writeLine(JSON.stringify(value)), writeLine, frame, socket })))
      socket.on("error", (error) => resume(Effect.die(error)))
    }),
    (client) => Effect.sync(() => client.socket.destroy())
  )

describe("docs/protocol.md, spoken by a raw WebSocket client", () => {
  it.live("handshake: calls before Connect fail NotJoined; Welcome comes first with the documented fields; one Connect per connection", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const a = yield* Raw.open(host.service.url, "A")
      assert.deepStrictEqual(yield* a.call("ListSubscriptions", {}), {
        _tag: "Failure",
        cause: [{
          _tag: "Fail",
          error: { _tag: "UndeliverableError", recipient: "host", reason: { _tag: "NotJoined", detail: "this connection has not joined: call Connect first" } }
        }]
      })
      const welcome = yield* a.join({ workerId: "w-a" })
      assert.strictEqual(a.pushed[0], welcome, "Welcome is the first item of the stream")
      assert.deepStrictEqual(Object.keys(welcome).sort(), ["_tag", "features", "heartbeatMillis", "heartbeatTimeoutMillis", "hostId", "resume", "workerId"])
      assert.deepStrictEqual(welcome.features, ["PublishMany"])
      assert.strictEqual(welcome.workerId, "w-a")
      assert.match(welcome.hostId, /^[0-9a-z]+$/)
      assert.match(welcome.resume, /^[0-9a-f]{32}$/)
      assert.strictEqual(welcome.heartbeatMillis, 500)
      assert.strictEqual(welcome.heartbeatTimeoutMillis, 2000)
      // the Connect request's id comes back with its JSON type: a number here
      const chunk = a.frames.find((f) => f._tag === "Chunk")!
      assert.strictEqual(chunk.requestId, a.connectId())
      assert.strictEqual(typeof chunk.requestId, "number")
      assert.strictEqual(failure(yield* a.call("Connect", { workerId: "w-other" })).reason.detail, "this connection has joined already: one Connect per connection")
    }).pipe(Effect.scoped))

  it.live("heartbeat: the host pings on the stream every heartbeatMillis from the start, and a Pong call is answered with null", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const a = yield* Raw.open(host.service.url, "A")
      a.answerPings = false
      const welcome = yield* a.join({ workerId: "w-ping" })
      const first = yield* a.item((p) => p._tag === "Ping")
      const second = yield* a.item((p) => p._tag === "Ping" && p !== first)
      // the seq is a nonce (a worker that does not read cannot answer), not a counter
      assert.deepStrictEqual(Object.keys(first).sort(), ["_tag", "seq"])
      assert.isTrue(Number.isInteger(first.seq) && first.seq >= 0 && first.seq < 2 ** 32)
      assert.notStrictEqual(first.seq, second.seq)
      assert.strictEqual(a.streamOf(first), a.connectId())
      assert.isBelow(a.at(first) - a.at(welcome), 250, "the first Ping follows Welcome at once")
      const interval = a.at(second) - a.at(first)
      assert.isAtLeast(interval, 400)
      assert.isAtMost(interval, 750)
      assert.deepStrictEqual(yield* a.call("Pong", { seq: second.seq }), ok())
      // effect/rpc's own keepalive is a different thing: an envelope, answered by an envelope
      a.send({ _tag: "Ping" })
      yield* a.frame((f) => f._tag === "Pong")
    }).pipe(Effect.scoped))

  it.live("send: a registered worker gets its own agent's Deliver; its Reply's outcome becomes the Send's Exit", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const a = yield* Raw.open(host.service.url, "A")
      const welcome = yield* a.join({ workerId: "w-a" })
      assert.deepStrictEqual(yield* a.call("RegisterAgentType", { name: "greeter", description: "says hello" }), ok())
      const send = a.request("Send", { recipient: { type: "greeter", key: "alice" }, messageId: "a-1", chain: [], message: greet("Bob") })
      const deliver = yield* a.item((p) => p._tag === "Deliver")
      assert.strictEqual(a.streamOf(deliver), a.connectId())
      // the host's id, a counter and a random part: unguessable, so only a worker that read the request can answer it
      assert.match(deliver.requestId, new RegExp(`^${welcome.hostId}-[0-9a-z]+-[0-9a-f]{16}$`))
      assert.deepStrictEqual(deliver, {
        _tag: "Deliver",
        requestId: deliver.requestId,
        messageId: "a-1",
        recipient: { type: "greeter", key: "alice" },
        message: greet("Bob"),
        rpc: true,
        chain: []
      })
      assert.isUndefined(a.frames.find(isExitOf(send)), "the Send waits for the Reply")
      const reply = yield* a.call("Reply", { replies: [{ requestId: deliver.requestId, outcome: { _tag: "Success", value: "Hello, Bob" } }] })
      assert.deepStrictEqual(reply, ok())
      assert.deepStrictEqual(yield* a.exit(send), ok("Hello, Bob"))

      // a Failure outcome is the Send's Fail
      const risky = a.request("Send", { recipient: { type: "greeter", key: "alice" }, messageId: "a-2", chain: ["x-1"], message: greet("Eve") })
      const second = yield* a.item((p) => p._tag === "Deliver" && p.messageId === "a-2")
      assert.deepStrictEqual(second.chain, ["x-1"])
      const error = { _tag: "HandlerError", recipient: "greeter/alice", messageType: "Greet", reason: "Refused", error: { _tag: "Refused", why: "asked to" } }
      yield* a.call("Reply", { replies: [{ requestId: second.requestId, outcome: { _tag: "Failure", error } }] })
      assert.deepStrictEqual(yield* a.exit(risky), { _tag: "Failure", cause: [{ _tag: "Fail", error }] })
      // answers to requests that are unknown (or settled) are ignored, and the Reply still succeeds
      assert.deepStrictEqual(yield* a.call("Reply", { replies: [{ requestId: deliver.requestId, outcome: { _tag: "Success", value: 1 } }] }), ok())
      // an error of no known tag fails the whole Reply
      assert.match(String(defect(yield* a.call("Reply", { replies: [{ requestId: "z", outcome: { _tag: "Failure", error: { _tag: "Weird" } } }] }))), /^Expected /)
    }).pipe(Effect.scoped))

  it.live("cancel: an interrupted Send exits Interrupt and its owner gets Cancel; so does a caller that disconnects", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const owner = yield* Raw.worker(host.service.url, "owner", "w-owner", "slow")
      const caller = yield* Raw.open(host.service.url, "caller")
      yield* caller.join({ workerId: "w-caller" })
      const send = caller.request("Send", { recipient: { type: "slow", key: "k" }, messageId: "c-1", chain: [], message: greet("x") })
      const first = yield* owner.item((p) => p._tag === "Deliver" && p.messageId === "c-1")
      caller.send({ _tag: "Interrupt", requestId: send })
      const exit = yield* caller.exit(send)
      assert.strictEqual(exit._tag, "Failure")
      assert.strictEqual(exit.cause[0]._tag, "Interrupt")
      assert.deepStrictEqual(yield* owner.item((p) => p._tag === "Cancel" && p.requestId === first.requestId), { _tag: "Cancel", requestId: first.requestId })

      const leaving = yield* Raw.open(host.service.url, "leaving")
      yield* leaving.join({ workerId: "w-leaving" })
      leaving.request("Send", { recipient: { type: "slow", key: "k" }, messageId: "c-2", chain: [], message: greet("y") })
      const second = yield* owner.item((p) => p._tag === "Deliver" && p.messageId === "c-2")
      leaving.close()
      yield* owner.item((p) => p._tag === "Cancel" && p.requestId === second.requestId)
    }).pipe(Effect.scoped))

  it.live("resume: a claim on a live worker id without its secret is refused and the holder keeps working; the secret takes the id over", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const a = yield* Raw.open(host.service.url, "A")
      const welcome = yield* a.join({ workerId: "w" })
      yield* a.call("RegisterAgentType", { name: "keeper", description: "" })

      const b = yield* Raw.open(host.service.url, "B")
      const inUse = {
        _tag: "NotAccessibleError",
        sender: "worker w",
        recipient: "host",
        messageType: "Connect",
        reason: "this worker id is in use by a live session; present its resume secret to take it over"
      }
      assert.deepStrictEqual(yield* b.call("Connect", { workerId: "w" }), { _tag: "Failure", cause: [{ _tag: "Fail", error: inUse }] })
      assert.deepStrictEqual(failure(yield* b.call("Connect", { workerId: "w", resume: "0".repeat(32) })), inUse)
      // a refused connection stays open and may join under another id
      yield* b.join({ workerId: "w-b" })
      // the holder keeps its traffic
      const first = b.request("Send", { recipient: { type: "keeper", key: "k" }, messageId: "b-1", chain: [], message: greet("1") })
      const d1 = yield* a.item((p) => p._tag === "Deliver" && p.messageId === "b-1")
      yield* a.call("Reply", { replies: [{ requestId: d1.requestId, outcome: { _tag: "Success", value: "from A" } }] })
      assert.deepStrictEqual(yield* b.exit(first), ok("from A"))

      // a request pending on A when C takes the id over
      const pending = b.request("Send", { recipient: { type: "keeper", key: "k" }, messageId: "b-2", chain: [], message: greet("2") })
      const d2 = yield* a.item((p) => p._tag === "Deliver" && p.messageId === "b-2")
      const c = yield* Raw.open(host.service.url, "C")
      const resumed = yield* c.join({ workerId: "w", resume: welcome.resume })
      assert.match(resumed.resume, /^[0-9a-f]{32}$/)
      assert.notStrictEqual(resumed.resume, welcome.resume, "every session has a new secret")
      assert.deepStrictEqual(yield* a.exit(a.connectId()!), ok(), "the replaced session's Connect stream ends")
      assert.deepStrictEqual(failure(yield* b.exit(pending)).reason, { _tag: "WorkerLeft", workerId: "w", detail: "replaced by a new connection of the same worker" })
      assert.strictEqual(failure(yield* a.call("ListSubscriptions", {})).reason._tag, "NotJoined")
      // a late answer from the new session to the old request changes nothing
      assert.deepStrictEqual(yield* c.call("Reply", { replies: [{ requestId: d2.requestId, outcome: { _tag: "Success", value: "late" } }] }), ok())
      // the new session declares again, and the work goes to it
      yield* c.call("RegisterAgentType", { name: "keeper", description: "" })
      const third = b.request("Send", { recipient: { type: "keeper", key: "k" }, messageId: "b-3", chain: [], message: greet("3") })
      const d3 = yield* c.item((p) => p._tag === "Deliver" && p.messageId === "b-3")
      yield* c.call("Reply", { replies: [{ requestId: d3.requestId, outcome: { _tag: "Success", value: "from C" } }] })
      assert.deepStrictEqual(yield* b.exit(third), ok("from C"))
      assert.isUndefined(a.pushed.find((p) => p._tag === "Deliver" && p.messageId === "b-3"))
    }).pipe(Effect.scoped))

  it.live("heartbeat: a worker that stops answering is dropped about 2 s after it was last heard; envelope Pings do not count", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const mute = yield* Raw.open(host.service.url, "mute")
      mute.answerPings = false
      yield* mute.join({ workerId: "mute" })
      yield* mute.call("RegisterAgentType", { name: "mute", description: "" })
      const lastHeard = mute.lastSent()
      // effect/rpc keepalives get envelope Pongs, but they are not calls: the host does not count them
      const keepalive = setInterval(() => mute.send({ _tag: "Ping" }), 200)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(keepalive)))
      const b = yield* Raw.open(host.service.url, "B")
      yield* b.join({ workerId: "w-b" })
      const send = b.request("Send", { recipient: { type: "mute", key: "k" }, messageId: "b-1", chain: [], message: greet("?") })
      yield* mute.item((p) => p._tag === "Deliver")
      const ended = yield* mute.frame(isExitOf(mute.connectId()!), 4000)
      assert.deepStrictEqual(ended.exit, ok(), "the dropped worker's Connect stream ends")
      const dropped = mute.at(ended) - lastHeard
      const error = failure(yield* b.exit(send, 1000))
      assert.strictEqual(error._tag, "UndeliverableError")
      assert.strictEqual(error.recipient, "worker mute")
      assert.strictEqual(error.reason._tag, "WorkerLeft")
      assert.strictEqual(error.reason.workerId, "mute")
      assert.match(error.reason.detail, /^silent for \d+ ms$/)
      console.log(`heartbeat: silent worker dropped ${dropped} ms after its last call (host: "${error.reason.detail}"); its caller failed ${b.at(b.frames.find(isExitOf(send))!) - lastHeard} ms after`)
      assert.isAtLeast(dropped, 1900)
      assert.isAtMost(dropped, 3000)
      assert.isTrue(mute.frames.some((f) => f._tag === "Pong"), "envelope Pings were answered")
      // the socket stays open; the session is gone; the same id joins again without a secret
      assert.isUndefined(mute.closed())
      assert.strictEqual(failure(yield* mute.call("ListSubscriptions", {})).reason._tag, "NotJoined")
      mute.answerPings = true
      yield* mute.join({ workerId: "mute" })
    }).pipe(Effect.scoped))

  it.live("limits: a 256-character identifier is refused with a Die and leaves nothing behind; 255 is accepted", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const a = yield* Raw.open(host.service.url, "A")
      const tooLong = "x".repeat(256)
      // a workerId too long: refused, and the connection has not joined
      assert.strictEqual(defect(yield* a.call("Connect", { workerId: tooLong })), "Expected a value with a length of at most 255\n  at [\"workerId\"]")
      assert.strictEqual(failure(yield* a.call("ListSubscriptions", {})).reason._tag, "NotJoined")
      yield* a.join({ workerId: "w".repeat(255) })
      const kept = { _tag: "TypeSubscription", topicType: "t".repeat(255), agentType: "a".repeat(255) }
      assert.deepStrictEqual(yield* a.call("AddSubscription", { subscription: kept }), ok())
      const before = yield* a.call("ListSubscriptions", {})
      assert.deepStrictEqual(before, ok([kept]))
      assert.strictEqual(
        defect(yield* a.call("AddSubscription", { subscription: { _tag: "TypeSubscription", topicType: tooLong, agentType: "logger" } })),
        "Expected a value with a length of at most 255\n  at [\"subscription\"][\"topicType\"]"
      )
      assert.strictEqual(
        defect(yield* a.call("AddSubscription", { subscription: { _tag: "TypePrefixSubscription", prefix: tooLong, agentType: "logger" } })),
        "Expected a value with a length of at most 255\n  at [\"subscription\"][\"prefix\"]"
      )
      assert.strictEqual(defect(yield* a.call("RegisterAgentType", { name: tooLong, description: "" })), "Expected a value with a length of at most 255\n  at [\"name\"]")
      assert.strictEqual(
        defect(yield* a.call("Send", { recipient: { type: "a", key: "k" }, messageId: tooLong, chain: [], message: greet("x") })),
        "Expected a value with a length of at most 255\n  at [\"messageId\"]"
      )
      assert.deepStrictEqual(yield* a.call("ListSubscriptions", {}), before)
      assert.deepStrictEqual((yield* host.service.workers).map((w) => ({ workerId: w.workerId, agentTypes: w.agentTypes })), [{ workerId: "w".repeat(255), agentTypes: [] }])
    }).pipe(Effect.scoped))

  it.live("limits: a payload nested 100 (or 65) deep is refused with InvalidMessageError before any Deliver; 64 passes; replies and size are checked too", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const a = yield* Raw.worker(host.service.url, "A", "w-a", "deep")
      const sendData = (data: unknown) => ({ recipient: { type: "deep", key: "k" }, messageId: `m-${Math.random()}`, chain: [], message: { type: "Nest", data } })
      const tooDeep = { _tag: "InvalidMessageError", messageType: "Nest", issue: "nested deeper than the host's limit of 64" }
      assert.deepStrictEqual(yield* a.call("Send", sendData(nest(100))), { _tag: "Failure", cause: [{ _tag: "Fail", error: tooDeep }] })
      assert.deepStrictEqual(failure(yield* a.call("Send", sendData(nest(65)))), tooDeep)
      assert.deepStrictEqual(failure(yield* a.call("Send", sendData("x".repeat(1024 * 1024)))), {
        _tag: "InvalidMessageError",
        messageType: "Nest",
        issue: "1048578 bytes exceeds the host's limit of 1048576"
      })
      assert.isUndefined(a.pushed.find((p) => p._tag === "Deliver"), "nothing refused reached the worker")
      // 64 levels are delivered; a reply nested too deep reaches the caller as an error
      const send = a.request("Send", sendData(nest(64)))
      const deliver = yield* a.item((p) => p._tag === "Deliver")
      assert.deepStrictEqual(deliver.message.data, nest(64))
      yield* a.call("Reply", { replies: [{ requestId: deliver.requestId, outcome: { _tag: "Success", value: nest(65) } }] })
      assert.deepStrictEqual(failure(yield* a.exit(send)), { _tag: "InvalidMessageError", messageType: "reply", issue: "nested deeper than the host's limit of 64" })
    }).pipe(Effect.scoped))

  it.live("publish: waits out the recovery window after a host start; then plain resolves when queued, ack: true only after the Reply", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const startedAt = Date.now()
      const sub = yield* Raw.worker(host.service.url, "sub", "w-sub", "logger")
      yield* sub.call("AddSubscription", { subscription: { _tag: "TypeSubscription", topicType: "chat", agentType: "logger" } })
      const pub = yield* Raw.open(host.service.url, "pub")
      yield* pub.join({ workerId: "w-pub" })
      const publish = (source: string, messageId: string, ack?: boolean) =>
        pub.request("Publish", { topic: { type: "chat", source }, messageId, message: said, ...(ack ? { ack } : {}) })
      const answer = (deliver: Raw.Pushed, outcome: unknown) => sub.call("Reply", { replies: [{ requestId: deliver.requestId, outcome }] })

      // in the window: a publish, and a send to a type nobody declared, wait for it to end
      const early = publish("r0", "p-0")
      const ghost = pub.request("Send", { recipient: { type: "ghost", key: "k" }, messageId: "g-1", chain: [], message: greet("?") })
      const earlyExit = yield* pub.frame(isExitOf(early), 4000)
      assert.deepStrictEqual(earlyExit.exit, ok())
      const ghostExit = yield* pub.frame(isExitOf(ghost), 1000)
      assert.deepStrictEqual(failure(ghostExit.exit).reason, { _tag: "NoWorker", agentType: "ghost" })
      const waited = pub.at(earlyExit) - startedAt
      console.log(`recovery window: a publish made right after the host started resolved ${waited} ms after the start`)
      assert.isAtLeast(waited, 2700)
      assert.isAtMost(waited, 3600)
      const d0 = yield* sub.item((p) => p._tag === "Deliver" && p.messageId === "p-0:logger")
      yield* answer(d0, ok())

      // plain: resolved before the subscriber answered
      assert.deepStrictEqual(yield* pub.exit(publish("r1", "p-1")), ok())
      const d1 = yield* sub.item((p) => p._tag === "Deliver" && p.messageId === "p-1:logger")
      assert.deepStrictEqual(d1, {
        _tag: "Deliver",
        requestId: d1.requestId,
        messageId: "p-1:logger",
        recipient: { type: "logger", key: "r1" },
        topic: { type: "chat", source: "r1" },
        message: said,
        rpc: false,
        chain: []
      })
      yield* answer(d1, ok())

      // ack: true: resolved only after the Reply
      const acked = publish("r2", "p-2", true)
      const d2 = yield* sub.item((p) => p._tag === "Deliver" && p.messageId === "p-2:logger")
      yield* Effect.sleep(Duration.millis(300))
      assert.isUndefined(pub.frames.find(isExitOf(acked)), "no Exit before the subscriber's Reply")
      const repliedAt = Date.now()
      yield* answer(d2, ok())
      const ackExit = yield* pub.frame(isExitOf(acked))
      assert.deepStrictEqual(ackExit.exit, ok())
      assert.isAtLeast(pub.at(ackExit), repliedAt)

      // ack: true and a failing recipient: the publish fails with its error, and the publisher also gets a DeadLetter
      const failing = publish("r3", "p-3", true)
      const d3 = yield* sub.item((p) => p._tag === "Deliver" && p.messageId === "p-3:logger")
      const error = { _tag: "HandlerError", recipient: "logger/r3", messageType: "Said", reason: "disk full" }
      yield* answer(d3, { _tag: "Failure", error })
      assert.deepStrictEqual(failure(yield* pub.exit(failing)), error)
      assert.deepStrictEqual(yield* pub.item((p) => p._tag === "DeadLetter"), { _tag: "DeadLetter", recipient: "logger/r3", messageType: "Said", topic: "chat/r3", error })
    }).pipe(Effect.scoped))

  it.live("enforcement: a sender must run on the calling worker; a worker removes only the subscriptions it added", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const a = yield* Raw.worker(host.service.url, "A", "w-a", "owner")
      const subscription = { _tag: "TypeSubscription", topicType: "news", agentType: "owner" }
      yield* a.call("AddSubscription", { subscription })
      const b = yield* Raw.open(host.service.url, "B")
      yield* b.join({ workerId: "w-b" })
      assert.deepStrictEqual(failure(yield* b.call("Send", { recipient: { type: "owner", key: "x" }, sender: { type: "owner", key: "k" }, messageId: "b-1", chain: [], message: greet("x") })), {
        _tag: "NotAccessibleError",
        sender: "owner/k",
        recipient: "owner/x",
        messageType: "Greet",
        reason: "the sender does not run on this worker"
      })
      assert.deepStrictEqual(failure(yield* b.call("ListSubscriptions", { sender: { type: "owner", key: "k" } })), {
        _tag: "NotAccessibleError",
        sender: "owner/k",
        recipient: "host",
        messageType: "ListSubscriptions",
        reason: "the sender does not run on this worker"
      })
      assert.deepStrictEqual(yield* b.call("RemoveSubscription", { id: "type:news->owner" }), ok(false))
      assert.deepStrictEqual(yield* b.call("ListSubscriptions", {}), ok([subscription]))
      assert.deepStrictEqual(yield* a.call("RemoveSubscription", { id: "type:news->owner", sender: { type: "owner", key: "k" } }), ok(true))
      assert.deepStrictEqual(yield* b.call("ListSubscriptions", {}), ok([]))
    }).pipe(Effect.scoped))

  it.live("framing: bad frames get a Defect and the connection lives; arrays of envelopes; string ids; no headers answered; a reused in-flight id closes it", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const a = yield* Raw.open(host.service.url, "A")
      a.sendText("{not json")
      const syntax = yield* a.frame((f) => f._tag === "Defect")
      assert.strictEqual(syntax.defect.name, "SyntaxError")
      a.send({ _tag: "Bogus" })
      assert.deepStrictEqual(yield* a.frame((f) => f._tag === "Defect" && f.defect === "Unknown request tag: Bogus"), { _tag: "Defect", defect: "Unknown request tag: Bogus" })
      assert.deepStrictEqual(defect(yield* a.call("Nope", null)), "Unknown request tag: Nope")
      a.sendText(JSON.stringify([
        { _tag: "Request", id: "c", tag: "Connect", payload: { workerId: "w-a" }, headers: [] },
        { _tag: "Request", id: "r", tag: "RegisterAgentType", payload: { name: "t", description: "" }, headers: [] }
      ]))
      assert.deepStrictEqual(yield* a.exit("r"), ok())
      const welcome = yield* a.item((p) => p._tag === "Welcome")
      assert.strictEqual(a.streamOf(welcome), "c")
      assert.deepStrictEqual((yield* host.service.workers).map((w) => ({ workerId: w.workerId, agentTypes: w.agentTypes })), [{ workerId: "w-a", agentTypes: ["t"] }])

      // a request without headers, or with an object of them, is answered like one with []
      const b = yield* Raw.open(host.service.url, "B")
      b.send({ _tag: "Request", id: 0, tag: "ListSubscriptions", payload: {} })
      b.send({ _tag: "Request", id: 1, tag: "ListSubscriptions", payload: {}, headers: {} })
      for (const id of [0, 1]) assert.strictEqual(failure(yield* b.exit(id)).reason._tag, "NotJoined")
      assert.isUndefined(b.closed())
      // reusing an id that is in flight (here the Connect stream's) closes the connection too
      const c = yield* Raw.open(host.service.url, "C")
      yield* c.join({ workerId: "w-c" })
      c.request("ListSubscriptions", {}, c.connectId())
      assert.strictEqual((yield* c.frame((f) => f._tag === "(closed)")).code, 1001)
      // only those connections
      assert.deepStrictEqual(yield* a.call("ListSubscriptions", {}), ok([]))
    }).pipe(Effect.scoped))

  it.live("framing: the host answers in arrays only a connection that has sent one; what it writes in one tick then shares a message, in order", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const burst = (client: Raw.RawClient) =>
        Effect.gen(function*() {
          // 40 requests written in one go: their Exits are written by the host in one tick
          const ids = Array.from({ length: 40 }, () => client.request("ListSubscriptions", {}))
          const exits = yield* Effect.forEach(ids, (id) => client.exit(id))
          for (const exit of exits) assert.deepStrictEqual(exit, ok([]))
          const order = client.frames.filter((f) => f._tag === "Exit" && ids.includes(f.requestId)).map((f) => f.requestId)
          assert.deepStrictEqual(order, ids)
        })
      // one envelope per message: the host never sends it an array
      const single = yield* Raw.open(host.service.url, "single")
      yield* single.join({ workerId: "w-single" })
      yield* burst(single)
      assert.deepStrictEqual(single.arrays, { messages: 0, envelopes: 0 })
      // its Connect in an array: the host's answers come batched from then on
      const batched = yield* Raw.open(host.service.url, "batched")
      batched.sendText(JSON.stringify([{ _tag: "Request", id: "c", tag: "Connect", payload: { workerId: "w-batched" }, headers: [] }]))
      yield* batched.item((p) => p._tag === "Welcome")
      yield* burst(batched)
      assert.isAbove(batched.arrays.messages, 0)
      // fewer messages than envelopes: several shared one
      assert.isAbove(batched.arrays.envelopes, batched.arrays.messages)
    }).pipe(Effect.scoped))

  it.live("Connect edge cases: after its own Interrupt a connection joins again; a replaced connection's stale secret is refused as in use; after Eof the stream goes on and the next request closes", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const a = yield* Raw.open(host.service.url, "A")
      yield* a.join({ workerId: "w" })
      const first = a.connectId()!
      a.send({ _tag: "Interrupt", requestId: first })
      assert.strictEqual((yield* a.exit(first)).cause[0]._tag, "Interrupt")
      assert.strictEqual(failure(yield* a.call("ListSubscriptions", {})).reason._tag, "NotJoined")
      const welcome = yield* a.join({ workerId: "w" })
      // C takes the id over with the secret; A's connection stays open, unjoined, and its old secret no longer works
      const c = yield* Raw.open(host.service.url, "C")
      yield* c.join({ workerId: "w", resume: welcome.resume })
      assert.deepStrictEqual(yield* a.exit(a.connectId()!), ok())
      assert.isUndefined(a.closed())
      assert.strictEqual(
        failure(yield* a.call("Connect", { workerId: "w", resume: welcome.resume })).reason,
        "this worker id is in use by a live session; present its resume secret to take it over"
      )
      // Eof: the host keeps pushing on the open stream (pings), and closes the connection at the next request
      const pingsOf = (client: Raw.RawClient) => client.pushed.filter((p) => p._tag === "Ping").length
      c.answerPings = false
      c.send({ _tag: "Eof" })
      const before = pingsOf(c)
      yield* c.item(() => pingsOf(c) > before)
      c.request("ListSubscriptions", {})
      assert.strictEqual((yield* c.frame((f) => f._tag === "(closed)")).code, 1001)
    }).pipe(Effect.scoped))

  it.live("framing over TCP: the same rules as WebSocket (arrays of envelopes on one line, no headers, both id types); a Defect changes nothing; a line that is not JSON loses no other line", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ transport: "tcp" })
      const tcp = yield* tcpClient(host.service.port)
      tcp.write([
        { _tag: "Request", id: "c", tag: "Connect", payload: { workerId: "w-tcp" }, headers: [] },
        { _tag: "Request", id: 1, tag: "RegisterAgentType", payload: { name: "t", description: "" } }
      ])
      assert.deepStrictEqual((yield* tcp.frame((f) => f._tag === "Exit" && f.requestId === 1)).exit, ok())
      const welcome = yield* tcp.frame((f) => f._tag === "Chunk" && f.requestId === "c")
      assert.strictEqual(welcome.values[0]._tag, "Welcome")
      tcp.writeLine("{not json")
      const bad = yield* tcp.frame((f) => f._tag === "Defect")
      assert.strictEqual(bad.defect.name, "NdjsonDecodeError")
      tcp.write({ _tag: "Request", id: "2", tag: "ListSubscriptions", payload: {}, headers: {} })
      assert.deepStrictEqual((yield* tcp.frame((f) => f._tag === "Exit" && f.requestId === "2")).exit, ok([]))
      // a bad line costs only itself: the lines before and after it in the same write are answered, in order
      const defects = () => tcp.frames.filter((f) => f._tag === "Defect").length
      const defectsBefore = defects()
      tcp.writeLine([
        JSON.stringify({ _tag: "Request", id: "3", tag: "ListSubscriptions", payload: {}, headers: [] }),
        "{still not json",
        JSON.stringify({ _tag: "Request", id: "4", tag: "ListSubscriptions", payload: {}, headers: [] })
      ].join("\n"))
      assert.deepStrictEqual((yield* tcp.frame((f) => f._tag === "Exit" && f.requestId === "4")).exit, ok([]))
      assert.deepStrictEqual((yield* tcp.frame((f) => f._tag === "Exit" && f.requestId === "3")).exit, ok([]))
      const second = yield* tcp.frame(() => defects() > defectsBefore)
      assert.isDefined(second)
      const lastDefect = tcp.frames.filter((f) => f._tag === "Defect").at(-1)!
      assert.strictEqual(lastDefect.defect.name, "NdjsonDecodeError")
      assert.strictEqual(lastDefect.defect.cause.name, "SyntaxError")
      // the session lives on: pings keep coming on the Connect stream
      const pings = () => tcp.frames.filter((f) => f._tag === "Chunk" && f.requestId === "c" && f.values.some((v: any) => v._tag === "Ping")).length
      const before = pings()
      yield* tcp.frame(() => pings() > before)
      assert.deepStrictEqual((yield* host.service.workers).map((w) => w.workerId), ["w-tcp"])
    }).pipe(Effect.scoped))

  it.live("a plain Publish to a recipient whose worker is Overloaded succeeds and the publisher gets a DeadLetter", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ config: { maxPendingPerWorker: 1, recoveryWindow: Duration.zero } })
      const sub = yield* Raw.worker(host.service.url, "sub", "w-sub", "logger")
      yield* sub.call("AddSubscription", { subscription: { _tag: "TypeSubscription", topicType: "chat", agentType: "logger" } })
      const pub = yield* Raw.open(host.service.url, "pub")
      yield* pub.join({ workerId: "w-pub" })
      // one unanswered request fills w-sub's pending table (limit 1)
      pub.request("Send", { recipient: { type: "logger", key: "k" }, messageId: "s-1", chain: [], message: greet("x") })
      yield* sub.item((p) => p._tag === "Deliver")
      const overloaded = { _tag: "UndeliverableError", recipient: "worker w-sub", reason: { _tag: "Overloaded", what: "worker w-sub's pending requests", limit: 1 } }
      assert.deepStrictEqual(failure(yield* pub.call("Send", { recipient: { type: "logger", key: "k" }, messageId: "s-2", chain: [], message: greet("y") })), overloaded)
      const acked = pub.request("Publish", { topic: { type: "chat", source: "k" }, messageId: "p-1", message: said, ack: true })
      assert.deepStrictEqual(failure(yield* pub.exit(acked)), overloaded, "with ack: true the publish fails")
      const plain = pub.request("Publish", { topic: { type: "chat", source: "k" }, messageId: "p-2", message: said })
      yield* Effect.sleep(Duration.millis(1000))
      const deadLetters = pub.pushed.filter((p) => p._tag === "DeadLetter")
      assert.deepStrictEqual(deadLetters, [1, 2].map(() => ({ _tag: "DeadLetter", recipient: "logger/k", messageType: "Said", topic: "chat/k", error: overloaded })))
      // a plain publish is accepted: it answers Success null; the failed delivery is the dead letter above
      const exit = pub.frames.find(isExitOf(plain)) as { readonly exit?: unknown } | undefined
      assert.isDefined(exit, "a plain publish is answered")
      assert.deepStrictEqual(exit?.exit, { _tag: "Success", value: null })
    }).pipe(Effect.scoped))
  it.live("a publish whose message id is too long for a delivery's id fails that delivery only: the subscriber's session goes on", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ config: { recoveryWindow: Duration.zero } })
      const sub = yield* Raw.worker(host.service.url, "sub", "w-sub", "logger")
      yield* sub.call("AddSubscription", { subscription: { _tag: "TypeSubscription", topicType: "chat", agentType: "logger" } })
      const pub = yield* Raw.open(host.service.url, "pub")
      yield* pub.join({ workerId: "w-pub" })
      // 250 characters: an identifier, but `<id>:logger` (the delivery's id) is not
      const long = "p".repeat(250)
      const refused = failure(yield* pub.call("Publish", { topic: { type: "chat", source: "k" }, messageId: long, message: said, ack: true }))
      assert.strictEqual(refused._tag, "InvalidMessageError")
      assert.include(refused.issue, "too long for its delivery to logger")
      // the subscriber was handed nothing and is still joined: a publish with a short id reaches it
      yield* pub.call("Publish", { topic: { type: "chat", source: "k" }, messageId: "p-short", message: said })
      const delivered = yield* sub.item((p) => p._tag === "Deliver")
      assert.strictEqual(delivered.messageId, "p-short:logger")
      assert.deepStrictEqual((yield* host.service.workers).map((w) => w.workerId).sort(), ["w-pub", "w-sub"])
    }).pipe(Effect.scoped))

  it.live("routed agents: a TS worker runs rpc handlers only for sends, event handlers only for publishes, the first whose match accepts; CantHandleError says why; for a publish it is the publisher's dead letter", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ config: { recoveryWindow: Duration.zero } })
      const holding = yield* makeHolding
      yield* Harness.worker(host.service.url, "w-ts", routedLive(holding))
      const raw = yield* Raw.open(host.service.url, "raw")
      yield* raw.join({ workerId: "w-raw" })
      const send = (messageId: string, message: unknown) => raw.call("Send", { recipient: { type: "routed", key: "k" }, messageId, chain: [], message })
      const cantHandle = (messageType: string, reason?: string) => ({ _tag: "CantHandleError", recipient: "routed/k", messageType, ...(reason === undefined ? {} : { reason }) })
      assert.deepStrictEqual(yield* send("s-1", wire("Note", { text: "urgent: now" })), ok("urgent handler: urgent: now"))
      // the rpc handler's match refuses it, and the event handler of Note does not run for a send
      assert.deepStrictEqual(failure(yield* send("s-2", wire("Note", { text: "hello" }))), cantHandle("Note", "no handler's match accepts this send"))
      assert.deepStrictEqual(failure(yield* send("s-3", wire("Heard", { text: "x" }))), cantHandle("Heard", "Heard is handled as an event: publish it on a topic routed subscribes to"))
      // a type with no handler of the message at all: no reason
      assert.deepStrictEqual(failure(yield* send("s-4", wire("Nope"))), cantHandle("Nope"))
      // a streaming handler runs only for a streaming send (DeliverStream), never for a Deliver
      assert.deepStrictEqual(failure(yield* send("s-5", wire("Prompt", { text: "x" }))), cantHandle("Prompt", "Prompt is answered with a stream: use sendStream (or its typed client method)"))
      // a publish reaches only event handlers: Note is handled (by Logged), Ask has only an rpc handler
      assert.deepStrictEqual(yield* raw.call("Publish", { topic: { type: "notes", source: "k" }, messageId: "p-1", message: wire("Note", { text: "urgent: but published" }), ack: true }), ok())
      const rpcOnly = cantHandle("Ask", "Ask is handled by an rpc handler, which runs only for a direct send")
      assert.deepStrictEqual(failure(yield* raw.call("Publish", { topic: { type: "notes", source: "k" }, messageId: "p-2", message: wire("Ask", { text: "x" }), ack: true })), rpcOnly)
      assert.deepStrictEqual(yield* raw.call("Publish", { topic: { type: "notes", source: "k" }, messageId: "p-3", message: wire("Ask", { text: "x" }) }), ok())
      yield* raw.item((p) => p._tag === "DeadLetter" && raw.pushed.filter((d) => d._tag === "DeadLetter").length >= 2)
      assert.deepStrictEqual(
        raw.pushed.filter((p) => p._tag === "DeadLetter"),
        [1, 2].map(() => ({ _tag: "DeadLetter", recipient: "routed/k", messageType: "Ask", topic: "notes/k", error: rpcOnly }))
      )
      // a foreign worker's reason: at most 1024 characters, or its whole Reply is a Die
      yield* raw.call("RegisterAgentType", { name: "foreign", description: "" })
      const asked = raw.request("Send", { recipient: { type: "foreign", key: "k" }, messageId: "f-1", chain: [], message: wire("Note", { text: "x" }) })
      const deliver = yield* raw.item((p) => p._tag === "Deliver" && p.messageId === "f-1")
      const refusal = (reason: string) => ({ _tag: "CantHandleError", recipient: "foreign/k", messageType: "Note", reason })
      const tooLong = defect(yield* raw.call("Reply", { replies: [{ requestId: deliver.requestId, outcome: { _tag: "Failure", error: refusal("r".repeat(1025)) } }] }))
      assert.match(String(tooLong), /^Expected /)
      assert.deepStrictEqual(yield* raw.call("Reply", { replies: [{ requestId: deliver.requestId, outcome: { _tag: "Failure", error: refusal("r".repeat(1024)) } }] }), ok())
      assert.deepStrictEqual(failure(yield* raw.exit(asked)), refusal("r".repeat(1024)))
    }).pipe(Effect.scoped))

  it.live("cancel acknowledgment: after Cancel the caller is free at once, and the request stays in flight (AwaitIdle, the worker's pending budget) until the worker answers its id; the answer's outcome is ignored", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ config: { maxPendingPerWorker: 1 } })
      const owner = yield* Raw.worker(host.service.url, "owner", "w-owner", "slow")
      const caller = yield* Raw.open(host.service.url, "caller")
      yield* caller.join({ workerId: "w-caller" })
      const slow = (messageId: string) => ({ recipient: { type: "slow", key: "k" }, messageId, chain: [], message: greet(messageId) })
      const send = caller.request("Send", slow("c-1"))
      const deliver = yield* owner.item((p) => p._tag === "Deliver" && p.messageId === "c-1")
      caller.send({ _tag: "Interrupt", requestId: send })
      assert.strictEqual((yield* caller.exit(send)).cause[0]._tag, "Interrupt", "the caller is freed before the worker answers")
      yield* owner.item((p) => p._tag === "Cancel" && p.requestId === deliver.requestId)
      const idle = caller.request("AwaitIdle", null)
      // the cancelled request still holds the worker's one pending slot
      const overloaded = { _tag: "UndeliverableError", recipient: "worker w-owner", reason: { _tag: "Overloaded", what: "worker w-owner's pending requests", limit: 1 } }
      assert.deepStrictEqual(failure(yield* caller.call("Send", slow("c-2"))), overloaded)
      assert.deepStrictEqual((yield* host.service.workers).find((w) => w.workerId === "w-owner")?.pending, 1)
      yield* Effect.sleep(Duration.millis(500))
      assert.isUndefined(caller.frames.find(isExitOf(idle)), "AwaitIdle waits for the cancelled request")
      // the worker says its handler has ended: any outcome does (the TS worker sends Interrupted); nobody receives it
      assert.deepStrictEqual(yield* owner.call("Reply", { replies: [{ requestId: deliver.requestId, outcome: { _tag: "Success", value: "late" } }] }), ok())
      assert.deepStrictEqual(yield* caller.exit(idle), ok())
      assert.strictEqual(caller.frames.filter(isExitOf(send)).length, 1, "the cancelled Send has one Exit: its Interrupt")
      // the slot is free again
      const third = caller.request("Send", slow("c-3"))
      const next = yield* owner.item((p) => p._tag === "Deliver" && p.messageId === "c-3")
      yield* owner.call("Reply", { replies: [{ requestId: next.requestId, outcome: { _tag: "Success", value: "ok" } }] })
      assert.deepStrictEqual(yield* caller.exit(third), ok("ok"))
    }).pipe(Effect.scoped))

  it.live("cancel acknowledgment by a TS worker: it answers once the interrupted handler's finalizers ran, and AwaitIdle waits for that", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const holding = yield* makeHolding
      yield* Harness.worker(host.service.url, "w-ts", routedLive(holding))
      const caller = yield* Raw.open(host.service.url, "caller")
      yield* caller.join({ workerId: "w-caller" })
      const send = caller.request("Send", { recipient: { type: "routed", key: "k" }, messageId: "h-1", chain: [], message: wire("Hold") })
      yield* Deferred.await(holding.started)
      caller.send({ _tag: "Interrupt", requestId: send })
      assert.strictEqual((yield* caller.exit(send)).cause[0]._tag, "Interrupt")
      yield* Deferred.await(holding.interrupted)
      const idle = caller.request("AwaitIdle", null)
      yield* Effect.sleep(Duration.millis(500))
      assert.isUndefined(caller.frames.find(isExitOf(idle)), "AwaitIdle waits while the finalizer runs")
      yield* Deferred.succeed(holding.release, undefined)
      assert.deepStrictEqual(yield* caller.exit(idle), ok())
      assert.isTrue(holding.cleaned, "the finalizer had run when AwaitIdle returned")
    }).pipe(Effect.scoped))

  it.live("cancel grace: a worker that never answers a Cancel holds AwaitIdle for cancelGraceMillis (10 s), no longer", () =>
    Effect.gen(function*() {
      assert.strictEqual(cancelGraceMillis, 10_000)
      const host = yield* Harness.host()
      const owner = yield* Raw.worker(host.service.url, "owner", "w-owner", "slow")
      const caller = yield* Raw.open(host.service.url, "caller")
      yield* caller.join({ workerId: "w-caller" })
      const send = caller.request("Send", { recipient: { type: "slow", key: "k" }, messageId: "g-1", chain: [], message: greet("g") })
      const deliver = yield* owner.item((p) => p._tag === "Deliver")
      caller.send({ _tag: "Interrupt", requestId: send })
      const cancel = yield* owner.item((p) => p._tag === "Cancel" && p.requestId === deliver.requestId)
      const idle = caller.request("AwaitIdle", null)
      assert.deepStrictEqual(yield* caller.exit(idle, cancelGraceMillis + 10_000), ok())
      const held = caller.at(caller.frames.find(isExitOf(idle))!) - owner.at(cancel)
      console.log(`cancel grace: AwaitIdle held ${held} ms after the unanswered Cancel`)
      assert.isAtLeast(held, cancelGraceMillis - 500)
      assert.deepStrictEqual((yield* host.service.workers).find((w) => w.workerId === "w-owner")?.pending, 0)
      // a late answer is ignored
      assert.deepStrictEqual(yield* owner.call("Reply", { replies: [{ requestId: deliver.requestId, outcome: { _tag: "Success", value: null } }] }), ok())
    }).pipe(Effect.scoped), 40_000)

  it.live("trace context: a host without telemetry forwards the traceparent of a Send or Publish unchanged on the Deliver; a malformed one is a Die", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host({ config: { recoveryWindow: Duration.zero } })
      const owner = yield* Raw.worker(host.service.url, "owner", "w-owner", "traced")
      yield* owner.call("AddSubscription", { subscription: { _tag: "TypeSubscription", topicType: "chat", agentType: "traced" } })
      const caller = yield* Raw.open(host.service.url, "caller")
      yield* caller.join({ workerId: "w-caller" })
      const recipient = { type: "traced", key: "k" }
      const sent = caller.request("Send", { recipient, messageId: "t-1", chain: [], message: greet("x"), traceparent: parent })
      const deliver = yield* owner.item((p) => p._tag === "Deliver" && p.messageId === "t-1")
      assert.deepStrictEqual(deliver, { _tag: "Deliver", requestId: deliver.requestId, messageId: "t-1", recipient, message: greet("x"), rpc: true, chain: [], traceparent: parent })
      yield* owner.call("Reply", { replies: [{ requestId: deliver.requestId, outcome: { _tag: "Success", value: null } }] })
      assert.deepStrictEqual(yield* caller.exit(sent), ok())
      const published = caller.request("Publish", { topic: { type: "chat", source: "k" }, messageId: "t-2", message: said, traceparent: parent })
      const event = yield* owner.item((p) => p._tag === "Deliver" && p.messageId === "t-2:traced")
      assert.strictEqual(event.traceparent, parent)
      assert.strictEqual(event.rpc, false)
      assert.deepStrictEqual(yield* caller.exit(published), ok())
      yield* owner.call("Reply", { replies: [{ requestId: event.requestId, outcome: { _tag: "Success", value: null } }] })
      // without one, the Deliver has none
      const plain = caller.request("Send", { recipient, messageId: "t-3", chain: [], message: greet("y") })
      const untraced = yield* owner.item((p) => p._tag === "Deliver" && p.messageId === "t-3")
      assert.notProperty(untraced, "traceparent")
      yield* owner.call("Reply", { replies: [{ requestId: untraced.requestId, outcome: { _tag: "Success", value: null } }] })
      yield* caller.exit(plain)
      // a well-formed one that names no span is passed on too (a receiver ignores it)
      const zeros = "00-00000000000000000000000000000000-0000000000000000-00"
      const zeroed = caller.request("Send", { recipient, messageId: "t-4", chain: [], message: greet("z"), traceparent: zeros })
      const nothing = yield* owner.item((p) => p._tag === "Deliver" && p.messageId === "t-4")
      assert.strictEqual(nothing.traceparent, zeros)
      yield* owner.call("Reply", { replies: [{ requestId: nothing.requestId, outcome: { _tag: "Success", value: null } }] })
      yield* caller.exit(zeroed)
      // malformed: refused by the schema, on Send and on Publish, and nothing is delivered
      const pattern = "Expected a string matching the RegExp ^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$\n  at [\"traceparent\"]"
      for (
        const bad of [
          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", // no flags
          "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", // another version
          "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", // upper case
          `${parent}-extra`,
          ""
        ]
      ) {
        assert.strictEqual(defect(yield* caller.call("Send", { recipient, messageId: "t-bad", chain: [], message: greet("x"), traceparent: bad })), pattern, bad)
        assert.strictEqual(defect(yield* caller.call("Publish", { topic: { type: "chat", source: "k" }, messageId: "t-bad", message: said, traceparent: bad })), pattern, bad)
      }
      assert.strictEqual(defect(yield* caller.call("Send", { recipient, messageId: "t-bad", chain: [], message: greet("x"), traceparent: null })), "Expected string\n  at [\"traceparent\"]")
      assert.isUndefined(owner.pushed.find((p) => p._tag === "Deliver" && p.messageId.startsWith("t-bad")))
    }).pipe(Effect.scoped))

  it.live("trace context: a host with telemetry puts its route span in the Deliver's traceparent, in the caller's trace", () =>
    Effect.gen(function*() {
      const exporter = new InMemorySpanExporter()
      const context = yield* Layer.build(
        HostServicer.layer({ port: 0 }).pipe(Layer.provide(Telemetry.layer({ resource: { serviceName: "protocol-doc" }, spanProcessor: new SimpleSpanProcessor(exporter) })))
      )
      const host = Context.get(context, HostServicer.HostServicer)
      const owner = yield* Raw.worker(host.url, "owner", "w-owner", "traced")
      const caller = yield* Raw.open(host.url, "caller")
      yield* caller.join({ workerId: "w-caller" })
      const sent = caller.request("Send", { recipient: { type: "traced", key: "k" }, messageId: "t-1", chain: [], message: greet("x"), traceparent: parent })
      const deliver = yield* owner.item((p) => p._tag === "Deliver" && p.messageId === "t-1")
      const [, traceId, spanId, flags] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(deliver.traceparent)!
      assert.strictEqual(traceId, "0af7651916cd43dd8448eb211c80319c", "the caller's trace")
      assert.notStrictEqual(spanId, "b7ad6b7169203331", "the host's own span")
      assert.strictEqual(flags, "01")
      yield* owner.call("Reply", { replies: [{ requestId: deliver.requestId, outcome: { _tag: "Success", value: null } }] })
      yield* caller.exit(sent)
      const route = exporter.getFinishedSpans().find((s) => s.name === "route Greet")
      assert.isDefined(route)
      assert.strictEqual(route!.spanContext().spanId, spanId, "the Deliver names the host's route span")
      assert.strictEqual(route!.parentSpanContext?.spanId, "b7ad6b7169203331", "whose parent is the caller's span")
      // a send without one: the host's route span starts a trace, and the Deliver names it
      const untraced = caller.request("Send", { recipient: { type: "traced", key: "k" }, messageId: "t-2", chain: [], message: greet("y") })
      const rooted = yield* owner.item((p) => p._tag === "Deliver" && p.messageId === "t-2")
      const [, rootTrace] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(rooted.traceparent)!
      assert.notStrictEqual(rootTrace, traceId)
      yield* owner.call("Reply", { replies: [{ requestId: rooted.requestId, outcome: { _tag: "Success", value: null } }] })
      yield* caller.exit(untraced)
    }).pipe(Effect.scoped))
})
