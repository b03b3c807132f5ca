/**
 * What a program needs to know about the model it talks to and that the chat
 * API does not say: how many tokens fit in its context window, how many it
 * may answer with, and whether it takes tools, JSON output, streaming and
 * images. Token-limited model contexts size themselves from it; an agent can
 * refuse a toolkit the model cannot use.
 *
 * `ModelInfo` is a service: `ModelInfo.layer(info)` declares a model's
 * figures, `ModelInfo.layerFor("gpt-4.1-mini")` takes them from the table of
 * known models (`known`), and `ModelInfo.layerFromModelName` from the
 * `Model.ModelName` a provider layer supplies. Unknown names fail with
 * `UnknownModelError` rather than guessing.
 *
 * The known figures are the vendors' published ones; a local server may run
 * a model with a smaller window than it was trained for (Ollama's `num_ctx`),
 * so declare what your server actually runs when it differs.
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import { Model } from "effect/ai"

/** What a model can do besides plain text. */
export class Capabilities extends Schema.Class<Capabilities>("effect-agents/ai/ModelInfo/Capabilities")({
  /** Function / tool calling. */
  tools: Schema.Boolean,
  /** JSON output constrained by a JSON Schema (`response_format: json_schema`). */
  json: Schema.Boolean,
  /** Server-sent streaming. */
  streaming: Schema.Boolean,
  /** Image input. */
  vision: Schema.Boolean
}) {}

/** A model's figures. */
export class Info extends Schema.Class<Info>("effect-agents/ai/ModelInfo/Info")({
  /** The model name, as the server knows it (or the family, for a table entry). */
  name: Schema.String,
  /** Tokens of prompt and answer together. */
  contextWindow: Schema.Int.check(Schema.isGreaterThan(0)),
  /** Most tokens one answer may have. */
  maxOutputTokens: Schema.Int.check(Schema.isGreaterThan(0)),
  capabilities: Capabilities
}) {}

/** The model a program talks to. */
export class ModelInfo extends Context.Service<ModelInfo, Info>()("effect-agents/ai/ModelInfo") {}

/** A model name that neither the table nor the declarations know. */
export class UnknownModelError extends Schema.TaggedError<UnknownModelError>("effect-agents/ai/UnknownModelError")("UnknownModelError", {
  model: Schema.String
}) {
  override get message(): string {
    return `no figures are known for model ${this.model}: declare them with ModelInfo.layer or ModelInfo.make`
  }
}

const all = (vision: boolean) => new Capabilities({ tools: true, json: true, streaming: true, vision })

/** Declares a model's figures; capabilities default to tools, JSON and streaming without vision. */
export const make = (options: {
  readonly name: string
  readonly contextWindow: number
  readonly maxOutputTokens: number
  readonly capabilities?: Partial<typeof Capabilities.Type> | undefined
}): Info =>
  new Info({
    name: options.name,
    contextWindow: options.contextWindow,
    maxOutputTokens: options.maxOutputTokens,
    capabilities: new Capabilities({ ...all(false), ...options.capabilities })
  })

/** Published figures of a few common models (families match by prefix: `gpt-4o-2024-08-06` is `gpt-4o`). */
export const known: ReadonlyArray<Info> = [
  new Info({ name: "gpt-4o", contextWindow: 128_000, maxOutputTokens: 16_384, capabilities: all(true) }),
  new Info({ name: "gpt-4o-mini", contextWindow: 128_000, maxOutputTokens: 16_384, capabilities: all(true) }),
  new Info({ name: "gpt-4.1", contextWindow: 1_047_576, maxOutputTokens: 32_768, capabilities: all(true) }),
  new Info({ name: "gpt-4.1-mini", contextWindow: 1_047_576, maxOutputTokens: 32_768, capabilities: all(true) }),
  new Info({ name: "gpt-4.1-nano", contextWindow: 1_047_576, maxOutputTokens: 32_768, capabilities: all(true) }),
  new Info({ name: "o3-mini", contextWindow: 200_000, maxOutputTokens: 100_000, capabilities: all(false) }),
  new Info({ name: "o4-mini", contextWindow: 200_000, maxOutputTokens: 100_000, capabilities: all(true) }),
  new Info({ name: "llama3.1", contextWindow: 131_072, maxOutputTokens: 8_192, capabilities: all(false) }),
  new Info({ name: "llama3.2", contextWindow: 131_072, maxOutputTokens: 8_192, capabilities: all(false) }),
  new Info({ name: "qwen2.5", contextWindow: 32_768, maxOutputTokens: 8_192, capabilities: all(false) }),
  new Info({ name: "mistral", contextWindow: 32_768, maxOutputTokens: 8_192, capabilities: all(false) })
]

const normalise = (name: string) => name.slice(name.lastIndexOf("/") + 1).toLowerCase()

/**
 * The figures for `name` in `table` (the known models unless given): an exact
 * match, else the longest entry the name starts with, followed by `-`, `:`,
 * `.` or `@` (`llama3.1:8b` is `llama3.1`; `Qwen/Qwen2.5-7B-Instruct` is
 * `qwen2.5`). A vendor prefix before `/` is ignored.
 */
export const lookup = (name: string, table: ReadonlyArray<Info> = known): Option.Option<Info> => {
  const wanted = normalise(name)
  let best: Info | undefined
  for (const info of table) {
    const entry = normalise(info.name)
    const matches = wanted === entry ||
      (wanted.startsWith(entry) && /[-:.@_]/.test(wanted.charAt(entry.length)))
    if (matches && (best === undefined || entry.length > normalise(best.name).length)) best = info
  }
  return best === undefined ? Option.none() : Option.some(new Info({ ...best, name }))
}

/** Provides declared figures. */
export const layer = (info: Info): Layer.Layer<ModelInfo> => Layer.succeed(ModelInfo)(info)

/** Provides the figures of `name`, from `extra` declarations first and then the known models. */
export const layerFor = (
  name: string,
  extra: ReadonlyArray<Info> = []
): Layer.Layer<ModelInfo, UnknownModelError> =>
  Layer.effect(ModelInfo)(
    Option.match(Option.orElse(lookup(name, extra), () => lookup(name)), {
      onNone: () => Effect.fail(new UnknownModelError({ model: name })),
      onSome: Effect.succeed
    })
  )

/** Provides the figures of the model the provider layer names (`Model.ModelName`). */
export const layerFromModelName = (
  extra: ReadonlyArray<Info> = []
): Layer.Layer<ModelInfo, UnknownModelError, Model.ModelName> =>
  Layer.unwrap(Effect.map(Effect.service(Model.ModelName), (name) => layerFor(name, extra)))
