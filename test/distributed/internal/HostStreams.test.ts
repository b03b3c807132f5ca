/**
 * The streaming frames and their flow control, spoken by raw WebSocket
 * clients (no effect/rpc client) against a real host, as docs/streaming.md
 * describes them: `SendStream` / `StreamCredit` from the caller,
 * `DeliverStream` / `Credit` / `Cancel` to the producer, `StreamData` from
 * it. And the TypeScript worker as a producer, driven by a raw caller: it
 * sends exactly as many chunks as it was granted.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as HostStreams from "../../../src/distributed/internal/HostStreams.ts"
import * as Harness from "../../support/harness.ts"
import * as Raw from "../raw-client.ts"
import { Streamer, StreamerLive } from "../../conformance/topics/streaming-fixtures.ts"

const tick = (i: number) => ({ _tag: "Tick", i })
const countTo = (n: number) => ({ type: "CountTo", data: { _tag: "CountTo", n } })
const endless = { type: "Endless", data: { _tag: "Endless" } }
const recipient = { type: "streamer", key: "s" }

/** The chunk values that arrived on call `id`'s stream so far. */
const chunksOf = (client: Raw.RawClient, id: string | number) =>
  client.frames.filter((f) => f._tag === "Chunk" && f.requestId === id).flatMap((f) => f.values as Array<unknown>)

/** Waits until call `id`'s stream has carried `n` chunks. */
const chunksArrived = (client: Raw.RawClient, id: string | number, n: number) =>
  client.frame(() => chunksOf(client, id).length >= n)

/** A host, a raw producer running type `streamer`, and a raw caller; both joined. */
const rawPair = Effect.gen(function*() {
  const host = yield* Harness.host()
  const producer = yield* Raw.open(host.service.url, "producer")
  yield* producer.join({ workerId: "w-producer" })
  yield* producer.call("RegisterAgentType", { name: "streamer", description: "" })
  const caller = yield* Raw.open(host.service.url, "caller")
  yield* caller.join({ workerId: "w-caller" })
  return { host, producer, caller }
})

const failureOf = (exit: any): any => {
  assert.strictEqual(exit._tag, "Failure", `expected a Failure, got ${JSON.stringify(exit)}`)
  return exit.cause.find((c: any) => c._tag === "Fail")?.error
}

