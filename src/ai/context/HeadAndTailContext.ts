/**
 * The context that shows the first `head` and the last `tail` messages
 * (after the leading system messages, which it always keeps), with a note
 * of how many it skipped between them, as AutoGen's
 * `HeadAndTailChatCompletionContext`: the start of a conversation often
 * holds the task, the end what is happening now. It counts in whole units
 * (an assistant's tool calls with their results), so neither end cuts a
 * call from its result, and the tail never opens on an orphaned result.
 * The middle is dropped on `add`, so the state holds about `head + tail`
 * messages.
 */
import { Effect, type Ref } from "effect"
import { Prompt } from "effect/ai"
import * as ModelContext from "./ModelContext.ts"
import { firstWithin, flatten, lastWithin, size, split, trimOrphans } from "./internal/Units.ts"

/** Options of a head-and-tail context. */
export interface Options {
  /** How many of the first messages are kept (a whole number, 0 or more). */
  readonly head: number
  /** How many of the last messages are kept (a whole number of at least 1). */
  readonly tail: number
  /**
   * The note shown where messages were skipped, given how many (default
   * "Skipped N messages.", as a user message); `false` for no note.
   */
  readonly note?: ((skipped: number) => string) | false | undefined
  /** Where the state lives (an `Agent.state` cell, to be saved with the agent); a fresh `Ref` if not given. */
  readonly state?: Ref.Ref<ModelContext.State> | undefined
}

const defaultNote = (skipped: number) => `Skipped ${skipped} messages.`

/** The policy of a head-and-tail context. */
export const policy = (head: number, tail: number, note: ((skipped: number) => string) | false): ModelContext.Policy => ({
  compact: (state) => {
    const { pinned, units } = split(state.messages)
    const first = firstWithin(units, head)
    const rest = units.slice(first.length)
    const last = trimOrphans(lastWithin(rest, tail))
    const dropped = size(rest) - size(last)
    return Effect.succeed(dropped === 0 ? state : {
      messages: [...pinned, ...flatten(first), ...flatten(last)],
      dropped: state.dropped + dropped,
      droppedAt: pinned.length + size(first)
    })
  },
  view: (state) => {
    if (state.dropped === 0 || note === false) return state.messages
    const at = Math.min(Math.max(state.droppedAt, 0), state.messages.length)
    return [
      ...state.messages.slice(0, at),
      Prompt.makeMessage("user", { content: [Prompt.makePart("text", { text: note(state.dropped) })] }),
      ...state.messages.slice(at)
    ]
  }
})

/** A context showing the first `head` and last `tail` messages, in whole tool-call units. */
export const make = (options: Options): Effect.Effect<ModelContext.ModelContext, ModelContext.InvalidOptionsError> =>
  Effect.gen(function*() {
    const head = yield* ModelContext.wholeNumber("HeadAndTailContext", "head", options.head, 0)
    const tail = yield* ModelContext.wholeNumber("HeadAndTailContext", "tail", options.tail, 1)
    return yield* ModelContext.make(policy(head, tail, options.note ?? defaultNote), options.state)
  })
