/**
 * The benchmarks' cluster runner process: the echo and sink agents and the
 * bare floor entity on one runner ($DATABASE, $PORT). Prints "runner ready".
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as ClusterRunner from "../src/node/ClusterRunner.ts"
import { EchoLive, FloorLive, SinkLive } from "./cluster-agents.ts"

const env = (name: string) => process.env[name]!

Layer.launch(
  Layer.effectDiscard(Console.log("runner ready")).pipe(
    Layer.provide(Layer.mergeAll(EchoLive, SinkLive, FloorLive)),
    Layer.provideMerge(ClusterRunner.layer({ database: env("DATABASE"), port: Number(env("PORT")), maxConnections: 20 }))
  )
).pipe(Effect.asVoid, NodeRuntime.runMain)
