/**
 * Conversations for the context tests: built from turns (a user's text, an
 * assistant's text, an assistant's tool calls with their results), and
 * the checks every store's window must pass.
 */
import { assert } from "@effect/vitest"
import { Prompt } from "effect/ai"

const text = (role: "user" | "assistant" | "system", value: string): Prompt.Message =>
  role === "user"
    ? Prompt.makeMessage("user", { content: [Prompt.makePart("text", { text: value })] })
    : role === "assistant"
    ? Prompt.makeMessage("assistant", { content: [Prompt.makePart("text", { text: value })] })
    : Prompt.makeMessage("system", { content: value })

export const user = (value: string) => text("user", value)
export const assistant = (value: string) => text("assistant", value)
export const system = (value: string) => text("system", value)

/**
 * An assistant message calling `ids.length` tools and the tool messages
 * answering them: one tool message per result when `split`, else one.
 */
export const exchange = (ids: ReadonlyArray<string>, split = false): Array<Prompt.Message> => {
  const call = Prompt.makeMessage("assistant", {
    content: ids.map((id) => Prompt.makePart("tool-call", { id, name: "add", params: { a: 1, b: 2 }, providerExecuted: false }))
  })
  const results = ids.map((id) =>
    Prompt.makePart("tool-result", { id, name: "add", isFailure: false, result: 3, providerExecuted: false })
  )
  return split
    ? [call, ...results.map((result) => Prompt.makeMessage("tool", { content: [result] }))]
    : [call, Prompt.makeMessage("tool", { content: results })]
}

/** A label of each message, to compare windows: `u:hi`, `a:hello`, `call:c1,c2`, `result:c1`, `s:...`. */
export const labels = (messages: ReadonlyArray<Prompt.Message>): Array<string> =>
  messages.map((message) => {
    switch (message.role) {
      case "system":
        return `s:${message.content}`
      case "user":
        return `u:${message.content.map((p) => p.type === "text" ? p.text : "").join("")}`
      case "assistant": {
        const calls = message.content.flatMap((p) => p.type === "tool-call" ? [p.id] : [])
        return calls.length > 0 ? `call:${calls.join(",")}` : `a:${message.content.map((p) => p.type === "text" ? p.text : "").join("")}`
      }
      case "tool":
        return `result:${message.content.flatMap((p) => p.type === "tool-result" ? [p.id] : []).join(",")}`
    }
  })

/** What every window must be: no orphaned result at its start (after system messages), every call with its results and every result with its call. */
export const assertWhole = (messages: ReadonlyArray<Prompt.Message>) => {
  const shown = labels(messages).join(" | ")
  const firstOther = messages.findIndex((m) => m.role !== "system")
  if (firstOther >= 0) assert.notStrictEqual(messages[firstOther]!.role, "tool", `opens on a tool result: ${shown}`)
  const calls = new Set<string>()
  const results = new Set<string>()
  for (const message of messages) {
    for (const part of message.content) {
      if (typeof part === "string") continue
      if (part.type === "tool-call") calls.add(part.id)
      if (part.type === "tool-result") results.add(part.id)
    }
  }
  for (const id of calls) assert.isTrue(results.has(id), `call ${id} without its result: ${shown}`)
  for (const id of results) assert.isTrue(calls.has(id), `result ${id} without its call: ${shown}`)
}

/**
 * A long conversation of `turns` turns, each added as one unit: user text,
 * then either an assistant text or tool exchanges of one to three calls
 * (results in one message or split), chosen by a fixed pattern.
 */
export const conversation = (turns: number): Array<Array<Prompt.Message>> => {
  const units: Array<Array<Prompt.Message>> = []
  for (let t = 0; t < turns; t++) {
    units.push([user(`q${t}`)])
    const kind = t % 4
    if (kind === 0) units.push([assistant(`r${t}`)])
    else {
      const ids = Array.from({ length: kind }, (_, i) => `c${t}_${i}`)
      units.push(exchange(ids, kind === 3))
      units.push([assistant(`r${t}`)])
    }
  }
  return units
}
