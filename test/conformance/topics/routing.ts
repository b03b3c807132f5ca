/**
 * The routed-agent contract (AutoGen's RoutedAgent): a send runs rpc
 * handlers only, a publish runs event handlers only, `match` predicates
 * choose among the handlers of one message type, and `awaitIdle` waits for a
 * cancelled handler to end wherever it runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type AgentId, AgentRuntime, TopicId } from "../../../src/index.ts"
import {
  EventsOnly,
  EventsOnlyLive,
  GetNotes,
  GreeterLive,
  Lingerer,
  LingererLive,
  Note,
  Parcel,
  RpcOnly,
  RpcOnlyLive,
  Sorter,
  SorterLive
} from "../fixtures.ts"
import { deadLetterAfter, type MakeRuntime, withAgentsOf } from "../suite.ts"

const notesOf = (id: AgentId.AgentId) => Effect.map(AgentRuntime.send(id, new GetNotes()), (notes) => notes as ReadonlyArray<string>)

export const routing = (makeRuntime: MakeRuntime) =>
  describe("routed-agent contract", () => {
    const withAgents = withAgentsOf(makeRuntime)

    it.live("a send of a message only an event handler takes fails with CantHandleError, and the handler does not run", () =>
      Effect.gen(function*() {
        const id = EventsOnly.id("k")
        const error = yield* AgentRuntime.send(id, new Note({ text: "direct" })).pipe(Effect.flip)
        assert.strictEqual(error._tag, "CantHandleError")
        assert.include(error.message, "handled as an event")
        assert.deepStrictEqual(yield* notesOf(id), [])
        // published, it runs
        yield* AgentRuntime.publish(TopicId.make("notes", "k"), new Note({ text: "published" }))
        yield* AgentRuntime.awaitIdle
        assert.deepStrictEqual(yield* notesOf(id), ["published"])
      }).pipe(withAgents([GreeterLive, EventsOnlyLive])))

    it.live("a publish of a message only an rpc handler takes is a dead letter, and the handler does not run", () =>
      Effect.gen(function*() {
        const letter = yield* deadLetterAfter(AgentRuntime.publish(TopicId.make("notes", "k"), new Note({ text: "published" })))
        assert.strictEqual(letter.recipient, "rpc-only/k")
        assert.strictEqual(letter.error._tag, "CantHandleError")
        assert.include(letter.error.message, "only for a direct send")
        const id = RpcOnly.id("k")
        assert.deepStrictEqual(yield* notesOf(id), [])
        // sent, it runs
        yield* AgentRuntime.send(id, new Note({ text: "direct" }))
        assert.deepStrictEqual(yield* notesOf(id), ["direct"])
      }).pipe(withAgents([GreeterLive, RpcOnlyLive])))

    it.live("match predicates choose among the handlers of one message type; none matching is CantHandleError", () =>
      Effect.gen(function*() {
        const sorter = yield* Sorter.client
        assert.strictEqual(yield* sorter("k").Small({ size: 5 }), "small")
        // the first handler whose match accepts runs: Large, though Small comes first
        assert.strictEqual(yield* sorter("k").Large({ size: 500 }), "large")
        assert.strictEqual(yield* sorter("k").Small({ size: 500 }), "large")
        const none = yield* sorter("k").Small({ size: 50 }).pipe(Effect.flip)
        assert.strictEqual(none._tag, "CantHandleError")
        assert.include(none.message, "match")
        yield* AgentRuntime.publish(TopicId.make("parcels", "k"), new Parcel({ size: 3 }))
        const letter = yield* deadLetterAfter(AgentRuntime.publish(TopicId.make("parcels", "k"), new Parcel({ size: 30 })))
        assert.strictEqual(letter.error._tag, "CantHandleError")
        yield* AgentRuntime.awaitIdle
        assert.deepStrictEqual(yield* sorter("k").GetNotes({}), ["small 5", "large 500", "large 500", "published 3"])
      }).pipe(withAgents([GreeterLive, SorterLive])))

    it.live("a match predicate that throws fails that send with HandlerError; the instance goes on", () =>
      Effect.gen(function*() {
        const sorter = yield* Sorter.client
        const error = yield* sorter("k").Small({ size: -1 }).pipe(Effect.flip)
        assert.strictEqual(error._tag, "HandlerError")
        assert.include(error.message, "negative size")
        assert.strictEqual(yield* sorter("k").Small({ size: 5 }), "small")
        // a publish whose predicate throws is a dead letter
        const letter = yield* deadLetterAfter(AgentRuntime.publish(TopicId.make("parcels", "k"), new Parcel({ size: -1 })))
        assert.strictEqual(letter.error._tag, "HandlerError")
      }).pipe(withAgents([GreeterLive, SorterLive])))

    it.live("awaitIdle waits until a cancelled handler has ended, wherever it runs", () =>
      Effect.gen(function*() {
        const lingerer = yield* Lingerer.client
        const timedOut = yield* lingerer("k").Linger({ millis: 400 }, { timeout: "100 millis" }).pipe(Effect.flip)
        assert.strictEqual(timedOut._tag, "TimeoutError")
        yield* AgentRuntime.awaitIdle
        assert.isTrue(yield* lingerer("k").WasCleaned({}))
      }).pipe(withAgents([GreeterLive, LingererLive])))
  })
