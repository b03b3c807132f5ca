/**
 * The `effect-agents` command on Node (what `bin/effect-agents.js` runs).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import * as Cli from "../bin/Cli.ts"
import * as HostServicer from "./HostServicer.ts"

Cli.make(HostServicer.layer).pipe(
  Command.run({ version: "0.2.0" }),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
