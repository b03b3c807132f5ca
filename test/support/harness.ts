/**
 * A host servicer and workers in this process, over real loopback sockets
 * (port 0), each in a scope of its own so a test can stop one of them.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { AgentRuntime, HostServicer, WorkerRuntime } from "../../src/index.ts"

export interface Running<A> {
  readonly service: A
  readonly context: Context.Context<any>
  readonly stop: Effect.Effect<void>
}

const startIn = <A, I, E>(layer: Layer.Layer<I, E>, tag: Context.Key<I, A>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    const context = yield* Layer.buildWithScope(layer, scope)
    return { service: Context.get(context, tag), context, stop: Scope.close(scope, Exit.void) } as Running<A>
  })

/** A host on a free port (or `port`). */
export const host = (options: HostServicer.Options = {}) =>
  startIn(HostServicer.layer({ port: 0, ...options }), HostServicer.HostServicer)

/** A worker joined to `url`, running `agents`. */
export const worker = (
  url: string,
  workerId: string,
  agents: Layer.Layer<never, unknown, AgentRuntime.AgentRuntime> = Layer.empty,
  options: Partial<WorkerRuntime.Options> = {}
) =>
  startIn(
    agents.pipe(Layer.provideMerge(WorkerRuntime.layer({ url, workerId, shutdownTimeout: "100 millis", reconnectInterval: "100 millis", ...options }))),
    AgentRuntime.AgentRuntime
  )

/** Runs `effect` on a worker. */
export const on = <A, E>(running: Running<unknown>, effect: Effect.Effect<A, E, AgentRuntime.AgentRuntime>) =>
  Effect.provide(effect, running.context as Context.Context<AgentRuntime.AgentRuntime>)
