/**
 * A model context is the conversation an agent keeps for its model: the
 * messages it has seen and said, and the policy that decides which of them
 * the model is shown. The stores (`UnboundedContext`, `BufferedContext`,
 * `HeadAndTailContext`, `TokenLimitedContext`) are this one interface with
 * different policies; `ToolLoop` and `Memory` work with any of them.
 *
 * Every store keeps an assistant's tool calls together with their results
 * (in one tool message or several): a window never holds a call without its
 * results, nor opens on a result whose call it dropped; providers reject
 * such prompts. (AutoGen's token-limited context drops messages from the
 * middle and can keep a call whose result it dropped; its buffered and
 * head-and-tail contexts trim one message at each edge, which leaves an
 * orphan when results span several messages.) Leading system messages are
 * pinned: windows count and drop what follows them.
 *
 * A context's state is a `Schema` value (`ModelContext.State`), held in a
 * `Ref`. Give a store a `Ref` from `Agent.state` (`ModelContext.agentState`)
 * and the runtime saves and loads the conversation with the agent, so it
 * survives `saveState`/`loadState` and a move to another worker:
 *
 * ```ts
 * const context = yield* BufferedContext.make({ size: 20, state: yield* ModelContext.agentState() })
 * ```
 *
 * Stores compact on `add` (what their policy would never show again is
 * dropped, and counted in `State.dropped`), so the state stays bounded for
 * every store but `UnboundedContext`.
 */
import { Effect, Ref, Schema, Semaphore } from "effect"
import { AiError, Prompt } from "effect/ai"
import * as Agent from "../../core/Agent.ts"

/** What a context stores: the kept messages, and how many were dropped (and where) to keep it within its policy. */
export const State = Schema.Struct({
  messages: Schema.Array(Prompt.Message),
  /** How many messages compaction has dropped in all. */
  dropped: Schema.Int,
  /** The index in `messages` where dropped messages were (a head-and-tail context shows a note there). */
  droppedAt: Schema.Int
})

/** What a context stores. */
export type State = typeof State.Type

/** The state of a context that has seen nothing. */
export const emptyState: State = { messages: [], dropped: 0, droppedAt: 0 }

/** The latest message cannot fit the context's limit even alone (a token-limited context whose limit is too small for it). */
export class ContextOverflowError extends Schema.TaggedError<ContextOverflowError>(
  "effect-agents/ai/ModelContext/ContextOverflowError"
)("ContextOverflowError", {
  limit: Schema.Number,
  needed: Schema.Number
}) {
  override get message(): string {
    return `the latest messages need ${this.needed} tokens, more than the context's limit of ${this.limit}`
  }
}

/** A component (a context store, a memory, the tool loop) was given options it cannot work with (a size of 0, a limit that is not a number...). */
export class InvalidOptionsError extends Schema.TaggedError<InvalidOptionsError>(
  "effect-agents/ai/ModelContext/InvalidOptionsError"
)("InvalidOptionsError", {
  component: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `${this.component}: ${this.issue}`
  }
}

/** `n` if it is a whole number of at least `min`, else an `InvalidOptionsError` naming `option`. */
export const wholeNumber = (component: string, option: string, n: number, min: number): Effect.Effect<number, InvalidOptionsError> =>
  Number.isInteger(n) && n >= min
    ? Effect.succeed(n)
    : Effect.fail(new InvalidOptionsError({ component, issue: `${option} must be a whole number of at least ${min}, got ${n}` }))

/** How a context can fail: its tokenizer's error, bad input, or an overflow. */
export type ModelContextError = AiError.AiError | ContextOverflowError

/** What can be added to a context: a user's text, messages, a prompt, or messages in their encoded form. */
export type Input = Prompt.RawInput | Prompt.Message | ReadonlyArray<Prompt.Message>

/** A conversation kept for a model. */
export interface ModelContext {
  /**
   * Adds messages, as one unit: an assistant's tool calls should be added
   * with their tool results in the same call, so no window can see one
   * without the other.
   */
  readonly add: (input: Input) => Effect.Effect<void, ModelContextError>
  /** What the model is shown, by the store's policy. */
  readonly messages: Effect.Effect<ReadonlyArray<Prompt.Message>, ModelContextError>
  /** `messages` as a prompt, for `LanguageModel.generateText({ prompt })`. */
  readonly prompt: Effect.Effect<Prompt.Prompt, ModelContextError>
  /** Forgets everything. */
  readonly clear: Effect.Effect<void>
  /** The stored state, a `Schema` value: save and load it with `State`. */
  readonly state: Ref.Ref<State>
}

/**
 * A cell of agent state holding a context's `State`, saved and loaded by
 * the runtime (call it in an agent's factory, as `Agent.state`).
 */
export const agentState = (name = "context"): Effect.Effect<Ref.Ref<State>, never, Agent.InstanceState> =>
  Agent.state(State, emptyState, { name })

const decodeMessages = Schema.decodeUnknownEffect(Schema.Array(Prompt.Message))

/** The messages of an input; encoded messages are decoded (bad ones fail with `InvalidUserInputError`). */
export const toMessages = (input: Input, method = "add"): Effect.Effect<ReadonlyArray<Prompt.Message>, AiError.AiError> => {
  if (typeof input === "string") return Effect.succeed(Prompt.make(input).content)
  if (Prompt.isPrompt(input)) return Effect.succeed(input.content)
  if (Prompt.isMessage(input)) return Effect.succeed([input])
  const items = Array.from(input as Iterable<unknown>)
  if (items.every(Prompt.isMessage)) return Effect.succeed(items)
  return decodeMessages(items).pipe(
    Effect.mapError((error) =>
      AiError.make({
        module: "ModelContext",
        method,
        reason: new AiError.InvalidUserInputError({ description: `not a list of messages: ${error.message}` })
      })
    )
  )
}

/**
 * A store's policy: how it compacts its state after an add (dropping what
 * it would never show again) and how it shows the compacted state.
 */
export interface Policy {
  readonly compact: (state: State) => Effect.Effect<State, ModelContextError>
  readonly view: (state: State) => ReadonlyArray<Prompt.Message>
}

/** A context with `policy`, on `state` (a fresh one unless given). What every store is made of. */
export const make = (policy: Policy, state?: Ref.Ref<State>): Effect.Effect<ModelContext> =>
  Effect.gen(function*() {
    const ref = state ?? (yield* Ref.make(emptyState))
    // adds compact in turn: a tokenizer's answer must not be applied to a state another add has changed
    const lock = yield* Semaphore.make(1)
    const messages = Ref.get(ref).pipe(Effect.flatMap(policy.compact), Effect.map(policy.view))
    return {
      add: (input) =>
        lock.withPermit(Effect.gen(function*() {
          const added = yield* toMessages(input)
          if (added.length === 0) return
          const current = yield* Ref.get(ref)
          const next = yield* policy.compact({ ...current, messages: [...current.messages, ...added] })
          yield* Ref.set(ref, next)
        })),
      messages,
      prompt: Effect.map(messages, Prompt.fromMessages),
      clear: lock.withPermit(Ref.set(ref, emptyState)),
      state: ref
    }
  })
