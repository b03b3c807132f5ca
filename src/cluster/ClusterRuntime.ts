/**
 * The cluster runtime: the same agents on effect/cluster, for users who
 * outgrow one host. `ClusterRuntime.layer(options)` provides the same
 * `AgentRuntime` as the other runtimes, so agent layers run on it unchanged:
 * each agent type is an effect/cluster entity (entity id = the agent's
 * key), placed on shards spread over the runners that share a database;
 * a runner that dies has its shards taken over by the others.
 *
 * ```ts
 * program.pipe(
 *   Effect.provide(GreeterLive),
 *   Effect.provide(ClusterRuntime.layerMemory())      // one process, nothing to run
 * )
 * ```
 *
 * It is the shared kernel (the standalone runtime's mailboxes, deadlines,
 * interruption, interventions, state) over a cluster transport: a send is a
 * call to the recipient's entity, volatile or persisted (`DeliveryMode`);
 * a publish fans out through the subscriptions in the `Directory` (SQL,
 * seen by every runner). `layer` needs `Sharding` (from a runner layer such
 * as `NodeClusterRuntime` in `effect-agents/node`, or `layerMemory`'s
 * in-memory one) and a `Directory`.
 *
 * What `awaitIdle` means on a cluster: nothing is queued or running on this
 * runner, including what this runtime sent, not awaited, to entities of
 * this runner; work on other runners is not waited for.
 */
import { type Duration, Effect, Layer, Schedule } from "effect"
import type { EntityId } from "effect/cluster/EntityId"
import { MessageStorage, RunnerHealth, Runners, RunnerStorage, Sharding, ShardingConfig } from "effect/cluster"
import * as AccessPolicy from "../core/AccessPolicy.ts"
import { AgentId } from "../core/AgentId.ts"
import { AgentRuntime } from "../core/AgentRuntime.ts"
import * as RuntimeConfig from "../core/RuntimeConfig.ts"
import type { Intervention } from "../core/Intervention.ts"
import * as Kernel from "../runtime/Kernel.ts"
import * as ClusterConfig from "./ClusterConfig.ts"
import * as ClusterTransport from "./ClusterTransport.ts"
import type * as DeliveryMode from "./DeliveryMode.ts"
import * as Directory from "./Directory.ts"
import * as EntityHost from "./EntityHost.ts"

/** How the cluster runtime behaves; anything left out comes from `RuntimeConfig` or `ClusterConfig.defaults`. */
export interface Options {
  /** The deadline of a send that sets none (default 30 seconds). */
  readonly sendTimeout?: Duration.Input | undefined
  /** How long closing waits for in-flight work before saving state and interrupting it (default 5 seconds). */
  readonly shutdownTimeout?: Duration.Input | undefined
  /** How many messages may wait in one instance's mailbox (default 4096). */
  readonly mailboxCapacity?: number | undefined
  /** Middleware over send, publish and reply, applied on this runner. */
  readonly interventions?: ReadonlyArray<Intervention> | undefined
  /** Who may send what to whom (default: everything is allowed); give every runner the same. */
  readonly policy?: AccessPolicy.AccessPolicy | undefined
  /** The delivery mode of a message nobody chose one for (default `"volatile"`). */
  readonly delivery?: DeliveryMode.DeliveryMode | undefined
  /** Message types (tags) always persisted. */
  readonly persisted?: ReadonlyArray<string> | undefined
  /** Message types (tags) always volatile. */
  readonly volatile?: ReadonlyArray<string> | undefined
  /** How long an idle agent's entity stays active before it is passivated (default: the cluster's `entityMaxIdleTime`, see `ClusterConfig`). */
  readonly maxIdleTime?: Duration.Input | undefined
  /** Largest message, reply or state, in bytes of JSON (default 1 MiB). */
  readonly maxMessageBytes?: number | undefined
}

