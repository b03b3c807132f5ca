import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { AgentId } from "../../src/index.ts"

describe("AgentId", () => {
  it.effect("make builds type and key, with key 'default' when left out", () =>
    Effect.sync(() => {
      const id = AgentId.make("greeter", "alice")
      assert.strictEqual(id.type, "greeter")
      assert.strictEqual(id.key, "alice")
      assert.strictEqual(AgentId.make("greeter").key, "default")
    }))

  it.effect("the string form is type/key, from both toString forms", () =>
    Effect.sync(() => {
      const id = AgentId.make("greeter", "alice")
      assert.strictEqual(AgentId.toString(id), "greeter/alice")
      assert.strictEqual(id.toString(), "greeter/alice")
      assert.strictEqual(`${id}`, "greeter/alice")
    }))

  it.effect("fromString splits at the first slash, so keys may contain slashes", () =>
    Effect.sync(() => {
      const id = AgentId.fromString("files/a/b/c")
      assert.strictEqual(id.type, "files")
      assert.strictEqual(id.key, "a/b/c")
      assert.isTrue(AgentId.equals(AgentId.fromString(AgentId.toString(id)), id))
    }))

  it.effect("fromString refuses a string without a slash", () =>
    Effect.sync(() => {
      assert.throws(() => AgentId.fromString("noslash"))
    }))

  it.effect("type names allow letters, digits, '_', '-' and '.' only", () =>
    Effect.sync(() => {
      for (const ok of ["a", "agent_1", "my-agent.v2", "X9"]) assert.strictEqual(AgentId.make(ok, "k").type, ok)
      for (const bad of ["", "a b", "a/b", "a:b", "ü"]) assert.throws(() => AgentId.make(bad, "k"), undefined, undefined, bad)
    }))

  it.effect("keys are one or more printable ASCII characters", () =>
    Effect.sync(() => {
      for (const ok of ["k", "with space", "~!@#$%^&*()", "a/b"]) assert.strictEqual(AgentId.make("t", ok).key, ok)
      for (const bad of ["", "tab\t", "new\nline", "é", "\x7F"]) assert.throws(() => AgentId.make("t", bad), undefined, undefined, JSON.stringify(bad))
    }))

  it.effect("equals compares type and key", () =>
    Effect.sync(() => {
      assert.isTrue(AgentId.equals(AgentId.make("a", "1"), AgentId.make("a", "1")))
      assert.isFalse(AgentId.equals(AgentId.make("a", "1"), AgentId.make("a", "2")))
      assert.isFalse(AgentId.equals(AgentId.make("a", "1"), AgentId.make("b", "1")))
    }))

  it.effect("an AgentId round-trips through its JSON codec and bad JSON is refused", () =>
    Effect.gen(function*() {
      const codec = Schema.toCodecJson(AgentId.AgentId)
      const id = AgentId.make("greeter", "alice")
      const json = yield* Schema.encodeEffect(codec)(id)
      assert.deepStrictEqual(JSON.parse(JSON.stringify(json)), { type: "greeter", key: "alice" })
      const back = yield* Schema.decodeUnknownEffect(codec)(json)
      assert.instanceOf(back, AgentId.AgentId)
      assert.isTrue(AgentId.equals(back, id))
      const bad = yield* Schema.decodeUnknownEffect(codec)({ type: "no spaces", key: "k" }).pipe(Effect.flip)
      assert.include(bad.message, "type")
    }))
})