describe("streaming frames through the host", () => {
  it.live("chunks within credit go to the caller in order; credit goes back to the producer; the end ends the call", () =>
    Effect.gen(function*() {
      const { caller, producer } = yield* rawPair
      const call = caller.request("SendStream", { recipient, messageId: "m-1", chain: [], message: countTo(5), credit: 2 })
      const deliver = yield* producer.item((p) => p._tag === "DeliverStream")
      assert.deepStrictEqual(deliver, { _tag: "DeliverStream", requestId: deliver.requestId, messageId: "m-1", recipient, message: countTo(5), chain: [], credit: 2 })
      yield* producer.call("StreamData", { requestId: deliver.requestId, chunks: [tick(0), tick(1)] })
      yield* chunksArrived(caller, call, 2)
      assert.deepStrictEqual(chunksOf(caller, call), [tick(0), tick(1)])

      // the caller took both: it grants them back, and the host passes the grant on (never more than was taken)
      yield* caller.call("StreamCredit", { messageId: "m-1", credit: 5 })
      const credit = yield* producer.item((p) => p._tag === "Credit")
      assert.deepStrictEqual(credit, { _tag: "Credit", requestId: deliver.requestId, credit: 2 })

      yield* producer.call("StreamData", { requestId: deliver.requestId, chunks: [tick(2)], end: { _tag: "Success", value: null } })
      const exit = yield* caller.exit(call)
      assert.deepStrictEqual(exit, { _tag: "Success", value: null })
      assert.deepStrictEqual(chunksOf(caller, call), [tick(0), tick(1), tick(2)])
    }).pipe(Effect.scoped))

  it.live("a producer's Failure end reaches the caller as the call's Fail, after the chunks before it", () =>
    Effect.gen(function*() {
      const { caller, producer } = yield* rawPair
      const call = caller.request("SendStream", { recipient, messageId: "m-2", chain: [], message: countTo(5), credit: 4 })
      const deliver = yield* producer.item((p) => p._tag === "DeliverStream")
      const error = { _tag: "HandlerError", recipient: "streamer/s", messageType: "CountTo", reason: "StreamBroke", error: { _tag: "StreamBroke", at: 1 } }
      yield* producer.call("StreamData", { requestId: deliver.requestId, chunks: [tick(0)], end: { _tag: "Failure", error } })
      assert.deepStrictEqual(failureOf(yield* caller.exit(call)), error)
      assert.deepStrictEqual(chunksOf(caller, call), [tick(0)])
    }).pipe(Effect.scoped))

  it.live("a producer that sends past its credit ends the stream with InvalidMessageError and gets Cancel", () =>
    Effect.gen(function*() {
      const { caller, producer } = yield* rawPair
      const call = caller.request("SendStream", { recipient, messageId: "m-3", chain: [], message: endless, credit: 2 })
      const deliver = yield* producer.item((p) => p._tag === "DeliverStream")
      yield* producer.call("StreamData", { requestId: deliver.requestId, chunks: [tick(0), tick(1), tick(2)] })
      const error = failureOf(yield* caller.exit(call))
      assert.strictEqual(error._tag, "InvalidMessageError")
      assert.match(error.issue, /3 chunks on a credit of 2/)
      yield* producer.item((p) => p._tag === "Cancel" && p.requestId === deliver.requestId)
      // nothing past the credit reached the caller
      assert.deepStrictEqual(chunksOf(caller, call), [])
    }).pipe(Effect.scoped))

  it.live("interrupting the call sends Cancel to the producer", () =>
    Effect.gen(function*() {
      const { caller, producer } = yield* rawPair
      const call = caller.request("SendStream", { recipient, messageId: "m-4", chain: [], message: endless, credit: 8 })
      const deliver = yield* producer.item((p) => p._tag === "DeliverStream")
      caller.send({ _tag: "Interrupt", requestId: call })
      yield* producer.item((p) => p._tag === "Cancel" && p.requestId === deliver.requestId)
      const exit = yield* caller.exit(call)
      assert.strictEqual(exit._tag, "Failure")
    }).pipe(Effect.scoped))

  it.live("a producer that disconnects mid-stream ends the caller's stream with UndeliverableError (WorkerLeft)", () =>
    Effect.gen(function*() {
      const { caller, producer } = yield* rawPair
      const call = caller.request("SendStream", { recipient, messageId: "m-5", chain: [], message: endless, credit: 8 })
      const deliver = yield* producer.item((p) => p._tag === "DeliverStream")
      yield* producer.call("StreamData", { requestId: deliver.requestId, chunks: [tick(0)] })
      yield* chunksArrived(caller, call, 1)
      producer.close()
      const error = failureOf(yield* caller.exit(call, 10_000))
      assert.strictEqual(error._tag, "UndeliverableError")
      assert.strictEqual(error.reason._tag, "WorkerLeft")
      assert.strictEqual(error.reason.workerId, "w-producer")
    }).pipe(Effect.scoped))

  it.live("a caller that disconnects mid-stream makes the host cancel the producer", () =>
    Effect.gen(function*() {
      const { caller, producer } = yield* rawPair
      caller.request("SendStream", { recipient, messageId: "m-9", chain: [], message: endless, credit: 8 })
      const deliver = yield* producer.item((p) => p._tag === "DeliverStream")
      caller.close()
      yield* producer.item((p) => p._tag === "Cancel" && p.requestId === deliver.requestId, 10_000)
    }).pipe(Effect.scoped))

  it.live("a worker may have at most maxStreamsPerWorker streams open as a caller", () =>
    Effect.gen(function*() {
      const { caller, producer } = yield* rawPair
      for (let i = 0; i < HostStreams.maxStreamsPerWorker; i++) {
        caller.request("SendStream", { recipient, messageId: `open-${i}`, chain: [], message: endless, credit: 1 })
      }
      yield* producer.frame(() => producer.pushed.filter((p) => p._tag === "DeliverStream").length >= HostStreams.maxStreamsPerWorker, 10_000)
      const refused = failureOf(yield* caller.call("SendStream", { recipient, messageId: "one-too-many", chain: [], message: endless, credit: 1 }))
      assert.deepStrictEqual(refused, { _tag: "LimitExceededError", limit: "open streams per worker", max: HostStreams.maxStreamsPerWorker })
    }).pipe(Effect.scoped))

  it.live("a second open stream under the same message id is refused", () =>
    Effect.gen(function*() {
      const { caller, producer } = yield* rawPair
      caller.request("SendStream", { recipient, messageId: "m-6", chain: [], message: endless, credit: 1 })
      yield* producer.item((p) => p._tag === "DeliverStream")
      const again = caller.request("SendStream", { recipient, messageId: "m-6", chain: [], message: endless, credit: 1 })
      assert.strictEqual(failureOf(yield* caller.exit(again))._tag, "InvalidMessageError")
    }).pipe(Effect.scoped))

  it.live("a credit outside 1..256 is refused by the schema", () =>
    Effect.gen(function*() {
      const { caller } = yield* rawPair
      const exit = yield* caller.call("SendStream", { recipient, messageId: "m-7", chain: [], message: endless, credit: 257 })
      assert.strictEqual(exit._tag, "Failure")
      assert.isDefined(exit.cause.find((c: any) => c._tag === "Die"))
    }).pipe(Effect.scoped))

  it.live("TypeScript workers: when the producing worker stops mid-stream, the caller's stream fails with UndeliverableError", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      const producer = yield* Harness.worker(host.service.url, "w-producer", StreamerLive)
      const caller = yield* Harness.worker(host.service.url, "w-caller")
      const error = yield* Harness.on(caller, Effect.gen(function*() {
        const streamer = yield* Streamer.client
        return yield* streamer("s").Endless({}, { buffer: 2 }).pipe(
          // the first chunk has crossed: stop the producer's worker
          Stream.tap((tick) => tick.i === 0 ? producer.stop : Effect.void),
          Stream.runDrain,
          Effect.flip
        )
      }))
      assert.strictEqual(error._tag, "UndeliverableError")
      assert.include(["WorkerLeft", "RuntimeStopping"], error._tag === "UndeliverableError" ? error.reason._tag : "")
    }).pipe(Effect.scoped))

  it.live("the TypeScript worker as producer sends exactly as many chunks as it was granted", () =>
    Effect.gen(function*() {
      const host = yield* Harness.host()
      yield* Harness.worker(host.service.url, "w-ts", StreamerLive)
      const caller = yield* Raw.open(host.service.url, "caller")
      yield* caller.join({ workerId: "w-caller" })
      const call = caller.request("SendStream", { recipient, messageId: "m-8", chain: [], message: endless, credit: 3 })
      yield* chunksArrived(caller, call, 3)
      // an endless producer with no credit left: give it time to overrun, then look
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(chunksOf(caller, call), [tick(0), tick(1), tick(2)])
      yield* caller.call("StreamCredit", { messageId: "m-8", credit: 2 })
      yield* chunksArrived(caller, call, 5)
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(chunksOf(caller, call), [tick(0), tick(1), tick(2), tick(3), tick(4)])
      caller.send({ _tag: "Interrupt", requestId: call })
      assert.strictEqual((yield* caller.exit(call))._tag, "Failure")
    }).pipe(Effect.scoped))
})
