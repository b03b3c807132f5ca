/**
 * Benchmarks of the cluster runtime: a throwaway PostgreSQL, one runner in
 * its own process (the echo and sink agents, and the bare floor entity),
 * and this process as a client-only member of the cluster. Every call goes
 * client -> runner over effect/cluster's sockets; persisted ones through
 * the message storage in PostgreSQL first. The floor is the bare
 * effect/cluster entity call (the same transport, storage and runner),
 * volatile or persisted, measured in the same run.
 */
import { Effect, Layer } from "effect"
import { Sharding } from "effect/cluster"
import { AgentRuntime, TopicId } from "../src/index.ts"
import * as DeliveryMode from "../src/cluster/DeliveryMode.ts"
import * as ClusterPostgres from "../src/node/ClusterPostgres.ts"
import * as ClusterRunner from "../src/node/ClusterRunner.ts"
import * as Processes from "../test/support/processes.ts"
import { Echo, FloorEntity, Tick } from "./cluster-agents.ts"
import type { Case, Row } from "./harness.ts"

type Mode = DeliveryMode.DeliveryMode

/** PostgreSQL and a runner process; this process's client-only context. */
const cluster = Effect.gen(function*() {
  const pg = yield* ClusterPostgres.throwaway
  const port = yield* ClusterPostgres.freePort
  yield* Processes.start("bench/cluster-runner.ts", [], { DATABASE: pg.url, PORT: String(port) }, /runner ready/)
  return yield* Layer.build(ClusterRunner.layer({ database: pg.url, clientOnly: true, maxConnections: 20 }))
})

const inMode = (mode: Mode) => mode === "persisted" ? DeliveryMode.persisted : DeliveryMode.volatile

export const sendReply = (mode: Mode, inFlight: number): Case => ({
  name: `cluster send/reply (${mode}), ${inFlight} in flight`,
  unit: "round trips",
  make: Effect.gen(function*() {
    const context = yield* cluster
    const echo = (yield* Effect.provideContext(Echo.client, context))
    return (n) =>
      Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => echo(`k${i % 64}`).Ping({ n: i }), { concurrency: inFlight, discard: true }).pipe(
        inMode(mode)
      )
  })
})

export const publish = (mode: Mode): Case => ({
  name: `cluster publish (${mode}, acknowledged) -> 1 subscriber, 64 in flight`,
  unit: "publishes",
  make: Effect.gen(function*() {
    const context = yield* cluster
    return (n) =>
      Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => AgentRuntime.publish(TopicId.make("bench", `s${i % 64}`), new Tick({ n: i }), { ack: true }), {
        concurrency: 64,
        discard: true
      }).pipe(inMode(mode), Effect.provideContext(context))
  })
})

/** The bare entity call: the floor of a send. */
export const floor = (mode: Mode, inFlight: number): Case => ({
  name: `bare effect/cluster entity call (${mode}), ${inFlight} in flight`,
  unit: "round trips",
  make: Effect.gen(function*() {
    const context = yield* cluster
    const client = yield* Effect.provideContext(Effect.flatMap(Sharding.Sharding, (s) => s.makeClient(FloorEntity)), context)
    return (n) =>
      Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => {
        const entity = client(`k${i % 64}`)
        return mode === "persisted" ? entity.EchoPersisted({ n: i }) : entity.Echo({ n: i })
      }, { concurrency: inFlight, discard: true })
  })
})

/** The section's rows, each with its floor (the lead wires them into bench/index.ts). */
export const rows: ReadonlyArray<Row> = [
  { case: sendReply("volatile", 1), floor: floor("volatile", 1) },
  { case: sendReply("volatile", 64), floor: floor("volatile", 64) },
  { case: sendReply("persisted", 1), floor: floor("persisted", 1) },
  { case: sendReply("persisted", 64), floor: floor("persisted", 64) },
  { case: publish("volatile"), floor: floor("volatile", 64) },
  { case: publish("persisted"), floor: floor("persisted", 64) }
]
