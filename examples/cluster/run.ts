/**
 * The cluster example: three runners on one PostgreSQL, and this process
 * as a client. Counters spread over the runners; one runner is killed
 * (SIGKILL) and its counters carry on from another runner with their
 * counts; a publish reaches listeners on every runner.
 *
 *   npm run example:cluster                        # starts a throwaway PostgreSQL (needs its server programs)
 *   DATABASE_URL=postgres://... npm run example:cluster
 *
 * (In your project: `import { ClusterRunner, ClusterRuntime } from "effect-agents/cluster"`.)
 * Without PostgreSQL the three runners share the embedded store (a SQLite
 * file, `--db sqlite:<file>`); `CLUSTER_STORE=memory` runs the agents on the
 * one-process cluster (`ClusterRuntime.layerMemory`) instead.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Console, Effect, Layer } from "effect"
import { ClusterPostgres, ClusterRunner, ClusterRuntime } from "../../src/cluster/index.ts"
import { AgentRuntime, TopicId } from "../../src/index.ts"
import { Counter, CounterLive, Listener, ListenerLive, News } from "./agents.ts"

const intervals = {
  shardLockExpiration: "3 seconds",
  shardLockRefreshInterval: "1 second",
  runnerHealthCheckInterval: "1 second",
  refreshAssignmentsInterval: "500 millis",
  entityMessagePollInterval: "500 millis"
} as const
const keys = ["a", "b", "c", "d", "e", "f"]

/** Starts one runner process; resolves once it runs its agents. */
const runner = (name: string, database: string, port: number) =>
  Effect.acquireRelease(
    Effect.callback<ChildProcess, Error>((resume) => {
      const child = spawn(process.execPath, [fileURLToPath(new URL("runner.ts", import.meta.url)), "runner", "--agents", fileURLToPath(new URL("agents.ts", import.meta.url)), "--db", database, "--port", String(port), "--shards", "30", "--persisted", "Add,News"], {
        env: {
          ...process.env,
          RUNNER_NAME: name,
          EFFECT_AGENTS_SHARD_LOCK_EXPIRATION: intervals.shardLockExpiration,
          EFFECT_AGENTS_SHARD_LOCK_REFRESH_INTERVAL: intervals.shardLockRefreshInterval,
          EFFECT_AGENTS_RUNNER_HEALTH_CHECK_INTERVAL: intervals.runnerHealthCheckInterval,
          EFFECT_AGENTS_REFRESH_ASSIGNMENTS_INTERVAL: intervals.refreshAssignmentsInterval,
          EFFECT_AGENTS_ENTITY_MESSAGE_POLL_INTERVAL: intervals.entityMessagePollInterval
        },
        stdio: ["ignore", "pipe", "inherit"]
      })
      child.stdout!.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("effect-agents runner")) resume(Effect.succeed(child))
      })
      child.once("exit", (code) => resume(Effect.fail(new Error(`runner ${name} exited (${code}) before it ran`))))
    }),
    // stopped as a runner should be (SIGTERM: it saves and hands over), and waited for; SIGKILL if it hangs
    (child) =>
      Effect.callback<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        const hung = setTimeout(() => child.kill("SIGKILL"), 10_000)
        child.once("exit", () => {
          clearTimeout(hung)
          resume(Effect.void)
        })
        child.kill("SIGTERM")
      })
  )

const counters = Effect.gen(function*() {
  const counter = yield* Counter.client
  const answers = yield* Effect.forEach(keys, (key) => counter(key).Add({ by: 1 }), { concurrency: "unbounded" })
  return answers
})

const demo = Effect.gen(function*() {
  const before = yield* counters
  yield* Console.log("counters:", before.map((a, i) => `${keys[i]}=${a.count} on ${a.runner}`).join(", "))
  yield* AgentRuntime.publish(TopicId.make("news", "a"), new News({ text: "hello a" }), { ack: true })
  yield* AgentRuntime.publish(TopicId.make("news", "b"), new News({ text: "hello b" }), { ack: true })
  const listener = yield* Listener.client
  yield* Console.log("listeners:", [...(yield* listener("a").GetNews({})), ...(yield* listener("b").GetNews({}))].join("; "))
  return before
})

const cluster = (database: string) =>
  Effect.gen(function*() {
    const processes = new Map<string, ChildProcess>()
    for (const name of ["runner-1", "runner-2", "runner-3"]) {
      processes.set(name, yield* runner(name, database, yield* ClusterPostgres.freePort))
      yield* Console.log(`${name} up`)
    }
    yield* Effect.gen(function*() {
      // wait until the shards have settled over the three runners
      let answers = yield* counters
      for (let i = 0; i < 40 && new Set(answers.map((a) => a.runner)).size < 3; i++) {
        yield* Effect.sleep("500 millis")
        answers = yield* counters
      }
      const before = yield* demo
      const victim = before[0]!.runner
      yield* Console.log(`killing ${victim} (SIGKILL)...`)
      const killedAt = Date.now()
      processes.get(victim)?.kill("SIGKILL")
      const after = yield* counters
      yield* Console.log(`after ${Date.now() - killedAt} ms every counter answered again:`, after.map((a, i) => `${keys[i]}=${a.count} on ${a.runner}`).join(", "))
    }).pipe(Effect.provide(ClusterRunner.layer({ database, clientOnly: true, intervals, shardsPerGroup: 30, persisted: ["Add", "News"] })))
  })

const main = Effect.gen(function*() {
  const url = process.env.DATABASE_URL
  if (url !== undefined) return yield* cluster(url)
  if (ClusterPostgres.available()) {
    const pg = yield* ClusterPostgres.throwaway
    yield* Console.log(`started a throwaway PostgreSQL at ${pg.url}`)
    return yield* cluster(pg.url)
  }
  if (process.env.CLUSTER_STORE === "memory") {
    yield* Console.log("one runner in this process, in-memory storage")
    return yield* demo.pipe(Effect.provide(Layer.mergeAll(CounterLive, ListenerLive).pipe(Layer.provideMerge(ClusterRuntime.layerMemory({ persisted: ["Add", "News"] })))))
  }
  // no server: the embedded store, one SQLite file the three runners share
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-agents-cluster-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  yield* Console.log(`no PostgreSQL here (set DATABASE_URL, or install its server programs): the embedded store, ${dir}/cluster.db`)
  return yield* cluster(`sqlite:${Path.join(dir, "cluster.db")}`)
})

Effect.runPromise(Effect.scoped(main)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
