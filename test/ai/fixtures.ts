/**
 * Tools the ai tests share: a small calculator toolkit whose handlers count
 * their calls, so tests can tell what ran.
 */
import { Effect, Ref, Schema } from "effect"
import { Tool, Toolkit } from "effect/ai"

export class DivisionByZero extends Schema.TaggedError<DivisionByZero>()("DivisionByZero", {
  dividend: Schema.Number
}) {}

export const Add = Tool.make("add", {
  description: "Adds two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number
})

export const Divide = Tool.make("divide", {
  description: "Divides a by b",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number,
  failure: DivisionByZero
})

/** Like `divide`, but its failures go back to the model as results (the tool's own choice). */
export const SafeDivide = Tool.make("safe_divide", {
  description: "Divides a by b, telling the model when it cannot",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number,
  failure: DivisionByZero,
  failureMode: "return"
})

export const MathTools = Toolkit.make(Add, Divide, SafeDivide)

const divide = ({ a, b }: { readonly a: number; readonly b: number }) =>
  b === 0 ? Effect.fail(new DivisionByZero({ dividend: a })) : Effect.succeed(a / b)

/** The toolkit's handlers; `calls` gets the name of every tool that ran. */
export const mathHandlers = (calls: Ref.Ref<ReadonlyArray<string>>) =>
  MathTools.toLayer({
    add: ({ a, b }) => Ref.update(calls, (all) => [...all, "add"]).pipe(Effect.as(a + b)),
    divide: (params) => Ref.update(calls, (all) => [...all, "divide"]).pipe(Effect.andThen(divide(params))),
    safe_divide: (params) => Ref.update(calls, (all) => [...all, "safe_divide"]).pipe(Effect.andThen(divide(params)))
  })
