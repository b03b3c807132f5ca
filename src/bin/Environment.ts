/**
 * How the command line meets the environment: the `EFFECT_AGENTS_*` name of
 * a setting (as `RuntimeConfig.layerFromEnv` and the runner's intervals read
 * it), a duration written as the environment takes it back (for the defaults
 * that help shows), and a flag that falls back to an environment variable.
 * Shared by the `host`, `runner` and `status` commands.
 */
import { Config, Duration, Effect, Option } from "effect"

/** `maxPendingPerWorker` → `EFFECT_AGENTS_MAX_PENDING_PER_WORKER`; `shardLockExpiration` → `EFFECT_AGENTS_SHARD_LOCK_EXPIRATION`. */
export const envName = (key: string): string => `EFFECT_AGENTS_${key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`

/** A duration as the environment takes it back: "30 seconds", "250 millis", "5 minutes". */
export const durationText = (duration: Duration.Duration): string => {
  const ms = Duration.toMillis(duration)
  return ms % 60_000 === 0 ? `${ms / 60_000} minutes` : ms % 1000 === 0 ? `${ms / 1000} seconds` : `${ms} millis`
}

/** The flag's value when given, else the environment variable `name` (`--token`, else `$EFFECT_AGENTS_TOKEN`); `undefined` when neither is set. */
export const flagOrEnv = (flag: Option.Option<string>, name: string): Effect.Effect<string | undefined, Config.ConfigError> =>
  Option.isSome(flag) ? Effect.succeed(flag.value) : Effect.map(Config.option(Config.String(name)), Option.getOrUndefined)
