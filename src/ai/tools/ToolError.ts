/**
 * Why a tool call could not be answered, as typed errors shared by
 * `ToolLoop` (which resolves a model's calls) and `ToolAgent` (which answers
 * calls sent to it from other agents or workers). They are Schema errors,
 * so they cross process boundaries unchanged.
 */
import { Schema } from "effect"
import { AiError } from "effect/ai"

/** The model called a tool that is not in the toolkit. */
export class UnknownToolError extends Schema.TaggedError<UnknownToolError>("effect-agents/ai/ToolError/UnknownToolError")(
  "UnknownToolError",
  {
    toolName: Schema.String,
    callId: Schema.String,
    available: Schema.Array(Schema.String)
  }
) {
  override get message(): string {
    return `no tool ${this.toolName} (call ${this.callId}); the toolkit has ${this.available.join(", ") || "no tools"}`
  }
}

/** The arguments of a call do not match the tool's parameters schema. */
export class InvalidToolArgumentsError
  extends Schema.TaggedError<InvalidToolArgumentsError>("effect-agents/ai/ToolError/InvalidToolArgumentsError")(
    "InvalidToolArgumentsError",
    {
      toolName: Schema.String,
      callId: Schema.String,
      issue: Schema.String
    }
  )
{
  override get message(): string {
    return `invalid arguments for ${this.toolName} (call ${this.callId}): ${this.issue}`
  }
}

/** The tool's handler failed (or its result did not match its success schema). */
export class ToolFailedError extends Schema.TaggedError<ToolFailedError>("effect-agents/ai/ToolError/ToolFailedError")(
  "ToolFailedError",
  {
    toolName: Schema.String,
    callId: Schema.String,
    /** What the handler failed with, kept as it was (an `Error` crosses the wire by name and message). */
    error: Schema.Defect()
  }
) {
  override get message(): string {
    return `tool ${this.toolName} failed (call ${this.callId}): ${describe(this.error)}`
  }
}

// an error's message, or (a tagged error without one) its tag and fields, so the model and the logs see what it was
const describe = (error: unknown): string => {
  if (typeof error !== "object" || error === null) return String(error)
  const message = "message" in error ? String(error.message) : ""
  if (message !== "") return message
  try {
    return JSON.stringify(error)
  } catch {
    return String(error)
  }
}

/** Any reason a tool call could not be answered. */
export const ToolCallError = Schema.Union([UnknownToolError, InvalidToolArgumentsError, ToolFailedError])

/** Any reason a tool call could not be answered. */
export type ToolCallError = UnknownToolError | InvalidToolArgumentsError | ToolFailedError

/**
 * The typed error of a failed `Toolkit.handle`: the toolkit's own `AiError`
 * reasons become `UnknownToolError` or `InvalidToolArgumentsError`, and
 * anything else the handler failed with becomes `ToolFailedError`.
 */
export const fromHandleFailure = (
  toolName: string,
  callId: string,
  available: ReadonlyArray<string>,
  error: unknown
): ToolCallError => {
  if (AiError.isAiError(error)) {
    if (error.reason._tag === "ToolNotFoundError") return new UnknownToolError({ toolName, callId, available })
    if (error.reason._tag === "ToolParameterValidationError") {
      return new InvalidToolArgumentsError({ toolName, callId, issue: error.reason.description })
    }
  }
  return new ToolFailedError({ toolName, callId, error })
}
