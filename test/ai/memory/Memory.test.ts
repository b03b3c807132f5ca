import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, Schema } from "effect"
import { AiError, EmbeddingModel } from "effect/ai"
import { Agent, AgentRuntime, StandaloneRuntime } from "../../../src/index.ts"
import * as UnboundedContext from "../../../src/ai/context/UnboundedContext.ts"
import * as EmbeddingMemory from "../../../src/ai/memory/EmbeddingMemory.ts"
import * as ListMemory from "../../../src/ai/memory/ListMemory.ts"
import * as Memory from "../../../src/ai/memory/Memory.ts"
import * as HashEmbeddingModel from "../../../src/ai/model/HashEmbeddingModel.ts"

const facts = [
  "The user's cat is called Miso",
  "Paris is the capital of France",
  "The deploy script lives in ops/deploy.sh"
]

const contents = (results: ReadonlyArray<{ readonly content: { readonly content: string } }>) => results.map((r) => r.content.content)

describe("ListMemory", () => {
  it.effect("returns its latest entries in order, and adds them to a context as one system message", () =>
    Effect.gen(function*() {
      const memory = yield* ListMemory.make({ limit: 2 })
      for (const fact of facts) yield* memory.add(fact)
      assert.deepStrictEqual(contents(yield* memory.query("anything")), facts.slice(1))
      assert.deepStrictEqual(contents(yield* memory.query("anything", { limit: 3 })), facts)
      const context = yield* UnboundedContext.make()
      yield* context.add("where is the deploy script?")
      const added = yield* memory.updateContext(context)
      assert.strictEqual(added.length, 2)
      const [, note] = yield* context.messages
      assert.strictEqual(note!.role, "system")
      assert.strictEqual(note!.content, `Relevant memory content:\n1. ${facts[1]}\n2. ${facts[2]}`)
    }))

  it.effect("holds at most maxEntries, forgetting the oldest; clear forgets all and adds nothing to a context", () =>
    Effect.gen(function*() {
      const memory = yield* ListMemory.make({ maxEntries: 2 })
      for (const fact of facts) yield* memory.add({ content: fact, metadata: { source: "test" } })
      const kept = yield* memory.query("")
      assert.deepStrictEqual(contents(kept), facts.slice(1))
      assert.deepStrictEqual(kept[0]!.content.metadata, { source: "test" })
      yield* memory.clear
      const context = yield* UnboundedContext.make()
      yield* context.add("hi")
      assert.deepStrictEqual(yield* memory.updateContext(context), [])
      assert.strictEqual((yield* context.messages).length, 1)
    }))

  it.effect("as the Memory service, from its layer", () =>
    Effect.gen(function*() {
      const memory = yield* Memory.Memory
      yield* memory.add("remember me")
      assert.deepStrictEqual(contents(yield* memory.query("")), ["remember me"])
    }).pipe(Effect.provide(ListMemory.layer())))

  it.effect("options that cannot work are an InvalidOptionsError", () =>
    Effect.gen(function*() {
      const error = yield* ListMemory.make({ maxEntries: 0 }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "InvalidOptionsError")
    }))
})

