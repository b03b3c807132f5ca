/**
 * The pieces a context may drop or keep, never cut: a message on its own,
 * or an assistant message that calls tools together with the tool
 * messages that follow it with the results. Every store windows over these
 * units, which is how no store splits a call from its result.
 */
import type { Prompt } from "effect/ai"

/** Messages that stay together. */
export interface Unit {
  readonly messages: ReadonlyArray<Prompt.Message>
  /** A tool message whose call is not in the same unit (it must not open a window). */
  readonly orphan: boolean
}

const callsTools = (message: Prompt.Message): boolean =>
  message.role === "assistant" && message.content.some((part) => part.type === "tool-call" && !part.providerExecuted)

/** Splits messages into units, in order. */
export const unitsOf = (messages: ReadonlyArray<Prompt.Message>): Array<Unit> => {
  const units: Array<Unit> = []
  let i = 0
  while (i < messages.length) {
    const message = messages[i]!
    if (callsTools(message)) {
      let end = i + 1
      while (end < messages.length && messages[end]!.role === "tool") end++
      units.push({ messages: messages.slice(i, end), orphan: false })
      i = end
    } else {
      units.push({ messages: [message], orphan: message.role === "tool" })
      i++
    }
  }
  return units
}

/** The leading system messages (pinned by every store) and the units after them. */
export const split = (messages: ReadonlyArray<Prompt.Message>): {
  readonly pinned: ReadonlyArray<Prompt.Message>
  readonly units: Array<Unit>
} => {
  let n = 0
  while (n < messages.length && messages[n]!.role === "system") n++
  return { pinned: messages.slice(0, n), units: unitsOf(messages.slice(n)) }
}

/** Drops orphaned tool results from the start, so a window opens on a message a model can follow. */
export const trimOrphans = (units: ReadonlyArray<Unit>): Array<Unit> => {
  let start = 0
  while (start < units.length && units[start]!.orphan) start++
  return units.slice(start)
}

/** How many messages some units hold. */
export const size = (units: ReadonlyArray<Unit>): number => units.reduce((n, unit) => n + unit.messages.length, 0)

/** The messages of some units, in order. */
export const flatten = (units: ReadonlyArray<Unit>): Array<Prompt.Message> => units.flatMap((unit) => unit.messages)

/**
 * The longest run of whole units from the end holding at most `limit`
 * messages; the latest unit is kept even when it alone holds more (a
 * window that shows nothing of the latest turn would be useless).
 */
export const lastWithin = (units: ReadonlyArray<Unit>, limit: number): Array<Unit> => {
  let count = 0
  let start = units.length
  while (start > 0) {
    const next = units[start - 1]!.messages.length
    if (count + next > limit && start < units.length) break
    count += next
    start--
  }
  return units.slice(start)
}

/** The longest run of whole units from the start holding at most `limit` messages. */
export const firstWithin = (units: ReadonlyArray<Unit>, limit: number): Array<Unit> => {
  let count = 0
  let end = 0
  while (end < units.length && count + units[end]!.messages.length <= limit) {
    count += units[end]!.messages.length
    end++
  }
  return units.slice(0, end)
}
