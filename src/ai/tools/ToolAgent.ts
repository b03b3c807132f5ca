/**
 * Tools as an agent: a tool agent runs a `Toolkit`'s handlers, and any agent
 * (on this worker or another) reaches them by `send`. A model on worker A
 * can then use tools that live on worker B, next to what they need (a
 * database, a sandbox, credentials that must not leave B):
 *
 * ```ts
 * const MathAgent = ToolAgent.make("math-tools", MathTools)
 *
 * // on worker B: the agent, with the toolkit's real handlers
 * const onB = MathAgent.layer().pipe(Layer.provide(MathToolsLive))
 *
 * // on worker A: the same toolkit, whose handlers send to the agent
 * const onA = MathAgent.remote("default")
 * ToolLoop.run({ toolkit: MathTools, prompt }).pipe(Effect.provide(onA))
 * ```
 *
 * The toolkit definition (names, descriptions, schemas) is shared code, as
 * an agent type's contract is: the model side describes the tools to its
 * model from it, and checks arguments before sending. The agent checks
 * them again (it trusts no sender), runs the handler, and replies with the
 * result in JSON (`ToolReply`), or with a typed `UnknownToolError`,
 * `InvalidToolArgumentsError` or `ToolFailedError`. A tool's declared
 * failure reaches the model side as itself, so its `failureMode` works as
 * if the tool were local. Calls run concurrently on one instance: a model's
 * parallel calls stay parallel.
 */
import { Effect, Layer, Schema, Stream } from "effect"
import { AiError, Tool, type Toolkit } from "effect/ai"
import * as Agent from "../../core/Agent.ts"
import type { AgentError, RegistrationError } from "../../core/AgentError.ts"
import type { AgentRuntime } from "../../core/AgentRuntime.ts"
import { jsonCodec } from "../../core/Message.ts"
import { fromHandleFailure, InvalidToolArgumentsError, ToolCallError, ToolFailedError, UnknownToolError } from "./ToolError.ts"

/** A call of one tool: its name, its arguments as the model gave them (encoded), and the call's id. */
export class CallTool extends Schema.TaggedClass<CallTool>()("CallTool", {
  tool: Schema.String,
  params: Schema.Unknown,
  callId: Schema.String
}) {}

/** A tool's answer: its success, or its declared failure (`isFailure`), encoded as JSON by the tool's schemas. */
export class ToolReply extends Schema.TaggedClass<ToolReply>()("ToolReply", {
  isFailure: Schema.Boolean,
  result: Schema.Unknown
}) {}

/** The handlers of a tool agent type: one rpc, answering a `CallTool`. */
export type Specs = {
  readonly CallTool: Agent.Rpc<typeof CallTool, typeof ToolReply, typeof ToolCallError>
}

/** A tool agent type over a toolkit. */
export interface ToolAgent<Name extends string, Tools extends Record<string, Tool.Any>> {
  /** The agent type (its contract), for typed clients and access policies. */
  readonly agent: Agent.AgentType<Name, Specs>
  readonly toolkit: Toolkit.Toolkit<Tools>
  /**
   * Registers the agent type; its handlers run the toolkit's handlers,
   * which the layer requires (`Toolkit.toLayer`).
   */
  layer(options?: Agent.LayerOptions): Layer.Layer<
    never,
    RegistrationError,
    AgentRuntime | Tool.HandlersFor<Tools> | Tool.HandlerServices<Tools[keyof Tools]>
  >
  /**
   * The toolkit's handlers, each sending its call to the instance `key` of
   * the agent type: provide it where the model runs, and use the toolkit
   * as if its tools were local.
   */
  remote(key: string, options?: Agent.CallOptions): Layer.Layer<Tool.HandlersFor<Tools>, never, AgentRuntime>
}

const resultCodec = (tool: Tool.Any, isFailure: boolean) =>
  jsonCodec((isFailure ? Tool.failureResultSchema(tool) : tool.successSchema) as Schema.Top)

const encodeResult = (tool: Tool.Any, callId: string, isFailure: boolean, result: unknown) =>
  Schema.encodeUnknownEffect(resultCodec(tool, isFailure))(result).pipe(
    Effect.map((encoded) => new ToolReply({ isFailure, result: encoded })),
    Effect.mapError((error) => new ToolFailedError({ toolName: tool.name, callId, error }))
  )

