/**
 * The transport floor: a bare effect/rpc request/reply over the same
 * transport the distributed runtime uses (WebSocket, JSON, tracing off),
 * server in its own process. Run as a script, it is the server. `serve` and
 * `connect` are the floor's transport, which the streaming floor shares.
 */
import * as Http from "node:http"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Console, Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "effect/rpc"

export const Echo = RpcGroup.make(Rpc.make("Echo", { payload: { n: Schema.Number }, success: Schema.Number }))

/** Adapts a floor's protocol layer (the streaming floor turns per-chunk acks off, as the host's streams do); unchanged by default. */
type Adapt<P> = <E, R>(layer: Layer.Layer<P, E, R>) => Layer.Layer<P, E, R>

/** A client of the floor server at `url` for `group`, in the current scope. */
export const connect = <Rpcs extends Rpc.Any>(group: RpcGroup.RpcGroup<Rpcs>, url: string, adapt: Adapt<RpcClient.Protocol> = (layer) => layer) =>
  Effect.gen(function*() {
    // the protocol lives in the caller's scope: `Effect.provide` would close the socket when `make` returns
    const protocol = yield* Layer.build(adapt(RpcClient.layerProtocolSocket().pipe(
      Layer.provide(NodeSocket.layerWebSocket(url)),
      Layer.provide(RpcSerialization.layerJson)
    )))
    return yield* RpcClient.make(group, { disableTracing: true }).pipe(Effect.provideContext(protocol))
  })

/** Runs a floor server: `rpcs` (an `RpcServer.layer` with its handlers) over WebSocket on a free port of 127.0.0.1, printing `listening on <url>`. */
export const serve = (rpcs: Layer.Layer<never, never, RpcServer.Protocol>, adapt: Adapt<RpcServer.Protocol> = (layer) => layer) => {
  const server = HttpRouter.serve(
    rpcs.pipe(
      Layer.provide(adapt(RpcServer.layerProtocolWebsocket({ path: "/" }))),
      Layer.provide(RpcSerialization.layerJson)
    ),
    { disableLogger: true, disableListenLog: true }
  ).pipe(Layer.provideMerge(NodeHttpServer.layer(() => Http.createServer(), { host: "127.0.0.1", port: 0 })))
  Layer.launch(Layer.effectDiscard(Effect.gen(function*() {
    const address = (yield* HttpServer.HttpServer).address
    yield* Console.log(`listening on ws://127.0.0.1:${address._tag === "UnixPathAddress" ? 0 : address.port}/`)
  })).pipe(Layer.provide(server))).pipe(NodeRuntime.runMain)
}

/** A client of the floor server at `url`, in the current scope. */
export const client = (url: string) => connect(Echo, url)

if (import.meta.url === `file://${process.argv[1]}`) {
  serve(RpcServer.layer(Echo, { disableTracing: true }).pipe(Layer.provide(Echo.toLayer({ Echo: ({ n }) => Effect.succeed(n + 1) }))))
}
