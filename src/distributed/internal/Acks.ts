/**
 * effect/rpc acknowledges every chunk of a stream: the server waits for the
 * client's `Ack` before it sends the next one. On the host's push stream that
 * costs a round trip per chunk to every worker, and the stream needs no such
 * flow control (the host queues without bound, and so does every mailbox
 * behind it). Both ends must agree to turn acks off, so both wrappers live here.
 */
import { Effect, Layer } from "effect"
import { RpcClient, RpcServer } from "effect/rpc"

/** The worker's protocol, sending no acks. */
export const client = <E, R>(layer: Layer.Layer<RpcClient.Protocol, E, R>): Layer.Layer<RpcClient.Protocol, E, R> =>
  Layer.effect(
    RpcClient.Protocol,
    Effect.gen(function*() {
      const protocol = yield* RpcClient.Protocol
      return RpcClient.Protocol.of({ ...protocol, supportsAck: false })
    })
  ).pipe(Layer.provide(layer))

/** The host's protocol, waiting for no acks. */
export const server = <E, R>(layer: Layer.Layer<RpcServer.Protocol, E, R>): Layer.Layer<RpcServer.Protocol, E, R> =>
  Layer.effect(
    RpcServer.Protocol,
    Effect.gen(function*() {
      const protocol = yield* RpcServer.Protocol
      return RpcServer.Protocol.of({ ...protocol, supportsAck: false })
    })
  ).pipe(Layer.provide(layer))
