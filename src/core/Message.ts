/**
 * Messages are values of a Schema with a literal `_tag`: the tag is the
 * message's stable wire name. Messages are defined on their own, not inside
 * agents, so one message type can be sent to many agent types:
 *
 * ```ts
 * class Greet extends Schema.TaggedClass<Greet>()("Greet", { name: Schema.String }) {}
 * ```
 *
 * This module reads a message schema's tag and gives its JSON codec, the form
 * in which messages cross processes (`{ type: tag, data: json }`).
 */
import { Schema, type SchemaAST } from "effect"

/** A schema of tagged messages: `Schema.TaggedClass`, `Schema.TaggedStruct`, ... */
export interface MessageSchema extends Schema.Top {
  readonly Type: { readonly _tag: string }
  readonly fields: { readonly _tag: Schema.Top }
}

/** The wire name of the messages of a schema (its `_tag` literal), or `undefined` if it has none. */
export const tagOf = (schema: MessageSchema): string | undefined => {
  const ast = (schema.fields as { readonly _tag?: Schema.Top } | undefined)?._tag?.ast as SchemaAST.AST | undefined
  return ast?._tag === "Literal" && typeof ast.literal === "string" ? ast.literal : undefined
}

/** What to tell someone whose message schema has no literal `_tag`. */
export const missingTag =
  "a message schema needs a string literal _tag: define it with Schema.TaggedClass<M>()(\"M\", {...}) or Schema.TaggedStruct(\"M\", {...})"

/** The tag of a message value, if it has one. */
export const tagOfValue = (message: unknown): string | undefined =>
  typeof message === "object" && message !== null && typeof (message as { _tag?: unknown })._tag === "string"
    ? (message as { _tag: string })._tag
    : undefined

const jsonCodecs = new WeakMap<Schema.Top, Schema.Top>()

/** The JSON codec of a schema (cached): how its values cross processes. */
export const jsonCodec = (schema: Schema.Top): Schema.Codec<unknown, unknown> => {
  let codec = jsonCodecs.get(schema)
  if (codec === undefined) {
    codec = Schema.toCodecJson(schema)
    jsonCodecs.set(schema, codec)
  }
  return codec as Schema.Codec<unknown, unknown>
}
