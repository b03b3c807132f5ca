/**
 * `effect-agents runner`: a cluster runner process. It loads the agent
 * layers a module exports and runs them as one runner of the cluster on
 * the database, until stopped (SIGINT/SIGTERM: its agents' state is saved
 * and its shards handed over to the other runners).
 *
 *   npx effect-agents runner --agents ./agents.js --db postgres://postgres@127.0.0.1:5432/postgres --port 34431
 *   npx effect-agents runner --agents ./agents.js#CounterLive,GreeterLive --db postgres://...
 *
 * The module's exports that are layers are its agent layers (or only the
 * ones named after `#`). The cluster's intervals come from the environment
 * (`EFFECT_AGENTS_SHARD_LOCK_EXPIRATION="10 seconds"`, ...; see `ClusterConfig`).
 * Platform-neutral: the platform gives it the runner layer (`ClusterRunner.layer` on Node).
 */
import { Config, Console, Duration, Effect, Layer, Option, Path } from "effect"
import { Command, Flag } from "effect/cli"
import type { AgentRuntime } from "../core/AgentRuntime.ts"
import * as RuntimeConfig from "../core/RuntimeConfig.ts"
import * as ClusterConfig from "../cluster/ClusterConfig.ts"
import * as Environment from "./Environment.ts"

/** What the runner command asks of the platform's runner layer. */
export interface RunnerOptions {
  readonly database: string
  readonly host: string
  readonly port: number
  readonly shardsPerGroup: number
  readonly intervals: ClusterConfig.Intervals
  readonly persisted: ReadonlyArray<string>
  readonly delivery: "volatile" | "persisted"
}

type AgentLayer = Layer.Layer<never, unknown, AgentRuntime>

/** `shardLockExpiration` → `EFFECT_AGENTS_SHARD_LOCK_EXPIRATION`: where a runner reads each interval. */
export const envName = Environment.envName

/** The cluster's intervals from the environment, each where it is set. */
const intervalsFromEnv = Effect.gen(function*() {
  const intervals: Record<string, Duration.Duration> = {}
  for (const key of Object.keys(ClusterConfig.defaults)) {
    const value = yield* Config.option(Config.Duration(envName(key)))
    if (Option.isSome(value)) intervals[key] = value.value
  }
  return intervals as ClusterConfig.Intervals
})

/** Loads `path#a,b` (default: every export that is a layer) as agent layers. */
const loadAgents = (spec: string) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const [file, names] = spec.split("#")
    const url = yield* path.toFileUrl(path.resolve(file!))
    const module = (yield* Effect.tryPromise({
      try: () => import(url.href),
      catch: (cause) => new Error(`cannot load the agents module ${file}: ${String(cause)}`)
    })) as Record<string, unknown>
    const wanted = names === undefined ? Object.keys(module).filter((name) => Layer.isLayer(module[name])) : names.split(",")
    const layers: Array<AgentLayer> = []
    for (const name of wanted) {
      const value = module[name]
      if (!Layer.isLayer(value)) return yield* Effect.fail(new Error(`${file} exports no agent layer named ${name}`))
      layers.push(value as AgentLayer)
    }
    if (layers.length === 0) return yield* Effect.fail(new Error(`${file} exports no agent layer`))
    return { layers, names: wanted }
  })

const defaultsHelp = () =>
  Object.entries(ClusterConfig.defaults).map(([key, value]) => `  ${envName(key)}="${Environment.durationText(value)}"`).join("\n")

/** The `runner` command, running runners with `serve` (the platform's runner layer). */
export const command = (serve: (options: RunnerOptions) => Layer.Layer<AgentRuntime, unknown>) =>
  Command.make(
    "runner",
    {
      agents: Flag.String("agents").pipe(
        Flag.withDescription("The agents: a module exporting agent layers, as path (every layer it exports) or path#Name,Other"),
      ),
      db: Flag.String("db").pipe(
        Flag.withDescription("The cluster's database: postgres://user:password@host:port/database, or sqlite:<file> for the embedded store of the runners of one machine (default: $EFFECT_AGENTS_DATABASE)"),
        Flag.optional
      ),
      host: Flag.String("host").pipe(
        Flag.withDescription("The address other runners reach this one at (default: 127.0.0.1)"),
        Flag.withDefault("127.0.0.1")
      ),
      port: Flag.Int("port").pipe(Flag.withAlias("p"), Flag.withDescription("Port this runner listens on for the others (default: 34431)"), Flag.withDefault(34431)),
      shards: Flag.Int("shards").pipe(
        Flag.withDescription("Shards per group; every runner of a cluster must use the same (default: 300)"),
        Flag.withDefault(300)
      ),
      persisted: Flag.String("persisted").pipe(
        Flag.withDescription("Message types (tags, comma-separated) always persisted: at least once, deduplicated (default: none)"),
        Flag.withDefault("")
      ),
      delivery: Flag.Literals("delivery", ["volatile", "persisted"]).pipe(
        Flag.withDescription("The delivery mode of every other message (default: volatile)"),
        Flag.withDefault("volatile")
      )
    },
    Effect.fnUntraced(function*({ agents, db, delivery, host, persisted, port, shards }) {
      const database = yield* Environment.flagOrEnv(db, "EFFECT_AGENTS_DATABASE")
      if (database === undefined) return yield* Effect.fail(new Error("give the cluster's database: --db postgres://... or --db sqlite:<file> (or $EFFECT_AGENTS_DATABASE)"))
      const loaded = yield* loadAgents(agents)
      const intervals = yield* intervalsFromEnv
      const runtime = serve({
        database,
        host,
        port,
        shardsPerGroup: shards,
        intervals,
        persisted: persisted.split(",").filter((tag) => tag !== ""),
        delivery
      })
      yield* Effect.gen(function*() {
        yield* Console.log(`effect-agents runner ${host}:${port} running ${loaded.names.join(", ")}`)
        return yield* Effect.never
      }).pipe(
        Effect.provide(Layer.mergeAll(Layer.empty, ...loaded.layers).pipe(Layer.provideMerge(runtime))),
        Effect.provide(RuntimeConfig.layerFromEnv()),
        // once the runner has closed: its agents' state saved, its shards handed over
        Effect.ensuring(Console.log(`effect-agents runner ${host}:${port} stopped`))
      )
    })
  ).pipe(Command.withDescription(
    `Run a cluster runner: the agents of a module, as one runner of the cluster on the database.\n\nThe cluster's intervals come from the environment; the defaults:\n${defaultsHelp()}`
  ))
