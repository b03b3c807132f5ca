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
  /** Largest message payload, in bytes of JSON, that crosses a process (worker and host). */
  readonly maxMessageBytes: number
  /**
   * How long the host waits for a worker to acknowledge an event it was
   * handed; past it the delivery is a dead letter for the publisher.
   */
  readonly eventTimeout: Duration.Duration
  /** A worker's pause between attempts to reach its host. */
  readonly reconnectInterval: Duration.Duration
  /** How long a worker's first connection to its host may take. */
  readonly connectTimeout: Duration.Duration
}

/** The defaults. */
export const defaults: RuntimeConfig = {
  sendTimeout: Duration.seconds(30),
  shutdownTimeout: Duration.seconds(5),
  maxMessageBytes: 1024 * 1024,
  eventTimeout: Duration.minutes(5),
  reconnectInterval: Duration.millis(250),
  connectTimeout: Duration.seconds(10)
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
  eventTimeout: Config.Duration("eventTimeout").pipe(Config.withDefault(defaults.eventTimeout)),
  reconnectInterval: Config.Duration("reconnectInterval").pipe(Config.withDefault(defaults.reconnectInterval)),
  connectTimeout: Config.Duration("connectTimeout").pipe(Config.withDefault(defaults.connectTimeout))
})

/** The settings read from `EFFECT_AGENTS_*` environment variables. */
export const configFromEnv: Effect.Effect<RuntimeConfig, Config.ConfigError> = config.pipe(
  Effect.provideService(
    ConfigProvider.ConfigProvider,
    ConfigProvider.fromEnv().pipe(ConfigProvider.constantCase, ConfigProvider.nested("effectAgents"), ConfigProvider.constantCase)
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
