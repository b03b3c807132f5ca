/**
 * Three cluster runners in their own processes (the `runner` command) on a
 * real PostgreSQL 15 started by the test, and this process as a
 * client-only member.
 * Agents spread over the runners; under a load of persisted sends one
 * runner is SIGKILLed: the agents that lived there answer from another
 * runner (the time is measured and printed), no acknowledged send is lost,
 * duplicates are counted, every instance saw its messages in order, and a
 * counter's state continues. Then a runner is stopped with SIGTERM: it
 * hands its shards over (exit 0), and its agents carry on elsewhere. A
 * publish fans out to listeners on every runner.
 *
 * The intervals are short (set below); with the defaults for agents
 * (`ClusterConfig.defaults`: lock expiration 10 s) failover takes about
 * 10-12 s, with effect/cluster's own (35 s) about 35 s.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Ref } from "effect"
import { AgentRuntime, TopicId } from "../../src/index.ts"
import * as Runner from "../../src/bin/Runner.ts"
import * as ClusterRunner from "../../src/node/ClusterRunner.ts"
import * as Postgres from "../support/postgres.ts"
import { type Process, start } from "../support/processes.ts"
import { Listener, News, Tally } from "./agents.ts"

const intervals = {
  shardLockExpiration: "3 seconds",
  shardLockRefreshInterval: "1 second",
  runnerHealthCheckInterval: "1 second",
  refreshAssignmentsInterval: "500 millis",
  entityMessagePollInterval: "500 millis"
} as const
const shards = 30
const keys = Array.from({ length: 24 }, (_, i) => `k${i}`)

interface Ack {
  readonly seq: number
  readonly count: number
  readonly runner: string
  readonly at: number
}

const runnerProcess = (database: string, name: string) =>
  Effect.gen(function*() {
    const port = yield* Postgres.freePort
    const process = yield* start("test/cluster/runner-process.ts", [
      "runner",
      "--agents", "test/cluster/agents.ts#TallyLive,ListenerLive",
      "--db", database,
      "--port", String(port),
      "--shards", String(shards),
      "--persisted", "Add,News"
    ], {
      RUNNER: name,
      ...Object.fromEntries(Object.entries(intervals).map(([key, value]) => [Runner.envName(key), value]))
    }, /effect-agents runner .* running/)
    return { name, port, process }
  })

const exited = (p: Process) =>
  Effect.callback<number | string>((resume) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return resume(Effect.succeed(p.child.exitCode ?? p.child.signalCode!))
    p.child.once("exit", (code, signal) => resume(Effect.succeed(code ?? signal ?? "?")))
  })

/** Where every key's tally lives now. */
const placement = Effect.gen(function*() {
  const tally = yield* Tally.client
  const where = yield* Effect.forEach(keys, (key) => tally(key).Where({}), { concurrency: "unbounded" })
  return new Map(keys.map((key, i) => [key, where[i]!]))
})

