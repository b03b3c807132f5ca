/**
 * The transport floor of streaming through the host: a bare effect/rpc
 * stream over WebSocket (JSON, tracing off, no per-chunk acks, as the
 * host's streams), server in its own process, the same token-sized chunks.
 * Run as a script, it is the server.
 */
import * as Http from "node:http"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { Console, Effect, Layer, Schema, Stream } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "effect/rpc"
import * as Acks from "../src/distributed/internal/Acks.ts"

const TokenJson = Schema.Struct({ _tag: Schema.Literal("Token"), i: Schema.Number })

export const Tokens = RpcGroup.make(Rpc.make("Tokens", { payload: { n: Schema.Number }, success: TokenJson, stream: true }))

/** A client of the floor server at `url`, in the current scope. */
export const client = (url: string) =>
  Effect.gen(function*() {
    const protocol = yield* Layer.build(Acks.client(RpcClient.layerProtocolSocket().pipe(
      Layer.provide(NodeSocket.layerWebSocket(url)),
      Layer.provide(RpcSerialization.layerJson)
    )))
    return yield* RpcClient.make(Tokens, { disableTracing: true }).pipe(Effect.provideContext(protocol))
  })

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = HttpRouter.serve(
    RpcServer.layer(Tokens, { disableTracing: true }).pipe(
      Layer.provide(Tokens.toLayer({ Tokens: ({ n }) => Stream.map(Stream.range(0, n - 1), (i) => ({ _tag: "Token" as const, i })) })),
      Layer.provide(Acks.server(RpcServer.layerProtocolWebsocket({ path: "/" }))),
      Layer.provide(RpcSerialization.layerJson)
    ),
    { disableLogger: true, disableListenLog: true }
  ).pipe(Layer.provideMerge(NodeHttpServer.layer(() => Http.createServer(), { host: "127.0.0.1", port: 0 })))
  Layer.launch(Layer.effectDiscard(Effect.gen(function*() {
    const address = (yield* HttpServer.HttpServer).address
    yield* Console.log(`listening on ws://127.0.0.1:${address._tag === "UnixPathAddress" ? 0 : address.port}/`)
  })).pipe(Layer.provide(server))).pipe(NodeRuntime.runMain)
}
