/** Worker B of the distributed benchmarks: pongers, one sink on "one", 100 sinks on "fan". */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Layer } from "effect"
import { WorkerRuntime } from "../src/index.ts"
import { PongerLive, sinks } from "./distributed-agents.ts"

Layer.launch(
  Layer.effectDiscard(Console.log("ready")).pipe(
    Layer.provide(Layer.mergeAll(PongerLive, sinks("one", 1), sinks("fan", 100))),
    Layer.provide(WorkerRuntime.layer({ url: process.env.HOST_URL!, workerId: "bench-b" }))
  )
).pipe(NodeRuntime.runMain)