describe.skipIf(!Postgres.available())("cluster runners in processes on PostgreSQL", () => {
  it.live("agents spread over 3 runners survive a SIGKILL and a SIGTERM, losing no persisted send", () =>
    Effect.gen(function*() {
      const database = (yield* Postgres.start).url
      // one after another: three runners starting at once on a loaded machine may take longer than a start may
      const runners = yield* Effect.all(["a", "b", "c"].map((name) => runnerProcess(database, name)))
      yield* Layer.build(ClusterRunner.layer({
        database,
        clientOnly: true,
        intervals,
        shardsPerGroup: shards,
        persisted: ["Add", "News"],
        sendTimeout: "60 seconds"
      })).pipe(Effect.flatMap((context) => Effect.gen(function*() {
        const tally = yield* Tally.client

        // shards settle over the three runners (they moved as runners joined)
        let where = yield* placement
        for (let i = 0; i < 60 && new Set(where.values()).size < 3; i++) {
          yield* Effect.sleep("500 millis")
          where = yield* placement
        }
        const spread = [...new Set(where.values())].sort()
        console.log("placement:", Object.fromEntries(spread.map((r) => [r, [...where.values()].filter((w) => w === r).length])))
        assert.deepStrictEqual(spread, ["a", "b", "c"])

        // publish fan-out: one listener per key, on whichever runner owns it
        const runtime = yield* AgentRuntime.AgentRuntime
        yield* Effect.forEach(keys, (key) => runtime.publish(TopicId.make("news", key), new News({ text: `ack ${key}` }), { ack: true }), { concurrency: 8 })
        yield* Effect.forEach(keys, (key) => runtime.publish(TopicId.make("news", key), new News({ text: `fire ${key}` })), { concurrency: 8 })
        const listener = yield* Listener.client
        for (const key of keys) {
          let got: ReadonlyArray<string> = []
          for (let i = 0; i < 100 && got.length < 2; i++) {
            got = yield* listener(key).GetNews({})
            if (got.length < 2) yield* Effect.sleep("100 millis")
          }
          assert.deepStrictEqual(got, [`ack ${key}`, `fire ${key}`])
        }
        console.log(`publish fan-out: ${keys.length} listeners on ${spread.length} runners got both publishes`)

        // the load: one sequential stream of persisted Adds per key
        const acks = new Map(keys.map((key) => [key, [] as Array<Ack>]))
        const failures = yield* Ref.make<Array<string>>([])
        const running = yield* Ref.make(true)
        const loop = (key: string) =>
          Effect.gen(function*() {
            let seq = 0
            while (yield* Ref.get(running)) {
              const reply = yield* tally(key).Add({ seq }).pipe(Effect.catchCause((cause) => Effect.as(Ref.update(failures, (f) => [...f, `${key}#${seq}: ${cause}`]), undefined)))
              if (reply !== undefined) acks.get(key)!.push({ seq, count: reply.count, runner: reply.runner, at: Date.now() })
              seq++
            }
          })
        const load = yield* Effect.forkChild(Effect.forEach(keys, loop, { concurrency: "unbounded", discard: true }))
        yield* Effect.sleep("2 seconds")

        // SIGKILL runner b under load
        const victim = runners.find((r) => r.name === "b")!
        const onVictim = keys.filter((key) => where.get(key) === "b")
        const killedAt = Date.now()
        victim.process.child.kill("SIGKILL")
        yield* exited(victim.process)
        const movedAt = new Map<string, number>()
        for (let i = 0; i < 600 && movedAt.size < onVictim.length; i++) {
          for (const key of onVictim) {
            const after = acks.get(key)!.find((a) => a.at > killedAt && a.runner !== "b")
            if (after !== undefined && !movedAt.has(key)) movedAt.set(key, after.at - killedAt)
          }
          yield* Effect.sleep("100 millis")
        }
        assert.strictEqual(movedAt.size, onVictim.length, "every agent of the killed runner answers from another runner")
        const failover = [...movedAt.values()]
        console.log(`SIGKILL: ${onVictim.length} agents moved; failover ${Math.min(...failover)}-${Math.max(...failover)} ms (lock expiration ${intervals.shardLockExpiration})`)

        // SIGTERM runner c: it hands its shards over
        yield* Effect.sleep("2 seconds")
        const leaver = runners.find((r) => r.name === "c")!
        const onLeaver = keys.filter((key) => acks.get(key)!.at(-1)?.runner === "c")
        const termAt = Date.now()
        leaver.process.child.kill("SIGTERM")
        const code = yield* exited(leaver.process)
        const stoppedIn = Date.now() - termAt
        // NodeRuntime.runMain ends a process interrupted by a signal with 130, after its finalizers ran
        assert.include([0, 130], code, leaver.process.output())
        assert.match(leaver.process.output(), /effect-agents runner .* stopped/)
        const handedAt = new Map<string, number>()
        for (let i = 0; i < 600 && handedAt.size < onLeaver.length; i++) {
          for (const key of onLeaver) {
            const after = acks.get(key)!.find((a) => a.at > termAt && a.runner !== "c")
            if (after !== undefined && !handedAt.has(key)) handedAt.set(key, after.at - termAt)
          }
          yield* Effect.sleep("100 millis")
        }
        assert.strictEqual(handedAt.size, onLeaver.length, "every agent of the stopped runner answers from another runner")
        const handoff = [...handedAt.values()]
        console.log(`SIGTERM: runner stopped in ${stoppedIn} ms; ${onLeaver.length} agents handed over, answering again after ${onLeaver.length ? Math.min(...handoff) : 0}-${onLeaver.length ? Math.max(...handoff) : 0} ms`)
        yield* Effect.sleep("1 second")
        yield* Ref.set(running, false)
        yield* Fiber.join(load)

        // what every tally saw, against what its sender was told
        let sent = 0
        let duplicates = 0
        let lost = 0
        for (const key of keys) {
          const acked = acks.get(key)!
          sent += acked.length
          const seen = yield* tally(key).Seen({})
          const distinct = new Set(seen)
          duplicates += seen.length - distinct.size
          for (const a of acked) if (!distinct.has(a.seq)) lost++
          // in order: the distinct seqs, as first seen, ascend
          const firsts = seen.filter((s, i) => seen.indexOf(s) === i)
          for (let i = 1; i < firsts.length; i++) assert.isAbove(firsts[i]!, firsts[i - 1]!, `order of ${key}`)
          // the counter continued: its last count is every Add it applied, across the moves
          const last = acked.at(-1)!
          assert.strictEqual(last.count, seen.length, `count of ${key}`)
        }
        const failed = yield* Ref.get(failures)
        console.log(`persisted sends: ${sent} acknowledged, ${failed.length} failed, ${lost} lost, ${duplicates} applied twice`)
        // the first few, if any, say why
        assert.deepStrictEqual(failed.slice(0, 3), [])
        assert.strictEqual(lost, 0)
        void context
      }).pipe(Effect.provide(context))))
    }).pipe(Effect.scoped), 240_000)
})