/** Defines a tool agent type named `name` over `toolkit`. */
export const make = <const Name extends string, Tools extends Record<string, Tool.Any>>(
  name: Name,
  toolkit: Toolkit.Toolkit<Tools>
): ToolAgent<Name, Tools> => {
  const agent = Agent.make(name, {
    CallTool: Agent.rpc(CallTool, { success: ToolReply, error: ToolCallError, concurrent: true })
  })
  const available = Object.keys(toolkit.tools)
  const tools = toolkit.tools as Record<string, Tool.Any>

  const layer = (options?: Agent.LayerOptions) =>
    agent.toLayer(Effect.gen(function*() {
      const withHandler = (yield* toolkit) as unknown as Toolkit.WithHandler<Record<string, Tool.Any>>
      return agent.of({
        CallTool: ({ tool: toolName, params, callId }) => {
          const tool = Object.hasOwn(tools, toolName) ? tools[toolName] : undefined
          if (tool === undefined) return Effect.fail(new UnknownToolError({ toolName, callId, available }))
          return withHandler.handle(toolName, params, callId).pipe(
            Effect.flatMap((results) => Stream.runLast(Stream.filter(results, (result) => !result.preliminary))),
            Effect.flatMap((last) =>
              last._tag === "Some"
                ? encodeResult(tool, callId, last.value.isFailure, last.value.result)
                : Effect.fail(new ToolFailedError({ toolName, callId, error: new Error("the handler ended without a result") }))
            ),
            Effect.catch((error: unknown) => {
              if (error instanceof ToolFailedError) return Effect.fail(error)
              // a declared failure (failureMode "error") goes back as a failed result: the caller's toolkit decides what it means
              if (!AiError.isAiError(error) && Schema.is(tool.failureSchema as Schema.Top)(error)) {
                return encodeResult(tool, callId, true, error)
              }
              return Effect.fail(fromHandleFailure(toolName, callId, available, error))
            })
          )
        }
      })
    }), options) as Layer.Layer<never, RegistrationError, any>

  const remote = (key: string, options?: Agent.CallOptions) =>
    Layer.unwrap(Effect.gen(function*() {
      const client = (yield* agent.client)(key)
      const handlers: Record<string, (params: unknown, context: Toolkit.HandlerContext<any>) => Effect.Effect<unknown, unknown>> =
        {}
      for (const [toolName, tool] of Object.entries(tools)) {
        const encodeParams = Schema.isSchema(tool.parametersSchema)
          ? Schema.encodeUnknownEffect(tool.parametersSchema as Schema.Top)
          : Effect.succeed
        handlers[toolName] = Effect.fnUntraced(function*(params: unknown, context: Toolkit.HandlerContext<any>) {
          const callId = context.toolCallId ?? ""
          const encoded = yield* encodeParams(params).pipe(
            Effect.mapError((error) => aiError(toolName, new AiError.ToolParameterValidationError({ toolName, description: error.message })))
          )
          const reply = yield* client.CallTool({ tool: toolName, params: encoded, callId }, options).pipe(
            Effect.mapError((error) => aiError(toolName, reasonOf(error)))
          )
          const result = yield* Schema.decodeUnknownEffect(resultCodec(tool, reply.isFailure))(reply.result).pipe(
            Effect.mapError((error) =>
              aiError(toolName, new AiError.InvalidToolResultError({ toolName, description: `the tool agent's reply: ${error.message}` }))
            )
          )
          return reply.isFailure ? yield* Effect.fail(result) : result
        }) as (params: unknown, context: Toolkit.HandlerContext<any>) => Effect.Effect<unknown, unknown>
      }
      return toolkit.toLayer(handlers as never)
    })) as Layer.Layer<Tool.HandlersFor<Tools>, never, AgentRuntime>

  return { agent, toolkit, layer, remote } as ToolAgent<Name, Tools>
}

const aiError = (toolName: string, reason: AiError.AiErrorReason) =>
  AiError.make({ module: "ToolAgent", method: `${toolName}.call`, reason })

// what the tool agent answered, as the `AiError` reason a toolkit handler may fail with
const reasonOf = (error: ToolCallError | AgentError): AiError.AiErrorReason => {
  if (error instanceof UnknownToolError) {
    return new AiError.ToolNotFoundError({ toolName: error.toolName, availableTools: error.available })
  }
  if (error instanceof InvalidToolArgumentsError) {
    return new AiError.ToolParameterValidationError({ toolName: error.toolName, description: error.issue })
  }
  return new AiError.UnknownError({ description: `the tool agent could not answer: ${error.message}` })
}
