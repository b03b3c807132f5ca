import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Placement from "../../../src/distributed/internal/Placement.ts"

const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`)

/** Where each key of `type` is placed. */
const placements = (placement: Placement.Placement<string>, type: string) => keys.map((k) => placement.place(type, k))

describe("Placement", () => {
  it.effect("a type no worker runs places nowhere", () =>
    Effect.sync(() => {
      const placement = Placement.make<string>()
      assert.isUndefined(placement.place("chat", "a"))
      assert.isFalse(placement.hasType("chat"))
      placement.addType("chat", "w1", "worker 1")
      assert.isTrue(placement.hasType("chat"))
      assert.isUndefined(placement.place("other", "a"))
    }))

  it.effect("keys spread over the workers of their type, and only those", () =>
    Effect.sync(() => {
      const placement = Placement.make<string>()
      placement.addType("chat", "w1", "w1")
      placement.addType("chat", "w2", "w2")
      placement.addType("other", "w3", "w3")
      const placed = placements(placement, "chat")
      const counts = new Map<string | undefined, number>()
      for (const w of placed) counts.set(w, (counts.get(w) ?? 0) + 1)
      assert.deepStrictEqual([...counts.keys()].sort(), ["w1", "w2"])
      assert.isAbove(counts.get("w1")!, 40)
      assert.isAbove(counts.get("w2")!, 40)
    }))

  it.effect("two hosts that see the same workers make the same choice, whatever the order workers joined in", () =>
    Effect.sync(() => {
      const a = Placement.make<string>()
      const b = Placement.make<string>()
      for (const w of ["w1", "w2", "w3"]) a.addType("chat", w, w)
      for (const w of ["w3", "w1", "w2"]) b.addType("chat", w, w)
      assert.deepStrictEqual(placements(a, "chat"), placements(b, "chat"))
    }))

  it.effect("a placed agent stays on its worker when other workers join", () =>
    Effect.sync(() => {
      const placement = Placement.make<string>()
      placement.addType("chat", "w1", "w1")
      const before = placements(placement, "chat")
      assert.isTrue(before.every((w) => w === "w1"))
      placement.addType("chat", "w2", "w2")
      placement.addType("chat", "w3", "w3")
      assert.deepStrictEqual(placements(placement, "chat"), before)
      // new keys do use the new workers
      const fresh = Array.from({ length: 100 }, (_, i) => placement.place("chat", `new-${i}`))
      assert.isTrue(fresh.some((w) => w !== "w1"))
    }))

  it.effect("when a worker leaves, its agents are placed again on the workers left; the others stay", () =>
    Effect.sync(() => {
      const placement = Placement.make<string>()
      for (const w of ["w1", "w2", "w3"]) placement.addType("chat", w, w)
      const before = placements(placement, "chat")
      placement.removeWorker("w2")
      const after = placements(placement, "chat")
      for (let i = 0; i < keys.length; i++) {
        if (before[i] === "w2") assert.include(["w1", "w3"], after[i])
        else assert.strictEqual(after[i], before[i])
      }
      placement.removeWorker("w1")
      placement.removeWorker("w3")
      assert.isFalse(placement.hasType("chat"))
      assert.isUndefined(placement.place("chat", "key-0"))
    }))

  it.effect("removing one type from a worker forgets that type's placements on it, and only those", () =>
    Effect.sync(() => {
      const placement = Placement.make<string>()
      placement.addType("chat", "w1", "w1")
      placement.addType("log", "w1", "w1")
      placement.place("chat", "a")
      placement.place("log", "a")
      placement.addType("chat", "w2", "w2")
      placement.addType("log", "w2", "w2")
      placement.removeType("chat", "w1")
      // chat/a moves to the only worker left for chat; log/a stays where it was
      assert.strictEqual(placement.place("chat", "a"), "w2")
      assert.strictEqual(placement.place("log", "a"), "w1")
      // after w1 is back, chat/a stays on w2
      placement.addType("chat", "w1", "w1")
      assert.strictEqual(placement.place("chat", "a"), "w2")
    }))

  it.effect("a type whose last worker drops it is no longer run", () =>
    Effect.sync(() => {
      const placement = Placement.make<string>()
      placement.addType("chat", "w1", "w1")
      placement.removeType("chat", "w1")
      assert.isFalse(placement.hasType("chat"))
      assert.isUndefined(placement.place("chat", "a"))
    }))

  it.effect("a worker that registers again is handed out as its newest value", () =>
    Effect.sync(() => {
      const placement = Placement.make<{ readonly id: string; readonly session: number }>()
      placement.addType("chat", "w1", { id: "w1", session: 1 })
      assert.strictEqual(placement.place("chat", "a")?.session, 1)
      placement.addType("chat", "w1", { id: "w1", session: 2 })
      assert.strictEqual(placement.place("chat", "a")?.session, 2)
    }))

  it.effect("choose gives the worker place would give, without placing anything", () =>
    Effect.sync(() => {
      const placement = Placement.make<string>()
      assert.isUndefined(placement.choose("chat", "a"))
      placement.addType("chat", "w1", "w1")
      const chosen = keys.map((k) => placement.choose("chat", k))
      assert.isTrue(chosen.every((w) => w === "w1"))
      placement.addType("chat", "w2", "w2")
      // nothing stuck to w1: keys the rendezvous gives to w2 go there now
      const after = keys.map((k) => placement.choose("chat", k))
      assert.isTrue(after.some((w) => w === "w2"))
      assert.deepStrictEqual(placements(placement, "chat"), after)
      // and once placed, choose sees where they stay
      placement.addType("chat", "w3", "w3")
      assert.deepStrictEqual(keys.map((k) => placement.choose("chat", k)), after)
    }))

  it.effect("the sticky table is bounded: a flood of distinct keys keeps at most maxPlacements", () =>
    Effect.sync(() => {
      const placement = Placement.make<string>(1000)
      placement.addType("chat", "w1", "w1")
      for (let i = 0; i < 100_000; i++) placement.place("chat", `flood-${i}`)
      assert.isAtMost(placement.size(), 1000)
      assert.isAtLeast(placement.size(), 500)
      assert.strictEqual(placement.types()[0]!.placements, placement.size())
    }))

  it.effect("a placement in use survives a flood; one nobody used is placed again by the rule", () =>
    Effect.sync(() => {
      // the rule with both workers, and two keys it gives to w2
      const rule = Placement.make<string>()
      rule.addType("chat", "w1", "w1")
      rule.addType("chat", "w2", "w2")
      const [busy, quiet] = Array.from({ length: 100 }, (_, i) => `agent-${i}`).filter((k) => rule.choose("chat", k) === "w2")
      const placement = Placement.make<string>(100)
      placement.addType("chat", "w1", "w1")
      assert.strictEqual(placement.place("chat", busy!), "w1")
      assert.strictEqual(placement.place("chat", quiet!), "w1")
      placement.addType("chat", "w2", "w2")
      // busy is used between the flood's keys: it stays on w1, where it was placed before w2 joined
      for (let i = 0; i < 10_000; i++) {
        placement.place("chat", `flood-${i}`)
        if (i % 10 === 0) assert.strictEqual(placement.place("chat", busy!), "w1")
      }
      assert.strictEqual(placement.place("chat", busy!), "w1")
      // quiet was forgotten: it goes where the rule puts it now
      assert.strictEqual(placement.place("chat", quiet!), "w2")
    }))

  it.effect("a worker that leaves takes its placements of both generations with it", () =>
    Effect.sync(() => {
      const placement = Placement.make<string>(10)
      placement.addType("chat", "w1", "w1")
      for (let i = 0; i < 8; i++) placement.place("chat", `k-${i}`) // fills one generation and starts the next
      assert.strictEqual(placement.size(), 8)
      placement.removeWorker("w1")
      assert.strictEqual(placement.size(), 0)
      placement.addType("chat", "w2", "w2")
      assert.isTrue(Array.from({ length: 8 }, (_, i) => placement.place("chat", `k-${i}`)).every((w) => w === "w2"))
      // unregistering one type forgets its placements in both generations, not the other type's
      placement.addType("other", "w2", "w2")
      for (let i = 0; i < 4; i++) placement.place("other", `k-${i}`)
      placement.removeType("chat", "w2")
      assert.strictEqual(placement.size(), 4)
      assert.deepStrictEqual(placement.types().map((t) => [t.type, t.placements]), [["other", 4]])
    }))
})
