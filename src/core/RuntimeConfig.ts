/**
 * Every tunable of the runtimes, with its default, in one place (in the style
 * of `effect/cluster`'s `ShardingConfig`). The standalone runtime, the worker,
 * the host and the CLI all read it; per-layer options override it.
 *
 * `RuntimeConfig` is a `Context.Reference`: without a layer the defaults
 * apply, so nothing requires it. Provide `RuntimeConfig.layer({...})` to
 * change defaults for every runtime in a program, or
 * `RuntimeConfig.layerFromEnv()` to read them from the environment
 * (`EFFECT_AGENTS_SEND_TIMEOUT=10 seconds`, `EFFECT_AGENTS_MAX_MESSAGE_BYTES=65536`, ...).
 *
 * ```ts
 * program.pipe(
 *   Effect.provide(StandaloneRuntime.layer()),
 *   Effect.provide(RuntimeConfig.layer({ sendTimeout: Duration.seconds(5) }))
 * )
 * ```
 */
import { Config, ConfigProvider, Context, Duration, Effect, Layer } from "effect"

/** The runtimes' settings. */
export interface RuntimeConfig {
  /** The deadline of a send that sets none. `Duration.infinity` disables it. */
  readonly sendTimeout: Duration.Duration
  /** How long closing a runtime waits for in-flight work before interrupting it. */
  readonly shutdownTimeout: Duration.Duration
  /** Largest message payload, reply or saved state, in bytes of JSON, that crosses a process (worker and host). */
  readonly maxMessageBytes: number
  /** Deepest nesting of arrays and objects in a payload, reply or state that crosses a process. */
  readonly maxDepth: number
  /**
   * How many messages may wait in one instance's mailbox. A send to a full
   * mailbox waits (within its deadline) for room; a publish to it becomes a
   * dead letter.
   */
  readonly mailboxCapacity: number
  /**
   * How long the host waits for a worker to acknowledge an event it was
   * handed; past it the delivery is a dead letter for the publisher.
   */
  readonly eventTimeout: Duration.Duration
  /** A worker's pause between attempts to reach its host. */
  readonly reconnectInterval: Duration.Duration
  /** How long a worker's first connection to its host may take. */
  readonly connectTimeout: Duration.Duration
  /** How often the host pings each worker. */
  readonly heartbeatInterval: Duration.Duration
  /**
   * How long either side waits without hearing from the other before it
   * gives the connection up: the host drops the worker (its pending calls
   * fail), the worker reconnects.
   */
  readonly heartbeatTimeout: Duration.Duration
  /** How many requests the host may have pushed to one worker and not had answered. */
  readonly maxPendingPerWorker: number
  /** How many bytes of payload those requests may hold. */
  readonly maxPendingBytesPerWorker: number
  /** How long a worker at its pending limit may go without answering anything before the host drops it. */
  readonly progressTimeout: Duration.Duration
  /** How many agent types one worker may register. */
  readonly maxAgentTypesPerWorker: number
  /** How many subscriptions one worker may add. */
  readonly maxSubscriptionsPerWorker: number
  /**
   * How many agents the host remembers the placement of (its sticky table).
   * Past it, the placements unused for longest are forgotten: such an agent
   * is placed again by the same rule on its next message, so it moves only
   * if workers joined its type since.
   */
  readonly maxPlacements: number
  /**
   * After the host starts, how long a send to an agent type no worker runs
   * yet waits for one to declare it (workers re-declare after a restart),
   * and how long publishes wait for subscriptions to be re-declared.
   */
  readonly recoveryWindow: Duration.Duration
}

/** The defaults. */
export const defaults: RuntimeConfig = {
  sendTimeout: Duration.seconds(30),
  shutdownTimeout: Duration.seconds(5),
  maxMessageBytes: 1024 * 1024,
  maxDepth: 64,
  mailboxCapacity: 4096,
  eventTimeout: Duration.minutes(5),
  reconnectInterval: Duration.millis(250),
  connectTimeout: Duration.seconds(10),
  heartbeatInterval: Duration.millis(500),
  heartbeatTimeout: Duration.seconds(2),
  maxPendingPerWorker: 8192,
  maxPendingBytesPerWorker: 32 * 1024 * 1024,
  progressTimeout: Duration.seconds(30),
  maxAgentTypesPerWorker: 1024,
  maxSubscriptionsPerWorker: 4096,
  maxPlacements: 1_000_000,
  recoveryWindow: Duration.seconds(3)
}

