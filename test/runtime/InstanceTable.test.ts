import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { AgentId } from "../../src/core/AgentId.ts"
import { InstanceTable } from "../../src/runtime/InstanceTable.ts"

const id = (type: string, key: string) => new AgentId({ type, key })

describe("InstanceTable", () => {
  it.effect("finds an entry by the parts of its id, whichever AgentId object names it", () =>
    Effect.sync(() => {
      const table = new InstanceTable<string>()
      table.set(id("chat", "a"), "chat/a")
      table.set(id("chat", "b"), "chat/b")
      table.set(id("other", "a"), "other/a")
      assert.strictEqual(table.get(id("chat", "a")), "chat/a")
      assert.strictEqual(table.get(id("other", "a")), "other/a")
      assert.isUndefined(table.get(id("chat", "c")))
      assert.isUndefined(table.get(id("none", "a")))
      // "chat/a" as a type and key split elsewhere is another agent
      assert.isUndefined(table.get(id("chat", "a/b")))
      assert.strictEqual(table.size, 3)
    }))

  it.effect("a set over an entry replaces it without counting twice; deleteIf removes only the value still there", () =>
    Effect.sync(() => {
      const table = new InstanceTable<string>()
      table.set(id("chat", "a"), "first")
      table.set(id("chat", "a"), "second")
      assert.strictEqual(table.size, 1)
      table.deleteIf(id("chat", "a"), "first") // an earlier incarnation going away leaves its successor
      assert.strictEqual(table.get(id("chat", "a")), "second")
      table.deleteIf(id("chat", "a"), "second")
      assert.isUndefined(table.get(id("chat", "a")))
      assert.strictEqual(table.size, 0)
      table.deleteIf(id("chat", "a"), "second")
      assert.strictEqual(table.size, 0)
    }))

  it.effect("values lists every entry; clear empties the table", () =>
    Effect.sync(() => {
      const table = new InstanceTable<number>()
      for (let i = 0; i < 10; i++) table.set(id(`t${i % 3}`, `k${i}`), i)
      assert.deepStrictEqual(table.values().sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      table.clear()
      assert.strictEqual(table.size, 0)
      assert.deepStrictEqual(table.values(), [])
    }))
})
