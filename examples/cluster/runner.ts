/**
 * One runner of the example cluster: the `effect-agents runner` command
 * (`npx effect-agents runner --agents examples/cluster/agents.ts --db ...`),
 * started here from its source so the example runs from a fresh clone.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import * as Runner from "../../src/bin/Runner.ts"
import * as ClusterRunner from "../../src/node/ClusterRunner.ts"

Command.make("effect-agents").pipe(
  Command.withSubcommands([Runner.command(ClusterRunner.layer)]),
  Command.run({ version: "example" }),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
