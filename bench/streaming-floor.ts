/**
 * The transport floor of streaming through the host: a bare effect/rpc
 * stream over WebSocket (JSON, tracing off, no per-chunk acks, as the
 * host's streams), server in its own process, the same token-sized chunks.
 * Run as a script, it is the server. Its transport is the rpc floor's.
 */
import { Layer, Schema, Stream } from "effect"
import { Rpc, RpcGroup, RpcServer } from "effect/rpc"
import * as Acks from "../src/distributed/internal/Acks.ts"
import { connect, serve } from "./rpc-floor.ts"

const TokenJson = Schema.Struct({ _tag: Schema.Literal("Token"), i: Schema.Number })

export const Tokens = RpcGroup.make(Rpc.make("Tokens", { payload: { n: Schema.Number }, success: TokenJson, stream: true }))

/** A client of the floor server at `url`, in the current scope. */
export const client = (url: string) => connect(Tokens, url, Acks.client)

if (import.meta.url === `file://${process.argv[1]}`) {
  serve(
    RpcServer.layer(Tokens, { disableTracing: true }).pipe(
      Layer.provide(Tokens.toLayer({ Tokens: ({ n }) => Stream.map(Stream.range(0, n - 1), (i) => ({ _tag: "Token" as const, i })) }))
    ),
    Acks.server
  )
}