describe("EmbeddingMemory", () => {
  const withModel = Effect.provide(HashEmbeddingModel.layer())

  it.effect("a query returns the nearest entries first, and nothing for an unrelated question", () =>
    Effect.gen(function*() {
      const memory = yield* EmbeddingMemory.make()
      for (const fact of facts) yield* memory.add(fact)
      const found = yield* memory.query("What is the capital of France?")
      assert.strictEqual(found[0]!.content.content, "Paris is the capital of France")
      assert.isAbove(found[0]!.score!, found[1]?.score ?? 0)
      assert.deepStrictEqual(yield* memory.query("zebra quantum"), [])
    }).pipe(withModel))

  it.effect("as the Memory service, from its layer over the environment's EmbeddingModel", () =>
    Effect.gen(function*() {
      const memory = yield* Memory.Memory
      for (const fact of facts) yield* memory.add(fact)
      assert.deepStrictEqual(contents(yield* memory.query("the deploy script", { limit: 1 })), [facts[2]])
    }).pipe(Effect.provide(EmbeddingMemory.layer().pipe(Layer.provide(HashEmbeddingModel.layer())))))

  it.effect("updateContext looks up the latest user message and adds what it found", () =>
    Effect.gen(function*() {
      const memory = yield* EmbeddingMemory.make({ limit: 1 })
      for (const fact of facts) yield* memory.add(fact)
      const context = yield* UnboundedContext.make()
      yield* context.add("What is the capital of France?")
      yield* context.add([{ role: "assistant", content: "Let me check." }])
      yield* context.add("And what is my cat called?")
      const added = yield* memory.updateContext(context)
      assert.deepStrictEqual(contents(added), ["The user's cat is called Miso"])
      const messages = yield* context.messages
      assert.deepStrictEqual(messages[messages.length - 1]!.content, "Relevant memory content:\n1. The user's cat is called Miso")
    }).pipe(withModel))

  it.effect("minScore leaves out weak matches; maxEntries forgets the oldest", () =>
    Effect.gen(function*() {
      const strict = yield* EmbeddingMemory.make({ minScore: 0.9 })
      for (const fact of facts) yield* strict.add(fact)
      assert.deepStrictEqual(yield* strict.query("capital of France"), [])
      assert.deepStrictEqual(contents(yield* strict.query("Paris is the capital of France")), [facts[1]])
      const small = yield* EmbeddingMemory.make({ maxEntries: 1 })
      for (const fact of facts) yield* small.add(fact)
      assert.deepStrictEqual(yield* small.query("capital of France"), [])
      assert.deepStrictEqual(contents(yield* small.query("deploy script")), [facts[2]])
    }).pipe(withModel))

  it.effect("an embedding failure fails add with the model's AiError, and nothing is stored", () =>
    Effect.gen(function*() {
      const state = yield* Ref.make<EmbeddingMemory.State>([])
      const memory = yield* EmbeddingMemory.make({ state })
      const error = yield* memory.add("x").pipe(Effect.flip)
      assert.strictEqual(error.reason._tag, "RateLimitError")
      assert.deepStrictEqual(yield* Ref.get(state), [])
    }).pipe(Effect.provide(Layer.effect(
      EmbeddingModel.EmbeddingModel,
      EmbeddingModel.make({
        embedMany: () => Effect.fail(AiError.make({ module: "test", method: "embed", reason: new AiError.RateLimitError({}) }))
      })
    ))))

  it.effect("entries survive a runtime's saveState and loadState, vectors included", () => {
    class Remember extends Schema.TaggedClass<Remember>()("Remember", { text: Schema.String }) {}
    class Recall extends Schema.TaggedClass<Recall>()("Recall", { question: Schema.String }) {}
    const Notebook = Agent.make("notebook", {
      Remember: Agent.rpc(Remember),
      Recall: Agent.rpc(Recall, { success: Schema.Array(Schema.String) })
    })
    const NotebookLive = Notebook.toLayer(Effect.gen(function*() {
      const memory = yield* EmbeddingMemory.make({ state: yield* EmbeddingMemory.agentState() }).pipe(Effect.orDie)
      return Notebook.of({
        Remember: ({ text }) => Effect.orDie(memory.add(text)),
        Recall: ({ question }) => memory.query(question).pipe(Effect.orDie, Effect.map(contents))
      })
    }))
    return Effect.gen(function*() {
      const runtime = yield* AgentRuntime.AgentRuntime
      const notebook = yield* Notebook.client
      for (const text of facts) yield* notebook("a").Remember({ text })
      const saved = JSON.parse(JSON.stringify(yield* runtime.saveState(Notebook.id("a"))))
      assert.strictEqual(saved.memory.length, 3)
      assert.strictEqual(saved.memory[0].vector.length, 1024)
      yield* runtime.loadState(Notebook.id("b"), saved)
      assert.deepStrictEqual(yield* notebook("b").Recall({ question: "capital of France" }), [facts[1]])
    }).pipe(Effect.provide(NotebookLive.pipe(
      Layer.provide(HashEmbeddingModel.layer()),
      Layer.provideMerge(StandaloneRuntime.layer())
    )))
  })
})

describe("HashEmbeddingModel", () => {
  it("is deterministic and normalised; texts sharing words are close, others orthogonal", () => {
    const a = HashEmbeddingModel.embed("the capital of France")
    assert.deepStrictEqual(a, HashEmbeddingModel.embed("The capital of FRANCE!"))
    assert.closeTo(Math.hypot(...a), 1, 1e-9)
    assert.isAbove(EmbeddingMemory.cosine(a, HashEmbeddingModel.embed("France capital city")), 0.5)
    assert.strictEqual(EmbeddingMemory.cosine(HashEmbeddingModel.embed("alpha"), HashEmbeddingModel.embed("omega")), 0)
    assert.deepStrictEqual(HashEmbeddingModel.embed("", 8), Array(8).fill(0))
  })

  it.effect("dimensions that are not a whole number of at least 1 are an InvalidOptionsError", () =>
    Effect.gen(function*() {
      const error = yield* HashEmbeddingModel.make({ dimensions: 0 }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "InvalidOptionsError")
      assert.strictEqual(error.component, "HashEmbeddingModel")
    }))

  it("cosine is 0 for vectors of different lengths or all zeros", () => {
    assert.strictEqual(EmbeddingMemory.cosine([1, 0], [1, 0, 0]), 0)
    assert.strictEqual(EmbeddingMemory.cosine([0, 0], [1, 0]), 0)
    assert.closeTo(EmbeddingMemory.cosine([1, 1], [2, 2]), 1, 1e-12)
  })
})
