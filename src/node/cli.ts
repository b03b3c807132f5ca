/**
 * The `effect-agents` command on Node (what `bin/effect-agents.js` runs).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { FetchHttpClient } from "effect/http"
import * as Cli from "../bin/Cli.ts"
import * as ClusterRunner from "./ClusterRunner.ts"
import * as HostServicer from "./HostServicer.ts"

Cli.make(HostServicer.layer, ClusterRunner.layer).pipe(
  Command.run({ version: "0.3.0" }),
  // the `status` command asks the host's admin endpoint over HTTP
  Effect.provide(FetchHttpClient.layer),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
