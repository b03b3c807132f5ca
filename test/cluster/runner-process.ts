/**
 * A cluster runner in its own process, for the multi-process tests: the
 * `effect-agents runner` command (src/bin/Runner.ts on Node's
 * `ClusterRunner.layer`) with the agents of `agents.ts`, its arguments
 * those of the command, the intervals in its environment
 * (`EFFECT_AGENTS_SHARD_LOCK_EXPIRATION`, ...). It prints
 * "effect-agents runner ... running ..." once its agents are registered;
 * SIGTERM closes it (state saved, shards handed over).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import * as Runner from "../../src/bin/Runner.ts"
import * as ClusterRunner from "../../src/node/ClusterRunner.ts"

Command.make("effect-agents").pipe(
  Command.withSubcommands([Runner.command(ClusterRunner.layer)]),
  Command.run({ version: "test" }),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
