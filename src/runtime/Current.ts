/**
 * The message a fiber is handling, if any. Runtimes set it around every
 * handler so that a send from inside a handler knows its sender (stamped on
 * the message) and its call chain (for deadlock detection).
 */
import { Context, type Tracer } from "effect"
import type { AgentId } from "../core/AgentId.ts"

export interface CurrentMessage {
  readonly self: AgentId
  /** Ids of the messages whose handlers are waiting, transitively, on this fiber: the call chain. */
  readonly chain: ReadonlyArray<string>
  /**
   * The trace context the message came with, when this runtime does not
   * trace: what it sends goes out with it, so a trace stays whole across a
   * runtime without telemetry.
   */
  readonly span?: Tracer.AnySpan | undefined
}

export const Current = Context.Reference<CurrentMessage | undefined>("effect-agents/internal/Current", {
  defaultValue: () => undefined
})
