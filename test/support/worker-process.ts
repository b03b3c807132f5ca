/**
 * A worker in its own process, for tests across processes: runs the agent
 * layers named in $AGENTS, exported by the module $MODULE (a path from the
 * repository root; an export is a layer, or a function of the worker id
 * giving one), as worker $WORKER_ID of the host at $HOST_URL. Prints
 * "ready" once joined and serves until killed.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { type AgentRuntime, WorkerRuntime } from "../../src/index.ts"

type AgentLayer = Layer.Layer<never, unknown, AgentRuntime.AgentRuntime>

const env = (name: string) => process.env[name]
const workerId = env("WORKER_ID") ?? "worker"
const module = await import(new URL(`../../${env("MODULE")!}`, import.meta.url).href) as Record<string, AgentLayer | ((workerId: string) => AgentLayer)>
const agents = env("AGENTS")!.split(",").map((name) => {
  const value = module[name]
  if (value === undefined) throw new Error(`${env("MODULE")} exports no ${name}`)
  return typeof value === "function" ? value(workerId) : value
})

Layer.launch(
  Layer.effectDiscard(Console.log("ready")).pipe(
    Layer.provide(Layer.mergeAll(Layer.empty, ...agents)),
    Layer.provide(WorkerRuntime.layer({
      url: env("HOST_URL")!,
      workerId,
      ...(env("SEND_TIMEOUT") ? { sendTimeout: Number(env("SEND_TIMEOUT")) } : {}),
      ...(env("SHUTDOWN_TIMEOUT") ? { shutdownTimeout: Number(env("SHUTDOWN_TIMEOUT")) } : {})
    }))
  )
).pipe(Effect.asVoid, NodeRuntime.runMain)
