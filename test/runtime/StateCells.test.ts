import { assert, describe, it } from "@effect/vitest"
import { Effect, Ref, Schema } from "effect"
import { AgentId } from "../../src/index.ts"
import type { StateCell } from "../../src/core/Agent.ts"
import * as StateCells from "../../src/runtime/StateCells.ts"

const id = AgentId.make("keeper", "k")

const cell = <S extends Schema.Top>(name: string, schema: S, initial: S["Type"]) =>
  Effect.map(Ref.make<unknown>(initial), (ref): StateCell => ({ name, schema, ref }))

describe("StateCells", () => {
  it.effect("save gives each cell's JSON encoding, by name", () =>
    Effect.gen(function*() {
      const cells = [
        yield* cell("count", Schema.Number, 3),
        yield* cell("since", Schema.Date, new Date(0)),
        yield* cell("tags", Schema.Array(Schema.String), ["a", "b"])
      ]
      const saved = yield* StateCells.save(id, cells)
      assert.deepStrictEqual(saved, { count: 3, since: "1970-01-01T00:00:00.000Z", tags: ["a", "b"] })
      // it is JSON: it survives a round trip through text
      assert.deepStrictEqual(JSON.parse(JSON.stringify(saved)), saved)
    }))

  it.effect("load decodes each named cell; cells not named keep their values", () =>
    Effect.gen(function*() {
      const count = yield* cell("count", Schema.Number, 3)
      const since = yield* cell("since", Schema.Date, new Date(0))
      yield* StateCells.load(id, [count, since], { since: "1970-01-01T00:00:01.000Z", unknownCell: 1 })
      assert.strictEqual(yield* Ref.get(count.ref), 3)
      assert.strictEqual(((yield* Ref.get(since.ref)) as Date).getTime(), 1000)
    }))

  it.effect("a state with one bad cell changes no cell and fails with InvalidMessageError", () =>
    Effect.gen(function*() {
      const first = yield* cell("first", Schema.Number, 1)
      const second = yield* cell("second", Schema.Number, 2)
      const error = yield* StateCells.load(id, [first, second], { first: 10, second: "not a number" }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "InvalidMessageError")
      assert.strictEqual(error.messageType, "state of keeper/k")
      assert.strictEqual(yield* Ref.get(first.ref), 1)
      assert.strictEqual(yield* Ref.get(second.ref), 2)
    }))

  it.effect("a value its schema cannot encode fails save with InvalidMessageError", () =>
    Effect.gen(function*() {
      const bad = yield* cell("n", Schema.Number, "three" as unknown as number)
      const error = yield* StateCells.save(id, [bad]).pipe(Effect.flip)
      assert.strictEqual(error._tag, "InvalidMessageError")
    }))

  it.effect("save then load restores the cells", () =>
    Effect.gen(function*() {
      const a = yield* cell("a", Schema.Date, new Date(42))
      const saved = yield* StateCells.save(id, [a])
      yield* Ref.set(a.ref, new Date(0))
      yield* StateCells.load(id, [a], saved)
      assert.strictEqual(((yield* Ref.get(a.ref)) as Date).getTime(), 42)
    }))
})
