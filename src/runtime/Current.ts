/**
 * The message a fiber is handling, if any. Runtimes set it around every
 * handler so that a send from inside a handler knows its sender (stamped on
 * the message) and its call chain (for deadlock detection).
 */
import { Context } from "effect"
import type { AgentId } from "../core/AgentId.ts"

export interface CurrentMessage {
  readonly self: AgentId
  /** Ids of the messages whose handlers are waiting, transitively, on this fiber: the call chain. */
  readonly chain: ReadonlyArray<string>
}

export const Current = Context.Reference<CurrentMessage | undefined>("effect-agents/internal/Current", {
  defaultValue: () => undefined
})
