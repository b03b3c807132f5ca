/**
 * A program with a passivating agent on a SQLite state store, for the
 * restart test: `add <file> <key> <n>` adds n to the agent's total and
 * exits (closing the runtime saves it); `get <file> <key>` prints the total
 * the agent has when this new process reactivates it.
 */
import { Effect, Layer, Ref, Schema } from "effect"
import { Agent, StandaloneRuntime } from "../../src/index.ts"
import * as SqliteStateStore from "../../src/node/SqliteStateStore.ts"

class Add extends Schema.TaggedClass<Add>()("Add", { by: Schema.Number }) {}
class Get extends Schema.TaggedClass<Get>()("Get", {}) {}

const Tally = Agent.make("tally", {
  Add: Agent.rpc(Add, { success: Schema.Number }),
  Get: Agent.rpc(Get, { success: Schema.Number })
})

const TallyLive = Tally.toLayer(Effect.gen(function*() {
  const total = yield* Agent.state(Schema.Number, 0, { name: "total" })
  return Tally.of({ Add: ({ by }) => Ref.updateAndGet(total, (n) => n + by), Get: () => Ref.get(total) })
}), { maxIdleTime: "1 hour" })

const [command, filename, key, n] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const tally = (yield* Tally.client)(key!)
  return command === "add" ? yield* tally.Add({ by: Number(n) }) : yield* tally.Get({})
})

const total = await Effect.runPromise(program.pipe(
  Effect.provide(TallyLive.pipe(Layer.provideMerge(StandaloneRuntime.layer().pipe(Layer.provide(SqliteStateStore.layer({ filename: filename! }))))))
))
// printed once the runtime has closed: what it had to save is saved
console.log(`${command} total=${total}`)
