/**
 * `WorkerRuntime` on Node: the platform-neutral worker
 * (`distributed/WorkerRuntime.ts`) with Node's sockets. This is the
 * `WorkerRuntime` the package root exports.
 */
import * as Os from "node:os"
import { Layer } from "effect"
import type { AgentError } from "../core/AgentError.ts"
import type { AgentRuntime } from "../core/AgentRuntime.ts"
import * as WorkerRuntime from "../distributed/WorkerRuntime.ts"
import * as NodeConnector from "./NodeConnector.ts"

export * from "../distributed/WorkerRuntime.ts"

/**
 * A worker as a layer: joins the host at `url` (waiting up to
 * `connectTimeout`), provides `AgentRuntime` for the layer's life, and
 * leaves the host when closed.
 */
export const layer = (options: WorkerRuntime.Options): Layer.Layer<AgentRuntime, AgentError> =>
  WorkerRuntime.layer({ ...options, workerId: options.workerId ?? `${Os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 6)}` }).pipe(
    Layer.provide(NodeConnector.layer)
  )