/** Builds a cluster runtime in the current scope (the scope is its life). */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const directory = yield* Directory.Directory
  const sharding = yield* Sharding.Sharding
  const kernelOptions: Kernel.Options = { ...options, emitLocalDeadLetters: true }
  const scope = yield* Effect.scope
  const kernel = yield* Kernel.make(kernelOptions)
  const { config } = kernel
  const host = EntityHost.make({
    kernel,
    directory,
    limits: { maxBytes: options.maxMessageBytes ?? config.maxMessageBytes, maxDepth: config.maxDepth },
    scope,
    maxIdleTime: options.maxIdleTime,
    mailboxCapacity: options.mailboxCapacity ?? config.mailboxCapacity
  })
  const transport = yield* ClusterTransport.make({
    host,
    policy: options.policy ?? AccessPolicy.allowAll,
    delivery: {
      default: options.delivery ?? "volatile",
      persisted: new Set(options.persisted ?? []),
      volatile: new Set(options.volatile ?? [])
    },
    registerEntity: (agentType) => EntityHost.register(host, agentType).pipe(Effect.provideService(Sharding.Sharding, sharding))
  })
  const runtime = yield* Kernel.runtime(kernel, transport, kernelOptions)
  // runs before the kernel closes: let in-flight work finish, then save every live agent's state for the runner that takes it over
  yield* Effect.addFinalizer(() => saveLive(host, RuntimeConfig.millis(RuntimeConfig.duration(options.shutdownTimeout, config.shutdownTimeout))))
  return AgentRuntime.of({
    ...runtime,
    register: (registration) => runtime.register(EntityHost.withSnapshots(host, registration))
  })
})

const saveLive = (host: EntityHost.EntityHost, drainMillis: number) =>
  Effect.gen(function*() {
    yield* Effect.timeoutOption(host.kernel.idle.await, drainMillis)
    // a save waits its turn in each mailbox: one behind a handler that does not end is given up
    const saved = yield* Effect.timeoutOption(host.kernel.instances.saveAll, drainMillis)
    if (saved._tag === "None") return yield* Effect.logWarning("gave up saving the state of every agent on shutdown: a handler did not end in time")
    const live = saved.value
    for (const [id, state] of Object.entries(live)) {
      if (host.departed.has(id)) continue
      const [type, ...key] = id.split("/")
      yield* host.directory.saveState(new AgentId({ type: type!, key: key.join("/") }), state)
    }
  }).pipe(Effect.catchCause((cause) => Effect.logWarning("could not save the state of every agent on shutdown", cause)))

/**
 * The cluster runtime as a layer, on the `Sharding` and `Directory` it is
 * given: provides `AgentRuntime` for the layer's life.
 */
export const layer = (options?: Options): Layer.Layer<AgentRuntime, never, Sharding.Sharding | Directory.Directory> =>
  Layer.effect(AgentRuntime, make(options))

/** Options of the one-process cluster. */
export interface MemoryOptions extends Options {
  /** The cluster's intervals (see `ClusterConfig`). */
  readonly intervals?: ClusterConfig.Intervals | undefined
  /** Shards per group (default 300, as effect/cluster's). */
  readonly shardsPerGroup?: number | undefined
}

/**
 * A cluster of one runner in this process, with in-memory message storage
 * and directory: nothing to install or run. Persisted messages survive a
 * restart of an entity, not of the process. For tests, for trying the
 * cluster runtime, and for a newcomer's first program.
 */
export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<AgentRuntime> =>
  layer(options).pipe(Layer.provide(Directory.layerMemory), Layer.provide(shardingMemory(options)))

/**
 * effect/cluster's in-memory `Sharding` of one runner (what `layerMemory`
 * runs on), ready once it holds its shards; `shutdownTimeout` is how long a
 * closing entity waits for its handlers.
 */
export const shardingMemory = (options: MemoryOptions = {}): Layer.Layer<Sharding.Sharding> =>
  ownsShards.pipe(Layer.provideMerge(Sharding.layer.pipe(
    Layer.provide(Runners.layerNoop),
    Layer.provide(MessageStorage.layerMemory),
    Layer.provide([RunnerStorage.layerMemory, RunnerHealth.layerNoop]),
    Layer.provide(ShardingConfig.layer({
      ...ClusterConfig.sharding({ entityTerminationTimeout: options.shutdownTimeout, ...options.intervals }),
      // one runner: an agent layer closing must not stop the others' entities
      preemptiveShutdown: false,
      ...(options.shardsPerGroup !== undefined ? { shardsPerGroup: options.shardsPerGroup } : {})
    }))
  )))

/**
 * Waits (up to 30 seconds) until this runner holds the shard of a probe key:
 * a lone runner holds every shard once it holds one, and a first message
 * sent earlier would wait for the shard's lock.
 */
const ownsShards = Layer.effectDiscard(Effect.gen(function*() {
  const sharding = yield* Sharding.Sharding
  const probe = sharding.getShardId("probe" as EntityId, "default")
  yield* Effect.sync(() => sharding.hasShardId(probe)).pipe(
    Effect.repeat({ until: (owned) => owned, schedule: Schedule.spaced("5 millis") }),
    Effect.timeoutOption("30 seconds")
  )
}))