/** The settings in force (the defaults unless a layer provides others). */
export const RuntimeConfig = Context.Reference<RuntimeConfig>("effect-agents/RuntimeConfig", {
  defaultValue: () => defaults
})

/** Provides settings: `options` over the defaults. */
export const layer = (options?: Partial<RuntimeConfig>): Layer.Layer<never> =>
  Layer.succeed(RuntimeConfig)({ ...defaults, ...options })

/** The settings as a `Config`, each key optional (names in camelCase; `layerFromEnv` reads them in CONSTANT_CASE). */
export const config: Config.Config<RuntimeConfig> = Config.all({
  sendTimeout: Config.Duration("sendTimeout").pipe(Config.withDefault(defaults.sendTimeout)),
  shutdownTimeout: Config.Duration("shutdownTimeout").pipe(Config.withDefault(defaults.shutdownTimeout)),
  maxMessageBytes: Config.Int("maxMessageBytes").pipe(Config.withDefault(defaults.maxMessageBytes)),
  maxDepth: Config.Int("maxDepth").pipe(Config.withDefault(defaults.maxDepth)),
  mailboxCapacity: Config.Int("mailboxCapacity").pipe(Config.withDefault(defaults.mailboxCapacity)),
  eventTimeout: Config.Duration("eventTimeout").pipe(Config.withDefault(defaults.eventTimeout)),
  reconnectInterval: Config.Duration("reconnectInterval").pipe(Config.withDefault(defaults.reconnectInterval)),
  connectTimeout: Config.Duration("connectTimeout").pipe(Config.withDefault(defaults.connectTimeout)),
  heartbeatInterval: Config.Duration("heartbeatInterval").pipe(Config.withDefault(defaults.heartbeatInterval)),
  heartbeatTimeout: Config.Duration("heartbeatTimeout").pipe(Config.withDefault(defaults.heartbeatTimeout)),
  maxPendingPerWorker: Config.Int("maxPendingPerWorker").pipe(Config.withDefault(defaults.maxPendingPerWorker)),
  maxPendingBytesPerWorker: Config.Int("maxPendingBytesPerWorker").pipe(Config.withDefault(defaults.maxPendingBytesPerWorker)),
  progressTimeout: Config.Duration("progressTimeout").pipe(Config.withDefault(defaults.progressTimeout)),
  maxAgentTypesPerWorker: Config.Int("maxAgentTypesPerWorker").pipe(Config.withDefault(defaults.maxAgentTypesPerWorker)),
  maxSubscriptionsPerWorker: Config.Int("maxSubscriptionsPerWorker").pipe(Config.withDefault(defaults.maxSubscriptionsPerWorker)),
  maxPlacements: Config.Int("maxPlacements").pipe(Config.withDefault(defaults.maxPlacements)),
  recoveryWindow: Config.Duration("recoveryWindow").pipe(Config.withDefault(defaults.recoveryWindow))
})

/** The settings read from `EFFECT_AGENTS_*` environment variables, as they are when this runs. */
export const configFromEnv: Effect.Effect<RuntimeConfig, Config.ConfigError> = Effect.suspend(() =>
  config.pipe(
    Effect.provideService(
      ConfigProvider.ConfigProvider,
      ConfigProvider.fromEnv().pipe(ConfigProvider.constantCase, ConfigProvider.nested("effectAgents"), ConfigProvider.constantCase)
    )
  )
)

/** Provides settings read from the environment, with `options` on top. */
export const layerFromEnv = (options?: Partial<RuntimeConfig>): Layer.Layer<never, Config.ConfigError> =>
  Layer.effect(RuntimeConfig)(Effect.map(configFromEnv, (config) => ({ ...config, ...options })))

/** A duration from an option, the config's value when absent. */
export const duration = (input: Duration.Input | undefined, fallback: Duration.Duration): Duration.Duration =>
  input === undefined ? fallback : Duration.fromInputUnsafe(input)

/** A duration in milliseconds (`Infinity` for an infinite one). */
export const millis = (duration: Duration.Duration): number => Duration.toMillis(duration)
