/**
 * The transport floor: a bare effect/rpc request/reply over the same
 * transport the distributed runtime uses (WebSocket, JSON, tracing off),
 * server in its own process. Run as a script, it is the server.
 */
import * as Http from "node:http"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Console, Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "effect/rpc"

export const Echo = RpcGroup.make(Rpc.make("Echo", { payload: { n: Schema.Number }, success: Schema.Number }))

/** A client of the floor server at `url`, in the current scope. */
export const client = (url: string) =>
  Effect.gen(function*() {
    // the protocol lives in the caller's scope: `Effect.provide` would close the socket when `make` returns
    const protocol = yield* Layer.build(RpcClient.layerProtocolSocket().pipe(
      Layer.provide(NodeSocket.layerWebSocket(url)),
      Layer.provide(RpcSerialization.layerJson)
    ))
    return yield* RpcClient.make(Echo, { disableTracing: true }).pipe(Effect.provideContext(protocol))
  })

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = HttpRouter.serve(
    RpcServer.layer(Echo, { disableTracing: true }).pipe(
      Layer.provide(Echo.toLayer({ Echo: ({ n }) => Effect.succeed(n + 1) })),
      Layer.provide(RpcServer.layerProtocolWebsocket({ path: "/" })),
      Layer.provide(RpcSerialization.layerJson)
    ),
    { disableLogger: true, disableListenLog: true }
  ).pipe(Layer.provideMerge(NodeHttpServer.layer(() => Http.createServer(), { host: "127.0.0.1", port: 0 })))
  Layer.launch(Layer.effectDiscard(Effect.gen(function*() {
    const address = (yield* HttpServer.HttpServer).address
    yield* Console.log(`listening on ws://127.0.0.1:${address._tag === "UnixPathAddress" ? 0 : address.port}/`)
  })).pipe(Layer.provide(server))).pipe(NodeRuntime.runMain)
}
