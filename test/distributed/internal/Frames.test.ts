import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Socket from "effect/socket/Socket"
import * as Frames from "../../../src/distributed/internal/Frames.ts"

/** A writer recording the frames it is given, as the WebSocket writer would send them. */
const recording = () => {
  const sent: Array<string | Uint8Array | Socket.CloseEvent> = []
  const inner: Socket.Writer = {
    write: (chunk) => Effect.sync(() => void sent.push(chunk)),
    writeAll: (chunks) => Effect.sync(() => void sent.push(...chunks))
  }
  return { sent, inner }
}

/** Lets the microtask that sends a tick's frames run. */
const nextTick = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))

const envelope = (n: number) => JSON.stringify({ _tag: "Exit", requestId: String(n) })

describe("Frames", () => {
  it.effect("what is written in one tick goes as one array frame, in order; the next tick starts a new frame", () =>
    Effect.gen(function*() {
      const { inner, sent } = recording()
      const writer = Frames.writer(inner, { arrays: true })
      for (let n = 0; n < 3; n++) yield* writer.write(envelope(n))
      assert.deepStrictEqual(sent, [])
      yield* nextTick
      assert.deepStrictEqual(sent.map((f) => JSON.parse(f as string)), [[0, 1, 2].map((n) => JSON.parse(envelope(n)))])
      yield* writer.write(envelope(3))
      yield* nextTick
      // a lone envelope still goes as an array: it tells the peer this side reads them
      assert.strictEqual(sent[1], `[${envelope(3)}]`)
    }))

  it.effect("an array written by the protocol joins the frame as its envelopes", () =>
    Effect.gen(function*() {
      const { inner, sent } = recording()
      const writer = Frames.writer(inner, { arrays: true })
      yield* writer.write(`[${envelope(0)},${envelope(1)}]`)
      yield* writer.write("[]")
      yield* writer.write(envelope(2))
      yield* nextTick
      assert.deepStrictEqual(JSON.parse(sent[0] as string).map((e: any) => e.requestId), ["0", "1", "2"])
    }))

  it.effect("without arrays, the tick's frames go one by one, unchanged", () =>
    Effect.gen(function*() {
      const { inner, sent } = recording()
      const writer = Frames.writer(inner, { arrays: false })
      yield* writer.write(envelope(0))
      yield* writer.write(envelope(1))
      yield* nextTick
      assert.deepStrictEqual(sent, [envelope(0), envelope(1)])
    }))

  it.effect("a binary frame, a close or a large envelope goes alone, after what was queued before it", () =>
    Effect.gen(function*() {
      const { inner, sent } = recording()
      const writer = Frames.writer(inner, { arrays: true })
      const large = JSON.stringify({ _tag: "Exit", requestId: "big", value: "x".repeat(300_000) })
      yield* writer.write(envelope(0))
      yield* writer.write(large)
      yield* writer.write(envelope(1))
      const bytes = new Uint8Array([1, 2])
      yield* writer.write(bytes)
      const close = new Socket.CloseEvent(1000)
      yield* writer.write(close)
      yield* nextTick
      assert.deepStrictEqual(sent, [`[${envelope(0)}]`, large, `[${envelope(1)}]`, bytes, close])
    }))

  it.effect("a frame holds a bounded number of envelopes and characters", () =>
    Effect.gen(function*() {
      const { inner, sent } = recording()
      const writer = Frames.writer(inner, { arrays: true })
      for (let n = 0; n < 1200; n++) yield* writer.write(envelope(n))
      const medium = JSON.stringify({ _tag: "Exit", requestId: "m", value: "y".repeat(100_000) })
      for (let n = 0; n < 6; n++) yield* writer.write(medium)
      yield* nextTick
      const frames = sent.map((f) => JSON.parse(f as string) as Array<unknown>)
      // the fiber may yield between writes, which sends a frame early: the bounds are what holds
      assert.isAtLeast(frames.length, 4)
      for (const frame of frames) assert.isAtMost(frame.length, 512)
      for (const frame of sent) assert.isBelow((frame as string).length, 2 * 256 * 1024)
      assert.deepStrictEqual(frames.flat().map((e: any) => e.requestId), [...Array.from({ length: 1200 }, (_, n) => String(n)), ...Array(6).fill("m")])
    }))
})
