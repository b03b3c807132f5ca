/**
 * What running one `CodeBlock` gave: its exit code and its output, the
 * unit a `CodeExecutor` hands back (one per block it ran). A
 * `Schema.Class`, so a result can be stored in agent state or sent to
 * another worker as it is.
 *
 * The exit code follows the shell's conventions, so a model reads it as it
 * would read a terminal: `0` is success, `128 + n` is "killed by signal n"
 * (`signal` names it), and `124` is "timed out" (as GNU `timeout` says it).
 * A result is not an error: code that fails, loops or floods its output
 * still produces a result, with what it printed up to then.
 */
import { Schema } from "effect"

/** The exit code of a block stopped at its timeout (as GNU `timeout` reports it). */
export const timeoutExitCode = 124

/** The result of one block. */
export class CodeResult extends Schema.Class<CodeResult>("effect-agents/ai/CodeResult")({
  /** The language the block ran as (resolved from its alias: `py` ran as `python`). */
  language: Schema.String,
  /** The file the code was saved in, relative to the work directory. */
  filename: Schema.String,
  /** The process's exit code; `128 + n` when signal `n` ended it, `124` when it timed out. */
  exitCode: Schema.Int,
  /** The signal that ended the process (`SIGKILL`, `SIGXCPU`, ...), when one did. */
  signal: Schema.optionalKey(Schema.String),
  /** Standard output and standard error together, in the order they were read, with any marker appended. */
  output: Schema.String,
  stdout: Schema.String,
  stderr: Schema.String,
  /** The timeout ended the run; `output` holds what was printed before. */
  timedOut: Schema.Boolean,
  /** The output passed its cap: what is kept is the first `maxOutputBytes` bytes. */
  truncated: Schema.Boolean,
  /** Bytes the process was seen to write (stdout and stderr); more than were kept when truncated. */
  outputBytes: Schema.Int
}) {
  /** The block ran to completion and exited with 0. */
  get succeeded(): boolean {
    return this.exitCode === 0 && !this.timedOut && !this.truncated
  }
}
