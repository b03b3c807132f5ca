/**
 * Streaming replies (`Agent.stream`): chunks per second from a streaming
 * handler to its caller, standalone and through the host, each beside its
 * floor measured in the same run.
 *
 * - standalone: one streaming send of `n` token-sized chunks, read to the
 *   end. Floor: the same chunks (the same `Token` values, built the same
 *   way) through a bare bounded `Queue` of the same capacity, between a
 *   producing fiber and a `Stream.fromQueue` reader.
 * - through the host: the writer runs on worker B (a process), the caller
 *   is this process (worker A), the host is the CLI: every chunk goes B ->
 *   host -> A over loopback WebSockets, within the caller's credit. Floor:
 *   a bare effect/rpc stream of the same chunks over WebSocket (one hop,
 *   server in its own process, no per-chunk acks).
 *
 * Each run is one stream of `n` chunks, so the figures include opening the
 * stream once per batch (negligible at these sizes). `BENCH_STREAM_BUFFER`
 * (default 64) sets the buffer of every case: through the host, throughput
 * is about `buffer` chunks per round trip.
 */
import { Cause, Effect, Fiber, Layer, Queue, Stream } from "effect"
import { StandaloneRuntime, WorkerRuntime } from "../src/index.ts"
import * as Processes from "../test/support/processes.ts"
import type { Case, Row } from "./harness.ts"
import * as StreamingFloor from "./streaming-floor.ts"
import { Token, Writer, WriterLive } from "./streaming-agents.ts"

/** The chunks on their way at once, in every case (the caller's `buffer`, the floor queue's capacity). */
const buffer = Number(process.env.BENCH_STREAM_BUFFER ?? 64)

const drainWriter = (writer: Effect.Success<typeof Writer.client>) => (n: number) =>
  Stream.runDrain(writer("w").Write({ n }, { buffer, timeout: "1 hour" }))

export const standalone: Case = {
  name: `streaming send, standalone, buffer ${buffer}`,
  unit: "chunks",
  make: Effect.gen(function*() {
    const context = yield* Layer.build(WriterLive.pipe(Layer.provideMerge(StandaloneRuntime.layer())))
    return drainWriter(yield* Effect.provideContext(Writer.client, context))
  })
}

export const queueFloor: Case = {
  name: `bare Stream through a bounded Queue (${buffer})`,
  unit: "chunks",
  make: Effect.succeed((n: number) =>
    Effect.gen(function*() {
      const queue = yield* Queue.bounded<Token, Cause.Done>(buffer)
      const producer = yield* Effect.forkChild(
        Stream.map(Stream.range(0, n - 1), (i) => new Token({ i })).pipe(
          Stream.runForEachArray((chunk) => Queue.offerAll(queue, chunk)),
          Effect.andThen(Queue.end(queue))
        )
      )
      yield* Stream.runDrain(Stream.fromQueue(queue))
      yield* Fiber.join(producer)
    })
  )
}

export const throughHost: Case = {
  name: `streaming send B -> host -> A, buffer ${buffer}`,
  unit: "chunks",
  make: Effect.gen(function*() {
    const host = yield* Processes.host([], 0, { EFFECT_AGENTS_RECOVERY_WINDOW: "0 millis" })
    yield* Processes.worker(host.url, "bench-stream-b", "bench/streaming-agents.ts", ["WriterLive"])
    const a = yield* Layer.build(WorkerRuntime.layer({ url: host.url, workerId: "bench-stream-a" }))
    return drainWriter(yield* Effect.provideContext(Writer.client, a))
  })
}

export const rpcStreamFloor: Case = {
  name: "bare effect/rpc stream (ws), no acks",
  unit: "chunks",
  make: Effect.gen(function*() {
    const server = yield* Processes.start("bench/streaming-floor.ts", [], {}, /listening on (\S+)/)
    const client = yield* StreamingFloor.client(server.match[1]!)
    return (n) => Stream.runDrain(client.Tokens({ n }, { streamBufferSize: buffer }))
  })
}

/** The section's rows: `runSection("streaming replies", Streaming.rows)` in bench/index.ts. */
export const rows: ReadonlyArray<Row> = [
  { case: standalone, floor: queueFloor },
  { case: throughHost, floor: rpcStreamFloor }
]
