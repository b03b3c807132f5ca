/**
 * The typed errors of code execution. They say why code could not be run
 * at all; code that ran and failed is a `CodeResult` with its exit code,
 * not an error.
 *
 * - `UnsupportedLanguageError`: the block's language is not one the
 *   executor runs (the supported ones are listed, so a model can retry).
 * - `InvalidFilenameError`: the block named a file outside the work
 *   directory (`../x`, `/etc/passwd`, a path through a symbolic link).
 * - `IsolationUnavailableError`: an isolation level was asked for and this
 *   machine cannot provide it (its tool is missing or does not work here);
 *   raised when the executor is built, before any code runs.
 * - `CodeExecutionError`: the machine failed us (the work directory could
 *   not be written, the interpreter could not be started); the cause is kept.
 */
import { Schema } from "effect"

/** The block's language is not one this executor runs. */
export class UnsupportedLanguageError extends Schema.TaggedError<UnsupportedLanguageError>()("UnsupportedLanguageError", {
  language: Schema.String,
  supported: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `unsupported language ${JSON.stringify(this.language)}; supported: ${this.supported.join(", ")}`
  }
}

/** The file name a block asked for would leave the work directory, or is not a usable name. */
export class InvalidFilenameError extends Schema.TaggedError<InvalidFilenameError>()("InvalidFilenameError", {
  filename: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid file name ${JSON.stringify(this.filename)}: ${this.reason}`
  }
}

/** An isolation level cannot be provided on this machine: its tool is missing or refuses to work. */
export class IsolationUnavailableError extends Schema.TaggedError<IsolationUnavailableError>()("IsolationUnavailableError", {
  /** The level's tag: `ResourceLimits`, `NoNetwork`, `Jail`, `RunAs`. */
  level: Schema.String,
  /** The program the level needs: `prlimit`, `unshare`, `bwrap`, `setpriv`. */
  tool: Schema.String,
  /** What the probe saw: the tool's own error output, or why it could not start. */
  reason: Schema.String
}) {
  override get message(): string {
    return `isolation level ${this.level} is unavailable: ${this.tool}: ${this.reason}`
  }
}

/** The machine failed while preparing or running a block (not the code itself). */
export class CodeExecutionError extends Schema.TaggedError<CodeExecutionError>()("CodeExecutionError", {
  reason: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {
  override get message(): string {
    return `code execution failed: ${this.reason}`
  }
}

/** Everything `CodeExecutor.execute` can fail with. */
export type CodeExecutorError = UnsupportedLanguageError | InvalidFilenameError | CodeExecutionError
