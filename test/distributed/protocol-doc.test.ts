/**
 * docs/protocol.md, checked against a real host: every test drives an
 * in-process host servicer with raw JSON frames over a WebSocket, written
 * from the document alone (raw-client.ts; no effect/rpc client). When the
 * host and the document disagree, one of them is wrong.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
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
      assert.deepStrictEqual(Object.keys(welcome).sort(), ["_tag", "heartbeatMillis", "heartbeatTimeoutMillis", "hostId", "resume", "workerId"])
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

  it.live("framing: bad frames get a Defect and the connection lives; arrays of envelopes; string ids; no headers or a reused in-flight id closes it", () =>
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

      const b = yield* Raw.open(host.service.url, "B")
      b.send({ _tag: "Request", id: 0, tag: "ListSubscriptions", payload: {} })
      const closed = yield* b.frame((f) => f._tag === "(closed)")
      assert.strictEqual(closed.code, 1011)
      assert.isUndefined(b.frames.find((f) => f._tag === "Exit"))
      // reusing an id that is in flight (here the Connect stream's) closes the connection too
      const c = yield* Raw.open(host.service.url, "C")
      yield* c.join({ workerId: "w-c" })
      c.request("ListSubscriptions", {}, c.connectId())
      assert.strictEqual((yield* c.frame((f) => f._tag === "(closed)")).code, 1001)
      // only those connections
      assert.deepStrictEqual(yield* a.call("ListSubscriptions", {}), ok([]))
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
})
