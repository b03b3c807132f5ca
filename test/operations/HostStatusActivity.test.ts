/**
 * The host's activity record on a clock the test moves: counts land in the
 * second they happened and leave the window 60 seconds later; the number of
 * message types, of error tags and of dead letters kept is bounded; a dead
 * letter keeps ids and the reason, never the payload.
 */
import { assert, describe, it } from "@effect/vitest"
import { HandlerError, LimitExceededError } from "../../src/core/AgentError.ts"
import * as HostStatusActivity from "../../src/distributed/internal/HostStatusActivity.ts"

const clock = () => {
  let now = 1_000_000
  return { now: () => now, advance: (millis: number) => (now += millis) }
}

describe("HostStatusActivity", () => {
  it("counts by second over the last minute, and in total", () => {
    const time = clock()
    const activity = HostStatusActivity.make(time.now)
    for (let i = 0; i < 3; i++) activity.record("sent", "Ping")
    activity.record("published", "Tick")
    time.advance(1000)
    activity.record("sent", "Ping")
    activity.record("failed", "Ping", "UndeliverableError")
    const series = activity.series()
    assert.strictEqual(series.sent.length, 60)
    assert.deepStrictEqual(series.sent.slice(-2), [3, 1])
    assert.deepStrictEqual(series.published.slice(-2), [1, 0])
    assert.deepStrictEqual(series.failed.slice(-2), [0, 1])
    const ping = activity.types().find((t) => t.messageType === "Ping")!
    assert.deepStrictEqual(ping, {
      messageType: "Ping",
      sent: 4,
      published: 0,
      failed: 1,
      errors: { UndeliverableError: 1 },
      totals: { sent: 4, published: 0, failed: 1 }
    })
    // 59 seconds on, the first second is the oldest of the window; one more and it is out
    time.advance(58_000)
    assert.strictEqual(activity.types().find((t) => t.messageType === "Ping")!.sent, 4)
    assert.deepStrictEqual(activity.series().sent.slice(0, 2), [3, 1])
    time.advance(1000)
    assert.strictEqual(activity.types().find((t) => t.messageType === "Ping")!.sent, 1)
    time.advance(1000)
    const later = activity.types().find((t) => t.messageType === "Ping")!
    assert.deepStrictEqual([later.sent, later.failed, later.errors], [0, 0, {}])
    assert.deepStrictEqual(later.totals, { sent: 4, published: 0, failed: 1 })
    // a slot reused a minute later starts from zero
    activity.record("sent", "Ping")
    assert.strictEqual(activity.types().find((t) => t.messageType === "Ping")!.sent, 1)
    assert.strictEqual(activity.series().sent.reduce((a, b) => a + b, 0), 1)
  })

  it("is bounded: message types, error tags, dead letters", () => {
    const time = clock()
    const activity = HostStatusActivity.make(time.now, { maxTypes: 3, maxErrorTags: 2, maxDeadLetters: 4 })
    for (let i = 0; i < 10; i++) activity.record("sent", `Type${i}`)
    const types = activity.types()
    assert.deepStrictEqual(types.map((t) => t.messageType), ["Type0", "Type1", "Type2", HostStatusActivity.other])
    assert.strictEqual(types.find((t) => t.messageType === HostStatusActivity.other)!.sent, 7)
    for (const tag of ["A", "B", "C", "D"]) activity.record("failed", "Type0", tag)
    assert.deepStrictEqual(types.length, 4)
    assert.deepStrictEqual(activity.types()[0]!.errors, { A: 1, B: 1, [HostStatusActivity.other]: 2 })

    for (let i = 0; i < 6; i++) {
      time.advance(1)
      activity.deadLetter({
        recipient: `sink/k${i}`,
        messageType: "Tick",
        topic: `ticks/k${i}`,
        error: new HandlerError({ recipient: `sink/k${i}`, messageType: "Tick", reason: "boom", error: { secret: "payload-like" } })
      })
    }
    const letters = activity.deadLetters()
    assert.deepStrictEqual(letters.map((l) => l.recipient), ["sink/k5", "sink/k4", "sink/k3", "sink/k2"])
    assert.strictEqual(activity.deadLetterTotal(), 6)
    assert.strictEqual(letters[0]!.error, "HandlerError")
    assert.strictEqual(letters[0]!.reason, "handler of Tick on sink/k5 failed: boom")
    assert.notInclude(JSON.stringify(letters), "payload-like")
    // long ids and reasons are cut
    activity.deadLetter({ recipient: "x".repeat(5000), messageType: "Tick", error: new LimitExceededError({ limit: "y".repeat(5000), max: 1 }) })
    const [long] = activity.deadLetters()
    assert.isAtMost(long!.recipient.length, 256)
    assert.isAtMost(long!.reason.length, 256)
  })
})
