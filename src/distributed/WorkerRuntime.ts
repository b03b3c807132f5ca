/**
 * A worker of the distributed runtime: `WorkerRuntime.layer({ url })`
 * provides the same `AgentRuntime` service as the standalone runtime, so the
 * same agent layers run on it unchanged. Its agents run on the same kernel
 * as the standalone runtime's (mailboxes, cancellation, deadlock detection,
 * state); what changes is where messages go: every send and publish crosses
 * through the gateway to the host servicer, which places the recipient on a
 * worker and routes the message there.
 *
 * ```ts
 * program.pipe(
 *   Effect.provide(GreeterLive),
 *   Effect.provide(WorkerRuntime.layer({ url: "ws://127.0.0.1:7700/" }))
 * )
 * ```
 *
 * This module is platform-neutral: its `layer` needs a `Connector` (how to
 * open a socket). The package root's `WorkerRuntime.layer` comes with Node's.
 */
import { type Duration, Effect, Layer } from "effect"
import type { AgentError } from "../core/AgentError.ts"
import { AgentRuntime } from "../core/AgentRuntime.ts"
import type { Intervention } from "../core/Intervention.ts"
import * as RuntimeConfig from "../core/RuntimeConfig.ts"
import * as Kernel from "../runtime/Kernel.ts"
import type { Connector, TlsOptions } from "./Connector.ts"
import * as Gateway from "./internal/Gateway.ts"
import * as HostTransport from "./internal/HostTransport.ts"
import * as Publishes from "./internal/Publishes.ts"
import * as Deadlines from "../runtime/Deadlines.ts"
import * as Inbox from "./internal/Inbox.ts"

/** How a worker reaches its host and behaves; anything left out comes from `RuntimeConfig`. */
export interface Options {
  /**
   * The host: `ws://host:port/` (default transport) or `tcp://host:port`;
   * `wss://host:port/` or `tls://host:port` for a host that serves TLS.
   */
  readonly url: string
  /**
   * How to verify a `wss://` or `tls://` host: `ca` is the PEM of the
   * authority that signed its certificate (default: the platform's
   * authorities). Verification is on unless `rejectUnauthorized: false`; a
   * host that fails it is never joined (`UndeliverableError`,
   * `HostUnreachable`, after `connectTimeout`).
   */
  readonly tls?: TlsOptions | undefined
  /** This worker's identity (default: a random one; on Node, hostname, pid and a random suffix). */
  readonly workerId?: string | undefined
  /** Presented to a host that requires a token. */
  readonly token?: string | undefined
  /** The deadline of a send that sets none (default 30 seconds). */
  readonly sendTimeout?: Duration.Input | undefined
  /** How long closing waits for in-flight work before interrupting it (default 5 seconds). */
  readonly shutdownTimeout?: Duration.Input | undefined
  /**
   * How many messages may wait in one instance's mailbox (default 4096). A
   * send to a full mailbox waits for room within its deadline; a publish to
   * it is a dead letter (`UndeliverableError`, reason `Overloaded`).
   */
  readonly mailboxCapacity?: number | undefined
  /** Middleware over send, publish and reply, applied on this worker. */
  readonly interventions?: ReadonlyArray<Intervention> | undefined
  /** Largest message this worker sends, in bytes of JSON (default 1 MiB, as the host's default). */
  readonly maxMessageBytes?: number | undefined
  /** Pause between attempts to reach the host (default 250 ms). */
  readonly reconnectInterval?: Duration.Input | undefined
  /** How long the first connection may take (default 10 seconds). */
  readonly connectTimeout?: Duration.Input | undefined
}

const defaultWorkerId = () => `worker-${Math.random().toString(36).slice(2, 10)}`

/** Builds a worker runtime in the current scope (the scope is its life). */
export const make = Effect.fnUntraced(function*(options: Options) {
  const kernelOptions: Kernel.Options = { ...options, emitLocalDeadLetters: false }
  const kernel = yield* Kernel.make(kernelOptions)
  const { config } = kernel
  const gateway = yield* Gateway.make({
    url: options.url,
    workerId: options.workerId ?? defaultWorkerId(),
    token: options.token,
    tls: options.tls,
    reconnectInterval: RuntimeConfig.duration(options.reconnectInterval, config.reconnectInterval),
    connectTimeout: RuntimeConfig.duration(options.connectTimeout, config.connectTimeout),
    heartbeatInterval: config.heartbeatInterval,
    heartbeatTimeout: config.heartbeatTimeout
  })
  const limits = { maxBytes: options.maxMessageBytes ?? config.maxMessageBytes, maxDepth: config.maxDepth }
  yield* Inbox.start(kernel, gateway, limits)
  const transport = HostTransport.make(kernel, gateway, limits, yield* Deadlines.make, yield* Publishes.make(gateway))
  return yield* Kernel.runtime(kernel, transport, kernelOptions)
})

/**
 * A worker as a layer: joins the host at `url` (waiting up to
 * `connectTimeout`), provides `AgentRuntime` for the layer's life, and
 * leaves the host when closed.
 */
export const layer = (options: Options): Layer.Layer<AgentRuntime, AgentError, Connector> => Layer.effect(AgentRuntime, make(options))
